import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ErrorCodes, isLadingError, type LadingError } from '../errors.js';
import { createStaging, type Staging } from './staging.js';
import { sha, snapshot } from './snapshot.test.helpers.js';

let base: string;
let destination: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'lading-staging-'));
  destination = path.join(base, 'dest');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Writes a small tree: `{ 'a/b': 'content', 'c/': null }` (null: a folder). */
async function writeTree(root: string, tree: Record<string, string | null>): Promise<void> {
  for (const [rel, content] of Object.entries(tree)) {
    const full = path.join(root, rel);
    if (content === null) {
      await mkdir(full, { recursive: true });
    } else {
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, content);
    }
  }
}

/** A rename that records its calls and fails with EIO on the calls listed in `failOn` (1-based). */
function faultyRename(failOn: readonly number[] = []): {
  calls: [string, string][];
  rename: (from: string, to: string) => Promise<void>;
} {
  const calls: [string, string][] = [];
  return {
    calls,
    rename: async (from, to) => {
      calls.push([from, to]);
      if (failOn.includes(calls.length)) {
        throw Object.assign(new Error(`EIO: injected failure, rename '${from}' -> '${to}'`), {
          code: 'EIO',
          syscall: 'rename',
        });
      }
      await rename(from, to);
    },
  };
}

async function usageError(promise: Promise<unknown>): Promise<LadingError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLadingError(error, ErrorCodes.usage), String(error)).toBe(true);
  return error as LadingError;
}

describe('createStaging', () => {
  it('makes a private folder beside the destination, creating missing parents', async () => {
    destination = path.join(base, 'out', 'dest');
    const staging = await createStaging(destination);
    const [name] = await readdir(path.join(base, 'out'));
    expect(name).toMatch(/^\.dest\.lading-staging-[0-9a-f]{16}$/);
    const root = path.join(base, 'out', name ?? '');
    expect((await lstat(root)).mode & 0o777).toBe(0o700);
    expect(staging.dir).toBe(path.join(root, 'tree'));
    expect(staging.destination).toBe(destination);
    expect(await readdir(staging.dir)).toEqual([]);
    await staging.discard();
    expect(await readdir(path.join(base, 'out'))).toEqual([]);
  });

  it('gives each staging folder its own name', async () => {
    const one = await createStaging(destination);
    const two = await createStaging(destination);
    expect(one.dir).not.toBe(two.dir);
    expect(path.dirname(path.dirname(one.dir))).toBe(base);
  });

  it('refuses a destination that is a symlink, even to a folder', async () => {
    await mkdir(path.join(base, 'real'));
    await symlink(path.join(base, 'real'), destination);
    const error = await usageError(createStaging(destination));
    expect(error.message).toBe(`pull into ${destination}: is a symbolic link; give the folder it points to instead`);
    expect((await readdir(base)).sort()).toEqual(['dest', 'real']);
  });

  it('refuses a destination that is a file', async () => {
    await writeFile(destination, 'x');
    const error = await usageError(createStaging(destination));
    expect(error.message).toBe(`pull into ${destination}: exists and is not a folder`);
    expect(await readdir(base)).toEqual(['dest']);
  });

  it('names the file standing where a folder is needed (ENOTDIR), as a file-system error', async () => {
    await writeFile(path.join(base, 'afile'), 'x');
    for (const below of ['afile/sub', 'afile/sub/deeper']) {
      const target = path.join(base, below);
      const error: unknown = await createStaging(target).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isLadingError(error, ErrorCodes.fileSystem), String(error)).toBe(true);
      expect((error as LadingError).message).toBe(
        `pull into ${target}: ${path.join(base, 'afile')} is a file, not a folder; give a path made of folders`,
      );
      expect((error as LadingError).cause).toMatchObject({ code: 'ENOTDIR' });
    }
    expect(await readdir(base)).toEqual(['afile']);
    expect(await readFile(path.join(base, 'afile'), 'utf8')).toBe('x');
  });
});

describe('Staging.commit', () => {
  it('moves the whole tree into an absent destination with one rename', async () => {
    const fs = faultyRename();
    const staging = await createStaging(destination, { rename: fs.rename });
    await writeTree(staging.dir, { 'config/app.yaml': 'a: 1', 'config/empty/': null, tool: '#!/bin/sh' });
    const staged = await snapshot(staging.dir);
    await staging.commit();
    expect(fs.calls).toEqual([[staging.dir, destination]]);
    expect(await snapshot(destination)).toEqual(staged);
    expect(await readdir(base)).toEqual(['dest']);
    await staging.discard(); // nothing left to do
    expect(await readdir(base)).toEqual(['dest']);
  });

  it('adds entries to an existing folder, leaving what it holds', async () => {
    await writeTree(destination, { 'mine.txt': 'mine', 'notes/': null });
    const staging = await createStaging(destination);
    await writeTree(staging.dir, { 'config/app.yaml': 'a: 1', tool: 'bin' });
    await staging.commit();
    expect(await snapshot(destination)).toEqual({
      config: 'dir 755',
      'config/app.yaml': `file 644 ${sha('a: 1')}`,
      'mine.txt': `file 644 ${sha('mine')}`,
      notes: 'dir 755',
      tool: `file 644 ${sha('bin')}`,
    });
    expect(await readdir(base)).toEqual(['dest']);
  });

  it('refuses existing entries without overwrite, before moving anything', async () => {
    await writeTree(destination, { 'config/old.yaml': 'old', 'mine.txt': 'mine' });
    const before = await snapshot(destination);
    const fs = faultyRename();
    const staging = await createStaging(destination, { rename: fs.rename });
    await writeTree(staging.dir, { 'a-new': 'new', 'config/app.yaml': 'a: 1' });
    const error = await usageError(staging.commit());
    expect(error.message).toBe(`pull into ${destination}: config exists; use --overwrite to replace it`);
    expect(fs.calls).toEqual([]);
    expect(await snapshot(destination)).toEqual(before);
    await staging.discard();
    expect(await readdir(base)).toEqual(['dest']);
  });

  it('replaces existing entries with overwrite (a folder as a whole) and deletes the old ones', async () => {
    await writeTree(destination, { 'config/old.yaml': 'old', tool: 'old tool', 'mine.txt': 'mine' });
    const staging = await createStaging(destination);
    await writeTree(staging.dir, { 'config/app.yaml': 'a: 1', tool: 'new tool' });
    await staging.commit({ overwrite: true });
    expect(await snapshot(destination)).toEqual({
      config: 'dir 755',
      'config/app.yaml': `file 644 ${sha('a: 1')}`,
      'mine.txt': `file 644 ${sha('mine')}`,
      tool: `file 644 ${sha('new tool')}`,
    });
    expect(await readdir(base)).toEqual(['dest']);
  });

  it('restores the destination exactly when a move fails at any point', async () => {
    // Three staged entries, two of them replacing existing ones: 5 renames in all (2 backups, 3 moves in).
    const existing = { 'b/old': 'old b', c: 'old c', 'keep/x': 'keep' };
    const staged = { a: 'new a', 'b/new': 'new b', c: 'new c' };
    for (let failAt = 1; failAt <= 5; failAt++) {
      await rm(base, { recursive: true, force: true });
      await mkdir(base);
      await writeTree(destination, existing);
      const before = await snapshot(destination);
      const fs = faultyRename([failAt]);
      const staging = await createStaging(destination, { rename: fs.rename });
      await writeTree(staging.dir, staged);
      const stagedBefore = await snapshot(staging.dir);
      await expect(staging.commit({ overwrite: true }), `failure at rename ${failAt}`).rejects.toMatchObject({
        code: 'EIO',
      });
      expect(await snapshot(destination), `failure at rename ${failAt}`).toEqual(before);
      expect(await snapshot(staging.dir)).toEqual(stagedBefore);
      await staging.discard();
      expect(await readdir(base)).toEqual(['dest']);
    }
  });

  it('keeps the staging folder and says where the old entries are when the undo fails too', async () => {
    await writeTree(destination, { a: 'old a', b: 'old b' });
    // Renames: 1 back up a, 2 move a in, 3 back up b (fails), 4 undo: move a out (fails).
    const fs = faultyRename([3, 4]);
    const staging = await createStaging(destination, { rename: fs.rename });
    await writeTree(staging.dir, { a: 'new a', b: 'new b' });
    const error = await usageError(staging.commit({ overwrite: true }));
    const backup = path.join(path.dirname(staging.dir), 'backup');
    expect(error.message).toBe(
      `pull into ${destination}: the commit failed and could not be undone; the previous entries are in ${backup}`,
    );
    expect(error.cause).toBeInstanceOf(AggregateError);
    await staging.discard();
    expect(await readFile(path.join(backup, 'a'), 'utf8')).toBe('old a');
  });

  it('moves read-only folders although moving a folder needs write permission on it', async () => {
    // As root every rename succeeds, so act like the kernel does for other users: EACCES for a folder without
    // owner write permission (its ".." entry must be rewritten).
    const strict = async (from: string, to: string): Promise<void> => {
      const stats = await lstat(from);
      if (stats.isDirectory() && (stats.mode & 0o200) === 0) {
        throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', syscall: 'rename' });
      }
      await rename(from, to);
    };
    await writeTree(destination, { ro: null, 'ro/old': 'old' });
    await chmod(path.join(destination, 'ro'), 0o555);
    const staging = await createStaging(destination, { rename: strict });
    await writeTree(staging.dir, { 'ro/new': 'new' });
    await chmod(path.join(staging.dir, 'ro'), 0o555);
    await staging.commit({ overwrite: true });
    expect(await snapshot(destination)).toEqual({ ro: 'dir 555', 'ro/new': `file 644 ${sha('new')}` });
    expect(await readdir(base)).toEqual(['dest']);
  });

  it('refuses a destination replaced by a symlink after the staging folder was made', async () => {
    await mkdir(destination);
    const staging = await createStaging(destination);
    await writeTree(staging.dir, { a: 'a' });
    await rm(destination, { recursive: true });
    await mkdir(path.join(base, 'elsewhere'));
    await symlink(path.join(base, 'elsewhere'), destination);
    const error = await usageError(staging.commit());
    expect(error.message).toContain('is a symbolic link');
    expect(await readdir(path.join(base, 'elsewhere'))).toEqual([]);
  });

  it('checks the signal before moving anything, and can be called once', async () => {
    const staging = await createStaging(destination);
    await writeTree(staging.dir, { a: 'a' });
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(staging.commit({ signal: controller.signal })).rejects.toThrow('stop');
    await expect(readdir(destination)).rejects.toMatchObject({ code: 'ENOENT' });
    await staging.commit();
    const error = await usageError(staging.commit());
    expect(error.message).toBe(`pull into ${destination}: the staging folder was already used`);
  });
});

describe('Staging.discard', () => {
  let staging: Staging;
  let outside: string;

  beforeEach(async () => {
    outside = path.join(base, 'outside');
    await writeTree(outside, { 'secret.txt': 'secret', 'sub/x': 'x' });
    staging = await createStaging(destination);
  });

  it('removes everything, follows no symlink, and can be called again', async () => {
    const before = await snapshot(outside);
    await writeTree(staging.dir, { 'top/a': 'a', 'top/deep/b': 'b' });
    await symlink(outside, path.join(staging.dir, 'top', 'to-outside'));
    await symlink(path.join(outside, 'secret.txt'), path.join(staging.dir, 'top', 'deep', 'to-secret'));
    await chmod(path.join(staging.dir, 'top', 'deep'), 0o555);
    await chmod(path.join(staging.dir, 'top'), 0o000);
    await staging.discard();
    await staging.discard();
    expect((await readdir(base)).sort()).toEqual(['outside']);
    expect(await snapshot(outside)).toEqual(before);
  });
});
