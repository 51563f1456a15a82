/**
 * The bridge to `@sigstore/verify`: a bundle as the `SignedEntity` its `Verifier` checks, with the adjustments
 * lading needs, each explained where it is made.
 */
import type { TransparencyLogEntry } from '@sigstore/bundle';
import { dsse } from '@sigstore/core';
import { toSignedEntity, VerificationError, Verifier, type SignedEntity, type TrustMaterial } from '@sigstore/verify';
import type { ObjectIdentifierValuePair } from '@sigstore/protobuf-specs';
import type { BundleClaim } from './bundle-claims.js';
import { CertificateExtensionOIDs, CertificateIssuerV1OID } from './identity-policy.js';
import { verifyData } from './keys.js';

/** Minimum numbers of verified transparency log entries, SCTs (CT log) and trusted timestamps. */
export interface Thresholds {
  /** Verified transparency log entries (inclusion proof or promise, body matching the bundle). */
  tlog: number;
  /** Signed certificate timestamps of trusted CT logs in the certificate (keyless bundles only). */
  ctlog: number;
  /** Trusted times: RFC 3161 timestamps of a trusted TSA, plus integrated times of log entries with a promise. */
  timestamp: number;
}

/** What `@sigstore/verify` returns for a verified entity. */
export type VerifiedSigner = ReturnType<Verifier['verify']>;

/**
 * The bundle as a `SignedEntity`. For DSSE, signature verification is replaced by {@link verifyData}: sigstore-js
 * verifies DSSE with the key's default digest (SHA-256 for every ECDSA key), but cosign and lading sign with
 * P-384 keys over SHA-384. Everything else (tlog body comparisons) is sigstore-js' own.
 */
export function toEntity(claim: BundleClaim): SignedEntity {
  const entity = toSignedEntity(claim.bundle, claim.kind === 'message-signature' ? claim.artifact : undefined);
  if (claim.bundle.content.$case !== 'dsseEnvelope') return entity;
  const envelope = claim.bundle.content.dsseEnvelope;
  const signed = dsse.preAuthEncoding(envelope.payloadType, envelope.payload);
  const content = entity.signature;
  return {
    ...entity,
    signature: {
      signature: content.signature,
      compareSignature: (signature) => content.compareSignature(signature),
      compareDigest: (digest) => content.compareDigest(digest),
      compareSignedDigest: (digest) => content.compareSignedDigest(digest),
      verifySignature: (key) => verifyData(key, signed, content.signature),
    },
  };
}

/**
 * The entity without its log entries and timestamps. Used for key-based bundles when the policy has no trusted
 * root (and needs no log entry): nothing could check them, so they are ignored, as `cosign --insecure-ignore-tlog`
 * does, rather than failing a bundle whose key alone is the trust.
 */
export function withoutLogEvidence(entity: SignedEntity): SignedEntity {
  return { ...entity, tlogEntries: [], timestamps: [] };
}

/**
 * The entity with `now` as its only time, for a certificate bundle that has no trusted timestamp while the policy
 * requires none: the certificate chain is then checked at verification time (sigstore-go's `WithCurrentTime`, what
 * cosign does), so a short-lived Fulcio certificate is refused once expired. Without any time, sigstore-js would
 * skip the chain check altogether. The time is given as an entry with a promise in `timestamps` only (never in
 * `tlogEntries`), so no log check counts it.
 */
export function withVerificationTime(entity: SignedEntity, now: Date): SignedEntity {
  const tlogEntry: TransparencyLogEntry = {
    logIndex: '0',
    logId: { keyId: Buffer.from('lading verification time') },
    kindVersion: { kind: 'lading-verification-time', version: '0' },
    integratedTime: String(Math.floor(now.getTime() / 1000)),
    inclusionPromise: { signedEntryTimestamp: Buffer.alloc(0) },
    inclusionProof: undefined,
    canonicalizedBody: Buffer.alloc(0),
  };
  return { ...entity, timestamps: [{ $case: 'transparency-log', tlogEntry }] };
}

/** Runs `@sigstore/verify` (signature, key or certificate chain + SCTs, log entries, timestamps, thresholds). */
export function verifyEntity(entity: SignedEntity, material: TrustMaterial, thresholds: Thresholds): VerifiedSigner {
  const verifier = new Verifier(material, {
    tlogThreshold: thresholds.tlog,
    ctlogThreshold: thresholds.ctlog,
    timestampThreshold: thresholds.timestamp,
  });
  return verifier.verify(entity);
}

/**
 * The trusted times of an entity that verified: RFC 3161 signing times and integrated times of log entries with an
 * inclusion promise (the ones `@sigstore/verify` counts). Earliest first.
 */
export function trustedTimes(entity: SignedEntity): Date[] {
  const times: Date[] = [];
  for (const t of entity.timestamps) {
    if (t.$case === 'timestamp-authority') times.push(t.timestamp.signingTime);
    else if (t.tlogEntry.inclusionPromise) times.push(new Date(Number(t.tlogEntry.integratedTime) * 1000));
  }
  return times.sort((a, b) => a.getTime() - b.getTime());
}

/** A one-line reason from an error of `@sigstore/verify` (its message, then its cause's). */
export function describeVerificationError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  const detail = cause instanceof Error && cause.message !== error.message ? `: ${cause.message}` : '';
  return `${error.message}${detail}`;
}

/** True when `error` is `@sigstore/verify` saying the signature itself does not verify with the key. */
export function isSignatureMismatch(error: unknown): boolean {
  return error instanceof VerificationError && error.code === 'SIGNATURE_ERROR';
}

/**
 * The Fulcio extensions of a certificate (`VerifiedSigner.identity.oids`, each OID with its extension's value
 * bytes), by name (see `CertificateExtensionOIDs`); only those present. Values are DER UTF8Strings; the deprecated
 * issuer extension `.1` (raw UTF-8) is used when there is no v2 `issuer`. A value that does not decode (not a DER
 * UTF8String, not UTF-8) is left out, so a policy requiring it fails. Throws when an extension appears twice (X.509
 * forbids it, and which one a peer would read is unknown).
 */
export function certificateExtensions(oids: readonly ObjectIdentifierValuePair[]): Record<string, string> {
  const byOID = new Map<string, Buffer>();
  for (const pair of oids) {
    const oid = pair.oid?.id.join('.') ?? '';
    if (byOID.has(oid)) throw new Error(`certificate has extension ${oid} more than once`);
    byOID.set(oid, Buffer.from(pair.value));
  }
  const extensions: Record<string, string> = {};
  for (const [name, oid] of Object.entries(CertificateExtensionOIDs)) {
    const der = byOID.get(oid);
    const value = der === undefined ? undefined : derUTF8String(der);
    if (value !== undefined) extensions[name] = value;
  }
  const legacyIssuer = byOID.get(CertificateIssuerV1OID);
  if (extensions.issuer === undefined && legacyIssuer !== undefined) {
    const value = utf8(legacyIssuer);
    if (value !== undefined) extensions.issuer = value;
  }
  return extensions;
}

/** The text of a DER UTF8String (tag 12, definite length covering exactly the rest), or undefined. */
function derUTF8String(der: Buffer): string | undefined {
  if (der.length < 2 || der[0] !== 0x0c) return undefined;
  const first = der[1] ?? 0;
  let length = first;
  let offset = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 3 || der.length < 2 + count) return undefined;
    length = der.subarray(2, 2 + count).reduce((total, byte) => total * 256 + byte, 0);
    offset = 2 + count;
  }
  if (offset + length !== der.length) return undefined;
  return utf8(der.subarray(offset));
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
