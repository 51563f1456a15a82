import { writeFile } from 'node:fs/promises';

import { ErrorCodes, LadingError } from '@lading/core';
import { attributeError } from '@lading/core/internal';
import { Errors } from '@oclif/core';
import { describe, expect, it } from 'vitest';

import { ExitCodes, describeFailure } from './exit-codes.js';

describe('describeFailure', () => {
  it.each([
    [ErrorCodes.usage, 2],
    [ErrorCodes.invalidReference, 2],
    [ErrorCodes.notFound, 3],
    [ErrorCodes.auth, 4],
    [ErrorCodes.verification, 5],
    [ErrorCodes.integrity, 6],
    [ErrorCodes.network, 7],
    [ErrorCodes.protocol, 8],
    [ErrorCodes.fileSystem, 2],
  ])('maps %s to exit code %i', (code, exitCode) => {
    const failure = describeFailure(new LadingError(code, 'op target: reason'));
    expect(failure).toMatchObject({ code, exitCode, message: 'op target: reason' });
  });

  it('suggests how to log in on auth errors', () => {
    expect(describeFailure(new LadingError(ErrorCodes.auth, 'x')).suggestion).toMatch(/docker login.*--password-stdin/);
  });

  it('points at the -u credentials when they were given', () => {
    expect(describeFailure(new LadingError(ErrorCodes.auth, 'x'), { explicitCredentials: true }).suggestion).toBe(
      'check the user name and password given with -u, and that this user may access the repository',
    );
  });

  it('suggests transport flags on network errors', () => {
    expect(describeFailure(new LadingError(ErrorCodes.network, 'x')).suggestion).toMatch(/--plain-http.*--ca-file/);
  });

  it('says nothing was written on integrity errors of commands that write', () => {
    const failure = describeFailure(new LadingError(ErrorCodes.integrity, 'x'), { writes: true });
    expect(failure.suggestion).toBe('the artifact is corrupt or was tampered with: nothing was written');
    expect(describeFailure(new LadingError(ErrorCodes.integrity, 'x')).suggestion).toBe(
      'the artifact is corrupt or was tampered with',
    );
  });

  it('has no suggestion where none helps', () => {
    expect(describeFailure(new LadingError(ErrorCodes.notFound, 'x')).suggestion).toBeUndefined();
  });

  it('gives no registry advice for a failure of another service', () => {
    const tuf = new LadingError(ErrorCodes.network, 'load trusted root http://127.0.0.1:1: refused', {
      service: 'tuf',
    });
    expect(describeFailure(tuf)).toEqual({
      code: 'ERR_LADING_NETWORK',
      exitCode: ExitCodes.network,
      message: 'load trusted root http://127.0.0.1:1: refused',
    });
    const token = attributeError(new LadingError(ErrorCodes.auth, 'identity token: none'), 'identity provider');
    expect(describeFailure(token).suggestion).toBeUndefined();
    expect(describeFailure(new LadingError(ErrorCodes.network, 'push: refused')).suggestion).toMatch(/--plain-http/);
  });

  it('treats argument-parser errors as usage', () => {
    const error = new Errors.CLIError('Missing 1 required arg', { exit: 2 });
    expect(describeFailure(error)).toMatchObject({
      code: 'ERR_LADING_USAGE',
      exitCode: ExitCodes.usage,
      message: 'Missing 1 required arg',
    });
  });

  it('reports anything after a signal as an interruption', () => {
    const abort = new DOMException('This operation was aborted', 'AbortError');
    expect(describeFailure(abort, { signal: 'SIGINT', writes: true })).toEqual({
      code: 'ERR_LADING_INTERRUPTED',
      message: 'interrupted by SIGINT: nothing was written',
      exitCode: 130,
    });
    expect(describeFailure(new LadingError(ErrorCodes.network, 'x'), { signal: 'SIGTERM' }).exitCode).toBe(130);
  });

  it('reports other errors as unexpected, exit 1', () => {
    expect(describeFailure(new TypeError('boom'))).toMatchObject({
      code: 'ERR_LADING_UNEXPECTED',
      exitCode: 1,
      message: 'boom',
    });
    expect(describeFailure('thrown string')).toMatchObject({ exitCode: 1, message: 'thrown string' });
  });

  it('says a failed write left the destination as it was on file-system errors of commands that write', () => {
    const error = new LadingError(ErrorCodes.fileSystem, 'pull into /etc/acme: permission denied; check…');
    expect(describeFailure(error, { writes: true })).toEqual({
      code: 'ERR_LADING_FILESYSTEM',
      message: 'pull into /etc/acme: permission denied; check…',
      exitCode: ExitCodes.usage,
      suggestion: 'nothing was written: the destination is as it was',
    });
    expect(describeFailure(error).suggestion).toBeUndefined();
  });

  it('maps an operating-system error that reached it unmapped (a real ENOSPC) to exit 2, not unexpected', async () => {
    const cause: unknown = await writeFile('/dev/full', 'x').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(describeFailure(cause)).toEqual({
      code: 'ERR_LADING_FILESYSTEM',
      message: 'no space left on the device; free some space, or choose another disk',
      exitCode: ExitCodes.usage,
    });
  });
});
