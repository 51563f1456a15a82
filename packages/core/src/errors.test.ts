import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { attributeError, ErrorCodes, fileSystemError, LadingError, isLadingError } from './errors.js';

describe('LadingError', () => {
  it('carries a literal code, the message and the cause', () => {
    const cause = new Error('socket hang up');
    const err = new LadingError(ErrorCodes.network, 'fetch manifest ghcr.io/acme/app:v1: connection reset', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ERR_LADING_NETWORK');
    expect(err.message).toBe('fetch manifest ghcr.io/acme/app:v1: connection reset');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('LadingError');
  });

  it('has no cause property when none is given', () => {
    expect('cause' in new LadingError(ErrorCodes.usage, 'x')).toBe(false);
  });

  it('is recognised by code', () => {
    const err = new LadingError(ErrorCodes.integrity, 'digest mismatch');
    expect(isLadingError(err)).toBe(true);
    expect(isLadingError(err, ErrorCodes.integrity)).toBe(true);
    expect(isLadingError(err, ErrorCodes.auth)).toBe(false);
    expect(isLadingError(new Error('plain'))).toBe(false);
  });

  it('uses unique codes', () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^ERR_LADING_[A-Z_]+$/);
  });

  it('is attributed to a service once, keeping code, message and cause', () => {
    const cause = new Error('ECONNREFUSED');
    const err = new LadingError(ErrorCodes.network, 'fetch root: refused', { cause });
    expect(err.service).toBeUndefined();
    const attributed = attributeError(err, 'tuf') as LadingError;
    expect(attributed).toMatchObject({ code: ErrorCodes.network, message: 'fetch root: refused', service: 'tuf' });
    expect(attributed.cause).toBe(cause);
    expect(attributeError(attributed, 'other')).toBe(attributed);
    const plain = new Error('plain');
    expect(attributeError(plain, 'tuf')).toBe(plain);
  });
});

/** The error `promise` rejects with (it must reject). */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describe('fileSystemError', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lading-fs-errors-'));
    await writeFile(path.join(dir, 'afile'), 'x');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('maps a real ENOTDIR to ERR_LADING_FILESYSTEM naming the path and what to do, keeping the cause', async () => {
    const cause = await failure(lstat(path.join(dir, 'afile/sub')));
    const error = fileSystemError(cause, 'pull into /dest') as LadingError;
    expect(error).toBeInstanceOf(LadingError);
    expect(error.code).toBe(ErrorCodes.fileSystem);
    expect(error.message).toBe(
      `pull into /dest: ${path.join(dir, 'afile/sub')}: a file stands where a folder is needed; give a path made of folders`,
    );
    expect(error.cause).toBe(cause);
  });

  it('leaves out the path when it is the target the operation names, or when none is given', async () => {
    const target = path.join(dir, 'afile');
    const cause = await failure(readFile(dir));
    expect((fileSystemError(cause, `read ${dir}`, dir) as LadingError).message).toBe(
      `read ${dir}: is a folder, not a file; name a file`,
    );
    const notDir = await failure(lstat(path.join(target, 'x')));
    expect((fileSystemError(notDir) as LadingError).message).toBe(
      `${path.join(target, 'x')}: a file stands where a folder is needed; give a path made of folders`,
    );
  });

  it('maps a real ENOSPC (a write to /dev/full) without naming the file written', async () => {
    const cause = await failure(writeFile('/dev/full', 'x'));
    expect((cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    const error = fileSystemError(cause, 'pull into /dest', '/dest') as LadingError;
    expect(error.code).toBe(ErrorCodes.fileSystem);
    expect(error.message).toBe('pull into /dest: no space left on the device; free some space, or choose another disk');
  });

  it('maps permission errors by their code (EACCES as Node raises it)', () => {
    const cause = Object.assign(new Error("EACCES: permission denied, mkdir '/home/.alice'"), {
      code: 'EACCES',
      errno: -13,
      syscall: 'mkdir',
      path: '/home/.alice',
    });
    expect((fileSystemError(cause, 'pull into /home/alice', '/home/alice') as LadingError).message).toBe(
      'pull into /home/alice: /home/.alice: permission denied; check its permissions, or choose a path this user may use',
    );
  });

  it('passes lading errors, other operating-system errors and non-errors through unchanged', async () => {
    const lading = new LadingError(ErrorCodes.integrity, 'x');
    expect(fileSystemError(lading, 'op')).toBe(lading);
    const missing = await failure(lstat(path.join(dir, 'missing')));
    expect(fileSystemError(missing, 'op')).toBe(missing);
    const plain = new Error('bug');
    expect(fileSystemError(plain, 'op')).toBe(plain);
    expect(fileSystemError('text', 'op')).toBe('text');
  });
});
