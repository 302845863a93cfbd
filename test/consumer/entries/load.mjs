// Loads every entry point of the installed package with import().
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const { name, exports: map } = JSON.parse(
  readFileSync(fileURLToPath(import.meta.resolve('nestjs-connman/package.json')), 'utf8'),
);
const expected = JSON.parse(process.env.CONSUMER_ENTRIES ?? '[]');
const installed = Object.keys(map)
  .filter((subpath) => typeof map[subpath] === 'object')
  .map((subpath) => (subpath === '.' ? name : `${name}/${subpath.slice(2)}`));
assert.deepEqual(
  installed,
  expected.map((entry) => entry.specifier),
  'the installed exports are not the packed ones',
);

for (const { specifier, names, pending } of expected) {
  if (pending) continue;
  const imported = await import(specifier);
  for (const exportName of names)
    assert.notEqual(imported[exportName], undefined, `import('${specifier}').${exportName} is missing`);
  assert.ok(Object.keys(imported).length > 0, `import('${specifier}') exports nothing`);
  console.log(`import('${specifier}'): ${Object.keys(imported).length} exports`);
}
