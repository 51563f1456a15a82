/**
 * What `push --sign` (and `sign`) check before anything is uploaded, so that a signature that cannot be made does
 * not leave a pushed, unsigned artifact behind: the identity token's shape and expiry, and reading it from a file.
 * The key, its password and the signing config are checked where the signer is built (signing.ts), also first.
 * No `@lading/sigstore` import here: these checks need none, and the commands load it lazily.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

import { ErrorCodes, LadingError } from '@lading/core';

/** Named on identity token refusals (`LadingError.service`): no registry advice applies. */
const identityService = 'identity provider';

/** A JWT in compact form: three base64url parts, the signature possibly empty (unsigned test tokens). */
const compactJWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The token `--identity-token value` gives: the contents of the file `value` names when it exists (trimmed), else
 * `value` itself when it has the shape of a JWT; checked by {@link checkIdentityToken}. A value that is neither (a
 * file that does not exist, say `./missing.jwt`) is `ERR_LADING_USAGE`, never sent as a token; the value is named
 * in the message only when it looks like a path, as it may be a mangled secret.
 */
export async function identityTokenFromFlag(value: string, now: Date = new Date()): Promise<string> {
  if (existsSync(value)) {
    let text: string;
    try {
      text = await readFile(value, 'utf8');
    } catch (cause) {
      throw new LadingError(ErrorCodes.usage, `--identity-token ${value}: ${(cause as Error).message}`, { cause });
    }
    return checkIdentityToken(text.trim(), `--identity-token ${value}`, now);
  }
  const token = value.trim();
  if (!compactJWT.test(token)) {
    const named = looksLikePath(value) ? ` ${value}` : '';
    throw new LadingError(
      ErrorCodes.usage,
      `--identity-token${named}: no such file, and not an identity token (a JWT: three base64url parts joined by dots)${
        named === '' ? '; the value is not shown, as it may be a secret' : ''
      }`,
    );
  }
  return checkIdentityToken(token, '--identity-token', now);
}

/**
 * `token` when it is a JWT Fulcio can take: a JSON header and payload, the payload with a string `iss` and a
 * string `sub` (or `email`), and, when it has `exp`, not expired at `now`. `ERR_LADING_AUTH` otherwise, naming
 * `source` (where the token came from) and never the token.
 */
export function checkIdentityToken(token: string, source: string, now: Date = new Date()): string {
  const refuse = (why: string): LadingError =>
    new LadingError(ErrorCodes.auth, `identity token (${source}): ${why}`, { service: identityService });
  const parts = token.split('.');
  if (parts.length !== 3 || !compactJWT.test(token)) {
    throw refuse('not a JWT (three base64url parts joined by dots)');
  }
  const header = decodePart(parts[0] ?? '');
  const payload = decodePart(parts[1] ?? '');
  if (header === undefined || payload === undefined) throw refuse('its header or claims are not base64url JSON');
  if (typeof payload.iss !== 'string' || payload.iss === '') throw refuse('no issuer (iss) claim');
  const subject = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : payload.email;
  if (typeof subject !== 'string' || subject === '') throw refuse('no subject (sub or email) claim');
  if (payload.exp !== undefined) {
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw refuse('its exp claim is not a number');
    const expiry = new Date(payload.exp * 1000);
    if (expiry.getTime() <= now.getTime()) {
      throw refuse(
        `expired at ${expiry.toISOString()} (issuer ${payload.iss}); get a fresh one, as Fulcio refuses expired tokens`,
      );
    }
  }
  return token;
}

function decodePart(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** True for a value that reads as a file name rather than a token: a path separator, or a short name.ext. */
function looksLikePath(value: string): boolean {
  return /[/\\]/.test(value) || /^[\w-]{1,64}\.(jwt|token|txt|json)$/i.test(value);
}
