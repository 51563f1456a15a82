/**
 * Key pairs in cosign's files: `cosign.key` (`ENCRYPTED SIGSTORE PRIVATE KEY`) and `cosign.pub` (PEM SPKI).
 */
import { generateKeyPair as generateKeyPairCallback, type KeyObject } from 'node:crypto';
import { ErrorCodes, LadingError } from '@lading/core';
import { encryptSigstoreKey } from './encrypted-key.js';
import { publicKeyHint, publicKeyPEM } from './keys.js';
import { PEMTypeSigstorePrivateKey } from './media-types.js';

/** Key algorithms {@link generateKeyPair} makes. `ecdsa-p256` is cosign's default. */
export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'ed25519';

/** Options of {@link generateKeyPair}. */
export interface GenerateKeyPairOptions {
  /**
   * Password the private key is encrypted with (scrypt + NaCl secretbox, as cosign). `""` is allowed and is what
   * cosign writes when `COSIGN_PASSWORD` is empty; the key is still in the encrypted format.
   */
  password: string;
  /** Default `ecdsa-p256`, as `cosign generate-key-pair`. */
  algorithm?: KeyAlgorithm;
}

/** A generated key pair as file contents: what `cosign generate-key-pair` writes. */
export interface GeneratedKeyPair {
  /** `cosign.key`: PEM `ENCRYPTED SIGSTORE PRIVATE KEY`, readable by `cosign sign --key` and {@link createKeySigner}. */
  privateKey: string;
  /** `cosign.pub`: PEM `PUBLIC KEY` (SubjectPublicKeyInfo), for `cosign verify --key` and verifier policies. */
  publicKey: string;
  /** cosign's key hint of the public key (base64 SHA-256 of the DER SPKI). */
  keyHint: string;
}

/**
 * Generates a key pair (default ECDSA P-256) and returns cosign-compatible file contents; the caller writes the
 * files (cosign uses mode 0600 for the private key). Throws `ERR_LADING_USAGE` for an unknown algorithm.
 */
export async function generateKeyPair(options: GenerateKeyPairOptions): Promise<GeneratedKeyPair> {
  const privateKey = await generate(options.algorithm ?? 'ecdsa-p256');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const encrypted = await encryptSigstoreKey(der, options.password);
  return {
    privateKey: pemEncode(PEMTypeSigstorePrivateKey, encrypted),
    publicKey: publicKeyPEM(privateKey),
    keyHint: publicKeyHint(privateKey),
  };
}

/** PEM text of `body` under `type`, 64 base64 characters a line, ending in a newline. */
export function pemEncode(type: string, body: Uint8Array): string {
  const lines =
    Buffer.from(body)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

function generate(algorithm: KeyAlgorithm): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, _publicKey: KeyObject, privateKey: KeyObject) => {
      if (error) reject(error);
      else resolve(privateKey);
    };
    switch (algorithm) {
      case 'ecdsa-p256':
        generateKeyPairCallback('ec', { namedCurve: 'prime256v1' }, done);
        return;
      case 'ecdsa-p384':
        generateKeyPairCallback('ec', { namedCurve: 'secp384r1' }, done);
        return;
      case 'rsa-2048':
      case 'rsa-3072':
      case 'rsa-4096':
        generateKeyPairCallback('rsa', { modulusLength: Number(algorithm.slice(4)) }, done);
        return;
      case 'ed25519':
        generateKeyPairCallback('ed25519', {}, done);
        return;
      default:
        reject(new LadingError(ErrorCodes.usage, `generate key pair: unknown algorithm ${JSON.stringify(algorithm)}`));
    }
  });
}
