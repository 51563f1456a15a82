import { ErrorCodes } from '@lading/core';
import { describe, expect, it } from 'vitest';

import { createSshVerifierFromFlags, type SshVerificationFlagValues } from './ssh-flags.js';

describe('createSshVerifierFromFlags', () => {
  it('is undefined without --allowed-signers; the SSH options alone are usage errors', async () => {
    await expect(createSshVerifierFromFlags({})).resolves.toBeUndefined();
    for (const [flags, named] of [
      [{ 'verify-principal': ['a@b'] }, '--verify-principal'],
      [{ 'ssh-namespace': 'x' }, '--ssh-namespace'],
      [{ 'ssh-revoked': 'r' }, '--ssh-revoked'],
    ] as [SshVerificationFlagValues, string][]) {
      await expect(createSshVerifierFromFlags(flags)).rejects.toMatchObject({
        code: ErrorCodes.usage,
        message: `${named}: give the allowed_signers file too, with --allowed-signers`,
      });
    }
    await expect(createSshVerifierFromFlags({}, { git: { gitDir: '.' } })).rejects.toMatchObject({
      code: ErrorCodes.usage,
    });
    await expect(createSshVerifierFromFlags({ 'allowed-signers': 'f' })).rejects.toMatchObject({
      code: ErrorCodes.usage,
      message: expect.stringContaining('--verify-principal') as unknown,
    });
  });
});
