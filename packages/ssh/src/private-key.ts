/**
 * OpenSSH private key files (`-----BEGIN OPENSSH PRIVATE KEY-----`, PROTOCOL.key): unencrypted, or encrypted with
 * bcrypt-pbkdf and `aes256-ctr` or `aes256-gcm@openssh.com` (what `ssh-keygen -Z` offers; `aes256-ctr` is its
 * default). AES and the RSA/EC/Ed25519 key objects come from `node:crypto`; bcrypt-pbkdf, which OpenSSL lacks, from
 * the `bcrypt-pbkdf` package (a port of OpenBSD's function, also used by sshpk).
 */
import { createDecipheriv, createPrivateKey, type KeyObject } from 'node:crypto';
import { pbkdf } from 'bcrypt-pbkdf';
import { ErrorCodes, LadingError } from '@lading/core';
import { isSecurityKey, parsePublicKey, type SSHKeyType, type SSHPublicKey } from './keys.js';
import { WireReader } from './wire.js';

/** A private key read from a file: its public half and the `node:crypto` private key. */
export interface SSHPrivateKey {
  publicKey: SSHPublicKey;
  /** The key type (never a FIDO `sk-` type: those keys stay on their token and sign through ssh-agent). */
  keyType: SSHKeyType;
  privateKey: KeyObject;
  /** The comment stored in the file (often `user@host`). */
  comment: string;
}

/**
 * Where the passphrase of an encrypted key comes from: a callback (the CLI prompts at a terminal) or, when none is
 * given, the `LADING_SSH_PASSPHRASE` environment variable. Called only for encrypted keys.
 */
export type PassphraseSource = (keyFile: string) => string | Uint8Array | Promise<string | Uint8Array>;

/** Environment variable read for the passphrase when no {@link PassphraseSource} is given. */
export const PassphraseEnvironmentVariable = 'LADING_SSH_PASSPHRASE';

const magic = Buffer.from('openssh-key-v1\0', 'latin1');
const armorBegin = '-----BEGIN OPENSSH PRIVATE KEY-----';
const armorEnd = '-----END OPENSSH PRIVATE KEY-----';

interface Cipher {
  node: 'aes-256-ctr' | 'aes-256-gcm';
  keyLength: number;
  ivLength: number;
  tagLength: number;
}

const ciphers: Record<string, Cipher> = {
  'aes256-ctr': { node: 'aes-256-ctr', keyLength: 32, ivLength: 16, tagLength: 0 },
  'aes256-gcm@openssh.com': { node: 'aes-256-gcm', keyLength: 32, ivLength: 12, tagLength: 16 },
};

/** Options of {@link readPrivateKey}. */
export interface ReadPrivateKeyOptions {
  /** Passphrase of an encrypted key. Default: `LADING_SSH_PASSPHRASE`. */
  passphrase?: PassphraseSource;
  /** Environment to read `LADING_SSH_PASSPHRASE` from. Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/**
 * Parses an OpenSSH private key file's text. `file` names it in messages. Throws `ERR_LADING_USAGE` saying what is
 * wrong: not an OpenSSH private key (PEM keys are refused: convert with `ssh-keygen -p -f FILE`), an unsupported
 * cipher, KDF or key type, a passphrase that is missing or wrong. The passphrase never appears in messages.
 */
export async function readPrivateKey(
  text: string,
  file: string,
  options: ReadPrivateKeyOptions = {},
): Promise<SSHPrivateKey> {
  const fail = (why: string, cause?: unknown): LadingError =>
    new LadingError(ErrorCodes.usage, `ssh key ${file}: ${why}`, cause === undefined ? {} : { cause });
  const begin = text.indexOf(armorBegin);
  const end = text.indexOf(armorEnd);
  if (begin < 0 || end < begin) {
    throw fail(
      text.includes('PRIVATE KEY-----')
        ? 'a PEM private key, not an OpenSSH one; convert it with `ssh-keygen -p -f FILE`'
        : 'not an OpenSSH private key file (no "-----BEGIN OPENSSH PRIVATE KEY-----")',
    );
  }
  const bytes = Buffer.from(text.slice(begin + armorBegin.length, end).replace(/\s+/g, ''), 'base64');
  try {
    if (!bytes.subarray(0, magic.length).equals(magic)) throw new Error('bad magic (not openssh-key-v1)');
    const r = new WireReader(bytes.subarray(magic.length), 'key file');
    const cipherName = r.text();
    const kdfName = r.text();
    const kdfOptions = r.string();
    const count = r.uint32();
    if (count !== 1) throw new Error(`holds ${count} keys; exactly one is supported`);
    const publicBlob = r.string();
    const encrypted = r.string();
    let section: Buffer;
    if (cipherName === 'none') {
      if (kdfName !== 'none') throw new Error(`KDF ${kdfName} without a cipher`);
      section = encrypted;
    } else {
      const cipher = ciphers[cipherName];
      if (!cipher) throw new Error(`cipher ${cipherName} is not supported (aes256-ctr, aes256-gcm@openssh.com are)`);
      if (kdfName !== 'bcrypt') throw new Error(`KDF ${kdfName} is not supported (bcrypt is)`);
      const tag = r.raw(cipher.tagLength);
      const passphrase = await getPassphrase(file, options);
      section = decrypt(cipher, kdfOptions, passphrase, encrypted, tag, fail);
    }
    r.end();
    return parseSection(section, publicBlob);
  } catch (e) {
    if (e instanceof LadingError) throw e;
    throw fail(e instanceof Error ? e.message : String(e), e);
  }
}

async function getPassphrase(file: string, options: ReadPrivateKeyOptions): Promise<Buffer> {
  if (options.passphrase) {
    const given = await options.passphrase(file);
    return typeof given === 'string' ? Buffer.from(given, 'utf8') : Buffer.from(given);
  }
  const env = (options.env ?? process.env)[PassphraseEnvironmentVariable];
  if (env === undefined) {
    throw new LadingError(
      ErrorCodes.usage,
      `ssh key ${file}: the key is encrypted; give its passphrase (at the prompt, or in ${PassphraseEnvironmentVariable})`,
    );
  }
  return Buffer.from(env, 'utf8');
}

function decrypt(
  cipher: Cipher,
  kdfOptions: Buffer,
  passphrase: Buffer,
  encrypted: Buffer,
  tag: Buffer,
  fail: (why: string, cause?: unknown) => LadingError,
): Buffer {
  const r = new WireReader(kdfOptions, 'bcrypt options');
  const salt = r.string();
  const rounds = r.uint32();
  r.end();
  if (rounds < 1 || rounds > 1 << 16) throw new Error(`bcrypt rounds ${rounds} out of range`);
  const derived = new Uint8Array(cipher.keyLength + cipher.ivLength);
  if (pbkdf(passphrase, passphrase.length, salt, salt.length, derived, derived.length, rounds) !== 0) {
    throw new Error('bcrypt-pbkdf failed');
  }
  const key = derived.subarray(0, cipher.keyLength);
  const iv = derived.subarray(cipher.keyLength);
  let plain: Buffer;
  try {
    if (cipher.node === 'aes-256-gcm') {
      const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
      d.setAuthTag(tag);
      plain = Buffer.concat([d.update(encrypted), d.final()]);
    } else {
      const d = createDecipheriv('aes-256-ctr', key, iv);
      plain = Buffer.concat([d.update(encrypted), d.final()]);
    }
  } catch (e) {
    // GCM: the tag does not match, which is what a wrong passphrase looks like.
    throw fail('wrong passphrase (the key does not decrypt)', e);
  }
  const check = new WireReader(plain, 'key');
  if (check.uint32() !== check.uint32()) throw fail('wrong passphrase (the key does not decrypt)');
  return plain;
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function parseSection(section: Buffer, publicBlob: Buffer): SSHPrivateKey {
  const r = new WireReader(section, 'private key');
  if (r.uint32() !== r.uint32()) throw new Error('check bytes differ (corrupt key)');
  const type = r.text();
  const publicKey = parsePublicKey(publicBlob, 'key file public key');
  if (publicKey.certificate || publicKey.type !== type) {
    throw new Error(`the private key is ${type} but the public key is ${publicKey.type}`);
  }
  const keyType = publicKey.keyType;
  if (isSecurityKey(keyType)) {
    throw new Error(`a FIDO security key (${keyType}): its private key is on the token; sign through ssh-agent`);
  }
  const privateKey = readPrivateFields(keyType, r, publicKey);
  const comment = r.text();
  // Padding 1, 2, 3, … up to the cipher block size.
  const padding = r.raw(r.remaining);
  if (!padding.every((b, i) => b === i + 1)) throw new Error('bad padding (corrupt key)');
  return { publicKey, keyType, privateKey, comment };
}

function readPrivateFields(keyType: SSHKeyType, r: WireReader, publicKey: SSHPublicKey): KeyObject {
  const jwk = publicKey.key.export({ format: 'jwk' });
  if (keyType === 'ssh-ed25519') {
    r.string(); // public key again
    const both = r.string();
    if (both.length !== 64) throw new Error('Ed25519 private key is not 64 bytes');
    return createPrivateKey({ key: { ...jwk, d: b64url(both.subarray(0, 32)) }, format: 'jwk' });
  }
  if (keyType === 'ssh-rsa') {
    const n = r.mpint();
    const e = r.mpint();
    const d = r.mpint();
    const iqmp = r.mpint();
    const p = r.mpint();
    const q = r.mpint();
    const big = (b: Buffer): bigint => BigInt(`0x${b.toString('hex') || '0'}`);
    const bytes = (v: bigint): Buffer => {
      const hex = v.toString(16);
      return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    };
    const dp = big(d) % (big(p) - 1n);
    const dq = big(d) % (big(q) - 1n);
    return createPrivateKey({
      key: {
        kty: 'RSA',
        n: b64url(n),
        e: b64url(e),
        d: b64url(d),
        p: b64url(p),
        q: b64url(q),
        dp: b64url(bytes(dp)),
        dq: b64url(bytes(dq)),
        qi: b64url(iqmp),
      },
      format: 'jwk',
    });
  }
  r.text(); // curve
  r.string(); // public point
  const d = r.mpint();
  const size = jwk.crv === 'P-256' ? 32 : jwk.crv === 'P-384' ? 48 : 66;
  const padded = Buffer.concat([Buffer.alloc(Math.max(0, size - d.length)), d]);
  return createPrivateKey({ key: { ...jwk, d: b64url(padded) }, format: 'jwk' });
}
