// Refreshes each ```ts block of README.md that starts with `// examples/readme/<file>.ts`
// from that file, so the README shows exactly the code that the tests compile and run.
import { readFileSync, writeFileSync } from 'node:fs';

const readme = readFileSync('README.md', 'utf8');
const updated = readme.replace(/```ts\n\/\/ (examples\/readme\/[\w.-]+\.ts)\n[\s\S]*?```/g, (_block, file) => {
  return '```ts\n' + readFileSync(file, 'utf8') + '```';
});
if (updated !== readme) writeFileSync('README.md', updated);
console.log(updated === readme ? 'README examples already up to date' : 'README examples refreshed');
