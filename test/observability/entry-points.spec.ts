import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const lib = resolve(dirname(fileURLToPath(import.meta.url)), '../../lib');

/** Files and bare package specifiers reached by the static import graph from `entry` (type-only imports skipped). */
function reached(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
      const spec = match[1];
      if (/^import\s+type\b|^export\s+type\b/.test(match[0])) continue;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(resolve(lib, entry));
  return { files: new Set([...files].map((file) => relative(lib, file))), packages };
}

const METRICS_PACKAGES = /^(prom-client|@prometheus-io\/|@opentelemetry\/)/;

describe('observability entry points', () => {
  it('the root, ./core, ./health and ./testing entries load neither prom-client nor @opentelemetry/api, nor the instrumentation', () => {
    for (const entry of ['index.ts', 'core/index.ts', 'health/index.ts', 'testing/index.ts']) {
      const { files, packages } = reached(entry);
      expect([entry, [...packages].filter((p) => METRICS_PACKAGES.test(p))]).toEqual([entry, []]);
      expect([entry, [...files].filter((f) => /^(prometheus|otel|instrumentation)\//.test(f))]).toEqual([entry, []]);
    }
  });

  it('the ./prometheus entry imports no metrics library at all (the registry is passed in), and no Nest', () => {
    const { packages } = reached('prometheus/index.ts');
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
  });

  it('the ./otel entry loads @opentelemetry/api and nothing else outside Node', () => {
    const { packages } = reached('otel/index.ts');
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual(['@opentelemetry/api']);
  });
});
