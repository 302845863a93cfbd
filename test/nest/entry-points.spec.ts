import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const lib = resolve(dirname(fileURLToPath(import.meta.url)), '../../lib');

/** Bare package specifiers reached by the static import graph from `entry` (relative imports followed). */
function packagesReached(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
      const spec = match[1];
      if (/^import\s+type\b|^export\s+type\b/.test(match[0])) continue;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(resolve(lib, entry));
  return packages;
}

describe('entry points', () => {
  it('the root entry never loads @nestjs/terminus (it lives on the ./health subpath)', () => {
    const reached = packagesReached('index.ts');
    expect(reached.has('@nestjs/common')).toBe(true);
    expect([...reached].filter((p) => p.startsWith('@nestjs/terminus'))).toEqual([]);
  });

  it('the ./core entry is framework-free: no @nestjs import at all', () => {
    expect([...packagesReached('core/index.ts')].filter((p) => !p.startsWith('node:'))).toEqual([]);
  });

  it('the ./health entry loads Terminus', () => {
    expect(packagesReached('health/index.ts').has('@nestjs/terminus')).toBe(true);
  });
});
