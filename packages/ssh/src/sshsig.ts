/**
 * SSHSIG, the detached signature format of `ssh-keygen -Y sign` (OpenSSH PROTOCOL.sshsig): a namespace-bound
 * signature over a hash of the message, armored as `-----BEGIN SSH SIGNATURE-----`. Hashes come from `node:crypto`.
 */
import { createHash } from 'node:crypto';
import { parsePublicKey, type SSHPublicKey } from './keys.js';
import { WireReader, WireWriter } from './wire.js';

const preamble = Buffer.from('SSHSIG', 'latin1');
const version = 1;
const armorBegin = '-----BEGIN SSH SIGNATURE-----';
const armorEnd = '-----END SSH SIGNATURE-----';

/** The message hashes SSHSIG allows. `ssh-keygen` signs with `sha512`. */
export type SSHSIGHash = 'sha256' | 'sha512';

/** A parsed SSHSIG. */
export interface SSHSIG {
  /** The signing key, or certificate, as the signature carries it. */
  publicKey: SSHPublicKey;
  namespace: string;
  hashAlgorithm: SSHSIGHash;
  /** The SSH signature blob (`string algorithm, string signature`). */
  signature: Buffer;
}

/** The bytes an SSHSIG signature is computed over: the preamble, namespace, reserved, hash name and H(message). */
export function signedData(namespace: string, hashAlgorithm: SSHSIGHash, message: Uint8Array): Buffer {
  return new WireWriter()
    .raw(preamble)
    .string(namespace)
    .string('')
    .string(hashAlgorithm)
    .string(createHash(hashAlgorithm).update(message).digest())
    .bytes();
}

/** Encodes and armors an SSHSIG as `ssh-keygen -Y sign` writes it (base64 lines of 70 characters). */
export function armorSSHSIG(
  publicKeyBlob: Uint8Array,
  namespace: string,
  hashAlgorithm: SSHSIGHash,
  signature: Uint8Array,
): string {
  const blob = new WireWriter()
    .raw(preamble)
    .uint32(version)
    .string(publicKeyBlob)
    .string(namespace)
    .string('')
    .string(hashAlgorithm)
    .string(signature)
    .bytes()
    .toString('base64');
  const lines = blob.match(/.{1,70}/g) ?? [];
  return `${armorBegin}\n${lines.join('\n')}\n${armorEnd}\n`;
}

/**
 * Parses an armored SSHSIG. Throws a plain `Error` saying what is wrong: no armor, bad base64, a wrong preamble or
 * version, a hash other than sha256/sha512, an unsupported key type, trailing bytes.
 */
export function parseSSHSIG(text: string): SSHSIG {
  const begin = text.indexOf(armorBegin);
  const end = text.indexOf(armorEnd);
  if (begin < 0 || end < begin) throw new Error('not an armored SSH signature (no "-----BEGIN SSH SIGNATURE-----")');
  const body = text.slice(begin + armorBegin.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*=*$/.test(body)) throw new Error('the SSH signature is not base64');
  const bytes = Buffer.from(body, 'base64');
  if (!bytes.subarray(0, preamble.length).equals(preamble)) throw new Error('not an SSHSIG (bad preamble)');
  const r = new WireReader(bytes.subarray(preamble.length), 'SSH signature');
  const v = r.uint32();
  if (v !== version) throw new Error(`SSHSIG version ${v} is not supported`);
  const publicKey = parsePublicKey(r.string(), 'SSH signature key');
  const namespace = r.text();
  r.string(); // reserved
  const hash = r.text();
  if (hash !== 'sha256' && hash !== 'sha512') throw new Error(`SSHSIG hash ${JSON.stringify(hash)} is not allowed`);
  const signature = r.string();
  r.end();
  return { publicKey, namespace, hashAlgorithm: hash, signature };
}
