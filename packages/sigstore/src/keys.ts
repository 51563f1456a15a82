/**
 * Private and public keys for key-based signing: PEM parsing in every format cosign reads, the key types lading
 * signs with, cosign's key hint, and the hash each key type signs with.
 */
import { createHash, createPrivateKey, createPublicKey, KeyObject, sign, verify } from 'node:crypto';
import { ErrorCodes, LadingError } from '@lading/core';
import { decryptSigstoreKey } from './encrypted-key.js';
import { PEMTypeCosignPrivateKey, PEMTypeSigstorePrivateKey } from './media-types.js';

/** Hash a signature is made with; `null` for Ed25519, which hashes internally (pure Ed25519). */
export type SignatureHash = 'sha256' | 'sha384' | null;

/** A PEM block: its type (`PRIVATE KEY`, `EC PRIVATE KEY`…), the whole text, and the decoded body. */
export interface PEMBlock {
  type: string;
  text: string;
  body: Buffer;
}

const pemPattern = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/;

/** The first PEM block of `pem`, or undefined when there is none. Headers (`Proc-Type: …`) stay in `text` only. */
export function firstPEMBlock(pem: string | Uint8Array): PEMBlock | undefined {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('utf8');
  const match = pemPattern.exec(text);
  if (!match?.[1] || match[2] === undefined) return undefined;
  const base64 = match[2]
    .split(/\r?\n/)
    .filter((line) => !line.includes(':'))
    .join('');
  return { type: match[1], text: match[0], body: Buffer.from(base64, 'base64') };
}

/**
 * Loads a private key from PEM: PKCS#8 (`PRIVATE KEY`), SEC 1 (`EC PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`),
 * encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`, needs `password`), legacy OpenSSL-encrypted PEM, and cosign's
 * `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY` (password default `""`, what cosign uses when
 * `COSIGN_PASSWORD` is empty). Then checks the key is one lading signs with ({@link checkSigningKey}).
 * Throws `ERR_LADING_USAGE` "load private key: <reason>".
 */
export async function loadPrivateKey(pem: string | Uint8Array, password?: string): Promise<KeyObject> {
  const block = firstPEMBlock(pem);
  if (block === undefined) throw usage('no PEM block found');
  const key = await decodePrivateKey(block, password);
  checkSigningKey(key, 'load private key');
  return key;
}

async function decodePrivateKey(block: PEMBlock, password: string | undefined): Promise<KeyObject> {
  if (block.type === PEMTypeSigstorePrivateKey || block.type === PEMTypeCosignPrivateKey) {
    let der: Uint8Array;
    try {
      der = await decryptSigstoreKey(block.body, password ?? '');
    } catch (e) {
      throw usage(`${block.type}: ${(e as Error).message}`, e);
    }
    return tryCreate(() => createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }), block.type);
  }
  const encrypted = block.type === 'ENCRYPTED PRIVATE KEY' || block.text.includes('Proc-Type: 4,ENCRYPTED');
  if (encrypted && password === undefined) throw usage(`${block.type} is encrypted: a password is required`);
  if (!['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'].includes(block.type)) {
    throw usage(`unsupported PEM type ${JSON.stringify(block.type)}`);
  }
  return tryCreate(
    () => createPrivateKey(encrypted ? { key: block.text, passphrase: password ?? '' } : block.text),
    block.type,
  );
}

function tryCreate(create: () => KeyObject, type: string): KeyObject {
  try {
    return create();
  } catch (e) {
    throw usage(`${type}: ${(e as Error).message}`, e);
  }
}

/**
 * Throws `ERR_LADING_USAGE` unless `key` is one cosign and sigstore-js both sign and verify with: ECDSA P-256 or
 * P-384, RSA of at least 2048 bits (PKCS#1 v1.5; RSA-PSS keys are refused), or Ed25519. Works for private and
 * public keys; `operation` starts the message (default "check key").
 */
export function checkSigningKey(key: KeyObject, operation = 'check key'): void {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    if (details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1') return;
    throw usage(
      `ECDSA curve ${details.namedCurve ?? 'unknown'} is not supported (use P-256 or P-384)`,
      undefined,
      operation,
    );
  }
  if (type === 'rsa') {
    if ((details.modulusLength ?? 0) >= 2048) return;
    throw usage(`RSA key of ${details.modulusLength ?? 0} bits is too short (at least 2048)`, undefined, operation);
  }
  if (type === 'ed25519') return;
  throw usage(
    `key type ${type ?? 'unknown'} is not supported (use ECDSA P-256/P-384, RSA >= 2048 or Ed25519)`,
    undefined,
    operation,
  );
}

/**
 * The hash cosign 3.1.1 signs with for this key type (sigstore's default algorithm registry): P-256 → SHA-256,
 * P-384 → SHA-384, RSA → SHA-256 with PKCS#1 v1.5 padding, Ed25519 → pure Ed25519 (`null`).
 * cosign would sign DSSE with Ed25519ph, which its own verifier then refuses; pure Ed25519 verifies in both.
 */
export function signingHash(key: KeyObject): SignatureHash {
  if (key.asymmetricKeyType === 'ed25519') return null;
  // P-384 too is signed over SHA-256: cosign 3.1.1's --key verifier and sigstore-js both check ECDSA with SHA-256,
  // so this is what peers accept without extra flags (cosign's own signer uses SHA-384 and then needs
  // --signature-digest-algorithm sha384 to verify itself).
  return 'sha256';
}

function isP384(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
}

/**
 * Hashes a signature by this public key may have been made with, most likely first. P-384 accepts SHA-384 (cosign's
 * signer, lading's signer) and SHA-256 (cosign's `--key` verifier default, so some peers sign that way too): a
 * valid signature under either hash is proof of the key. Every other type has exactly one.
 */
export function acceptedHashes(key: KeyObject): readonly SignatureHash[] {
  return isP384(key) ? ['sha256', 'sha384'] : [signingHash(key)];
}

/** Signs `data` with `key`, with the hash of {@link signingHash}; ECDSA signatures are ASN.1 DER, as Sigstore wants. */
export function signData(key: KeyObject, data: Uint8Array): Buffer {
  return sign(signingHash(key), data, key);
}

/** True when `signature` over `data` verifies with `key` under one of {@link acceptedHashes}. Never throws. */
export function verifyData(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  return acceptedHashes(key).some((hash) => {
    try {
      return verify(hash, data, key, signature);
    } catch {
      return false;
    }
  });
}

/**
 * The public key of a private key, or a public key from PEM (SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`).
 * Throws `ERR_LADING_USAGE` "load public key: <reason>" for text that is not a public key.
 */
export function toPublicKey(key: KeyObject | string | Uint8Array): KeyObject {
  if (key instanceof KeyObject) return publicOf(key);
  try {
    return createPublicKey(typeof key === 'string' ? key : Buffer.from(key).toString('utf8'));
  } catch (e) {
    throw usage((e as Error).message, e, 'load public key');
  }
}

/** PEM SubjectPublicKeyInfo of a key (`-----BEGIN PUBLIC KEY-----`), what `cosign.pub` holds. */
export function publicKeyPEM(key: KeyObject): string {
  return publicOf(key).export({ format: 'pem', type: 'spki' }).toString();
}

/**
 * cosign's key hint: base64 (standard, padded) of SHA-256 over the DER SubjectPublicKeyInfo. Written as
 * `verificationMaterial.publicKey.hint` of key-based bundles.
 */
export function publicKeyHint(key: KeyObject): string {
  const der = publicOf(key).export({ format: 'der', type: 'spki' });
  return createHash('sha256').update(der).digest('base64');
}

/** The public half of a private key, or the key itself when it is public (node refuses to derive from those). */
function publicOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

function usage(reason: string, cause?: unknown, operation = 'load private key'): LadingError {
  const options = cause === undefined ? {} : { cause };
  return new LadingError(ErrorCodes.usage, `${operation}: ${reason}`, options);
}
