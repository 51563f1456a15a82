// Rewrites the generated command reference at the end of docs/cli.md from the built CLI (`pnpm docs:cli` builds
// first). With --check, writes nothing and exits 1 when docs/cli.md is stale, printing the first differing line.
import { readFile, writeFile } from 'node:fs/promises';

import { cliDocFile, expectedDocument } from './cli-docs.js';

const expected = await expectedDocument();
const current = await readFile(cliDocFile, 'utf8');
if (process.argv.includes('--check')) {
  if (current !== expected) {
    const a = current.split('\n');
    const b = expected.split('\n');
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    process.stderr.write(
      `docs/cli.md is stale from line ${i + 1}:\n  has:  ${a[i] ?? '(end)'}\n  want: ${b[i] ?? '(end)'}\nrun: pnpm docs:cli\n`,
    );
    process.exitCode = 1;
  }
} else if (current !== expected) {
  await writeFile(cliDocFile, expected);
  process.stderr.write('docs/cli.md: command reference rewritten\n');
} else {
  process.stderr.write('docs/cli.md: up to date\n');
}
