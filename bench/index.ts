import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { echo, echoShared } from './cases/echo.js';
import { memory } from './cases/memory.js';
import { pipeline } from './cases/pipeline.js';
import { reconnect } from './cases/reconnect.js';
import { routing } from './cases/routing.js';
import { contended, cycle, waitersScale } from './cases/lease-cases.js';
import { parseFlags, table, type BenchFlags, type CaseResult } from './harness.js';
import { barChart } from './svg.js';

type Case = (flags: BenchFlags) => Promise<CaseResult | CaseResult[]>;

const cases: Record<string, Case> = {
  cycle,
  contended,
  'waiters-scale': waitersScale,
  echo,
  'echo-shared': echoShared,
  pipeline,
  routing,
  reconnect,
  memory,
  framing: async (flags) => (await import('./cases/framing.js')).framing(flags),
  redis: async (flags) => (await import('./cases/redis.js')).redis(flags),
  instrumented: async (flags) => (await import('./cases/instrumented.js')).instrumented(flags),
};

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const selected = flags.only.length ? flags.only : Object.keys(cases);
  const results: CaseResult[] = [];
  for (const name of selected) {
    const run = cases[name];
    if (!run) throw new Error(`unknown case '${name}'; cases: ${Object.keys(cases).join(', ')}`);
    if (!flags.json) process.stderr.write(`running ${name}...\n`);
    const out = await run(flags);
    results.push(...(Array.isArray(out) ? out : [out]));
  }
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    quick: flags.quick,
  };
  if (flags.svg !== undefined) {
    writeFileSync(flags.svg, barChart(results, machine));
    process.stderr.write(`bar chart of the ratios written to ${flags.svg}\n`);
  }
  if (flags.json) process.stdout.write(JSON.stringify({ machine, cases: results }) + '\n');
  else
    process.stdout.write(
      `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}${flags.quick ? ' (quick)' : ''}\n${table(results)}\n`,
    );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
