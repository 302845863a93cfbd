// The package's entry points, read from package.json's `exports`: every script that checks the
// package (build, check-package, the consumer tests, docs) takes its list from here, so that adding
// an entry point to `exports` (and `typesVersions`) needs no script change.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Entry points whose source is being written on another branch. While its source file is
 * missing, such an entry is skipped (with a notice) by the checks that need its build output;
 * any other entry whose file is missing is an error. Remove a subpath from here once its source
 * has landed (see docs/packaging-notes.md).
 */
export const PENDING = new Set([]);

/** Named exports each entry point must have, where known (the spec's fixed names). */
export const EXPECTED_EXPORTS = {
  '.': ['ConnmanModule', 'InjectPool', 'OnData', 'ConnectionPool', 'ConnmanError'],
  './core': ['ConnectionPool', 'PersistentConnection', 'Connman', 'ConnmanError'],
  './health': ['ConnmanHealthIndicator'],
  './testing': ['FaultProxy'],
  './prometheus': ['instrumentPrometheus'],
  './otel': ['instrumentOpenTelemetry'],
};

export function readPackageJson(dir = root) {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
}

/**
 * @typedef {object} Entry
 * @property {string} subpath       './core', or '.' for the root
 * @property {string} specifier     what users import: 'nestjs-connman/core'
 * @property {string} typesVersionsKey  'core' ('' for the root)
 * @property {string} types         './dist/core/index.d.ts'
 * @property {string} js            './dist/core/index.js'
 * @property {string} source        'lib/core/index.ts' (from tsconfig.build.json's rootDir → outDir)
 * @property {boolean} pending      in PENDING and its source is missing: skipped with a notice
 */

/** @returns {Entry[]} every code entry point of `exports` (not './package.json'), in order. */
export function entryPoints(pkg = readPackageJson()) {
  const entries = [];
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    if (typeof target !== 'object' || target === null) continue; // './package.json'
    const { types, default: js } = target;
    if (typeof types !== 'string' || typeof js !== 'string')
      throw new Error(`exports['${subpath}'] needs a "types" and a "default" condition`);
    const source = sourceOf(js);
    entries.push({
      subpath,
      specifier: subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
      typesVersionsKey: subpath === '.' ? '' : subpath.slice(2),
      types,
      js,
      source,
      pending: PENDING.has(subpath) && !existsSync(join(root, source)),
    });
  }
  if (entries.length === 0) throw new Error('package.json has no entry point in "exports"');
  return entries;
}

/** The TypeScript source that tsconfig.build.json compiles to `js`. */
function sourceOf(js) {
  const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')).compilerOptions;
  const path = relative(build.outDir, js.replace(/^\.\//, ''));
  return join(build.rootDir, path).replace(/\.js$/, '.ts').split('\\').join('/');
}

/** Prints the notice for entries skipped because their source has not landed yet. */
export function noticePending(entries, what) {
  for (const entry of entries.filter((e) => e.pending))
    console.log(`notice: ${entry.specifier} skipped by ${what}: ${entry.source} does not exist yet (PENDING)`);
}
