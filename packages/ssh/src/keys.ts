/**
 * SSH public keys, certificates and signatures in the wire format of RFC 4253, RFC 5656, RFC 8332, RFC 8709 and
 * OpenSSH's PROTOCOL.certkeys and PROTOCOL.u2f (FIDO keys). Every primitive here is `node:crypto` (OpenSSL): Ed25519, ECDSA on P-256/384/521,
 * RSA PKCS#1 v1.5 with SHA-256/512, and the SHA-2 digests; no other crypto library is used.
 */
import { createHash, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { WireReader, WireWriter } from './wire.js';

/** Key types lading signs and verifies with (the `ssh-rsa` key type signs as `rsa-sha2-256`/`rsa-sha2-512`). */
export const SSHKeyTypes = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
] as const;

/** One of {@link SSHKeyTypes}. */
export type SSHKeyType = (typeof SSHKeyTypes)[number];

/**
 * FIDO security key types (OpenSSH PROTOCOL.u2f): verified, and used for signing only through ssh-agent, since the
 * private key never leaves the token.
 */
export const SecurityKeyTypes = ['sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com'] as const;

/** One of {@link SecurityKeyTypes}. */
export type SecurityKeyType = (typeof SecurityKeyTypes)[number];

/** Any key type lading reads. */
export type PublicKeyType = SSHKeyType | SecurityKeyType;

/** True for FIDO `sk-` key types. */
export function isSecurityKey(type: string): type is SecurityKeyType {
  return (SecurityKeyTypes as readonly string[]).includes(type);
}

/** Flags a FIDO authenticator sets in each signature: the user touched it; the user was verified (PIN, biometric). */
export const SecurityKeyFlags = { userPresence: 0x01, userVerification: 0x04 } as const;

/** The RSA signature algorithms accepted; SHA-1 `ssh-rsa` signatures are always refused. */
export type RSASignatureAlgorithm = 'rsa-sha2-256' | 'rsa-sha2-512';

interface Curve {
  jwk: 'P-256' | 'P-384' | 'P-521';
  size: number;
  hash: 'sha256' | 'sha384' | 'sha512';
}

const curves: Record<string, Curve> = {
  nistp256: { jwk: 'P-256', size: 32, hash: 'sha256' },
  nistp384: { jwk: 'P-384', size: 48, hash: 'sha384' },
  nistp521: { jwk: 'P-521', size: 66, hash: 'sha512' },
};

/** An OpenSSH certificate (PROTOCOL.certkeys): what it certifies, for whom, when, and who signed it. */
export interface SSHCertificate {
  /** 1 for a user certificate, 2 for a host certificate. */
  certType: number;
  serial: bigint;
  keyId: string;
  /** Valid principals; empty means any (OpenSSH refuses such certificates for signatures it checks by principal). */
  principals: string[];
  /** Seconds since the epoch. */
  validAfter: bigint;
  /** Seconds since the epoch; 2^64-1 means forever. */
  validBefore: bigint;
  criticalOptions: string[];
  /** The CA key that signed the certificate. */
  signatureKey: SSHPublicKey;
  /** Whether the CA's signature over the certificate verifies. */
  signatureValid: boolean;
}

/** A parsed SSH public key (or certificate): its wire blob, its type, a `node:crypto` key, its fingerprint. */
export interface SSHPublicKey {
  /** Wire type, e.g. `ssh-ed25519` or `ssh-ed25519-cert-v01@openssh.com`. */
  type: string;
  /** The plain key type (for a certificate, the certified key's type). */
  keyType: PublicKeyType;
  /** FIDO keys: the application string the key was made for (usually `ssh:`). */
  application?: string;
  /** The wire encoding, as in an `authorized_keys` line. */
  blob: Buffer;
  /** The public key as `node:crypto` uses it (for a certificate, the certified key). */
  key: KeyObject;
  /** `SHA256:<base64>` of the blob, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** Present when the blob is an OpenSSH certificate. */
  certificate?: SSHCertificate;
}

/** `SHA256:<unpadded base64>` of a key blob, as OpenSSH prints fingerprints. */
export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

function leftPad(bytes: Uint8Array, size: number, what: string): Buffer {
  if (bytes.length > size) throw new Error(`${what}: value too long`);
  return Buffer.concat([Buffer.alloc(size - bytes.length), bytes]);
}

/** Reads the type-specific public fields of `keyType`: the `node:crypto` key, and a FIDO key's application. */
function readPublicFields(
  keyType: PublicKeyType,
  r: WireReader,
  what: string,
): { key: KeyObject; application?: string } {
  if (isSecurityKey(keyType)) {
    const key = readKeyFields(
      keyType === 'sk-ssh-ed25519@openssh.com' ? 'ssh-ed25519' : 'ecdsa-sha2-nistp256',
      r,
      what,
    );
    return { key, application: r.text() };
  }
  return { key: readKeyFields(keyType, r, what) };
}

function readKeyFields(keyType: SSHKeyType, r: WireReader, what: string): KeyObject {
  if (keyType === 'ssh-ed25519') {
    const pk = r.string();
    if (pk.length !== 32) throw new Error(`${what}: Ed25519 key is not 32 bytes`);
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(pk) }, format: 'jwk' });
  }
  if (keyType === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    if (n.length * 8 < 2048) throw new Error(`${what}: RSA key shorter than 2048 bits`);
    return createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
  }
  const name = r.text();
  const curve = curves[name];
  if (!curve || keyType !== `ecdsa-sha2-${name}`) throw new Error(`${what}: curve ${name} does not match ${keyType}`);
  const q = r.string();
  if (q.length !== 1 + 2 * curve.size || q[0] !== 4) throw new Error(`${what}: not an uncompressed ${name} point`);
  const x = q.subarray(1, 1 + curve.size);
  const y = q.subarray(1 + curve.size);
  return createPublicKey({ key: { kty: 'EC', crv: curve.jwk, x: b64url(x), y: b64url(y) }, format: 'jwk' });
}

function asKeyType(type: string, what: string): PublicKeyType {
  if ((SSHKeyTypes as readonly string[]).includes(type) || isSecurityKey(type)) return type as PublicKeyType;
  const supported = [...SSHKeyTypes, ...SecurityKeyTypes].join(', ');
  throw new Error(`${what}: unsupported key type ${JSON.stringify(type)} (supported: ${supported})`);
}

const certSuffix = '-cert-v01@openssh.com';

/**
 * Parses a public key or OpenSSH certificate blob. Throws a plain `Error` naming `what` for an unsupported type or
 * a malformed blob. A certificate's CA signature is checked here and the outcome recorded in `signatureValid`.
 */
export function parsePublicKey(blob: Uint8Array, what = 'public key'): SSHPublicKey {
  const r = new WireReader(blob, what);
  const type = r.text();
  if (type.endsWith(certSuffix)) return parseCertificate(Buffer.from(blob), type, r, what);
  const keyType = asKeyType(type, what);
  const fields = readPublicFields(keyType, r, what);
  r.end();
  return { type, keyType, blob: Buffer.from(blob), ...fields, fingerprint: fingerprintOf(blob) };
}

function parseCertificate(blob: Buffer, type: string, r: WireReader, what: string): SSHPublicKey {
  const base = type.slice(0, -certSuffix.length);
  const keyType = asKeyType(base.startsWith('sk-') ? `${base}@openssh.com` : base, what);
  r.string(); // nonce
  const fields = readPublicFields(keyType, r, what);
  const serial = r.uint64();
  const certType = r.uint32();
  const keyId = r.text();
  const principals = readStringList(r.string(), `${what} principals`);
  const validAfter = r.uint64();
  const validBefore = r.uint64();
  const criticalOptions = readNameList(r.string(), `${what} critical options`);
  r.string(); // extensions
  r.string(); // reserved
  const signatureKey = parsePublicKey(r.string(), `${what} CA key`);
  if (signatureKey.certificate) throw new Error(`${what}: signed by a certificate, not a CA key`);
  const signed = blob.subarray(0, r.offset);
  const signature = r.string();
  r.end();
  let signatureValid: boolean;
  try {
    verifySignature(signatureKey, signed, signature);
    signatureValid = true;
  } catch {
    signatureValid = false;
  }
  const certificate: SSHCertificate = {
    certType,
    serial,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    signatureKey,
    signatureValid,
  };
  return { type, keyType, blob, ...fields, fingerprint: fingerprintOf(blob), certificate };
}

function readStringList(bytes: Uint8Array, what: string): string[] {
  const r = new WireReader(bytes, what);
  const out: string[] = [];
  while (r.remaining > 0) out.push(r.text());
  return out;
}

function readNameList(bytes: Uint8Array, what: string): string[] {
  const r = new WireReader(bytes, what);
  const out: string[] = [];
  while (r.remaining > 0) {
    out.push(r.text());
    r.string();
  }
  return out;
}

/**
 * Parses one public key in `authorized_keys` form, `<type> <base64> [comment]`; the type must match the blob.
 */
export function parsePublicKeyLine(line: string, what = 'public key'): SSHPublicKey & { comment: string } {
  const [type, data, ...comment] = line.trim().split(/\s+/);
  if (type === undefined || data === undefined || !/^[A-Za-z0-9+/]+=*$/.test(data)) {
    throw new Error(`${what}: not "<key type> <base64 key> [comment]"`);
  }
  const key = parsePublicKey(Buffer.from(data, 'base64'), what);
  if (key.type !== type) throw new Error(`${what}: says ${type} but the key is ${key.type}`);
  return { ...key, comment: comment.join(' ') };
}

/** The `authorized_keys` form of a key: `<type> <base64>`. */
export function formatPublicKey(key: Pick<SSHPublicKey, 'type' | 'blob'>): string {
  return `${key.type} ${key.blob.toString('base64')}`;
}

/** The hash an SSH signature algorithm uses (null for Ed25519, which hashes internally). */
function signatureHash(algorithm: string): 'sha256' | 'sha384' | 'sha512' | null {
  if (algorithm === 'ssh-ed25519') return null;
  if (algorithm === 'rsa-sha2-256') return 'sha256';
  if (algorithm === 'rsa-sha2-512') return 'sha512';
  const curve = curves[algorithm.replace(/^ecdsa-sha2-/, '')];
  if (curve) return curve.hash;
  throw new Error(`signature algorithm ${JSON.stringify(algorithm)} is not supported`);
}

/** What a verified signature says besides being valid. */
export interface SignatureDetails {
  algorithm: string;
  /** FIDO keys: the authenticator's flags ({@link SecurityKeyFlags}) and counter. */
  securityKey?: { flags: number; counter: number };
}

/**
 * Verifies an SSH signature blob (`string algorithm, string signature`) over `data` with `key` (for a certificate,
 * the certified key). Returns the signature algorithm. Throws a plain `Error` saying why it does not verify:
 * an algorithm that does not belong to the key, SHA-1 `ssh-rsa`, a malformed blob, a wrong signature.
 */
export function verifySignature(key: SSHPublicKey, data: Uint8Array, signature: Uint8Array): string {
  return verifySignatureDetails(key, data, signature).algorithm;
}

/**
 * {@link verifySignature}, also returning a FIDO signature's flags and counter. A FIDO (`sk-`) signature is over
 * SHA256(application) ‖ flags ‖ counter ‖ SHA256(data) (PROTOCOL.u2f); flags are returned, not judged here.
 */
export function verifySignatureDetails(key: SSHPublicKey, data: Uint8Array, signature: Uint8Array): SignatureDetails {
  const r = new WireReader(signature, 'signature');
  const algorithm = r.text();
  const sig = r.string();
  if (isSecurityKey(key.keyType)) {
    if (algorithm !== key.keyType)
      throw new Error(`the signature algorithm ${algorithm} does not belong to a ${key.keyType} key`);
    const flags = r.raw(1)[0] ?? 0;
    const counter = r.uint32();
    r.end();
    const counterBytes = Buffer.alloc(4);
    counterBytes.writeUInt32BE(counter, 0);
    const signed = Buffer.concat([
      createHash('sha256')
        .update(key.application ?? '')
        .digest(),
      Buffer.from([flags]),
      counterBytes,
      createHash('sha256').update(data).digest(),
    ]);
    const plain: SSHPublicKey = {
      ...key,
      keyType: algorithm === 'sk-ssh-ed25519@openssh.com' ? 'ssh-ed25519' : 'ecdsa-sha2-nistp256',
    };
    const inner = new WireWriter().string(plain.keyType).string(sig).bytes();
    verifySignatureDetails(plain, signed, inner);
    return { algorithm, securityKey: { flags, counter } };
  }
  r.end();
  if (algorithm === 'ssh-rsa') throw new Error('the signature is ssh-rsa (RSA with SHA-1), which is never accepted');
  const allowed = key.keyType === 'ssh-rsa' ? ['rsa-sha2-256', 'rsa-sha2-512'] : [key.keyType];
  if (!allowed.includes(algorithm)) {
    throw new Error(`the signature algorithm ${algorithm} does not belong to a ${key.keyType} key`);
  }
  const hash = signatureHash(algorithm);
  let ok: boolean;
  if (key.keyType.startsWith('ecdsa-')) {
    const curve = curves[key.keyType.replace(/^ecdsa-sha2-/, '')] as Curve;
    const inner = new WireReader(sig, 'ECDSA signature');
    const rr = leftPad(inner.mpint(), curve.size, 'ECDSA r');
    const ss = leftPad(inner.mpint(), curve.size, 'ECDSA s');
    inner.end();
    ok = cryptoVerify(hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([rr, ss]));
  } else {
    ok = cryptoVerify(hash, data, key.key, sig);
  }
  if (!ok) throw new Error('the signature does not verify');
  return { algorithm };
}

/**
 * Signs `data` with a `node:crypto` private key of `keyType` and returns the SSH signature blob. RSA keys sign with
 * `rsaAlgorithm` (default `rsa-sha2-512`, what `ssh-keygen -Y sign` uses).
 */
export function signWithKey(
  keyType: SSHKeyType,
  privateKey: KeyObject,
  data: Uint8Array,
  rsaAlgorithm: RSASignatureAlgorithm = 'rsa-sha2-512',
): Buffer {
  const algorithm = keyType === 'ssh-rsa' ? rsaAlgorithm : keyType;
  const hash = signatureHash(algorithm);
  if (keyType.startsWith('ecdsa-')) {
    const curve = curves[keyType.replace(/^ecdsa-sha2-/, '')] as Curve;
    const raw = cryptoSign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const inner = new WireWriter().mpint(raw.subarray(0, curve.size)).mpint(raw.subarray(curve.size)).bytes();
    return new WireWriter().string(algorithm).string(inner).bytes();
  }
  return new WireWriter()
    .string(algorithm)
    .string(cryptoSign(hash, data, privateKey))
    .bytes();
}

/**
 * The plain public key blob of `key` (for a certificate, the certified key without the certificate), which is what
 * OpenSSH fingerprints and compares with revoked keys.
 */
export function plainKeyBlob(key: Pick<SSHPublicKey, 'keyType' | 'key' | 'application'>): Buffer {
  const jwk = key.key.export({ format: 'jwk' });
  const bytes = (v: string | undefined): Buffer => Buffer.from(v ?? '', 'base64url');
  if (key.keyType === 'sk-ssh-ed25519@openssh.com') {
    return new WireWriter()
      .string(key.keyType)
      .string(bytes(jwk.x))
      .string(key.application ?? '')
      .bytes();
  }
  if (key.keyType === 'sk-ecdsa-sha2-nistp256@openssh.com') {
    const point = Buffer.concat([Buffer.from([4]), leftPad(bytes(jwk.x), 32, 'x'), leftPad(bytes(jwk.y), 32, 'y')]);
    return new WireWriter()
      .string(key.keyType)
      .string('nistp256')
      .string(point)
      .string(key.application ?? '')
      .bytes();
  }
  if (key.keyType === 'ssh-ed25519') return new WireWriter().string('ssh-ed25519').string(bytes(jwk.x)).bytes();
  if (key.keyType === 'ssh-rsa') {
    return new WireWriter().string('ssh-rsa').mpint(bytes(jwk.e)).mpint(bytes(jwk.n)).bytes();
  }
  const name = key.keyType.replace(/^ecdsa-sha2-/, '');
  const curve = curves[name] as Curve;
  const point = Buffer.concat([
    Buffer.from([4]),
    leftPad(bytes(jwk.x), curve.size, 'x'),
    leftPad(bytes(jwk.y), curve.size, 'y'),
  ]);
  return new WireWriter().string(key.keyType).string(name).string(point).bytes();
}
