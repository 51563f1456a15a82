/**
 * A TUF repository laid out as Sigstore's (https://tuf-repo-cdn.sigstore.dev) on a loopback HTTP server, for
 * testing the TUF path of `@lading/sigstore` offline: root (version 1, and a version 2 rotating the root and
 * timestamp keys), timestamp, snapshot and targets metadata, and the target `trusted_root.json`.
 *
 * Metadata follow the TUF specification 1.0 (https://theupdateframework.github.io/specification/latest/):
 * `{"signed": …, "signatures": [{"keyid", "sig"}]}`, each signature Ed25519 over the canonical JSON of `signed`,
 * key IDs the SHA-256 of the canonical JSON of the public key. Consistent snapshots, as Sigstore publishes:
 * `<version>.root.json`, `timestamp.json`, `<version>.snapshot.json`, `<version>.targets.json` and
 * `targets/<sha256 hex>.trusted_root.json`. Fresh keys every start.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { startLoopbackService, type LoopbackService, type RequestRecord, type Route } from './http.js';
import { MediaTypeJSON } from './media-types.js';

/** TUF specification version written in every metadata file. */
export const TUFSpecVersion = '1.0.31';
/** Name of the target holding the Sigstore trusted root, as in Sigstore's repository. */
export const TrustedRootTarget = 'trusted_root.json';
/** File name of the initial root (version 1) in {@link TUFRepository.directory}. */
export const InitialRootFileName = 'root.json';

/** The four top-level roles. */
export type TUFRole = 'root' | 'timestamp' | 'snapshot' | 'targets';

/** What a test can make the repository get wrong; each must make a TUF client refuse. */
export interface TUFFaults {
  /** `timestamp.json` expired an hour ago. */
  expiredTimestamp?: boolean;
  /**
   * The served `trusted_root.json` differs from what `targets.json` lists (same length, one byte changed), so its
   * SHA-256 does not match.
   */
  tamperedTarget?: boolean;
  /**
   * This role's metadata carries a signature that does not verify (one bit flipped after signing). For `root`
   * with rotation on, it is the new root key's signature on version 2 (the chain walk must refuse it).
   */
  badSignature?: TUFRole;
}

/** Options of {@link startTUFRepository}. */
export interface TUFRepositoryOptions {
  /** The `trusted_root.json` target: a `TrustedRoot` (written as protobuf-specs JSON) or raw bytes. */
  trustedRoot: TrustedRoot | Uint8Array;
  /**
   * Also publish root version 2, with a new root key and a new timestamp key, signed by the old and the new root
   * keys; timestamp then signed by the new timestamp key only, so a client that does not walk to version 2
   * refuses the timestamp. Default true.
   */
  rotateRoot?: boolean;
  /** Faults to inject. Default none. */
  faults?: TUFFaults;
}

/** A running TUF repository. */
export interface TUFRepository {
  /** Base URL of the repository (`http://127.0.0.1:<port>`), what `--tuf-mirror` takes. */
  readonly url: string;
  /** Root version 1, the initial root a client must be given (`--tuf-root`), in {@link TUFRepository.directory}. */
  readonly initialRootPath: string;
  /** The newest root version published (2 with rotation, else 1). */
  readonly rootVersion: number;
  /** The bytes listed in `targets.json` for `trusted_root.json` (the served bytes differ with `tamperedTarget`). */
  readonly target: Buffer;
  /** Every request the repository received, in order (service `tuf`); a live view. */
  readonly requests: readonly RequestRecord[];
  /** Temporary folder holding the initial root; removed by {@link TUFRepository.close}. */
  readonly directory: string;
  /** Stops the server and removes {@link TUFRepository.directory}. Idempotent. */
  readonly close: () => Promise<void>;
}

/**
 * Builds and signs the repository, serves it on 127.0.0.1 (a free port) and writes the initial root to a new
 * temporary folder. Every GET of a file it has answers 200 with `application/json`; any other path is 404 (which
 * is how a client learns there is no newer root). Call {@link TUFRepository.close} when done.
 */
export async function startTUFRepository(options: TUFRepositoryOptions): Promise<TUFRepository> {
  const faults = options.faults ?? {};
  const rotate = options.rotateRoot ?? true;
  const target = Buffer.from(
    options.trustedRoot instanceof Uint8Array
      ? options.trustedRoot
      : `${JSON.stringify(TrustedRoot.toJSON(options.trustedRoot), null, 2)}\n`,
  );
  const files = buildRepository(target, rotate, faults);
  const requests: RequestRecord[] = [];
  const routes: Route[] = [...files].map(([file, body]) => ({
    method: 'GET',
    path: `/${file}`,
    handle: () => Promise.resolve({ status: 200, body, headers: { 'Content-Type': MediaTypeJSON } }),
  }));
  const directory = await mkdtemp(path.join(tmpdir(), 'lading-tuf-'));
  let service: LoopbackService | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await service?.close();
      await rm(directory, { recursive: true, force: true });
    })());
  try {
    service = await startLoopbackService('tuf', routes, requests);
    const initialRootPath = path.join(directory, InitialRootFileName);
    await writeFile(initialRootPath, files.get('1.root.json') ?? '');
    return {
      url: service.url,
      initialRootPath,
      rootVersion: rotate ? 2 : 1,
      target,
      requests,
      directory,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Canonical JSON as TUF uses it (OLPC dialect): keys sorted, no whitespace, integers only, strings escaping only `\` and `"`. */
export function canonicalJSON(value: unknown): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`canonical JSON has integers only, not ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  if (typeof value === 'object') {
    // Sorted by UTF-16 code units, as Array.prototype.sort does and as tuf-js and python-tuf sort.
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${canonicalJSON(k)}:${canonicalJSON(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
}

/** An Ed25519 TUF key: the key ID, its public JSON form, and the private key that signs. */
interface TUFKey {
  keyid: string;
  public: Record<string, unknown>;
  privateKey: KeyObject;
}

function newKey(): TUFKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // The last 32 bytes of the SPKI DER are the raw Ed25519 public key; TUF writes it in hex.
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const pub = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw.toString('hex') } };
  return { keyid: sha256(Buffer.from(canonicalJSON(pub))), public: pub, privateKey };
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A metadata file: `signed` signed by each key, a signature corrupted when `corrupt` names its key. */
function signMetadata(signed: Record<string, unknown>, keys: readonly TUFKey[], corrupt?: TUFKey): Buffer {
  const bytes = Buffer.from(canonicalJSON(signed));
  const signatures = keys.map((key) => {
    const sig = sign(null, bytes, key.privateKey);
    if (key === corrupt) sig[0] = (sig[0] ?? 0) ^ 0x01;
    return { keyid: key.keyid, sig: sig.toString('hex') };
  });
  return Buffer.from(`${JSON.stringify({ signatures, signed }, null, 2)}\n`);
}

/** TUF `expires`: whole seconds, `Z`. */
function expiry(fromNowSeconds: number): string {
  return new Date(Math.floor(Date.now() / 1000 + fromNowSeconds) * 1000).toISOString().replace('.000Z', 'Z');
}

const OneYear = 365 * 24 * 3600;

function fileMeta(version: number, bytes: Buffer): Record<string, unknown> {
  return { version, length: bytes.length, hashes: { sha256: sha256(bytes) } };
}

/** Every served file by path (without the leading `/`). */
function buildRepository(target: Buffer, rotate: boolean, faults: TUFFaults): Map<string, Buffer> {
  const keys = {
    root1: newKey(),
    root2: newKey(),
    timestamp1: newKey(),
    timestamp2: newKey(),
    snapshot: newKey(),
    targets: newKey(),
  };
  const files = new Map<string, Buffer>();
  const corrupt = (role: TUFRole, key: TUFKey) => (faults.badSignature === role ? key : undefined);

  const rootSigned = (version: number, root: TUFKey, timestamp: TUFKey) => ({
    _type: 'root',
    spec_version: TUFSpecVersion,
    version,
    expires: expiry(OneYear),
    consistent_snapshot: true,
    keys: Object.fromEntries([root, timestamp, keys.snapshot, keys.targets].map((k) => [k.keyid, k.public])),
    roles: {
      root: { keyids: [root.keyid], threshold: 1 },
      timestamp: { keyids: [timestamp.keyid], threshold: 1 },
      snapshot: { keyids: [keys.snapshot.keyid], threshold: 1 },
      targets: { keyids: [keys.targets.keyid], threshold: 1 },
    },
  });
  const root1 = signMetadata(
    rootSigned(1, keys.root1, keys.timestamp1),
    [keys.root1],
    rotate ? undefined : corrupt('root', keys.root1),
  );
  files.set('1.root.json', root1);
  let timestampKey = keys.timestamp1;
  let latestRoot = root1;
  if (rotate) {
    // Signed by the old root key (the client's trust) and the new one (the new root's own threshold).
    latestRoot = signMetadata(
      rootSigned(2, keys.root2, keys.timestamp2),
      [keys.root1, keys.root2],
      corrupt('root', keys.root2),
    );
    files.set('2.root.json', latestRoot);
    timestampKey = keys.timestamp2;
  }
  files.set('root.json', latestRoot);

  const targetName = `${sha256(target)}.${TrustedRootTarget}`;
  const targets = signMetadata(
    {
      _type: 'targets',
      spec_version: TUFSpecVersion,
      version: 1,
      expires: expiry(OneYear),
      targets: {
        [TrustedRootTarget]: {
          length: target.length,
          hashes: { sha256: sha256(target) },
          custom: { sigstore: { status: 'Active', usage: 'Unknown' } },
        },
      },
    },
    [keys.targets],
    corrupt('targets', keys.targets),
  );
  files.set('1.targets.json', targets);
  files.set('targets.json', targets);

  const snapshot = signMetadata(
    {
      _type: 'snapshot',
      spec_version: TUFSpecVersion,
      version: 1,
      expires: expiry(OneYear),
      meta: { 'targets.json': fileMeta(1, targets) },
    },
    [keys.snapshot],
    corrupt('snapshot', keys.snapshot),
  );
  files.set('1.snapshot.json', snapshot);
  files.set('snapshot.json', snapshot);

  const timestamp = signMetadata(
    {
      _type: 'timestamp',
      spec_version: TUFSpecVersion,
      version: 1,
      expires: faults.expiredTimestamp === true ? expiry(-3600) : expiry(OneYear),
      meta: { 'snapshot.json': fileMeta(1, snapshot) },
    },
    [timestampKey],
    corrupt('timestamp', timestampKey),
  );
  files.set('timestamp.json', timestamp);

  let served = target;
  if (faults.tamperedTarget === true) {
    served = Buffer.from(target);
    // Change one byte, keeping the length, so only the hash can tell.
    const at = Math.floor(served.length / 2);
    served[at] = (served[at] ?? 0) ^ 0x01;
  }
  files.set(`targets/${targetName}`, served);
  return files;
}
