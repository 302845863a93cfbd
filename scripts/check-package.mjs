// `npm run check:package`: packs the package as `npm publish` would (prepack builds it) and checks
// the tarball, not the working tree:
//   - `typesVersions` matches `exports` (TypeScript's node10 resolution finds the subpaths through it);
//   - the tarball holds the build, its types, the sources the maps point at, README, CHANGELOG and
//     LICENSE, and nothing else;
//   - every source map and declaration map resolves inside the package;
//   - every entry point loads with require() (no top-level await: require(esm) would refuse it),
//     and none uses import.meta (the Jest recipe for CommonJS apps compiles the package to CommonJS);
//   - publint (strict) and @arethetypeswrong/cli report no problem.
// Entry points come from package.json's `exports` (scripts/package-entries.mjs).
// `--fix` rewrites `typesVersions` from `exports`. `--strict` (run by prepublishOnly) skips nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { entryPoints, noticePending, readPackageJson, root } from './package-entries.mjs';

const fix = process.argv.includes('--fix');
const strict = process.argv.includes('--strict');
const problems = [];
const problem = (message) => problems.push(message);
const ok = (message) => console.log(`ok  ${message}`);

const pkg = readPackageJson();
const entries = entryPoints(pkg).map((entry) => (strict ? { ...entry, pending: false } : entry));
const pending = entries.filter((e) => e.pending);
noticePending(entries, 'check:package');

// typesVersions: node10 resolution ignores `exports`; each subpath needs an entry mapping its name
// to the same declaration file as `exports` (the root is found through `types`).
const wanted = { '*': {} };
for (const entry of entries) if (entry.subpath !== '.') wanted['*'][entry.typesVersionsKey] = [entry.types];
if (!isDeepStrictEqual(pkg.typesVersions, wanted)) {
  if (fix) {
    // In place, or right after `exports`; `npm run format` then lays it out as Prettier does.
    const updated = {};
    for (const [key, value] of Object.entries(pkg)) {
      if (key !== 'typesVersions') updated[key] = value;
      if (key === 'typesVersions' || (key === 'exports' && !('typesVersions' in pkg))) updated.typesVersions = wanted;
    }
    writeFileSync(join(root, 'package.json'), JSON.stringify(updated, null, 2) + '\n');
    console.log(`fixed typesVersions in package.json (was ${pkg.typesVersions ? 'different' : 'missing'})`);
  } else
    problem(
      `package.json typesVersions does not match exports; run \`node scripts/check-package.mjs --fix\`. Expected:\n` +
        JSON.stringify(wanted, null, 2),
    );
} else ok(`typesVersions matches exports (${entries.length - 1} subpaths)`);
if (pkg.types !== entries.find((e) => e.subpath === '.')?.types) problem('"types" differs from exports["."].types');

// Pack (prepack runs the build) and unpack.
const work = mkdtempSync(join(tmpdir(), 'connman-check-package-'));
try {
  const packOutput = execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: root,
    encoding: 'utf8',
  });
  const packed = JSON.parse(packOutput.slice(packOutput.search(/^\[/m)))[0]; // after prepack's output
  const tarball = join(work, packed.filename);
  const files = new Set(packed.files.map((f) => f.path));
  execFileSync('tar', ['-xzf', tarball, '-C', work]);
  const unpacked = join(work, 'package');
  ok(`packed ${packed.filename}: ${files.size} files, ${(packed.size / 1024).toFixed(1)} kB`);

  // Contents.
  for (const required of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'])
    if (!files.has(required)) problem(`the tarball lacks ${required}`);
  for (const entry of entries) {
    for (const file of [entry.js, entry.types, `${entry.js}.map`, `${entry.types}.map`, entry.source]) {
      const path = posix.normalize(file);
      if (!files.has(path) && !entry.pending) problem(`the tarball lacks ${path} (entry ${entry.specifier})`);
    }
  }
  const stray = [...files].filter(
    (f) => !/^(dist|lib)\//.test(f) && !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(f),
  );
  const strayInDist = [...files].filter((f) => /^dist\//.test(f) && !/\.(js|d\.ts)(\.map)?$/.test(f));
  const strayInLib = [...files].filter((f) => /^lib\//.test(f) && !/\.ts$/.test(f));
  for (const f of [...stray, ...strayInDist, ...strayInLib]) problem(`unexpected file in the tarball: ${f}`);
  ok('contents: dist (JS, declarations, maps), lib (the sources the maps name), README, CHANGELOG, LICENSE');

  // Maps: every `sourceMappingURL` and every map's `sources` resolve to a file in the package.
  let maps = 0;
  for (const file of files) {
    if (!/\.(js|d\.ts)$/.test(file)) continue;
    const text = readFileSync(join(unpacked, file), 'utf8');
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
    if (!url) {
      problem(`${file} has no sourceMappingURL`);
      continue;
    }
    const mapPath = posix.join(posix.dirname(file), url);
    if (!files.has(mapPath)) {
      problem(`${file} points at ${mapPath}, which is not in the package`);
      continue;
    }
    const map = JSON.parse(readFileSync(join(unpacked, mapPath), 'utf8'));
    for (const source of map.sources) {
      const resolved = posix.normalize(posix.join(posix.dirname(mapPath), map.sourceRoot ?? '', source));
      if (!files.has(resolved)) problem(`${mapPath} names ${source} (${resolved}), which is not in the package`);
    }
    maps++;
  }
  ok(`${maps} source and declaration maps resolve inside the package`);

  // ES module hygiene: require() of each entry (top-level await makes require(esm) throw
  // ERR_REQUIRE_ASYNC_MODULE), and no import.meta anywhere (see the Jest recipe).
  for (const file of files)
    if (file.endsWith('.js') && /\bimport\.meta\b/.test(readFileSync(join(unpacked, file), 'utf8')))
      problem(
        `${file} uses import.meta: CommonJS Jest setups compile the package to CommonJS (docs/packaging-notes.md), ` +
          'where import.meta is a syntax error',
      );
  // The build just packed is the repo's dist/, loaded from there so that its peers (Nest,
  // Terminus) resolve from the repo's node_modules; the consumer tests load the installed tarball.
  const live = entries.filter((e) => !e.pending);
  const load = spawnSync(
    process.execPath,
    [
      '-e',
      'for (const file of JSON.parse(process.argv[1])) require(file);',
      JSON.stringify(live.map((e) => join(root, e.js))),
    ],
    { cwd: root, encoding: 'utf8' },
  );
  if (load.status !== 0) problem(`require() of the entry points failed:\n${load.stderr}`);
  else ok(`require() loads ${live.length} entry points (no top-level await), no import.meta`);

  // publint, on the tarball's files.
  const bytes = readFileSync(tarball);
  const { messages } = await publint({
    level: 'suggestion',
    strict: true,
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
  });
  const pendingPaths = new Set(pending.flatMap((e) => [e.subpath, e.typesVersionsKey]));
  const relevant = messages.filter(
    (m) => !(['exports', 'typesVersions'].includes(m.path[0]) && m.path.some((p) => pendingPaths.has(p))),
  );
  for (const m of relevant) problem(`publint ${m.type}: ${formatMessage(m, pkg) ?? m.code}`);
  if (relevant.length === 0) ok(`publint (strict): no message${pending.length ? ' (pending entries aside)' : ''}`);

  // attw, on the tarball. The one rule ignored: `cjs-resolves-to-esm` ("a require call resolved to
  // an ESM file ... CommonJS consumers will need a dynamic import"). The package is ESM only and
  // requires Node >= 20.19, where require() loads ES modules without a top-level await (checked
  // above and by the consumer tests); attw's bundled TypeScript predates that. Every other rule,
  // node10 and node16-from-CJS included, still applies.
  const attwArgs = [
    tarball,
    '--ignore-rules',
    'cjs-resolves-to-esm',
    '--format',
    'table-flipped',
    '--no-emoji',
    '--no-color',
  ];
  if (pending.length > 0) attwArgs.push('--exclude-entrypoints', ...pending.map((e) => e.subpath));
  const attw = spawnSync(
    process.execPath,
    [join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js'), ...attwArgs],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  process.stdout.write(attw.stdout.trimEnd().replace(/^/gm, '    ') + '\n');
  if (attw.status !== 0) problem(`attw reported problems (above)\n${attw.stderr}`);
  else ok('attw: no problem (cjs-resolves-to-esm ignored: require(esm), Node >= 20.19)');
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (problems.length > 0) {
  console.error(`\ncheck:package found ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log('\ncheck:package: the packed package is sound');
