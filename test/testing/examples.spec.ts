// Runs the testing guide's examples (examples/testing/*) as written, under this project's leak
// check, and checks that docs/testing.md quotes nothing but code from those files.
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../examples/testing/toxics.spec.js';
import '../../examples/testing/cache-status.e2e-spec.js';
import '../../examples/testing/cache-status.spec.js';
import { useScope } from '../helpers/resources.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

// At the top level, so that every test of the examples above is checked for leftovers too.
useScope();

describe('docs/testing.md', () => {
  const guide = readFileSync(resolve(root, 'docs/testing.md'), 'utf8');
  const examples = new Map(
    readdirSync(resolve(root, 'examples/testing'))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => [`examples/testing/${name}`, readFileSync(resolve(root, 'examples/testing', name), 'utf8')]),
  );
  const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);

  it('shows each example file whole, exactly as it is (the typecheck compiles them, this file runs them)', () => {
    const whole = blocks.filter((block) => /^\/\/ examples\/testing\/[\w.-]+\.ts\n/.test(block));
    const shown = whole.map((block) => /^\/\/ (\S+)\n/.exec(block)![1]);
    expect(shown.sort()).toEqual([...examples.keys()].filter((file) => !file.endsWith('toxics.spec.ts')).sort());
    for (const block of whole) expect(block).toBe(examples.get(/^\/\/ (\S+)\n/.exec(block)![1]));
  });

  it('quotes every other TypeScript snippet verbatim from an example file', () => {
    const excerpts = blocks.filter((block) => !block.startsWith('// examples/testing/'));
    expect(excerpts.length).toBeGreaterThan(5);
    for (const excerpt of excerpts) {
      const dedented = dedent(excerpt);
      const found = [...examples.values()].some((source) => dedent(source).includes(dedented));
      if (!found) throw new Error(`docs/testing.md quotes code found in no example file:\n${excerpt}`);
    }
  });
});

/** Removes each line's leading spaces, so that an excerpt may be shown less indented than in its file. */
function dedent(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trimStart())
    .join('\n');
}
