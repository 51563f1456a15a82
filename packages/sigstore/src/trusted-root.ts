/**
 * Trusted roots: the CAs, logs and timestamp authorities a verifier believes, from a file, an object, or the
 * public-good TUF repository.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCodes, LadingError } from '@lading/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { getTrustedRoot } from '@sigstore/tuf';
import { MediaTypeTrustedRoot } from './media-types.js';

/** Options for fetching the public-good trusted root through TUF (`@sigstore/tuf`). */
export interface TUFOptions {
  /** TUF metadata cache. Default `@sigstore/tuf`'s (`$XDG_DATA_HOME/sigstore-js`, else `~/.local/share/sigstore-js`). */
  cachePath?: string;
  /** TUF repository. Default the public good, `https://tuf-repo-cdn.sigstore.dev`. */
  mirrorURL?: string;
  /** Initial `root.json` for a private mirror. Default the public-good root embedded in `@sigstore/tuf`. */
  rootPath?: string;
  /** Use the cached metadata without checking for updates. Default false. */
  forceCache?: boolean;
}

/** Reads a `trusted_root.json` (what `cosign --trusted-root` takes). Throws `ERR_LADING_USAGE`. */
export async function loadTrustedRoot(path: string): Promise<TrustedRoot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw usage(path, (e as Error).message, e);
  }
  return parseTrustedRoot(text, path);
}

/** Parses trusted root JSON text and checks its media type; `where` names it in errors. Throws `ERR_LADING_USAGE`. */
export function parseTrustedRoot(text: string, where = 'JSON'): TrustedRoot {
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(JSON.parse(text));
  } catch (e) {
    throw usage(where, `not a trusted root: ${(e as Error).message}`, e);
  }
  if (root.mediaType !== MediaTypeTrustedRoot) {
    throw usage(where, `media type ${JSON.stringify(root.mediaType)} is not ${MediaTypeTrustedRoot}`);
  }
  return root;
}

/**
 * The public-good trusted root through TUF: metadata refreshed (signatures, versions, expiry checked by
 * `@sigstore/tuf`) unless `forceCache`. Throws `ERR_LADING_NETWORK` "load trusted root tuf <mirror>: <reason>".
 */
export async function fetchTrustedRoot(options: TUFOptions = {}): Promise<TrustedRoot> {
  try {
    return await getTrustedRoot({ ...options });
  } catch (e) {
    const mirror = options.mirrorURL ?? 'https://tuf-repo-cdn.sigstore.dev';
    throw new LadingError(ErrorCodes.network, `load trusted root tuf ${mirror}: ${(e as Error).message}`, { cause: e });
  }
}

/** A trusted root that trusts nothing: for key-only policies, where the keys are the whole trust. */
export function emptyTrustedRoot(): TrustedRoot {
  return {
    mediaType: MediaTypeTrustedRoot,
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  };
}

function usage(where: string, reason: string, cause?: unknown): LadingError {
  return new LadingError(
    ErrorCodes.usage,
    `load trusted root ${where}: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}
