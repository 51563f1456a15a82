/**
 * Revoked keys, as `ssh-keygen -Y verify -r FILE` reads them: a file of public keys, one per line in authorized_keys
 * form (`<type> <base64> [comment]`; blank lines and `#` comments skipped), or an OpenSSH KRL (`ssh-keygen -k`,
 * PROTOCOL.krl: explicit keys, SHA-1 and SHA-256 key hashes, certificates by CA and serial list, range, bitmap or
 * key ID). A certificate is revoked when its key, its serial or key ID under its CA, or its CA key is revoked.
 * Hashes are `node:crypto`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ErrorCodes, LadingError } from '@lading/core';
import { fingerprintOf, parsePublicKey, parsePublicKeyLine, plainKeyBlob, type SSHPublicKey } from './keys.js';
import { WireReader } from './wire.js';

/** A set of revoked keys. */
export interface RevokedKeys {
  /** Undefined when `key` may sign; otherwise the message saying which key is revoked and where it is listed. */
  check(key: SSHPublicKey): string | undefined;
}

/**
 * Loads revoked keys from a path or `{ text, name }`; `undefined` means none. Throws `ERR_LADING_USAGE` naming the
 * file and line for an unreadable file or a malformed line (a list lading cannot read whole is refused). Binary KRLs
 * (`ssh-keygen -k`) are not read: they are refused with a message saying so.
 */
export function loadRevokedKeys(source: string | { text: string; name: string } | undefined): RevokedKeys {
  if (source === undefined) return { check: () => undefined };
  const name = typeof source === 'string' ? source : source.name;
  let bytes: Buffer;
  try {
    bytes = typeof source === 'string' ? readFileSync(source) : Buffer.from(source.text, 'utf8');
  } catch (e) {
    throw new LadingError(ErrorCodes.usage, `revoked keys ${name}: cannot read it (${(e as Error).message})`, {
      cause: e,
    });
  }
  if (bytes.subarray(0, 8).toString('latin1') === 'SSHKRL\n\0') {
    try {
      return readKRL(bytes, name);
    } catch (e) {
      throw new LadingError(
        ErrorCodes.usage,
        `revoked keys ${name}: not a KRL lading can read (${(e as Error).message})`,
        {
          cause: e,
        },
      );
    }
  }
  const listed = new Map<string, string>();
  bytes
    .toString('utf8')
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      try {
        const key = parsePublicKeyLine(line, `${name}:${index + 1}`);
        listed.set(plainKeyBlob(key).toString('base64'), `${name}:${index + 1}`);
      } catch (e) {
        throw new LadingError(ErrorCodes.usage, `revoked keys ${(e as Error).message}`, { cause: e });
      }
    });
  return {
    check(key: SSHPublicKey): string | undefined {
      const own = listed.get(plainKeyBlob(key).toString('base64'));
      if (own !== undefined) return `revoked key: ${fingerprintOf(plainKeyBlob(key))} is listed in ${own}`;
      const ca = key.certificate?.signatureKey;
      const caListed = ca ? listed.get(plainKeyBlob(ca).toString('base64')) : undefined;
      if (ca && caListed !== undefined)
        return `revoked key: the certificate's CA ${ca.fingerprint} is listed in ${caListed}`;
      return undefined;
    },
  };
}

/** Revoked certificates of one CA (the empty CA blob stands for any CA). */
interface CertificateRevocations {
  serials: Set<bigint>;
  ranges: [bigint, bigint][];
  keyIds: Set<string>;
}

const section = { certificates: 1, explicitKey: 2, sha1: 3, signature: 4, sha256: 5, extension: 255 } as const;
const certSection = { serialList: 0x20, serialRange: 0x21, serialBitmap: 0x22, keyId: 0x23, extension: 0x24 } as const;

function readKRL(bytes: Buffer, name: string): RevokedKeys {
  const r = new WireReader(bytes.subarray(8), 'KRL');
  const version = r.uint32();
  if (version !== 1) throw new Error(`format version ${version}`);
  r.uint64(); // KRL version
  r.uint64(); // generated date
  r.uint64(); // flags
  r.string(); // reserved
  r.string(); // comment
  const explicit = new Set<string>();
  const sha1 = new Set<string>();
  const sha256 = new Set<string>();
  const byCA = new Map<string, CertificateRevocations>();
  while (r.remaining > 0) {
    const type = r.raw(1)[0];
    const data = new WireReader(r.string(), `KRL section ${type}`);
    if (type === section.explicitKey) {
      while (data.remaining > 0) explicit.add(data.string().toString('base64'));
    } else if (type === section.sha1 || type === section.sha256) {
      while (data.remaining > 0) (type === section.sha1 ? sha1 : sha256).add(data.string().toString('hex'));
    } else if (type === section.certificates) {
      const ca = data.string();
      data.string(); // reserved
      const key = ca.length === 0 ? '' : plainKeyBlob(parsePublicKey(ca, 'KRL CA key')).toString('base64');
      const entry = byCA.get(key) ?? { serials: new Set(), ranges: [], keyIds: new Set() };
      byCA.set(key, entry);
      readCertificateSections(data, entry);
    } else if (type === section.signature) {
      // Signed KRLs: OpenSSH does not check these signatures when reading a KRL either; the file is the trust.
      break;
    } else if (type === section.extension) {
      const extension = data.text();
      if (data.raw(1)[0] !== 0) throw new Error(`critical extension ${extension}`);
    } else {
      throw new Error(`unknown section type ${type}`);
    }
  }
  return {
    check(key: SSHPublicKey): string | undefined {
      const plain = plainKeyBlob(key);
      const listed =
        explicit.has(plain.toString('base64')) ||
        sha1.has(createHash('sha1').update(plain).digest('hex')) ||
        sha256.has(createHash('sha256').update(plain).digest('hex'));
      if (listed) return `revoked key: ${fingerprintOf(plain)} is revoked by the KRL ${name}`;
      const cert = key.certificate;
      if (!cert) return undefined;
      const ca = plainKeyBlob(cert.signatureKey);
      if (
        explicit.has(ca.toString('base64')) ||
        sha1.has(createHash('sha1').update(ca).digest('hex')) ||
        sha256.has(createHash('sha256').update(ca).digest('hex'))
      ) {
        return `revoked key: the certificate's CA ${cert.signatureKey.fingerprint} is revoked by the KRL ${name}`;
      }
      for (const entry of [byCA.get(ca.toString('base64')), byCA.get('')]) {
        if (!entry) continue;
        const bySerial =
          cert.serial !== 0n &&
          (entry.serials.has(cert.serial) || entry.ranges.some(([lo, hi]) => cert.serial >= lo && cert.serial <= hi));
        if (bySerial || entry.keyIds.has(cert.keyId)) {
          const what = bySerial ? `serial ${cert.serial}` : `key ID ${JSON.stringify(cert.keyId)}`;
          return `revoked key: certificate ${what} of CA ${cert.signatureKey.fingerprint} is revoked by the KRL ${name}`;
        }
      }
      return undefined;
    },
  };
}

function readCertificateSections(data: WireReader, entry: CertificateRevocations): void {
  while (data.remaining > 0) {
    const type = data.raw(1)[0];
    const sub = new WireReader(data.string(), `KRL certificate section ${type}`);
    if (type === certSection.serialList) {
      while (sub.remaining > 0) entry.serials.add(sub.uint64());
    } else if (type === certSection.serialRange) {
      entry.ranges.push([sub.uint64(), sub.uint64()]);
      sub.end();
    } else if (type === certSection.serialBitmap) {
      const offset = sub.uint64();
      const bitmap = sub.mpint();
      sub.end();
      // Bit i (counting from the least significant bit of the big-endian number) revokes serial offset + i.
      for (let byte = 0; byte < bitmap.length; byte++) {
        const value = bitmap[bitmap.length - 1 - byte] ?? 0;
        for (let bit = 0; bit < 8; bit++) if (value & (1 << bit)) entry.serials.add(offset + BigInt(byte * 8 + bit));
      }
    } else if (type === certSection.keyId) {
      while (sub.remaining > 0) entry.keyIds.add(sub.text());
    } else if (type === certSection.extension) {
      const extension = sub.text();
      if (sub.raw(1)[0] !== 0) throw new Error(`critical certificate extension ${extension}`);
    } else {
      throw new Error(`unknown certificate section type ${type}`);
    }
  }
}
