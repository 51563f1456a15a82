/**
 * Legacy cosign signatures, read only (docs/interop.md, "Legacy cosign"): a layer of the manifest tagged
 * `sha256-<hex>.sig`, holding a simple-signing JSON payload, with the signature and its evidence in the layer's
 * annotations. Such a layer is turned into the message-signature bundle it amounts to, so that the verifier checks
 * it by the same path and under the same policy (keys or identities, trusted root, thresholds) as a bundle.
 */
import { createHash } from 'node:crypto';
import { MediaTypeCosignSimpleSigning, type Descriptor, type SignatureCandidate } from '@lading/core';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { checkBundle, isSelfIssued, type BundleClaim } from './bundle-claims.js';
import {
  AnnotationCosignBundle,
  AnnotationCosignCertificate,
  AnnotationCosignChain,
  AnnotationCosignRFC3161Timestamp,
  AnnotationCosignSignature,
  SimpleSigningTypeCosign,
} from './media-types.js';

/**
 * The bundle version a legacy signature is read as: v0.1 is the one whose log entries carry only an inclusion
 * promise (the SET of cosign's Rekor bundle annotation) and whose certificate comes as a chain.
 */
const legacyBundleMediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.1';

/** True when `layer` is a legacy cosign signature (media type {@link MediaTypeCosignSimpleSigning}, any case). */
export function isLegacySignature(layer: Pick<Descriptor, 'mediaType'>): boolean {
  return layer.mediaType.trim().toLowerCase() === MediaTypeCosignSimpleSigning;
}

/**
 * Reads a legacy cosign signature as a message-signature claim over the layer bytes (the payload), after checking
 * that the payload is a cosign container image signature about `candidate.subject.digest`: a legacy signature
 * manifest has no `subject`, so `critical.image.docker-manifest-digest` of the signed payload is the only binding
 * (`critical.identity.docker-reference` is not checked, as cosign does not: an image may be copied elsewhere).
 *
 * The claim's bundle (v0.1) holds: the signature of `dev.cosignproject.cosign/signature` over the SHA-256 of the
 * payload; the certificate of `dev.sigstore.cosign/certificate` then its `…/chain` without the root cosign puts
 * there, or else an empty key hint (the policy's keys are tried); the Rekor entry of `dev.sigstore.cosign/bundle`
 * with its SET as inclusion promise (kind and version from its body); the timestamp of
 * `dev.sigstore.cosign/rfc3161timestamp`. None of these annotations is signed: each is evidence that verification
 * checks, and the bundle gets the checks of `checkBundle`. A legacy signature states no predicate type: the
 * verifier counts it as a plain signature, never as an attestation.
 *
 * Throws a plain `Error` with the reason (the verifier adds the referrer).
 */
export function readLegacyClaim(candidate: SignatureCandidate): BundleClaim {
  if (!isLegacySignature(candidate.layer)) {
    throw new Error(
      `layer media type ${JSON.stringify(candidate.layer.mediaType)} is not ${MediaTypeCosignSimpleSigning}`,
    );
  }
  const payload = Buffer.from(candidate.content);
  checkPayload(payload, candidate.subject.digest);
  const annotations = candidate.layer.annotations ?? {};
  const signature = annotations[AnnotationCosignSignature];
  if (signature === undefined || signature === '') {
    throw new Error(`legacy signature layer has no ${AnnotationCosignSignature} annotation`);
  }
  checkBase64(signature, AnnotationCosignSignature);
  const certificates = readCertificates(annotations);
  const rekor = annotations[AnnotationCosignBundle];
  const timestamp = annotations[AnnotationCosignRFC3161Timestamp];
  const json = {
    mediaType: legacyBundleMediaType,
    verificationMaterial: {
      ...(certificates.length > 0
        ? { x509CertificateChain: { certificates: certificates.map((der) => ({ rawBytes: der.toString('base64') })) } }
        : { publicKey: { hint: '' } }),
      tlogEntries: rekor === undefined || rekor === '' ? [] : [readRekorBundle(rekor)],
      timestampVerificationData: {
        rfc3161Timestamps: timestamp === undefined || timestamp === '' ? [] : [readTimestamp(timestamp)],
      },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
      signature,
    },
  };
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (e) {
    throw new Error(`legacy signature annotations do not make a valid bundle: ${(e as Error).message}`, { cause: e });
  }
  checkBundle(bundle);
  return { kind: 'message-signature', bundle, artifact: payload };
}

interface SimpleSigningPayload {
  critical?: { type?: unknown; image?: { 'docker-manifest-digest'?: unknown } | null } | null;
}

function checkPayload(payload: Buffer, subjectDigest: string): void {
  const parsed = parseJSON(payload, 'simple-signing payload') as SimpleSigningPayload | null;
  const critical = typeof parsed === 'object' && parsed !== null ? parsed.critical : undefined;
  const type = critical?.type;
  if (type !== SimpleSigningTypeCosign) {
    throw new Error(
      `simple-signing payload type ${JSON.stringify(type)} is not ${JSON.stringify(SimpleSigningTypeCosign)}`,
    );
  }
  const digest = critical?.image?.['docker-manifest-digest'];
  if (digest !== subjectDigest) {
    throw new Error(`simple-signing payload is about ${JSON.stringify(digest)}, not the subject ${subjectDigest}`);
  }
}

/**
 * The DER certificates of the certificate annotation then the chain annotation without its root; none when there is
 * no certificate. cosign writes the whole chain Fulcio returned, root included, in `…/chain`: unlike a bundle, this
 * format always carries the root, so it is left out here (the trusted root alone says which roots are trusted) rather
 * than refused.
 */
function readCertificates(annotations: Record<string, string>): Buffer[] {
  const leaf = annotations[AnnotationCosignCertificate];
  if (leaf === undefined || leaf.trim() === '') return [];
  const leaves = pemCertificates(leaf);
  if (leaves.length !== 1) {
    throw new Error(`${AnnotationCosignCertificate} holds ${leaves.length} PEM certificates, not 1`);
  }
  const chain = pemCertificates(annotations[AnnotationCosignChain] ?? '').filter((der) => !isRoot(der));
  return [...leaves, ...chain];
}

function isRoot(der: Buffer): boolean {
  try {
    return isSelfIssued(X509Certificate.parse(Buffer.from(der)));
  } catch {
    return false; // kept, and refused as not a certificate by checkBundle
  }
}

const pemCertificatePattern = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END CERTIFICATE-----/g;

function pemCertificates(text: string): Buffer[] {
  return [...text.matchAll(pemCertificatePattern)].map((m) => Buffer.from((m[1] ?? '').replace(/\s/g, ''), 'base64'));
}

/** cosign's Rekor bundle: the SET and the payload it signs (interop.md; Rekor's `VerificationPayload`). */
interface RekorBundle {
  SignedEntryTimestamp?: unknown;
  Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown } | null;
}

/** The Rekor bundle annotation as a bundle's tlog entry (JSON form), its SET as the inclusion promise. */
function readRekorBundle(text: string): unknown {
  const where = AnnotationCosignBundle;
  const rekor = parseJSON(Buffer.from(text, 'utf8'), where) as RekorBundle | null;
  const set = rekor?.SignedEntryTimestamp;
  const payload = rekor?.Payload;
  if (typeof set !== 'string' || set === '' || typeof payload !== 'object' || payload === null) {
    throw new Error(`${where} has no SignedEntryTimestamp and Payload`);
  }
  checkBase64(set, `${where} SignedEntryTimestamp`);
  const { body, integratedTime, logIndex, logID } = payload;
  if (typeof body !== 'string' || body === '') throw new Error(`${where} Payload.body is not a string`);
  checkBase64(body, `${where} Payload.body`);
  for (const [name, value] of [
    ['integratedTime', integratedTime],
    ['logIndex', logIndex],
  ] as const) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new Error(`${where} Payload.${name} ${JSON.stringify(value)} is not a count`);
    }
  }
  if (typeof logID !== 'string' || !/^[0-9a-f]{64}$/.test(logID)) {
    throw new Error(`${where} Payload.logID ${JSON.stringify(logID)} is not a hex SHA-256`);
  }
  const entry = parseJSON(Buffer.from(body, 'base64'), `${where} Payload.body`) as {
    kind?: unknown;
    apiVersion?: unknown;
  } | null;
  if (typeof entry?.kind !== 'string' || typeof entry.apiVersion !== 'string') {
    throw new Error(`${where} Payload.body has no kind and apiVersion`);
  }
  return {
    logIndex: String(logIndex),
    logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
    kindVersion: { kind: entry.kind, version: entry.apiVersion },
    integratedTime: String(integratedTime),
    inclusionPromise: { signedEntryTimestamp: set },
    canonicalizedBody: body,
  };
}

function readTimestamp(text: string): { signedTimestamp: string } {
  const where = AnnotationCosignRFC3161Timestamp;
  const parsed = parseJSON(Buffer.from(text, 'utf8'), where) as { SignedRFC3161Timestamp?: unknown } | null;
  const signed = parsed?.SignedRFC3161Timestamp;
  if (typeof signed !== 'string' || signed === '') throw new Error(`${where} has no SignedRFC3161Timestamp`);
  checkBase64(signed, `${where} SignedRFC3161Timestamp`);
  return { signedTimestamp: signed };
}

function parseJSON(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error(`${what} is not UTF-8 JSON`, { cause: e });
  }
}

/** Standard padded base64, as cosign writes it: anything else would decode leniently into other bytes. */
function checkBase64(text: string, what: string): void {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error(`${what} is not base64`);
}
