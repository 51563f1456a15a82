/**
 * What a bundle claims, before and after its signature is checked: which content it holds, the statement a DSSE
 * envelope carries, and whether it is about the subject and of the predicate type a policy asks for.
 */
import { createHash } from 'node:crypto';
import type { SignatureCandidate } from '@lading/core';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { PayloadTypeInToto, PredicateTypeCosignSign } from './media-types.js';
import { parseStatement, statementHasSubject, type Statement } from './statement.js';

/** A bundle and what it signs: a statement (DSSE) or the subject manifest's bytes (message signature). */
export type BundleClaim =
  | { kind: 'dsse'; bundle: Bundle; statement: Statement; statementJSON: Record<string, unknown> }
  | { kind: 'message-signature'; bundle: Bundle; artifact: Buffer };

/**
 * Parses the layer bytes as a Sigstore bundle (any version `@sigstore/bundle` validates) and reads its claim:
 * a DSSE envelope must carry an in-toto statement (`application/vnd.in-toto+json`); a message signature is taken as
 * a signature over `candidate.subjectBytes` (blobber's format), whose SHA-256 must then be the bundle's message
 * digest. Throws a plain `Error` with the reason (the verifier adds the referrer).
 */
export function readBundleClaim(candidate: SignatureCandidate): BundleClaim {
  const bundle = parseBundle(candidate.content);
  checkBundle(bundle);
  const content = bundle.content;
  if (content.$case === 'dsseEnvelope') {
    const envelope = content.dsseEnvelope;
    if (envelope.payloadType !== PayloadTypeInToto) {
      throw new Error(`DSSE payload type ${JSON.stringify(envelope.payloadType)} is not ${PayloadTypeInToto}`);
    }
    const statement = parseStatement(envelope.payload);
    // The statement as signed, every field kept (parseStatement keeps only what lading checks): what `--json` and
    // `--output-predicate` show once the signature verified.
    const statementJSON = JSON.parse(new TextDecoder().decode(envelope.payload)) as Record<string, unknown>;
    return { kind: 'dsse', bundle, statement, statementJSON };
  }
  const artifact = Buffer.from(candidate.subjectBytes);
  const { messageDigest } = content.messageSignature;
  // sigstore-js checks the signature over the artifact but never compares the digest the bundle states; a bundle
  // whose stated digest is another artifact's is inconsistent, so it is refused rather than half-trusted.
  if (messageDigest.algorithm === HashAlgorithm.SHA2_256) {
    const actual = createHash('sha256').update(artifact).digest();
    if (!actual.equals(messageDigest.digest)) {
      throw new Error('message-signature digest is not the digest of the subject manifest');
    }
  }
  return { kind: 'message-signature', bundle, artifact };
}

/**
 * Checks, after the signature verified, that the claim is about `subjectDigest` and of `predicateType`; returns the
 * predicate type it states. A message signature states {@link PredicateTypeCosignSign} (a plain signature) and is
 * about the bytes it signed. Throws a plain `Error` with the reason.
 */
export function checkClaim(claim: BundleClaim, subjectDigest: string, predicateType: string): string {
  const stated = claim.kind === 'dsse' ? claim.statement.predicateType : PredicateTypeCosignSign;
  if (claim.kind === 'dsse' && !statementHasSubject(claim.statement, subjectDigest)) {
    const digests = claim.statement.subject.map((s) => JSON.stringify(s.digest)).join(', ');
    throw new Error(`statement subjects ${digests} do not include ${subjectDigest}`);
  }
  if (stated !== predicateType) {
    throw new Error(`predicate type ${JSON.stringify(stated)} is not the required ${JSON.stringify(predicateType)}`);
  }
  return stated;
}

/**
 * The checks lading makes on a bundle before `@sigstore/verify` sees it, where that library is lenient or trips
 * (protobuf-specs' sigstore_bundle.proto and sigstore_rekor.proto say what is allowed). Throws a plain `Error` with
 * the reason:
 *
 * - A log entry's inclusion proof must carry a checkpoint (the signed tree head it proves inclusion in). `@sigstore/
 *   bundle` requires one from v0.2 on, but a v0.1 bundle (where the inclusion promise is what is required) with a
 *   proof and no checkpoint went on and crashed inside the verifier.
 * - Certificates must parse, and none may be a root, i.e. self-issued ("Signers MUST NOT include root CA certificates
 *   in bundles"): trust comes from the trusted root alone, and a bundle that carries a root is malformed or an
 *   attempt to pass one off. The first certificate must be a leaf, not a CA.
 */
export function checkBundle(bundle: Bundle): void {
  bundle.verificationMaterial.tlogEntries.forEach((entry, i) => {
    const proof = entry.inclusionProof;
    if (proof !== undefined && (proof.checkpoint === undefined || proof.checkpoint.envelope === '')) {
      throw new Error(
        `tlogEntries[${i}] (log index ${entry.logIndex}) has an inclusion proof without a checkpoint, so the proof proves nothing`,
      );
    }
  });
  const content = bundle.verificationMaterial.content;
  const certificates =
    content.$case === 'x509CertificateChain'
      ? content.x509CertificateChain.certificates
      : content.$case === 'certificate'
        ? [content.certificate]
        : [];
  certificates.forEach((raw, i) => {
    const where = content.$case === 'certificate' ? 'the certificate' : `certificate chain [${i}]`;
    let certificate: X509Certificate;
    try {
      certificate = X509Certificate.parse(Buffer.from(raw.rawBytes));
    } catch (e) {
      throw new Error(`${where} is not an X.509 certificate: ${(e as Error).message}`, { cause: e });
    }
    if (isSelfIssued(certificate)) {
      throw new Error(
        `${where} is a root certificate (self-issued); a bundle must not carry its root: the trusted root alone says which roots are trusted`,
      );
    }
    if (i === 0 && certificate.isCA) throw new Error(`${where} is a CA certificate, not the signing leaf`);
  });
}

/** True when the certificate's issuer is its own subject: a root (or a self-signed leaf, which no CA issued). */
export function isSelfIssued(certificate: X509Certificate): boolean {
  return certificate.subject.equals(certificate.issuer);
}

function parseBundle(content: Uint8Array): Bundle {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(content));
  } catch (e) {
    throw new Error('bundle is not UTF-8 JSON', { cause: e });
  }
  try {
    return bundleFromJSON(json);
  } catch (e) {
    throw new Error(`not a valid Sigstore bundle: ${(e as Error).message}`, { cause: e });
  }
}
