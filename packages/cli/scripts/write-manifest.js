// Writes packages/cli/oclif.manifest.json: every command's id, description, flags, args and examples, as oclif
// caches them. With it, `lading --help` and command lookup read one JSON file instead of importing every command,
// and a run imports only the command it invokes (src/commands.ts). Run by the build (`pnpm build`) after tsc,
// so the manifest always describes the compiled commands; a stale or missing one would still work (oclif then
// imports every command), only slower.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Plugin } from '@oclif/core';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const file = path.join(root, 'oclif.manifest.json');
// oclif would read an old manifest instead of the commands: drop it first.
await rm(file, { force: true });
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
const count = Object.keys(plugin.manifest.commands).length;
if (count === 0) throw new Error(`oclif manifest ${file}: no commands found; is the CLI built (tsc -b)?`);
await writeFile(file, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
