/**
 * Digests: parsing, computing, and verifying content as it streams.
 * https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
 */
import { createHash, type Hash } from 'node:crypto';

import type { CallOptions, Fetcher } from './content.js';
import type { Descriptor } from './descriptor.js';
import { ErrorCodes, LadingError } from './errors.js';
import { DefaultManifestSizeLimit } from './media-types.js';

/** Algorithms lading can compute, with the hex length of their encoded part. */
const algorithms = { sha256: 64, sha512: 128 } as const;

/** A digest algorithm lading can compute. */
export type DigestAlgorithm = keyof typeof algorithms;

/** A parsed digest. */
export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  /** Lower-case hex. */
  encoded: string;
}

/**
 * Parses and validates `alg:hex` for the algorithms lading computes (sha256, sha512).
 * Throws `ERR_LADING_USAGE` naming `what` (default "digest") and the bad part.
 */
export function parseDigest(digest: string, what = 'digest'): ParsedDigest {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  if (colon < 0) throw new LadingError(ErrorCodes.usage, `${what} ${JSON.stringify(digest)}: expected algorithm:hex`);
  if (!(algorithm in algorithms)) {
    throw new LadingError(
      ErrorCodes.usage,
      `${what} ${JSON.stringify(digest)}: unsupported algorithm ${JSON.stringify(algorithm)} (use sha256 or sha512)`,
    );
  }
  const length = algorithms[algorithm as DigestAlgorithm];
  if (encoded.length !== length || !/^[0-9a-f]+$/.test(encoded)) {
    throw new LadingError(
      ErrorCodes.usage,
      `${what} ${JSON.stringify(digest)}: ${algorithm} needs ${length} lower-case hex characters`,
    );
  }
  return { algorithm: algorithm as DigestAlgorithm, encoded };
}

/** True when `digest` is a valid sha256 or sha512 digest. */
export function isDigest(digest: string): boolean {
  try {
    parseDigest(digest);
    return true;
  } catch {
    return false;
  }
}

/** `sha256:<hex>` of `bytes`. */
export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The digest of `bytes` computed with `algorithm` (default sha256). */
export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** A descriptor for `bytes` with the given media type (sha256). */
export function descriptorFor(mediaType: string, bytes: Uint8Array): Descriptor {
  return { mediaType, digest: sha256(bytes), size: bytes.byteLength };
}

/** Incremental digest of a stream of chunks. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  /** Bytes seen so far. */
  size = 0;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  /** Adds a chunk. */
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.byteLength;
  }

  /** The digest of everything added; call once. */
  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}

/**
 * Streams `source` through unchanged while checking it against `expected`: errors with `ERR_LADING_INTEGRITY`
 * as soon as more than `expected.size` bytes arrive, and at the end when the size or digest differ. The message
 * names `where`, the expected and the actual value. A consumer must treat what it received as unverified until
 * the iteration finishes without error.
 */
export async function* verifyContent(
  expected: Pick<Descriptor, 'digest' | 'size'>,
  source: AsyncIterable<Uint8Array>,
  where: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  const { algorithm } = parseDigest(expected.digest);
  const digester = new Digester(algorithm);
  for await (const chunk of source) {
    digester.update(chunk);
    if (digester.size > expected.size) {
      throw new LadingError(ErrorCodes.integrity, `${where}: more than the expected ${expected.size} bytes`);
    }
    yield chunk;
  }
  if (digester.size !== expected.size) {
    throw new LadingError(
      ErrorCodes.integrity,
      `${where}: size mismatch: expected ${expected.size} bytes, got ${digester.size}`,
    );
  }
  const actual = digester.digest();
  if (actual !== expected.digest) {
    throw new LadingError(
      ErrorCodes.integrity,
      `${where}: digest mismatch: expected ${expected.digest}, got ${actual}`,
    );
  }
}

/**
 * Reads a whole stream into memory, refusing more than `limit` bytes with `ERR_LADING_PROTOCOL` "<what>: too large:
 * more than the <limit>-byte limit" as soon as the limit is passed: the rest is never read, and the stream is
 * closed (its iterator's `return`, which destroys a Node or web stream). Use only for small documents (manifests,
 * listings, service replies).
 */
export async function readAll(source: AsyncIterable<Uint8Array>, limit: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    if (size > limit) {
      throw new LadingError(ErrorCodes.protocol, `${what}: too large: more than the ${limit}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Fetches what `desc` names from `source` and reads it whole (`where` names it in errors). The fetcher checks it
 * against its digest and size (the `Fetcher` contract), so this does not hash it again; it reads no more than
 * `desc.size` bytes. For manifests, indexes and signatures, never layers: a descriptor larger than `limit` (default
 * `DefaultManifestSizeLimit`, 4 MiB) is refused with `ERR_LADING_PROTOCOL` before anything is fetched.
 */
export async function fetchAll(
  source: Fetcher,
  desc: Descriptor,
  where: string,
  options: CallOptions = {},
  limit = DefaultManifestSizeLimit,
): Promise<Uint8Array> {
  if (desc.size > limit) {
    throw new LadingError(ErrorCodes.protocol, `${where}: ${desc.digest} is larger than the ${limit}-byte limit`);
  }
  return readAll(await source.fetch(desc, options), desc.size, where);
}
