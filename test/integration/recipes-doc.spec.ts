import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('docs/protocol-recipes.md', () => {
  it('shows every recipe file exactly as the integration tests run it', () => {
    const doc = readFileSync(resolve(root, 'docs/protocol-recipes.md'), 'utf8');
    const quoted = [...doc.matchAll(/```ts\n\/\/ (test\/integration\/recipes\/[\w.-]+\.ts)\n[\s\S]*?```/g)];
    const recipes = readdirSync(resolve(root, 'test/integration/recipes')).map((f) => `test/integration/recipes/${f}`);
    expect(quoted.map((m) => m[1]).sort()).toEqual(recipes.sort());
    for (const [block, file] of quoted) {
      // Refresh with: node test/integration/refresh-recipes-doc.mjs
      expect(block).toBe('```ts\n' + readFileSync(resolve(root, file), 'utf8') + '```');
    }
  });
});
