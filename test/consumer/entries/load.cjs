/* eslint-disable @typescript-eslint/no-require-imports -- this file proves that require() loads the package */
// Loads every entry point of the installed package with require() (Node >= 20.19 loads ES modules
// this way), and checks that import() hands back the very same objects (one copy, no dual package).
'use strict';
const assert = require('node:assert/strict');

const { name, exports: map } = require('nestjs-connman/package.json');
const expected = JSON.parse(process.env.CONSUMER_ENTRIES ?? '[]');
const installed = Object.keys(map)
  .filter((subpath) => typeof map[subpath] === 'object')
  .map((subpath) => (subpath === '.' ? name : `${name}/${subpath.slice(2)}`));
assert.deepEqual(
  installed,
  expected.map((entry) => entry.specifier),
  'the installed exports are not the packed ones',
);

(async () => {
  for (const { specifier, names, pending } of expected) {
    if (pending) continue;
    const required = require(specifier);
    assert.ok(Object.keys(required).length > 0, `require('${specifier}') exports nothing`);
    const imported = await import(specifier);
    for (const exportName of names) {
      assert.notEqual(required[exportName], undefined, `require('${specifier}').${exportName} is missing`);
      assert.equal(required[exportName], imported[exportName], `${specifier}: require() and import() differ`);
    }
    console.log(`require('${specifier}'): ${Object.keys(required).length} exports`);
  }
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
