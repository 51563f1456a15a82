import { generateKeyPairSync } from 'node:crypto';
import { isLadingError } from '@lading/core';
import { describe, expect, it } from 'vitest';
import { createKeySigner } from './key-signer.js';

const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString();

describe('createKeySigner tlog option', () => {
  it.each([
    [{ rekorURL: 'not a url' }, /rekorURL "not a url": not a URL$/],
    [{ rekorURL: 'ftp://rekor.example' }, /rekorURL "ftp:\/\/rekor.example": not http\(s\)$/],
    [{ rekorURL: 'https://rekor.example', majorApiVersion: 3 }, /Rekor API version 3 is not 1 or 2$/],
  ])('refuses %j now with ERR_LADING_USAGE', async (tlog, message) => {
    const error = await createKeySigner({ key, tlog }).then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(isLadingError(error, 'ERR_LADING_USAGE'), error.message).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('accepts a Rekor v1 or v2 URL (nothing is contacted before signing)', async () => {
    for (const tlog of [
      { rekorURL: 'https://rekor.example' },
      { rekorURL: 'http://127.0.0.1:1', majorApiVersion: 2 },
    ]) {
      expect((await createKeySigner({ key, tlog })).keyHint).toMatch(/^[A-Za-z0-9+/]+=*$/);
    }
  });
});
