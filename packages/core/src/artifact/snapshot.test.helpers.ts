// Test helper shared by the extraction and staging tests (not part of the package: `*.test.*` files are not published).
import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

/** Hex SHA-256 of `data`. */
export const sha = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** Every path under `root` with its type, mode and content hash or link target; links are not followed. */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      const stats = await lstat(full);
      const mode = (stats.mode & 0o7777).toString(8);
      if (stats.isSymbolicLink()) out[rel] = `link ${await readlink(full)}`;
      else if (stats.isDirectory()) {
        out[rel] = `dir ${mode}`;
        await walk(full);
      } else out[rel] = `file ${mode} ${sha(await readFile(full))}`;
    }
  };
  await walk(root);
  return out;
}
