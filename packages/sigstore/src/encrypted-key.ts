/**
 * cosign's encrypted private key format (`ENCRYPTED SIGSTORE PRIVATE KEY`): the PEM body is JSON from
 * go-securesystemslib's `encrypted` package, scrypt deriving a 32-byte key that opens an NaCl secretbox
 * (XSalsa20-Poly1305) around the PKCS#8 DER of the private key:
 *
 * ```json
 * {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<base64 32 bytes>"},
 *  "cipher":{"name":"nacl/secretbox","nonce":"<base64 24 bytes>"},"ciphertext":"<base64 tag‖box>"}
 * ```
 *
 * https://github.com/secure-systems-lab/go-securesystemslib/blob/main/encrypted/encrypted.go
 */
import { randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import { secretbox } from '@noble/ciphers/salsa.js';

/** scrypt cost parameters, as the JSON names them. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * The parameter sets go-securesystemslib accepts when decrypting (legacy 2^15, standard 2^16, OWASP 2^17), in that
 * order. Anything else is refused there, so it is refused here too: a key file must not be able to ask for an
 * unbounded amount of memory or time.
 */
export const AcceptedScryptParams: readonly ScryptParams[] = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
];

/** What cosign 3.1.1 writes (go-securesystemslib's `Standard`): N 2^16, r 8, p 1. */
export const DefaultScryptParams: ScryptParams = { N: 65536, r: 8, p: 1 };

const saltLength = 32;
const nonceLength = 24;
const keyLength = 32;

/**
 * Encrypts `plaintext` (a PKCS#8 DER private key) with `password` the way cosign does: a fresh random salt and
 * nonce, scrypt with {@link DefaultScryptParams}. Returns the JSON bytes that go inside the PEM block.
 */
export async function encryptSigstoreKey(plaintext: Uint8Array, password: string): Promise<Uint8Array> {
  const salt = randomBytes(saltLength);
  const nonce = randomBytes(nonceLength);
  const key = await deriveKey(password, salt, DefaultScryptParams);
  const ciphertext = secretbox(key, nonce).seal(plaintext);
  const document = {
    kdf: { name: 'scrypt', params: DefaultScryptParams, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return new TextEncoder().encode(JSON.stringify(document));
}

/**
 * Decrypts the JSON body of an `ENCRYPTED SIGSTORE PRIVATE KEY` (or `ENCRYPTED COSIGN PRIVATE KEY`) PEM block and
 * returns the PKCS#8 DER inside. Throws a plain `Error` for a malformed document, unknown KDF or cipher, scrypt
 * parameters outside {@link AcceptedScryptParams}, or a wrong password (the secretbox does not open).
 */
export async function decryptSigstoreKey(document: Uint8Array, password: string): Promise<Uint8Array> {
  const parsed = parseDocument(document);
  const key = await deriveKey(password, parsed.salt, parsed.params);
  try {
    return secretbox(key, parsed.nonce).open(parsed.ciphertext);
  } catch (e) {
    throw new Error('wrong password, or the key file is corrupted', { cause: e });
  }
}

interface ParsedDocument {
  params: ScryptParams;
  salt: Uint8Array;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

function parseDocument(document: Uint8Array): ParsedDocument {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(document));
  } catch (e) {
    throw new Error('encrypted key is not JSON', { cause: e });
  }
  const kdf = field(value, 'kdf');
  const cipher = field(value, 'cipher');
  if (field(kdf, 'name') !== 'scrypt') throw new Error(`unknown KDF ${JSON.stringify(field(kdf, 'name'))}`);
  if (field(cipher, 'name') !== 'nacl/secretbox') {
    throw new Error(`unknown cipher ${JSON.stringify(field(cipher, 'name'))}`);
  }
  const params = field(kdf, 'params');
  const accepted = AcceptedScryptParams.find(
    (p) => field(params, 'N') === p.N && field(params, 'r') === p.r && field(params, 'p') === p.p,
  );
  if (accepted === undefined) throw new Error(`unsupported scrypt parameters ${JSON.stringify(params)}`);
  const nonce = base64Field(cipher, 'nonce');
  if (nonce.length !== nonceLength) throw new Error(`nonce is ${nonce.length} bytes, expected ${nonceLength}`);
  return { params: accepted, salt: base64Field(kdf, 'salt'), nonce, ciphertext: base64Field(value, 'ciphertext') };
}

function field(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null) throw new Error(`encrypted key has no ${name}`);
  return (value as Record<string, unknown>)[name];
}

function base64Field(value: unknown, name: string): Uint8Array {
  const text = field(value, name);
  if (typeof text !== 'string') throw new Error(`encrypted key ${name} is not a base64 string`);
  return Buffer.from(text, 'base64');
}

/** scrypt, asynchronous (2^16 × r 8 takes a noticeable fraction of a second; the event loop keeps running). */
function deriveKey(password: string, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  // node's default maxmem (32 MiB) is below the 128·N·r bytes these parameters need (64 MiB for N 2^16).
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) => {
    // The password's UTF-8 bytes as given, not normalised: cosign (Go) hashes the bytes it reads.
    scryptCallback(Buffer.from(password, 'utf8'), salt, keyLength, options, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  });
}
