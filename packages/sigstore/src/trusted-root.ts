/**
 * Trusted roots: the CAs, logs and timestamp authorities a verifier believes, from a file, an object, or a TUF
 * repository (the public good by default).
 */
import { readFile } from 'node:fs/promises';
import { ErrorCodes, LadingError } from '@lading/core';
import { X509Certificate } from '@sigstore/core';
import { TrustedRoot, type TimeRange } from '@sigstore/protobuf-specs';
import { DEFAULT_MIRROR_URL, getTrustedRoot, TUFError, type TUFOptions as SigstoreTUFOptions } from '@sigstore/tuf';
import { MediaTypeTrustedRoot } from './media-types.js';

/**
 * Options of {@link fetchTrustedRoot}: which TUF repository to ask, what to trust first, and where to keep what it
 * said. Any repository laid out as Sigstore's is (consistent snapshots, target `trusted_root.json`) works, over
 * HTTPS or plain HTTP.
 */
export interface TUFOptions {
  /**
   * TUF metadata cache; each mirror gets its own subfolder (its host and path, URL-encoded). Default
   * `@sigstore/tuf`'s, shared with other sigstore-js tools: `$XDG_DATA_HOME/sigstore-js`, else
   * `~/.local/share/sigstore-js` (Linux); `~/Library/Application Support/sigstore-js` (macOS);
   * `%LOCALAPPDATA%\sigstore-js\Data` (Windows).
   */
  cachePath?: string;
  /** TUF repository base URL (`http:` or `https:`). Default the public good, `https://tuf-repo-cdn.sigstore.dev`. */
  mirrorURL?: string;
  /**
   * Initial `root.json` of the mirror: the key material trusted first, from which the client walks the chain of
   * root versions the mirror publishes. When given it replaces the cached root on every call, so this file stays
   * the anchor. Default: the cached root of the mirror, else (public good only) the root embedded in
   * `@sigstore/tuf`; any other mirror needs it on first use.
   */
  rootPath?: string;
  /** Use the cached metadata without checking for updates while it has not expired. Default false. */
  forceCache?: boolean;
}

/**
 * Reads a `trusted_root.json` (what `cosign --trusted-root` takes) and checks it as {@link checkTrustedRoot} does.
 * Throws `ERR_LADING_USAGE`.
 */
export async function loadTrustedRoot(path: string): Promise<TrustedRoot> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw usage(path, (e as Error).message, e);
  }
  return parseTrustedRoot(text, path);
}

/**
 * Parses trusted root JSON text and checks it as {@link checkTrustedRoot} does; `where` names it in errors. Throws
 * `ERR_LADING_USAGE`.
 */
export function parseTrustedRoot(text: string, where = 'JSON'): TrustedRoot {
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(JSON.parse(text));
  } catch (e) {
    throw usage(where, `not a trusted root: ${(e as Error).message}`, e);
  }
  return checkTrustedRoot(root, where);
}

/**
 * Checks a trusted root before anything trusts it, whatever its source (file, object, TUF): its media type, and
 * that every transparency log and CT log has a public key dated by `validFor.start` and a log ID, and every
 * certificate and timestamp authority a chain of X.509 certificates dated by `validFor.start` (no window ending
 * before it starts). Returns the root; throws `ERR_LADING_USAGE` "load trusted root <where>: <what is wrong>".
 */
export function checkTrustedRoot(root: TrustedRoot, where = 'object'): TrustedRoot {
  if (root.mediaType !== MediaTypeTrustedRoot) {
    throw usage(where, `media type ${JSON.stringify(root.mediaType)} is not ${MediaTypeTrustedRoot}`);
  }
  const problem = trustedRootProblem(root);
  if (problem !== undefined) throw usage(where, `${problem}; ${FixTheRoot}`);
  return root;
}

const FixTheRoot =
  'every log key and certificate authority of a trusted root must say since when it is trusted (validFor.start), as the format requires: fix the trusted root or get it from its publisher';

/**
 * What makes a trusted root unsafe to hand to `@sigstore/verify`, or undefined when nothing does. sigstore-js takes
 * an authority without `validFor.start` as valid since 1970 (and without `end` as valid for ever), so a signature
 * dated before the authority existed would be accepted; protobuf-specs' `TimeRange.start` is not optional. Every
 * transparency log and CT log needs a public key (bytes and a start), and a log ID; every certificate and timestamp
 * authority a non-empty chain of X.509 certificates and a start. A window must not end before it starts.
 */
function trustedRootProblem(root: TrustedRoot): string | undefined {
  const logs = [
    ...root.tlogs.map((log, i) => ({ log, name: `tlogs[${i}]` })),
    ...root.ctlogs.map((log, i) => ({ log, name: `ctlogs[${i}]` })),
  ];
  for (const { log, name } of logs) {
    const what = `${name} (${log.baseUrl || 'no baseUrl'})`;
    const key = log.publicKey;
    if (key?.rawBytes === undefined || key.rawBytes.length === 0) return `${what} has no public key`;
    const window = windowProblem(key.validFor);
    if (window !== undefined) return `${what} public key ${window}`;
    const id = log.checkpointKeyId ?? log.logId;
    if (id === undefined || id.keyId.length === 0) return `${what} has no log ID`;
  }
  const authorities = [
    ...root.certificateAuthorities.map((ca, i) => ({ ca, name: `certificateAuthorities[${i}]` })),
    ...root.timestampAuthorities.map((ca, i) => ({ ca, name: `timestampAuthorities[${i}]` })),
  ];
  for (const { ca, name } of authorities) {
    const what = `${name} (${ca.uri || 'no uri'})`;
    const certificates = ca.certChain?.certificates ?? [];
    if (certificates.length === 0) return `${what} has no certificate chain`;
    for (const [i, certificate] of certificates.entries()) {
      try {
        X509Certificate.parse(Buffer.from(certificate.rawBytes));
      } catch (e) {
        return `${what} certChain[${i}] is not an X.509 certificate (${(e as Error).message})`;
      }
    }
    const window = windowProblem(ca.validFor);
    if (window !== undefined) return `${what} ${window}`;
  }
  return undefined;
}

function windowProblem(validFor: TimeRange | undefined): string | undefined {
  const start = validFor?.start;
  if (start === undefined || Number.isNaN(start.getTime())) return 'has no validFor.start';
  const end = validFor?.end;
  if (end !== undefined && end.getTime() < start.getTime()) {
    return `has validFor.end ${end.toISOString()} before its start ${start.toISOString()}`;
  }
  return undefined;
}

/**
 * The trusted root (`trusted_root.json` target) of a TUF repository, the public good by default: root rotations
 * walked from the initial root, then timestamp, snapshot and targets metadata checked (signatures, thresholds,
 * versions, expiry) and the target's length and SHA-256 checked, by `@sigstore/tuf` and `tuf-js`. Each request
 * is retried twice and given five seconds (`@sigstore/tuf`'s defaults).
 *
 * Throws `LadingError` "load trusted root tuf <mirror>: <reason>; <what to do>": `ERR_LADING_USAGE` for a bad
 * mirror URL, an unreadable initial root or a mirror with no initial root; `ERR_LADING_NETWORK` when the mirror
 * cannot be reached or answers an HTTP error; `ERR_LADING_VERIFICATION` when its metadata or target fails a TUF
 * check (expired, badly signed, rolled back, tampered, missing target) or the target is not a trusted root.
 */
export async function fetchTrustedRoot(options: TUFOptions = {}): Promise<TrustedRoot> {
  const mirror = mirrorURL(options.mirrorURL);
  const where = `tuf ${mirror}`;
  if (options.rootPath !== undefined) await checkInitialRoot(where, options.rootPath);
  const tuf: SigstoreTUFOptions = { mirrorURL: mirror };
  if (options.cachePath !== undefined) tuf.cachePath = options.cachePath;
  if (options.rootPath !== undefined) {
    tuf.rootPath = options.rootPath;
    // The given root is the anchor: without this, @sigstore/tuf copies it only into an empty cache.
    tuf.forceInit = true;
  }
  if (options.forceCache !== undefined) tuf.forceCache = options.forceCache;
  let root: TrustedRoot;
  try {
    root = await getTrustedRoot(tuf);
  } catch (e) {
    throw tufFailure(where, e);
  }
  if (root.mediaType !== MediaTypeTrustedRoot) {
    throw new LadingError(
      ErrorCodes.verification,
      `load trusted root ${where}: target trusted_root.json has media type ${JSON.stringify(root.mediaType)}, not ${MediaTypeTrustedRoot}; the mirror does not serve a Sigstore trusted root`,
    );
  }
  const problem = trustedRootProblem(root);
  if (problem !== undefined) {
    throw new LadingError(
      ErrorCodes.verification,
      `load trusted root ${where}: target trusted_root.json is refused: ${problem}; nothing from it is trusted: its publisher must fix it, or verify against a trusted_root.json (trustedRoot, --trusted-root)`,
    );
  }
  return root;
}

/**
 * The trusted root of a TUF repository as `trusted_root.json` text (what `cosign --trusted-root`, `--trusted-root`
 * and a policy's `trustedRoot` take): {@link fetchTrustedRoot} with the same options, defaults and errors, written
 * as protobuf-specs JSON (two-space indentation, a final newline). For saving the root to verify offline later.
 */
export async function fetchTrustedRootJSON(options: TUFOptions = {}): Promise<string> {
  const root = await fetchTrustedRoot(options);
  return `${JSON.stringify(TrustedRoot.toJSON(root), null, 2)}\n`;
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

/** The mirror URL without trailing slashes (`@sigstore/tuf` appends `/targets`); `http:` or `https:` only. */
function mirrorURL(given: string | undefined): string {
  if (given === undefined) return DEFAULT_MIRROR_URL;
  let url: URL;
  try {
    url = new URL(given);
  } catch (e) {
    throw usage(`tuf ${given}`, 'not a URL; give the base URL of a TUF repository (http: or https:)', e);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw usage(`tuf ${given}`, `scheme ${url.protocol} is not http: or https:`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw usage(`tuf ${given}`, 'a TUF mirror URL has no query or fragment');
  }
  return given.replace(/\/+$/, '');
}

/** Reads the initial root now, so a missing or non-JSON file is a usage error and not a TUF failure. */
async function checkInitialRoot(where: string, rootPath: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(rootPath, 'utf8');
  } catch (e) {
    throw usage(where, `initial root ${rootPath}: ${(e as Error).message}`, e);
  }
  try {
    JSON.parse(text);
  } catch (e) {
    throw usage(where, `initial root ${rootPath}: not JSON: ${(e as Error).message}`, e);
  }
}

/** Connection-level error codes of Node and undici: the mirror was not reached. */
const NetworkErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
]);

/** Sorts a failure of `@sigstore/tuf` into usage, network or verification, with what to do about it. */
function tufFailure(where: string, e: unknown): LadingError {
  const chain = causeChain(e);
  const reason = describeChain(chain);
  if (chain.some((c) => c instanceof TUFError && c.code === 'TUF_INIT_CACHE_ERROR')) {
    return usage(where, `${reason}; give the mirror's initial root.json (rootPath, --tuf-root)`, e);
  }
  if (chain.some(isLengthExceeded)) {
    // tuf-js reads every file under a bound (timestamp.json 16 KiB, root.json 500 KB, the others the length their
    // signed metadata gives) and stops at the first byte past it; it names neither the file nor the bound.
    return new LadingError(
      ErrorCodes.verification,
      `load trusted root ${where}: a file of the mirror is too large: more than the length TUF allows it (timestamp.json ${TUFMaxLength.timestamp} bytes, root.json ${TUFMaxLength.root} bytes, other files the length their signed metadata states); the read stopped there and nothing from the mirror is trusted: check the mirror, or verify against a trusted_root.json (trustedRoot, --trusted-root)`,
      { cause: e },
    );
  }
  if (chain.some(isNetworkFailure)) {
    return new LadingError(
      ErrorCodes.network,
      `load trusted root ${where}: ${reason}; check the mirror URL and the network, or verify offline against a trusted_root.json (trustedRoot, --trusted-root)`,
      { cause: e, service: 'tuf' },
    );
  }
  // Everything else is the repository failing a TUF check; fail closed.
  return new LadingError(
    ErrorCodes.verification,
    `load trusted root ${where}: ${reason}; the mirror's TUF metadata or target was refused and nothing from it is trusted: check the mirror and its initial root (--tuf-root), or verify against a trusted_root.json (trustedRoot, --trusted-root)`,
    { cause: e },
  );
}

/** The bounds tuf-js (6.x) puts on metadata without a length in signed metadata (its `defaultConfig`). */
const TUFMaxLength = { root: 512000, timestamp: 16384 } as const;

/** tuf-js's DownloadLengthMismatchError ("Max length reached"), also when rethrown as text inside a RuntimeError. */
function isLengthExceeded(error: Error): boolean {
  return error.constructor.name === 'DownloadLengthMismatchError' || /\bMax length reached\b/.test(error.message);
}

function isNetworkFailure(error: Error): boolean {
  // tuf-js's DownloadHTTPError: the mirror answered, but with an HTTP error (after retrying 5xx).
  if (typeof (error as { statusCode?: unknown }).statusCode === 'number') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NetworkErrorCodes.has(code) || code.startsWith('UND_ERR_'))) return true;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  if (error instanceof TypeError && error.message === 'fetch failed') return true;
  // tuf-js rethrows snapshot and targets download failures as a RuntimeError holding only the text of the cause.
  return /Unable to load (snapshot metadata|targets) error (TypeError: fetch failed|Error: Failed to download|TimeoutError|AbortError)/.test(
    error.message,
  );
}

/** `e` and its causes, outermost first (at most 8, in case of a cycle). */
function causeChain(e: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = e;
  while (current instanceof Error && chain.length < 8 && !chain.includes(current)) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

/** The messages of a cause chain joined with ": ", an HTTP status named, repeats and empty messages left out. */
function describeChain(chain: readonly Error[]): string {
  const parts: string[] = [];
  for (const error of chain) {
    const status = (error as { statusCode?: unknown }).statusCode;
    const code = (error as { code?: unknown }).code;
    let text = error.message;
    if (typeof status === 'number') text = `${text} (HTTP ${status})`;
    else if (text === '' && typeof code === 'string') text = code;
    if (text !== '' && !parts.some((p) => p.includes(text))) parts.push(text);
  }
  return parts.length === 0 ? 'unknown error' : parts.join(': ');
}
