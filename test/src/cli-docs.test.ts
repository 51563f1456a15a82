// docs/cli.md's generated command reference must match the commands: regenerated in memory from the built manifest
// (as `pnpm docs:cli` does) and compared with the file. A stale file fails with the first differing line.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

import { repoRoot } from './testbed/index.js';

interface CLIDocs {
  cliDocFile: string;
  beginMarker: string;
  endMarker: string;
  expectedDocument(): Promise<string>;
  renderReference(manifest: unknown, exitCodes: unknown): string;
  readExitCodes(): Promise<{ name: string; code: number; meaning: string }[]>;
}

const docs = (await import(pathToFileURL(path.join(repoRoot, 'packages/cli/scripts/cli-docs.js')).href)) as CLIDocs;

interface ManifestCommand {
  id: string;
  hidden?: boolean;
  flags: Record<string, { hidden?: boolean; helpGroup?: string }>;
}

describe('docs/cli.md command reference', () => {
  it('is what `pnpm docs:cli` would write now', async () => {
    const current = await readFile(docs.cliDocFile, 'utf8');
    const expected = await docs.expectedDocument();
    if (current !== expected) {
      const a = current.split('\n');
      const b = expected.split('\n');
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      expect.fail(
        `docs/cli.md is stale from line ${i + 1}:\n  has:  ${a[i] ?? '(end)'}\n  want: ${b[i] ?? '(end)'}\n` +
          'run `pnpm docs:cli` and commit docs/cli.md',
      );
    }
    expect(current.indexOf(docs.beginMarker)).toBeGreaterThan(0);
  });

  it('has a section, usage and examples for every command of the manifest, and every exit code', async () => {
    const manifest = JSON.parse(await readFile(path.join(repoRoot, 'packages/cli/oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, ManifestCommand>;
    };
    const text = await readFile(docs.cliDocFile, 'utf8');
    const generated = text.slice(text.indexOf(docs.beginMarker), text.indexOf(docs.endMarker));
    const ids = Object.values(manifest.commands)
      .filter((c) => c.hidden !== true)
      .map((c) => c.id.replaceAll(':', ' '));
    expect(ids).toContain('config show');
    expect(ids).toContain('completion');
    for (const id of ids) {
      const start = generated.indexOf(`\n### lading ${id}\n`);
      expect(start, id).toBeGreaterThan(0);
      const section = generated.slice(start + 1, generated.indexOf('\n### ', start + 1));
      expect(section, id).toMatch(new RegExp(`^\`\`\`\\nlading ${id}\\b`, 'm'));
      expect(section, id).toMatch(/^Examples:$/m);
    }
    // A flag of the command is listed in its own table: push's --sign, pull's --overwrite.
    expect(generated).toMatch(/### lading push\n[\s\S]*?\| `--sign` \|[\s\S]*?### lading sign/);
    expect(generated).toMatch(/### lading pull\n[\s\S]*?\| `--overwrite` \|[\s\S]*?### lading push/);
    for (const exit of await docs.readExitCodes()) {
      expect(generated).toContain(`| ${exit.code} | \`${exit.name}\` |`);
    }
  });

  it('puts the reference between the markers and keeps the hand-written part', async () => {
    const text = await readFile(docs.cliDocFile, 'utf8');
    const changed = docs.renderReference(
      {
        commands: { only: { id: 'only', args: {}, flags: {}, examples: ['<%= config.bin %> only'], summary: 'One.' } },
      },
      [{ name: 'ok', code: 0, meaning: 'Success.' }],
    );
    expect(changed.startsWith(`${docs.beginMarker}\n`)).toBe(true);
    expect(changed).toContain('### lading only\n\n```\nlading only\n```\n\nOne.\n');
    expect(changed).toContain('lading only\n```');
    expect(text.slice(0, text.indexOf(docs.beginMarker))).toMatch(/^# The `lading` command\n/);
  });
});
