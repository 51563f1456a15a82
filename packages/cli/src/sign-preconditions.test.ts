import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { isLadingError } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { checkIdentityToken, identityTokenFromFlag } from './sign-preconditions.js';

const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: Record<string, unknown>): string => `${part({ alg: 'RS256' })}.${part(claims)}.c2ln`;
const now = new Date('2026-01-01T00:00:00Z');
const fresh = jwt({ iss: 'https://issuer.example', sub: 'alice', exp: now.getTime() / 1000 + 600 });

/** The code and message `run` fails with. */
function failure(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (isLadingError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('accepted');
}

/** The error `promise` rejects with (a resolved token is a failure). */
async function refusal(promise: Promise<string>): Promise<{ code?: string; message: string }> {
  return promise.then(
    () => new Error('accepted'),
    (e: unknown) => e as Error & { code?: string },
  );
}

describe('checkIdentityToken', () => {
  it('takes a JWT with an issuer and a subject (or email) that has not expired', () => {
    expect(checkIdentityToken(fresh, 'test', now)).toBe(fresh);
    const email = jwt({ iss: 'https://accounts.example', email: 'a@example.com' });
    expect(checkIdentityToken(email, 'test', now)).toBe(email);
  });

  it('refuses, with ERR_LADING_AUTH and never the token, what Fulcio would refuse', () => {
    const expired = jwt({ iss: 'https://issuer.example', sub: 'alice', exp: now.getTime() / 1000 - 1 });
    for (const [token, why] of [
      ['a.b', 'not a JWT'],
      ['abc.def.ghi', 'its header or claims are not base64url JSON'],
      [jwt({ sub: 'alice' }), 'no issuer (iss) claim'],
      [jwt({ iss: 'https://issuer.example' }), 'no subject (sub or email) claim'],
      [jwt({ iss: 'https://issuer.example', sub: 'a', exp: 'soon' }), 'its exp claim is not a number'],
      [expired, 'expired at 2025-12-31T23:59:59.000Z (issuer https://issuer.example)'],
    ] as const) {
      const refused = failure(() => checkIdentityToken(token, 'SIGSTORE_ID_TOKEN', now));
      expect(refused.code).toBe('ERR_LADING_AUTH');
      expect(refused.message).toContain(`identity token (SIGSTORE_ID_TOKEN): ${why}`);
      expect(refused.message).not.toContain(token);
    }
  });
});

describe('identityTokenFromFlag', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lading-preconditions-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file that exists (trimmed), and takes a JWT-shaped value as the token', async () => {
    const file = path.join(dir, 'token.jwt');
    await writeFile(file, `${fresh}\n`);
    expect(await identityTokenFromFlag(file, now)).toBe(fresh);
    expect(await identityTokenFromFlag(fresh, now)).toBe(fresh);
  });

  it('refuses a missing file with ERR_LADING_USAGE, naming it only when it looks like a path', async () => {
    await expect(identityTokenFromFlag('./missing.jwt', now)).rejects.toMatchObject({
      code: 'ERR_LADING_USAGE',
      message:
        '--identity-token ./missing.jwt: no such file, and not an identity token (a JWT: three base64url parts joined by dots)',
    });
    const secret = await refusal(identityTokenFromFlag('hunter2-secret', now));
    expect(secret.message).toMatch(/^--identity-token: no such file, .*the value is not shown/);
    expect(secret.message).not.toContain('hunter2');
  });

  it('checks what the file holds: an expired token in a file is ERR_LADING_AUTH naming the file', async () => {
    const file = path.join(dir, 'old.jwt');
    await writeFile(file, jwt({ iss: 'https://issuer.example', sub: 'alice', exp: 1 }));
    const error = await refusal(identityTokenFromFlag(file, now));
    expect(error.code).toBe('ERR_LADING_AUTH');
    expect(error.message).toContain(`identity token (--identity-token ${file}): expired at 1970-01-01T00:00:01.000Z`);
  });
});
