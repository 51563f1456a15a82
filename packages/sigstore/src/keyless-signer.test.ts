import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isLadingError } from '@lading/core';
import { ambientIdentityToken } from './identity-token.js';
import { createKeySigner } from './key-signer.js';
import { createKeylessSigner } from './keyless-signer.js';

const subject = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'a'.repeat(64)}`,
  size: 2,
};

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => new Error('resolved'),
    (e: unknown) => e as Error,
  );
}

describe('createKeylessSigner options', () => {
  it.each([
    [
      { identityToken: 't', tokenProvider: () => Promise.resolve('t') },
      /give identityToken or tokenProvider, not both/,
    ],
    [{ identityToken: ' ' }, /identityToken: empty/],
    [{ identityToken: 't', fulcioURL: 'ftp://fulcio.example' }, /"ftp:\/\/fulcio.example": not http\(s\)/],
    [{ identityToken: 't', tsaURL: 'not a url' }, /"not a url": not a URL/],
    [{ identityToken: 't', signingConfig: '/nonexistent/signing_config.json' }, /load signing config \/nonexistent/],
  ])('refuses %j with ERR_LADING_USAGE', async (options, message) => {
    const error = await rejection(createKeylessSigner(options));
    expect(isLadingError(error, 'ERR_LADING_USAGE')).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('reports a missing ambient token as ERR_LADING_AUTH before contacting Fulcio', async () => {
    // Port 9 (discard) is never contacted: the token is asked for first.
    const signer = await createKeylessSigner({
      tokenProvider: ambientIdentityToken({ env: {} }),
      fulcioURL: 'http://127.0.0.1:9',
    });
    const error = await rejection(signer.sign({ subject }));
    expect(isLadingError(error, 'ERR_LADING_AUTH')).toBe(true);
    expect(error.message).toMatch(/^identity token: none in the environment/);
  });

  it('never repeats a malformed token in its error', async () => {
    const secret = 'not-a-jwt-but-secret';
    const signer = await createKeylessSigner({ identityToken: secret, fulcioURL: 'http://127.0.0.1:9' });
    const error = await rejection(signer.sign({ subject }));
    expect(isLadingError(error, 'ERR_LADING_AUTH')).toBe(true);
    expect(error.message).toBe(`sign ${subject.digest}: the identity token is not a JWT with a subject claim`);
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(secret);
    expect(error.cause).toBeUndefined();
  });
});

describe('signing honours the abort signal', () => {
  it('rejects with the reason when aborted before signing', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    const signer = await createKeySigner({ key });
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(signer.sign({ subject }, { signal: controller.signal })).rejects.toThrow('stop');
  });
});
