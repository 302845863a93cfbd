import { performance } from 'node:perf_hooks';

/** Command-line flags of `npm run bench`. */
export interface BenchFlags {
  quick: boolean;
  json: boolean;
  /** `--svg FILE` (or `--svg=FILE`): where to draw the ratios as a bar chart. */
  svg: string | undefined;
  only: string[];
}

export function parseFlags(argv: string[]): BenchFlags {
  const only: string[] = [];
  let svg: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--svg') {
      svg = argv[++i];
      if (svg === undefined || svg.startsWith('--')) throw new Error('--svg needs a file name: --svg FILE');
    } else if (arg.startsWith('--svg=')) {
      svg = arg.slice('--svg='.length);
      if (svg === '') throw new Error('--svg needs a file name: --svg=FILE');
    } else if (!arg.startsWith('--')) {
      only.push(arg);
    }
  }
  return { quick: argv.includes('--quick'), json: argv.includes('--json'), svg, only };
}

/** A measured value: the median of the rounds and their spread. */
export interface Sample {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

/** One row of the report. */
export interface CaseResult {
  name: string;
  unit: string;
  /** Whether a higher value is better (ops/s) or a lower one (ns, bytes, attempts). */
  better: 'higher' | 'lower';
  ours: number;
  peers: Record<string, number>;
  /** How many times better than each peer (higher is better, whatever the unit). */
  ratios: Record<string, number>;
  spread: Record<string, string>;
  notes?: string[];
  /**
   * The least ratio the project aims for against a peer (e.g. 0.9: at least
   * 0.9x of it), for the peers that have one.
   */
  targets?: Record<string, number>;
}

export function sample(values: number[]): Sample {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], rounds: values.length };
}

/** "±x%": half the min-max range relative to the median. */
export function spreadOf(s: Sample): string {
  if (s.median === 0) return '±0%';
  return `±${((Math.max(s.max - s.median, s.median - s.min) / s.median) * 100).toFixed(1)}%`;
}

/** Builds a result row; `ours` and each peer are samples of the same unit. */
export function result(
  name: string,
  unit: string,
  better: 'higher' | 'lower',
  ours: Sample,
  peers: Record<string, Sample>,
  notes?: string[],
  targets?: Record<string, number>,
): CaseResult {
  const ratios: Record<string, number> = {};
  const peerValues: Record<string, number> = {};
  const spread: Record<string, string> = { ours: spreadOf(ours) };
  for (const [peer, s] of Object.entries(peers)) {
    peerValues[peer] = round(s.median);
    spread[peer] = spreadOf(s);
    ratios[peer] = round(
      better === 'higher' ? ours.median / s.median : s.median / Math.max(ours.median, Number.EPSILON),
      2,
    );
  }
  for (const peer of Object.keys(targets ?? {}))
    if (!(peer in peers)) throw new Error(`${name}: a target for '${peer}', which is not a peer`);
  return { name, unit, better, ours: round(ours.median), peers: peerValues, ratios, spread, notes, targets };
}

export function round(value: number, digits = value >= 100 ? 0 : 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function single(value: number): Sample {
  return { median: value, min: value, max: value, rounds: 1 };
}

/** A readable table of the results. */
export function table(results: CaseResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`\n${r.name} (${r.unit}, ${r.better} is better)`);
    lines.push(`  ${'ours'.padEnd(22)} ${fmt(r.ours).padStart(14)}  ${r.spread.ours ?? ''}`);
    for (const [peer, value] of Object.entries(r.peers)) {
      const ratio = r.ratios[peer];
      const target = r.targets?.[peer];
      const goal = target === undefined ? '' : ` (target >= ${target}x: ${ratio >= target ? 'met' : 'NOT MET'})`;
      lines.push(
        `  ${peer.padEnd(22)} ${fmt(value).padStart(14)}  ${(r.spread[peer] ?? '').padEnd(8)} ours is ${ratio}x${goal}`,
      );
    }
    for (const note of r.notes ?? []) lines.push(`  note: ${note}`);
  }
  return lines.join('\n');
}

function fmt(value: number): string {
  return value >= 1000 ? Math.round(value).toLocaleString('en-US') : String(value);
}

/** Lets pending I/O callbacks run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Measures several implementations of the same work, interleaved: after
 * warming each up, every round runs each once, in a rotating order, so that
 * drift of the machine (other tenants, GC, CPU frequency) hits all alike.
 * With `cpu`, also fills it with the process's CPU time (user + system) per
 * operation of each, in microseconds: steadier than throughput on a busy
 * machine, where waiting for a core counts in the elapsed time only.
 */
export async function compare(
  runners: Record<string, () => Promise<void> | void>,
  ops: number,
  rounds: number,
  warmup: number,
  cpu?: Record<string, Sample>,
): Promise<Record<string, Sample>> {
  const names = Object.keys(runners);
  for (let w = 0; w < warmup; w++) for (const name of names) await runners[name]();
  const values: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const cpuValues: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + r) % names.length];
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      await runners[name]();
      values[name].push(ops / ((performance.now() - start) / 1000));
      const used = process.cpuUsage(cpuStart);
      cpuValues[name].push((used.user + used.system) / ops);
    }
  }
  if (cpu !== undefined) for (const name of names) cpu[name] = sample(cpuValues[name]);
  return Object.fromEntries(names.map((name) => [name, sample(values[name])]));
}

/** "ours 1.23 us, jackpot 1.45 us" from CPU samples (see `compare`). */
export function cpuNote(cpu: Record<string, Sample>, names?: string[]): string {
  return (names ?? Object.keys(cpu)).map((name) => `${name} ${cpu[name].median.toFixed(2)} us`).join(', ');
}
