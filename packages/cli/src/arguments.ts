/**
 * Parsing the CLI-only argument syntaxes: several tags in one reference (`host/repo:t1,t2`), `path:mediaType`, and
 * annotations. Reference grammar itself is `@lading/core`'s (`parseTarget`): one place for it.
 */
import { ErrorCodes, LadingError, parseTarget } from '@lading/core';

/** A push reference split into the target without a tag and its tags. */
export interface PushReference {
  /** The reference without tags: `host/repo` or `oci:<dir>`. */
  base: string;
  /** Tags named in the reference, in order, without duplicates. */
  tags: string[];
}

const layoutPrefix = 'oci:';

/**
 * Splits `host/repo:t1,t2` (or `oci:<dir>:t1,t2`) into the reference without tags and the tags, each validated by
 * the core reference grammar. The tags are after the last `:` that follows the last `/`. A digest (`@sha256:…`) is
 * refused: a push names its manifest by content. Throws `ERR_LADING_INVALID_REFERENCE` or `ERR_LADING_USAGE`.
 */
export function splitPushReference(input: string): PushReference {
  const prefix = input.startsWith(layoutPrefix) ? layoutPrefix : '';
  const rest = input.slice(prefix.length);
  const lastSlash = rest.lastIndexOf('/');
  if (rest.slice(lastSlash + 1).includes('@') || (prefix === '' && rest.includes('@'))) {
    throw new LadingError(
      ErrorCodes.usage,
      `push ${JSON.stringify(input)}: a push cannot name a digest (the manifest's digest is computed); give tags instead`,
    );
  }
  const colon = rest.lastIndexOf(':');
  // `[::1]` alone (no repository) ends in "]": its colons are the address's.
  const hasTags = colon > lastSlash && !rest.endsWith(']');
  const base = prefix + (hasTags ? rest.slice(0, colon) : rest);
  const tags = hasTags ? rest.slice(colon + 1).split(',') : [];
  // Validate the base and every tag with the one reference grammar.
  parseTarget(base);
  for (const tag of tags) parseTarget(`${base}:${tag}`);
  return { base, tags: [...new Set(tags)] };
}

/** A path argument of push: a path (or `-` for standard input) and an optional media type. */
export interface PathArgument {
  path: string;
  mediaType?: string;
}

/** `type/subtype` with the characters RFC 6838 allows, and optional parameters. */
const mediaTypePattern = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(?:\s*;.*)?$/;

/**
 * Parses a push path argument `path[:mediaType]`. The split is at the last `:` when what follows looks like a media
 * type (`type/subtype`) and the whole argument is not itself an existing path (`exists` decides), so files whose
 * names contain `:` still push. `-` (or `-:mediaType`) is standard input.
 */
export function parsePathArgument(argument: string, exists: (path: string) => boolean): PathArgument {
  const colon = argument.lastIndexOf(':');
  if (colon > 0) {
    const mediaType = argument.slice(colon + 1);
    const path = argument.slice(0, colon);
    if (mediaTypePattern.test(mediaType) && (path === '-' || !exists(argument))) return { path, mediaType };
  }
  return { path: argument };
}

/**
 * Manifest annotations from `--annotation-file` content and `--annotation key=value` flags (flags win over the
 * file). The file is a JSON object of string values; oras's format (`{"$manifest": {…}}`) is accepted for its
 * manifest part, and refused when it annotates files (lading has no per-file annotations). Throws
 * `ERR_LADING_USAGE` naming the flag.
 */
export function parseAnnotations(
  pairs: readonly string[],
  file?: { name: string; text: string },
): Record<string, string> {
  const out: Record<string, string> = {};
  if (file) {
    const where = `--annotation-file ${file.name}`;
    let doc: unknown;
    try {
      doc = JSON.parse(file.text);
    } catch (cause) {
      throw new LadingError(ErrorCodes.usage, `${where}: not JSON (${(cause as Error).message})`, { cause });
    }
    if (isRecord(doc) && '$manifest' in doc) {
      const others = Object.keys(doc).filter((k) => k !== '$manifest');
      if (others.length > 0) {
        throw new LadingError(
          ErrorCodes.usage,
          `${where}: annotations for ${others.map((k) => JSON.stringify(k)).join(', ')}: only manifest annotations are supported`,
        );
      }
      doc = doc.$manifest;
    }
    if (!isRecord(doc)) throw new LadingError(ErrorCodes.usage, `${where}: expected a JSON object of strings`);
    for (const [key, value] of Object.entries(doc)) {
      if (typeof value !== 'string' || key === '') {
        throw new LadingError(
          ErrorCodes.usage,
          `${where}: ${JSON.stringify(key)} must be a non-empty key with a string value`,
        );
      }
      out[key] = value;
    }
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new LadingError(ErrorCodes.usage, `--annotation ${JSON.stringify(pair)}: expected key=value`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
