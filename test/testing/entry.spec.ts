import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as kit from 'nestjs-connman/testing';
import * as root from '../../lib/index.js';

const lib = resolve(dirname(fileURLToPath(import.meta.url)), '../../lib');

/** Every module and bare specifier that the static import graph of `entry` reaches (type-only imports skipped). */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
      if (/^(?:import|export)\s+type\b/.test(match[0])) continue;
      const spec = match[1];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec);
    }
  };
  visit(resolve(lib, entry));
  return { files, packages };
}

describe('the nestjs-connman/testing entry', () => {
  it('is framework-free: Node built-ins only (no Nest, no test runner)', () => {
    const { packages } = importGraph('testing/index.ts');
    expect([...packages].filter((p) => !p.startsWith('node:'))).toEqual([]);
  });

  it('is not loaded by the root entry', () => {
    const { files } = importGraph('index.ts');
    expect([...files].filter((file) => file.includes(`${resolve(lib, 'testing')}`))).toEqual([]);
    expect(Object.keys(root)).not.toContain('FaultProxy');
  });

  it('exports FaultProxy and the test server kit', () => {
    expect(Object.keys(kit).sort()).toEqual(
      [
        'DEFAULT_TOXICS',
        'FaultDirection',
        'FaultProxy',
        'TestServer',
        'echo',
        'refusedPort',
        'replyLines',
        'silent',
      ].sort(),
    );
  });
});
