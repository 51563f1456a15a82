// Faults around fetching and writing: a registry serving blobs of another size than the manifest says, and
// destinations the operating system refuses (no permission, not a folder, disk full). The `lading` binary runs as
// a child process against the fake registry; each case checks the exit code, the one error message, that the
// destination is as it was and that no staging folder is left beside or inside it.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { ErrorJSON, PushCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { collectLading, json, ladingBin, type LadingRun } from './cli-runner.js';
import { runLadingInProcess } from './in-process.js';
import { type FakeRegistry, startFakeRegistry } from './fake-registry/index.js';
import { isolatedEnv, makeToolHome, run, testbed } from './testbed/index.js';

let env: NodeJS.ProcessEnv;
let work: string;
let registry: FakeRegistry;
let ref: string;
const repo = 'fetch/faults';

const appYAML = 'name: app\nport: 8080\n';
const notes = 'release notes\n';

/** Runs `lading args…` to completion in the work folder, in this process (runs as another user spawn below). */
function lading(args: readonly string[]): Promise<LadingRun> {
  return runLadingInProcess(args, { cwd: work, env });
}

interface ManifestJSON {
  config: { digest: string; size: number; mediaType: string };
  layers: { digest: string; size: number; mediaType: string; annotations?: Record<string, string> }[];
}

/**
 * Tags a copy of the pushed manifest in which `change` altered the descriptors (sizes): the registry then serves
 * blobs whose length differs from what the manifest says. The copy has the empty config instead of the table of
 * contents, as an artifact oras pushed: with the table of contents, a file layer whose size disagrees with it is
 * refused before any download, and the fetch path this file tests would not be reached. Returns the new reference.
 */
function tamperedManifest(tag: string, change: (manifest: ManifestJSON) => void): string {
  const stored = registry.getManifest(repo, 'v1');
  if (!stored) throw new Error('the pushed manifest is missing');
  const manifest = JSON.parse(Buffer.from(stored.bytes).toString('utf8')) as ManifestJSON;
  manifest.config = registry.putBlob(repo, '{}', 'application/vnd.oci.empty.v1+json');
  change(manifest);
  registry.putManifest(repo, manifest, { tag, mediaType: stored.mediaType });
  return `${registry.host}/${repo}:${tag}`;
}

/** The layers of the manifest pushed as v1. */
function pushedLayers(): ManifestJSON['layers'] {
  const stored = registry.getManifest(repo, 'v1');
  return (JSON.parse(Buffer.from(stored?.bytes ?? []).toString('utf8')) as ManifestJSON).layers;
}

/** The lines of standard error from the first `Error:` on (step lines such as `Resolved …` come before). */
function errorLines(result: LadingRun): string[] {
  const lines = result.stderr.trimEnd().split('\n');
  return lines.slice(lines.findIndex((l) => l.startsWith('Error:')));
}

function layerTitled(manifest: ManifestJSON, title: string): ManifestJSON['layers'][number] {
  const layer = manifest.layers.find((l) => l.annotations?.['org.opencontainers.image.title'] === title);
  if (!layer) throw new Error(`no layer titled ${title}`);
  return layer;
}

/** A new folder `<work>/<name>-XXXXXX` holding `parent/dest/keep.txt`; returns both paths. */
async function destination(name: string): Promise<{ parent: string; dest: string }> {
  const parent = await mkdtemp(path.join(work, `${name}-`));
  const dest = path.join(parent, 'dest');
  await mkdir(dest);
  await writeFile(path.join(dest, 'keep.txt'), 'already here\n');
  return { parent, dest };
}

/** The destination holds only keep.txt and its parent only the destination: nothing written, no staging left. */
async function expectUntouched(parent: string, dest: string): Promise<void> {
  expect(await readdir(parent)).toEqual(['dest']);
  expect(await readdir(dest)).toEqual(['keep.txt']);
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'fetch-faults-'));
  await mkdir(path.join(work, 'config'));
  await writeFile(path.join(work, 'config/app.yaml'), appYAML);
  await writeFile(path.join(work, 'config/data.bin'), randomBytes(64 * 1024));
  await writeFile(path.join(work, 'notes.txt'), notes);
  registry = await startFakeRegistry();
  ref = `${registry.host}/${repo}:v1`;
  const pushed = await lading(['push', '--json', ref, 'config', 'notes.txt']);
  expect(pushed.code, pushed.stderr).toBe(0);
  expect(json<PushCommandResult>(pushed).layers).toHaveLength(2);
});

afterAll(async () => {
  await registry.close();
});

describe('a blob whose size differs from the manifest', () => {
  it('pull of a folder layer one byte longer than served: exit 6, one error, nothing written, no staging left', async () => {
    const tampered = tamperedManifest('folder-size', (m) => {
      layerTitled(m, 'config').size += 1;
    });
    const { parent, dest } = await destination('folder-size');
    const result = await lading(['pull', tampered, dest]);
    expect(result.stderr).toMatch(
      new RegExp(
        `^Error: fetch blob ${registry.host}/${repo}@sha256:[0-9a-f]{64}: size mismatch: expected \\d+ bytes, the registry announced \\d+$`,
        'm',
      ),
    );
    expect(result.stderr).toMatch(/\nHint: the artifact is corrupt or was tampered with: nothing was written\n$/);
    expect(result.stderr.match(/Error:/g)).toHaveLength(1);
    expect(result.code, result.stderr).toBe(6);
    expect(result.stdout.length).toBe(0);
    await expectUntouched(parent, dest);
  });

  it('pull --json of a file layer with a wrong size: exit 6 and exactly one error document', async () => {
    const tampered = tamperedManifest('file-size', (m) => {
      layerTitled(m, 'notes.txt').size += 1;
    });
    const { parent, dest } = await destination('file-size');
    const result = await lading(['pull', '--json', tampered, dest]);
    expect(result.code, result.stderr).toBe(6);
    const error = json<ErrorJSON>(result).error;
    expect(error.code).toBe('ERR_LADING_INTEGRITY');
    expect(error.exitCode).toBe(6);
    expect(error.message).toMatch(/size mismatch/);
    expect(result.stderr).toBe('');
    await expectUntouched(parent, dest);
  });

  it('a layer failing while another is still being written: exit 6 once every layer stopped, no staging left', async () => {
    const tampered = tamperedManifest('while-writing', (m) => {
      layerTitled(m, 'notes.txt').size += 1;
    });
    const config = pushedLayers()[0];
    // The folder layer trickles in while the file layer fails at once.
    const rule = registry.inject({
      method: 'GET',
      path: `/v2/${repo}/blobs/${config?.digest ?? ''}`,
      action: { kind: 'slow', chunkBytes: 2048, delayMs: 20, maxTotalMs: 2000 },
    });
    try {
      const { parent, dest } = await destination('while-writing');
      const result = await lading(['pull', '--concurrency', '2', tampered, dest]);
      expect(result.stderr).toMatch(
        /^Error: fetch blob .*: size mismatch: expected \d+ bytes, the registry announced \d+$/m,
      );
      expect(result.stderr.match(/Error:/g)).toHaveLength(1);
      expect(result.code, result.stderr).toBe(6);
      await expectUntouched(parent, dest);
      expect(rule.fired).toBe(1);
    } finally {
      rule.remove();
    }
  });

  it('cat of a file layer with a wrong size: exit 6, one error; with --json one document', async () => {
    const tampered = tamperedManifest('cat-size', (m) => {
      layerTitled(m, 'notes.txt').size += 7;
    });
    const plain = await lading(['cat', tampered, 'notes.txt']);
    expect(plain.stderr).toMatch(
      /^Error: fetch blob .*: size mismatch: expected \d+ bytes, the registry announced \d+\n/,
    );
    expect(plain.stderr.match(/Error:/g)).toHaveLength(1);
    expect(plain.code, plain.stderr).toBe(6);
    expect(plain.stdout.length).toBe(0);
    const withJSON = await lading(['cat', '--json', tampered, 'notes.txt']);
    expect(withJSON.code, withJSON.stderr).toBe(6);
    expect(json<ErrorJSON>(withJSON).error.exitCode).toBe(6);
    expect(withJSON.stderr).toBe('');
  });
});

// An ordinary user: as root (the machine and CI), the CLI child runs as nobody (uid/gid 65534) so that permissions
// apply to it; as another user it runs as that user. Folders it must write are given to it; "not writable" is mode
// 0555 on a folder it does not own or that it owns (the same for a non-root owner).
const root = process.getuid?.() === 0;
const childUID = root ? 65534 : (process.getuid?.() ?? 0);
const childGID = root ? 65534 : (process.getgid?.() ?? 0);

describe('pulling as an ordinary user, and file-system errors', () => {
  let base: string;
  let userEnv: NodeJS.ProcessEnv;
  let bigRef: string;
  let twoRef: string;

  /** Runs `lading args…` as the ordinary user in `cwd`. */
  function ladingAsUser(args: readonly string[], cwd: string): Promise<LadingRun> {
    const child = spawn(process.execPath, [ladingBin, ...args], {
      cwd,
      env: userEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(root && { uid: childUID, gid: childGID }),
    });
    child.stdin.end();
    return collectLading(child);
  }

  /** A folder the ordinary user owns and may write (mode 0755). */
  async function userFolder(dir: string): Promise<string> {
    await mkdir(dir, { mode: 0o755 });
    await chown(dir, childUID, childGID);
    return dir;
  }

  /**
   * `<base>/<name>-XXXXXX/alice`: a home folder holding keep.txt, owned by the user, in a parent (mode 0555) the
   * user may not write, like /home.
   */
  async function homeInLockedParent(name: string): Promise<{ parent: string; home: string }> {
    const parent = await mkdtemp(path.join(base, `${name}-`));
    const home = await userFolder(path.join(parent, 'alice'));
    await writeFile(path.join(home, 'keep.txt'), 'already here\n');
    await chown(path.join(home, 'keep.txt'), childUID, childGID);
    await chmod(parent, 0o555);
    return { parent, home };
  }

  beforeAll(async () => {
    // Not under the test bed's folder (mode 0700, unreachable for another user).
    base = await mkdtemp(path.join(tmpdir(), 'lading-user-'));
    await chmod(base, 0o755);
    const toolHome = await userFolder(path.join(base, 'tool-home'));
    await userFolder(path.join(toolHome, '.docker'));
    userEnv = isolatedEnv(toolHome);
    // A 1 MiB file that does not compress, for the full disk.
    await mkdir(path.join(work, 'big'));
    await writeFile(path.join(work, 'big/blob.bin'), randomBytes(1024 * 1024));
    bigRef = `${registry.host}/${repo}:big`;
    // Two folder layers of 300 small files each, which a 600 KiB disk cannot hold together.
    for (const folder of ['one', 'two']) {
      await mkdir(path.join(work, folder));
      for (let i = 0; i < 300; i++) await writeFile(path.join(work, folder, `f${i}`), randomBytes(2048));
    }
    twoRef = `${registry.host}/${repo}:two`;
    expect((await lading(['push', twoRef, 'one', 'two'])).code).toBe(0);
    const pushed = await lading(['push', bigRef, 'big']);
    expect(pushed.code, pushed.stderr).toBe(0);
  });

  afterAll(async () => {
    // Open up what the tests locked so the whole folder can go.
    for (const name of await readdir(base)) await chmod(path.join(base, name), 0o755).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  });

  it('`lading pull ref` in a home folder whose parent is not writable stages inside it and succeeds', async () => {
    const { parent, home } = await homeInLockedParent('home');
    const result = await ladingAsUser(['pull', ref], home);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.toString()).toMatch(new RegExp(`^Pulled ${ref}@sha256:[0-9a-f]{64} into \\.: 3 files, `));
    expect((await readdir(home)).sort()).toEqual(['config', 'keep.txt', 'notes.txt']);
    expect(await readFile(path.join(home, 'notes.txt'), 'utf8')).toBe(notes);
    expect(await readFile(path.join(home, 'config/app.yaml'), 'utf8')).toBe(appYAML);
    expect((await lstat(path.join(home, 'notes.txt'))).uid).toBe(childUID);
    expect(await readdir(parent)).toEqual(['alice']);
  });

  it('a failed pull staged inside the destination leaves it as it was: exit 6, no staging folder inside', async () => {
    const tampered = tamperedManifest('user-size', (m) => {
      layerTitled(m, 'config').size += 1;
    });
    const { parent, home } = await homeInLockedParent('home-fail');
    const result = await ladingAsUser(['pull', tampered], home);
    expect(result.code, result.stderr).toBe(6);
    expect(result.stderr).toMatch(/^Error: fetch blob .*: size mismatch: /m);
    expect(await readdir(home)).toEqual(['keep.txt']);
    expect(await readdir(parent)).toEqual(['alice']);
  });

  it('pull into a folder the user may not write (EACCES): exit 2 naming it, before any download', async () => {
    const { parent, home } = await homeInLockedParent('read-only');
    const readOnly = await userFolder(path.join(home, 'ro'));
    await chmod(readOnly, 0o555);
    registry.clearLog();
    const result = await ladingAsUser(['pull', ref, 'ro'], home);
    expect(errorLines(result)).toEqual([
      `Error: pull into ${readOnly}: permission denied; check its permissions, or choose a path this user may use`,
      'Hint: nothing was written: the destination is as it was',
    ]);
    expect(result.code).toBe(2);
    expect(await readdir(readOnly)).toEqual([]);
    expect((await readdir(home)).sort()).toEqual(['keep.txt', 'ro']);
    expect(await readdir(parent)).toEqual(['alice']);
    // Refused before any layer was downloaded (only the manifest and the table of contents were read).
    const layers = new Set(pushedLayers().map((l) => l.digest));
    expect(registry.requests.filter((r) => [...layers].some((d) => r.path.endsWith(d)))).toEqual([]);
  });

  it('pull into a new folder in a parent the user may not write (EACCES): exit 2 saying where', async () => {
    const { parent, home } = await homeInLockedParent('no-create');
    const result = await ladingAsUser(['pull', '--json', ref, path.join(parent, 'new')], home);
    expect(result.code, result.stderr).toBe(2);
    expect(json<ErrorJSON>(result).error).toEqual({
      code: 'ERR_LADING_FILESYSTEM',
      message: `pull into ${path.join(parent, 'new')}: cannot create it, permission denied in ${parent}; create the folder first, or choose one this user may write`,
      exitCode: 2,
      suggestion: 'nothing was written: the destination is as it was',
    });
    expect(await readdir(parent)).toEqual(['alice']);
    expect(await readdir(home)).toEqual(['keep.txt']);
  });

  it('pull into afile/sub (ENOTDIR): exit 2 naming the file in the way', async () => {
    const { parent, home } = await homeInLockedParent('not-dir');
    const result = await ladingAsUser(['pull', ref, 'keep.txt/sub'], home);
    expect(errorLines(result)).toEqual([
      `Error: pull into ${path.join(home, 'keep.txt/sub')}: ${path.join(home, 'keep.txt')} is a file, not a folder; give a path made of folders`,
      'Hint: nothing was written: the destination is as it was',
    ]);
    expect(result.code).toBe(2);
    expect(await readFile(path.join(home, 'keep.txt'), 'utf8')).toBe('already here\n');
    expect(await readdir(home)).toEqual(['keep.txt']);
    expect(await readdir(parent)).toEqual(['alice']);
  });

  it('pull onto a full disk (ENOSPC, a 256 KiB tmpfs): exit 2, nothing written, no staging left', async () => {
    // Mounting needs root, which the machine and CI have; elsewhere this fails and says so.
    expect(root, 'mounting a tmpfs for the full-disk case needs root').toBe(true);
    const disk = await mkdtemp(path.join(base, 'disk-'));
    await chmod(disk, 0o755);
    await run('mount', ['-t', 'tmpfs', '-o', `size=256k,uid=${childUID},gid=${childGID},mode=0755`, 'tmpfs', disk]);
    try {
      const dest = await userFolder(path.join(disk, 'dest'));
      const result = await ladingAsUser(['pull', bigRef, dest], base);
      expect(errorLines(result)).toEqual([
        `Error: pull into ${dest}: no space left on the device; free some space, or choose another disk`,
        'Hint: nothing was written: the destination is as it was',
      ]);
      expect(result.code).toBe(2);
      expect(await readdir(dest)).toEqual([]);
      expect(await readdir(disk)).toEqual(['dest']);
    } finally {
      await run('umount', [disk]);
    }
  });

  it('two folder layers filling a disk together (ENOSPC in both): exit 2, one error, no staging left', async () => {
    expect(root, 'mounting a tmpfs needs root').toBe(true);
    const disk = await mkdtemp(path.join(base, 'two-'));
    await chmod(disk, 0o755);
    await run('mount', ['-t', 'tmpfs', '-o', `size=600k,uid=${childUID},gid=${childGID},mode=0755`, 'tmpfs', disk]);
    try {
      const dest = await userFolder(path.join(disk, 'dest'));
      const result = await ladingAsUser(['pull', twoRef, dest], base);
      expect(errorLines(result)).toEqual([
        `Error: pull into ${dest}: no space left on the device; free some space, or choose another disk`,
        'Hint: nothing was written: the destination is as it was',
      ]);
      expect(result.code).toBe(2);
      expect(await readdir(dest)).toEqual([]);
      expect(await readdir(disk)).toEqual(['dest']);
    } finally {
      await run('umount', [disk]);
    }
  });

  // Each staging folder is two folders (its private root and the tree in it), and a pull makes two staging
  // folders: a file system with room for 2, 3 or 4 more folders after the destination refuses the 3rd, 4th or 5th
  // mkdir, each time after some staging folder was made.
  it.each([3, 4, 5])(
    'a disk out of inodes while staging (tmpfs, nr_inodes=%i): exit 2, no staging folder left',
    async (inodes) => {
      expect(root, 'mounting a tmpfs needs root').toBe(true);
      const disk = await mkdtemp(path.join(base, 'inodes-'));
      await chmod(disk, 0o755);
      const options = `size=1m,nr_inodes=${inodes},uid=${childUID},gid=${childGID},mode=0755`;
      await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', disk]);
      try {
        const dest = await userFolder(path.join(disk, 'dest'));
        const result = await ladingAsUser(['pull', ref, dest], base);
        expect(errorLines(result)[0]).toMatch(new RegExp(`^Error: pull into ${dest}: no space left on the device; `));
        expect(result.code).toBe(2);
        expect(await readdir(dest)).toEqual([]);
        expect(await readdir(disk)).toEqual(['dest']);
      } finally {
        await run('umount', [disk]);
      }
    },
  );
});
