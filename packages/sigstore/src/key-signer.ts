/**
 * Key-based signing: a private key the user holds (cosign's `--key`), no certificate.
 */
import type { KeyObject } from 'node:crypto';
import {
  ErrorCodes,
  LadingError,
  type CallOptions,
  type SignedReferrer,
  type Signer,
  type SignRequest,
} from '@lading/core';
import { DSSEBundleBuilder, RekorWitness, type Signer as SigstoreSigner, type Witness } from '@sigstore/sign';
import { loadPrivateKey, publicKeyHint, publicKeyPEM, signData } from './keys.js';
import { signStatement, type Clock } from './referrer.js';

/** Options of {@link createKeySigner}. */
export interface KeySignerOptions {
  /**
   * The private key, PEM: PKCS#8, SEC 1 (`EC PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`), encrypted PKCS#8, or
   * cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`. ECDSA P-256/P-384, RSA >= 2048 bits, or Ed25519.
   */
  key: string | Uint8Array;
  /** Password of an encrypted key. cosign keys default to `""` (an empty `COSIGN_PASSWORD`). */
  password?: string;
  /**
   * Log each signature in this Rekor (a `dsse` entry) and put the entry in the bundle. Default: no log entry (the
   * bundle then verifies with `cosign … --insecure-ignore-tlog`, and with a lading policy whose tlog threshold is 0,
   * the default for keys). `majorApiVersion` is the Rekor API to use, 1 (default) or 2.
   */
  tlog?: { rekorURL: string; majorApiVersion?: number };
  /** Clock for the referrer's creation time. Default the system clock. */
  clock?: Clock;
}

/** A {@link Signer} holding a key, with the public half for `cosign.pub` files and policies. */
export interface KeySigner extends Signer {
  /** PEM SubjectPublicKeyInfo of the key. */
  readonly publicKey: string;
  /** cosign's hint of the key: base64 SHA-256 of the DER SPKI, as written in each bundle. */
  readonly keyHint: string;
}

/**
 * Loads the key (decrypting it; a wrong password fails here, with `ERR_LADING_USAGE`) and returns a signer that
 * writes cosign 3 bundles: a DSSE envelope over an in-toto Statement v1 about the manifest, signed with the hash
 * cosign uses for the key type (P-256 SHA-256, P-384 SHA-384, RSA SHA-256 PKCS#1 v1.5, Ed25519 pure),
 * `verificationMaterial.publicKey.hint` set and the DSSE `keyid` empty. A `tlog` whose URL is not http(s) or whose
 * API version is not 1 or 2 is refused now (`ERR_LADING_USAGE`); Rekor errors come at signing time.
 */
export async function createKeySigner(options: KeySignerOptions): Promise<KeySigner> {
  if (options.tlog) checkRekor(options.tlog);
  const key = await loadPrivateKey(options.key, options.password);
  const publicKey = publicKeyPEM(key);
  const keyHint = publicKeyHint(key);
  const witnesses: Witness[] = options.tlog
    ? [
        new RekorWitness({
          rekorBaseURL: options.tlog.rekorURL,
          majorApiVersion: options.tlog.majorApiVersion ?? 1,
        }),
      ]
    : [];
  const builder = new DSSEBundleBuilder({ signer: keyHolder(key, publicKey), witnesses });
  const clock = options.clock ?? (() => new Date());
  return {
    publicKey,
    keyHint,
    sign: (request: SignRequest, call: CallOptions = {}): Promise<SignedReferrer> =>
      signStatement(builder, request, {
        keyHint,
        clock,
        signal: call.signal,
        ...(options.tlog ? { services: { rekorURL: options.tlog.rekorURL } } : {}),
      }),
  };
}

/**
 * The sigstore-js side of the key: signs the DSSE pre-authentication encoding. No hint here, on purpose:
 * sigstore-js would copy it into the DSSE `keyid`, which makes `cosign verify --key` skip the signature.
 */
function keyHolder(key: KeyObject, publicKey: string): SigstoreSigner {
  return {
    sign: (data: Buffer) =>
      Promise.resolve({ signature: signData(key, data), key: { $case: 'publicKey', publicKey } as const }),
  };
}

function checkRekor(tlog: NonNullable<KeySignerOptions['tlog']>): void {
  const usage = (reason: string) =>
    new LadingError(ErrorCodes.usage, `key signer tlog rekorURL ${JSON.stringify(tlog.rekorURL)}: ${reason}`);
  let url: URL;
  try {
    url = new URL(tlog.rekorURL);
  } catch {
    throw usage('not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw usage('not http(s)');
  const version = tlog.majorApiVersion ?? 1;
  if (version !== 1 && version !== 2) throw usage(`Rekor API version ${version} is not 1 or 2`);
}
