// Checks the shape of `npm run bench -- --json` output read from stdin. It fails
// on a broken benchmark (missing case, non-numeric figure), never on speed.
import { readFileSync } from 'node:fs';

const expected = [
  'cycle',
  'contended',
  'waiters-scale',
  'waiters-timeout',
  'echo',
  'echo-shared',
  'pipeline',
  'routing',
  'reconnect-attempts',
  'reconnect-recovery',
  'memory',
  'framing',
  'redis-ping',
  'redis-get',
  'instrumented-cycle',
  'instrumented-contended',
];
const problems = [];
let report;
try {
  const text = readFileSync(0, 'utf8').trim().split('\n').pop();
  report = JSON.parse(text);
} catch (error) {
  console.error(`bench output is not one JSON object: ${error.message}`);
  process.exit(1);
}
const cases = Array.isArray(report.cases) ? report.cases : [];
const finite = (v) => typeof v === 'number' && Number.isFinite(v);
for (const prefix of expected) {
  if (!cases.some((c) => c.name === prefix || c.name.startsWith(`${prefix} (`)))
    problems.push(`case '${prefix}' is missing`);
}
for (const c of cases) {
  if (typeof c.name !== 'string' || typeof c.unit !== 'string')
    problems.push(`a case lacks name or unit: ${JSON.stringify(c).slice(0, 80)}`);
  if (!finite(c.ours)) problems.push(`${c.name}: 'ours' is not a number`);
  for (const field of ['peers', 'ratios']) {
    const values = c[field];
    if (!values || typeof values !== 'object' || Object.keys(values).length === 0)
      problems.push(`${c.name}: '${field}' is empty`);
    else
      for (const [peer, v] of Object.entries(values))
        if (!finite(v)) problems.push(`${c.name}: ${field}.${peer} is not a number`);
  }
  if (c.targets !== undefined) {
    if (!c.targets || typeof c.targets !== 'object') problems.push(`${c.name}: 'targets' is not an object`);
    else
      for (const [peer, v] of Object.entries(c.targets)) {
        if (!finite(v) || v <= 0) problems.push(`${c.name}: targets.${peer} is not a positive number`);
        if (!c.ratios || !(peer in c.ratios)) problems.push(`${c.name}: a target for '${peer}', which has no ratio`);
      }
  }
}
if (problems.length) {
  console.error(`bench output is broken:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(
  `bench output OK: ${cases.length} cases (${cases
    .map(
      (c) =>
        `${c.name.split(' ')[0]} ${Object.values(c.ratios)
          .map((r) => `${r}x`)
          .join('/')}`,
    )
    .join(', ')})`,
);
