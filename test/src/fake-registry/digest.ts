import { createHash } from 'node:crypto';

import { RegistryError } from './errors.js';

// Digest grammar: https://github.com/opencontainers/image-spec/blob/v1.1.1/descriptor.md#digests
const DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Algorithms the registry can verify, with the hex length of their encoded part. */
const ALGORITHMS: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha512', 128],
]);

/** `sha256:<hex>` of `bytes`. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return digestWith('sha256', bytes);
}

/** `<algorithm>:<hex>` of `bytes` for a supported algorithm (sha256, sha512). */
export function digestWith(algorithm: string, bytes: Uint8Array | string): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** True when `text` has the shape of a digest (`alg:encoded`), supported or not. */
export function looksLikeDigest(text: string): boolean {
  return DIGEST_PATTERN.test(text);
}

/**
 * Checks that `text` is a digest of a supported algorithm with a well-formed lower-case hex part and returns it.
 * Throws 400 DIGEST_INVALID otherwise.
 */
export function parseDigest(text: string): string {
  const colon = text.indexOf(':');
  const algorithm = text.slice(0, colon);
  const hexLength = ALGORITHMS.get(algorithm);
  const encoded = text.slice(colon + 1);
  if (!DIGEST_PATTERN.test(text) || hexLength === undefined || !new RegExp(`^[a-f0-9]{${hexLength}}$`).test(encoded)) {
    throw new RegistryError(400, 'DIGEST_INVALID', `invalid or unsupported digest: ${text}`);
  }
  return text;
}

/** True when `bytes` hash to `digest` (whose algorithm must be supported; see {@link parseDigest}). */
export function matchesDigest(digest: string, bytes: Uint8Array): boolean {
  const algorithm = digest.slice(0, digest.indexOf(':'));
  return digestWith(algorithm, bytes) === digest;
}
