// `npm run docs`: the TypeDoc API reference of every entry point of package.json's `exports`
// (their sources, from scripts/package-entries.mjs), into docs/api/ (git-ignored). The other
// options are in typedoc.json. Warnings (e.g. a public symbol without a doc comment) are printed
// and do not fail; errors do.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { entryPoints, noticePending, root } from './package-entries.mjs';

const entries = entryPoints();
noticePending(entries, 'the API docs');
const live = entries.filter((e) => !e.pending);
const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
const args = [
  '--options',
  'typedoc.json',
  ...live.flatMap((e) => ['--entryPoints', e.source]),
  ...process.argv.slice(2),
];
const result = spawnSync(process.execPath, [typedoc, ...args], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
