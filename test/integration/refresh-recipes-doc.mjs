// Refreshes each ```ts block of docs/protocol-recipes.md that starts with
// `// test/integration/recipes/<file>.ts` from that file, so that the doc shows exactly the code
// the integration tests run (test/integration/recipes-doc.spec.ts checks it).
//   node test/integration/refresh-recipes-doc.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const doc = 'docs/protocol-recipes.md';
const text = readFileSync(doc, 'utf8');
const updated = text.replace(/```ts\n\/\/ (test\/integration\/recipes\/[\w.-]+\.ts)\n[\s\S]*?```/g, (_block, file) => {
  return '```ts\n' + readFileSync(file, 'utf8') + '```';
});
if (updated !== text) writeFileSync(doc, updated);
console.log(updated === text ? `${doc} already up to date` : `${doc} refreshed`);
