/**
 * Writing new OpenSSH key pairs (`lading key generate --type ssh-…`): the private key in OpenSSH's own format
 * (PROTOCOL.key, what `ssh-keygen` writes), unencrypted or encrypted as `ssh-keygen` does by default (bcrypt-pbkdf,
 * 16 rounds, `aes256-ctr`), and the public key as one `authorized_keys` line. Keys and AES come from `node:crypto`,
 * bcrypt-pbkdf from the `bcrypt-pbkdf` package (as for reading keys, private-key.ts).
 */
import { createCipheriv, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { pbkdf } from 'bcrypt-pbkdf';
import { ErrorCodes, LadingError } from '@lading/core';
import { fingerprintOf, formatPublicKey, plainKeyBlob, type SSHKeyType } from './keys.js';
import { WireWriter } from './wire.js';

/** Options of {@link generateSshKeyPair}. */
export interface GenerateSshKeyPairOptions {
  /** The key type. Default `ssh-ed25519`. `ssh-rsa` makes a 3072-bit key (ssh-keygen's default size). */
  type?: SSHKeyType;
  /** Encrypt the private key with this passphrase (bcrypt-pbkdf, 16 rounds, aes256-ctr). Default: unencrypted. */
  passphrase?: string;
  /** The comment stored in both files (often `user@host`). Default empty. */
  comment?: string;
}

/** A new key pair: the two files' text, and the key's fingerprint as `ssh-keygen -l` prints it. */
export interface GeneratedSshKeyPair {
  /** `-----BEGIN OPENSSH PRIVATE KEY-----` … text, to be written with mode 0600. */
  privateKey: string;
  /** One line `<type> <base64> [comment]` and a newline: the `.pub` file. */
  publicKey: string;
  /** `SHA256:…`. */
  fingerprint: string;
  type: SSHKeyType;
}

const magic = Buffer.from('openssh-key-v1\0', 'latin1');
/** ssh-keygen's defaults for a new encrypted key (`-a 16`, `-Z aes256-ctr`). */
const bcryptRounds = 16;
const saltLength = 16;

/**
 * Generates a key pair of `options.type` and encodes it as OpenSSH files that `ssh-keygen -y -f` reads (and, when
 * encrypted, decrypts with the same passphrase). An empty passphrase means unencrypted, as with `ssh-keygen -N ''`.
 * Throws `ERR_LADING_USAGE` for a key type lading does not generate.
 */
export function generateSshKeyPair(options: GenerateSshKeyPairOptions = {}): GeneratedSshKeyPair {
  const type = options.type ?? 'ssh-ed25519';
  const comment = options.comment ?? '';
  const { privateKey, publicKey } = newKey(type);
  const blob = plainKeyBlob({ keyType: type, key: publicKey });
  const jwk = privateKey.export({ format: 'jwk' });
  const b = (v: string | undefined): Buffer => Buffer.from(v ?? '', 'base64url');
  const fields = new WireWriter().string(type);
  if (type === 'ssh-ed25519') {
    const pub = b(jwk.x);
    fields.string(pub).string(Buffer.concat([b(jwk.d), pub]));
  } else if (type === 'ssh-rsa') {
    fields.mpint(b(jwk.n)).mpint(b(jwk.e)).mpint(b(jwk.d)).mpint(b(jwk.qi)).mpint(b(jwk.p)).mpint(b(jwk.q));
  } else {
    // The public blob is string type, string curve, string point: reuse its curve and point as they are.
    const curveAndPoint = blob.subarray(4 + Buffer.byteLength(type));
    fields.raw(curveAndPoint).mpint(b(jwk.d));
  }
  fields.string(comment);
  const passphrase = options.passphrase ?? '';
  const blockSize = passphrase === '' ? 8 : 16;
  const check = randomBytes(4);
  const section = new WireWriter().raw(check).raw(check).raw(fields.bytes()).bytes();
  const padding = Buffer.from(
    Array.from({ length: (blockSize - (section.length % blockSize)) % blockSize }, (_, i) => i + 1),
  );
  const plain = Buffer.concat([section, padding]);
  const out = new WireWriter().raw(magic);
  if (passphrase === '') {
    out.string('none').string('none').string('').uint32(1).string(blob).string(plain);
  } else {
    const salt = randomBytes(saltLength);
    const derived = new Uint8Array(48);
    const secret = Buffer.from(passphrase, 'utf8');
    if (pbkdf(secret, secret.length, salt, salt.length, derived, derived.length, bcryptRounds) !== 0) {
      throw new LadingError(ErrorCodes.usage, 'ssh key generate: bcrypt-pbkdf failed');
    }
    const cipher = createCipheriv('aes-256-ctr', derived.subarray(0, 32), derived.subarray(32));
    const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
    const kdfOptions = new WireWriter().string(salt).uint32(bcryptRounds).bytes();
    out.string('aes256-ctr').string('bcrypt').string(kdfOptions).uint32(1).string(blob).string(encrypted);
  }
  const base64 = out.bytes().toString('base64');
  const lines = base64.match(/.{1,70}/g) ?? [];
  return {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `${formatPublicKey({ type, blob })}${comment === '' ? '' : ` ${comment}`}\n`,
    fingerprint: fingerprintOf(blob),
    type,
  };
}

function newKey(type: SSHKeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (type) {
    case 'ssh-ed25519':
      return generateKeyPairSync('ed25519');
    case 'ecdsa-sha2-nistp256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ecdsa-sha2-nistp384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ecdsa-sha2-nistp521':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' });
    case 'ssh-rsa':
      return generateKeyPairSync('rsa', { modulusLength: 3072 });
    default:
      throw new LadingError(ErrorCodes.usage, `ssh key generate: cannot generate ${String(type)} keys`);
  }
}
