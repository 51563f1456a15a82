/**
 * What a bundle claims, before and after its signature is checked: which content it holds, the statement a DSSE
 * envelope carries, and whether it is about the subject and of the predicate type a policy asks for.
 */
import { createHash } from 'node:crypto';
import type { SignatureCandidate } from '@lading/core';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { PayloadTypeInToto, PredicateTypeCosignSign } from './media-types.js';
import { parseStatement, statementHasSubject, type Statement } from './statement.js';

/** A bundle and what it signs: a statement (DSSE) or the subject manifest's bytes (message signature). */
export type BundleClaim =
  | { kind: 'dsse'; bundle: Bundle; statement: Statement }
  | { kind: 'message-signature'; bundle: Bundle; artifact: Buffer };

/**
 * Parses the layer bytes as a Sigstore bundle (any version `@sigstore/bundle` validates) and reads its claim:
 * a DSSE envelope must carry an in-toto statement (`application/vnd.in-toto+json`); a message signature is taken as
 * a signature over `candidate.subjectBytes` (blobber's format), whose SHA-256 must then be the bundle's message
 * digest. Throws a plain `Error` with the reason (the verifier adds the referrer).
 */
export function readBundleClaim(candidate: SignatureCandidate): BundleClaim {
  const bundle = parseBundle(candidate.content);
  const content = bundle.content;
  if (content.$case === 'dsseEnvelope') {
    const envelope = content.dsseEnvelope;
    if (envelope.payloadType !== PayloadTypeInToto) {
      throw new Error(`DSSE payload type ${JSON.stringify(envelope.payloadType)} is not ${PayloadTypeInToto}`);
    }
    return { kind: 'dsse', bundle, statement: parseStatement(envelope.payload) };
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
