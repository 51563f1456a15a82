// Legacy cosign signatures built here the way cosign 3.1.1 writes them (simple-signing payload, signature and Rekor
// bundle annotations; see test/src/sigstore/legacy-interop.test.ts for cosign itself), verified without services.
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  descriptorFor,
  isLadingError,
  MediaTypeCosignSimpleSigning,
  type Descriptor,
  type SignatureCandidate,
} from '@lading/core';
import { publicKeyHint, publicKeyPEM } from './keys.js';
import { isLegacySignature, readLegacyClaim } from './legacy.js';
import {
  AnnotationCosignBundle,
  AnnotationCosignSignature,
  MediaTypeTrustedRoot,
  PredicateTypeCosignSign,
} from './media-types.js';
import { parseTrustedRoot } from './trusted-root.js';
import { createSigstoreVerifier, type SigstoreVerifierPolicy } from './verifier.js';

const manifestType = 'application/vnd.oci.image.manifest.v1+json';

function manifest(note: string): { bytes: Buffer; descriptor: Descriptor } {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: manifestType, layers: [], note }));
  return { bytes, descriptor: descriptorFor(manifestType, bytes) };
}

/** cosign's payload for `digest`, byte for byte as cosign 3.1.1 writes it. */
function payloadFor(digest: string, type = 'cosign container image signature'): Buffer {
  return Buffer.from(
    `{"critical":{"identity":{"docker-reference":"registry.test/app"},"image":{"docker-manifest-digest":"${digest}"},"type":"${type}"},"optional":null}`,
  );
}

/**
 * The candidate the gate offers for layer `payload` with `annotations` of a `sha256-<hex>.sig` manifest about
 * `subject`: the manifest has no subject, the referrer descriptor gets the simple-signing artifactType.
 */
function legacyCandidate(
  subject: { bytes: Buffer; descriptor: Descriptor },
  payload: Buffer,
  annotations: Record<string, string>,
): SignatureCandidate {
  const layer: Descriptor = { ...descriptorFor(MediaTypeCosignSimpleSigning, payload), annotations };
  const sigManifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: layer.digest, size: 2 },
      layers: [layer],
    }),
  );
  return {
    subject: subject.descriptor,
    subjectBytes: subject.bytes,
    referrer: { ...descriptorFor(manifestType, sigManifest), artifactType: MediaTypeCosignSimpleSigning },
    manifest: sigManifest,
    layer,
    content: payload,
  };
}

function signPayload(key: KeyObject, payload: Buffer): string {
  return sign('sha256', payload, key).toString('base64');
}

async function refusal(policy: SigstoreVerifierPolicy, c: SignatureCandidate): Promise<string> {
  const error = await createSigstoreVerifier(policy)
    .verify(c)
    .then(
      (accepted) => new Error(`accepted: ${JSON.stringify(accepted)}`),
      (e: unknown) => e as Error,
    );
  expect(isLadingError(error, 'ERR_LADING_VERIFICATION'), error.message).toBe(true);
  const prefix = `verify ${c.referrer.digest}: `;
  expect(error.message.startsWith(prefix), error.message).toBe(true);
  return error.message.slice(prefix.length);
}

const app = manifest('app');
const other = manifest('other');
const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const keys = [publicKeyPEM(key)];
const payload = payloadFor(app.descriptor.digest);
const signed = legacyCandidate(app, payload, { [AnnotationCosignSignature]: signPayload(key, payload) });

describe('isLegacySignature', () => {
  it('is the simple-signing layer media type, in any case', () => {
    expect(isLegacySignature({ mediaType: MediaTypeCosignSimpleSigning })).toBe(true);
    expect(isLegacySignature({ mediaType: MediaTypeCosignSimpleSigning.toUpperCase() })).toBe(true);
    expect(isLegacySignature({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' })).toBe(false);
  });

  it('makes the verifier accept the candidate for verification', () => {
    expect(createSigstoreVerifier({ keys }).accepts(signed)).toBe(true);
  });
});

describe('key-based legacy signatures', () => {
  it('verify with the key, as a plain signature (cosign sign/v1), by the .sig manifest', async () => {
    expect(await createSigstoreVerifier({ keys }).verify(signed)).toEqual({
      verifier: 'sigstore',
      predicateType: PredicateTypeCosignSign,
      keyHint: publicKeyHint(key),
      referrer: signed.referrer.digest,
    });
  });

  it('read as a message signature over the payload, with no key hint', () => {
    const claim = readLegacyClaim(signed);
    expect(claim.kind).toBe('message-signature');
    expect(claim.kind === 'message-signature' && claim.artifact.equals(payload)).toBe(true);
    expect(claim.bundle.verificationMaterial.content).toEqual({ $case: 'publicKey', publicKey: { hint: '' } });
    expect(claim.bundle.verificationMaterial.tlogEntries).toEqual([]);
  });

  it('a payload about another manifest is refused (a .sig copied from another artifact)', async () => {
    const copied = { ...signed, subject: other.descriptor, subjectBytes: other.bytes };
    expect(await refusal({ keys }, copied)).toBe(
      `simple-signing payload is about "${app.descriptor.digest}", not the subject ${other.descriptor.digest}`,
    );
  });

  it('a payload of another type, or not JSON, is refused', async () => {
    const attestation = payloadFor(app.descriptor.digest, 'https://slsa.dev/provenance/v1');
    const typed = legacyCandidate(app, attestation, { [AnnotationCosignSignature]: signPayload(key, attestation) });
    expect(await refusal({ keys }, typed)).toBe(
      'simple-signing payload type "https://slsa.dev/provenance/v1" is not "cosign container image signature"',
    );
    const garbage = Buffer.from('not json');
    const broken = legacyCandidate(app, garbage, { [AnnotationCosignSignature]: signPayload(key, garbage) });
    expect(await refusal({ keys }, broken)).toMatch(/^simple-signing payload is not UTF-8 JSON: Unexpected token/);
  });

  it('a wrong key, a tampered or missing signature are refused', async () => {
    const stranger = publicKeyPEM(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    expect(await refusal({ keys: [stranger] }, signed)).toMatch(
      /^the signature verifies with none of the 1 trusted keys/,
    );
    const bytes = Buffer.from(signPayload(key, payload), 'base64');
    bytes[12] = (bytes[12] ?? 0) ^ 0x01;
    const tampered = legacyCandidate(app, payload, { [AnnotationCosignSignature]: bytes.toString('base64') });
    expect(await refusal({ keys }, tampered)).toMatch(/^the signature verifies with none of the 1 trusted keys/);
    expect(await refusal({ keys }, legacyCandidate(app, payload, {}))).toBe(
      `legacy signature layer has no ${AnnotationCosignSignature} annotation`,
    );
    const notBase64 = legacyCandidate(app, payload, { [AnnotationCosignSignature]: 'MEU*' });
    expect(await refusal({ keys }, notBase64)).toBe(`${AnnotationCosignSignature} is not base64`);
  });

  it('never counts as an attestation', async () => {
    expect(await refusal({ keys, predicateType: 'https://slsa.dev/provenance/v1' }, signed)).toBe(
      `predicate type "${PredicateTypeCosignSign}" is not the required "https://slsa.dev/provenance/v1"`,
    );
  });

  it('a keyless-only policy refuses a key signature', async () => {
    const root = trustedRootWith(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey);
    const policy = { trustedRoot: root, identities: [{ subject: 'alice@example.com', issuer: 'https://issuer.test' }] };
    expect(await refusal(policy, signed)).toBe('the bundle is signed by a key (hint "") but the policy trusts no key');
  });
});

describe('the Rekor bundle annotation (SET) as log evidence', () => {
  const log = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const root = trustedRootWith(log.publicKey);
  const signature = signPayload(key, payload);
  const rekorBundle = setFor(log.privateKey, payload, signature, key);
  const logged = legacyCandidate(app, payload, {
    [AnnotationCosignSignature]: signature,
    [AnnotationCosignBundle]: JSON.stringify(rekorBundle),
  });

  it('counts as a tlog entry and a trusted time', async () => {
    const verified = await createSigstoreVerifier({ keys, trustedRoot: root, thresholds: { tlog: 1 } }).verify(logged);
    expect(verified).toEqual({
      verifier: 'sigstore',
      predicateType: PredicateTypeCosignSign,
      keyHint: publicKeyHint(key),
      referrer: logged.referrer.digest,
      tlogIndex: '42',
      timestamp: '2026-01-02T03:04:05Z',
    });
  });

  it('a SET the trusted log did not sign is refused', async () => {
    const foreign = setFor(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, payload, signature, key);
    const forged = legacyCandidate(app, payload, {
      [AnnotationCosignSignature]: signature,
      [AnnotationCosignBundle]: JSON.stringify(foreign),
    });
    expect(await refusal({ keys, trustedRoot: root }, forged)).toBe('inclusion promise could not be verified');
    // A SET over another entry's time is refused as well: the payload it signs changed.
    const moved = { ...rekorBundle, Payload: { ...rekorBundle.Payload, integratedTime: 1767323046 } };
    const shifted = legacyCandidate(app, payload, {
      [AnnotationCosignSignature]: signature,
      [AnnotationCosignBundle]: JSON.stringify(moved),
    });
    expect(await refusal({ keys, trustedRoot: root }, shifted)).toBe('inclusion promise could not be verified');
  });

  it('a logged entry of another signature is refused', async () => {
    const otherPayload = payloadFor(other.descriptor.digest);
    const otherSignature = signPayload(key, otherPayload);
    const mismatched = legacyCandidate(app, payload, {
      [AnnotationCosignSignature]: signature,
      [AnnotationCosignBundle]: JSON.stringify(setFor(log.privateKey, otherPayload, otherSignature, key)),
    });
    expect(await refusal({ keys, trustedRoot: root }, mismatched)).toBe('signature mismatch');
  });

  it('a missing entry is refused when the policy needs one; a malformed annotation always', async () => {
    expect(await refusal({ keys, trustedRoot: root, thresholds: { tlog: 1 } }, signed)).toBe(
      'expected 1 tlog entries, got 0',
    );
    const malformed = legacyCandidate(app, payload, {
      [AnnotationCosignSignature]: signature,
      [AnnotationCosignBundle]: JSON.stringify({ ...rekorBundle, Payload: { ...rekorBundle.Payload, logID: 'xyz' } }),
    });
    expect(await refusal({ keys }, malformed)).toBe(
      `${AnnotationCosignBundle} Payload.logID "xyz" is not a hex SHA-256`,
    );
  });
});

/** A trusted root with only a transparency log, whose key is `logKey`. */
function trustedRootWith(logKey: KeyObject): ReturnType<typeof parseTrustedRoot> {
  const der = logKey.export({ format: 'der', type: 'spki' });
  return parseTrustedRoot(
    JSON.stringify({
      mediaType: MediaTypeTrustedRoot,
      tlogs: [
        {
          baseUrl: 'https://rekor.test',
          hashAlgorithm: 'SHA2_256',
          publicKey: {
            rawBytes: der.toString('base64'),
            keyDetails: 'PKIX_ECDSA_P256_SHA_256',
            validFor: { start: '2020-01-01T00:00:00Z' },
          },
          logId: { keyId: createHash('sha256').update(der).digest('base64') },
        },
      ],
      certificateAuthorities: [],
      ctlogs: [],
      timestampAuthorities: [],
    }),
  );
}

/**
 * cosign's Rekor bundle annotation for a hashedrekord v0.0.1 entry of `signature` over `payload` by `signer`, with
 * the SET signed by `logKey` over the canonical JSON of the payload, as Rekor does (keys in code-point order).
 */
function setFor(logKey: KeyObject, payload: Buffer, signature: string, signer: KeyObject) {
  const body = Buffer.from(
    JSON.stringify({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
        signature: { content: signature, publicKey: { content: Buffer.from(publicKeyPEM(signer)).toString('base64') } },
      },
    }),
  ).toString('base64');
  const logID = createHash('sha256')
    .update(createPublicKey(logKey).export({ format: 'der', type: 'spki' }))
    .digest('hex');
  const entry = { body, integratedTime: 1767323045, logID, logIndex: 42 };
  const canonical = `{"body":"${body}","integratedTime":${entry.integratedTime},"logID":"${logID}","logIndex":${entry.logIndex}}`;
  return { SignedEntryTimestamp: sign('sha256', Buffer.from(canonical), logKey).toString('base64'), Payload: entry };
}
