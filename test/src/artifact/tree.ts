import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** One entry of a {@link snapshot}. */
export interface SnapshotEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size?: number;
  sha256?: string;
  target?: string;
}

/**
 * Every entry below `root` (not `root` itself), sorted, with permission bits, sizes, content hashes and link
 * targets: two folders are the same tree when their snapshots are equal. A missing root gives `[]`.
 */
export async function snapshot(root: string): Promise<SnapshotEntry[]> {
  const out: SnapshotEntry[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return;
      throw error;
    }
    for (const name of names.sort()) {
      const full = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(full);
      if (st.isSymbolicLink()) out.push({ path: r, type: 'symlink', mode: 0o777, target: await readlink(full) });
      else if (st.isDirectory()) {
        out.push({ path: r, type: 'dir', mode: st.mode & 0o777 });
        await walk(full, r);
      } else {
        const bytes = await readFile(full);
        out.push({
          path: r,
          type: 'file',
          mode: st.mode & 0o777,
          size: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        });
      }
    }
  }
  await walk(root, '');
  return out;
}

/** Builds a sample tree: nested folders, an empty file and folder, unicode names, an executable, a symlink. */
export async function sampleTree(root: string): Promise<void> {
  await mkdir(path.join(root, 'config/nested/deeper'), { recursive: true });
  await mkdir(path.join(root, 'config/empty-dir'), { recursive: true });
  await writeFile(path.join(root, 'config/app.yaml'), 'name: app\nreplicas: 3\n');
  await writeFile(path.join(root, 'config/empty.txt'), '');
  await writeFile(path.join(root, 'config/nested/deeper/ünïcødé-名前.txt'), 'unicode ✓\n');
  await writeFile(path.join(root, 'config/run.sh'), '#!/bin/sh\necho hi\n');
  await chmod(path.join(root, 'config/run.sh'), 0o755);
  await writeFile(path.join(root, 'config/nested/data.bin'), Buffer.alloc(300_000, 7));
  await symlink('app.yaml', path.join(root, 'config/current.yaml'));
  await writeFile(path.join(root, 'tool'), '#!/bin/sh\necho tool\n');
  await chmod(path.join(root, 'tool'), 0o755);
}
