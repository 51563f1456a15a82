import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  descriptorFor,
  isLadingError,
  packManifest,
  type Descriptor,
  type SignatureCandidate,
  type SignedReferrer,
} from '@lading/core';
import { bundleToJSON } from '@sigstore/bundle';
import { MessageSignatureBundleBuilder } from '@sigstore/sign';
import { createKeySigner } from './key-signer.js';
import { publicKeyHint, publicKeyPEM, signData } from './keys.js';
import { MediaTypeSigstoreBundleV03, PredicateTypeCosignSign } from './media-types.js';
import { createSigstoreVerifier, type SigstoreVerifierPolicy } from './verifier.js';

const manifestType = 'application/vnd.oci.image.manifest.v1+json';
const slsa = 'https://slsa.dev/provenance/v1';

const emptyConfig: Descriptor = descriptorFor('application/vnd.oci.empty.v1+json', Buffer.from('{}'));

function manifest(note: string): { bytes: Buffer; descriptor: Descriptor } {
  const { bytes, descriptor } = packManifest({ config: emptyConfig, layers: [], annotations: { note } });
  return { bytes, descriptor };
}

/** The candidate the gate would offer for `signed` attached to `subject` (the manifest attachSignature writes). */
function candidate(signed: SignedReferrer, subject: { bytes: Buffer; descriptor: Descriptor }): SignatureCandidate {
  const layer = descriptorFor(signed.layerMediaType, signed.content);
  const referrer = packManifest({
    artifactType: signed.artifactType,
    config: emptyConfig,
    layers: [layer],
    subject: subject.descriptor,
    annotations: signed.annotations,
  });
  return {
    subject: subject.descriptor,
    subjectBytes: subject.bytes,
    referrer: { ...referrer.descriptor, artifactType: signed.artifactType },
    manifest: referrer.bytes,
    layer,
    content: signed.content,
  };
}

function withContent(c: SignatureCandidate, content: Uint8Array): SignatureCandidate {
  return { ...c, content, layer: descriptorFor(c.layer.mediaType, content) };
}

async function refusal(policy: SigstoreVerifierPolicy, c: SignatureCandidate): Promise<Error> {
  const error = await createSigstoreVerifier(policy)
    .verify(c)
    .then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
  expect(isLadingError(error, 'ERR_LADING_VERIFICATION'), error.message).toBe(true);
  expect(error.message.startsWith(`verify ${c.referrer.digest}: `)).toBe(true);
  return error;
}

const app = manifest('app');
const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const p256PEM = p256.export({ format: 'pem', type: 'pkcs8' }).toString();
const keys = [publicKeyPEM(p256)];

describe('key-based signatures, end to end without services', () => {
  it('writes a cosign 3 referrer and bundle, and the verifier accepts it', async () => {
    const now = new Date('2026-03-04T05:06:07.890Z');
    const signer = await createKeySigner({ key: p256PEM, clock: () => now });
    const signed = await signer.sign({ subject: app.descriptor });
    expect(signed.artifactType).toBe(MediaTypeSigstoreBundleV03);
    expect(signed.layerMediaType).toBe(MediaTypeSigstoreBundleV03);
    expect(signed.annotations).toEqual({
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': PredicateTypeCosignSign,
      'org.opencontainers.image.created': '2026-03-04T05:06:07Z',
    });
    const bundle = JSON.parse(Buffer.from(signed.content).toString()) as BundleJSON;
    expect(bundle.mediaType).toBe(MediaTypeSigstoreBundleV03);
    expect(bundle.verificationMaterial).toEqual({ publicKey: { hint: publicKeyHint(p256) } });
    expect(bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json');
    expect(bundle.dsseEnvelope.signatures).toHaveLength(1);
    expect(bundle.dsseEnvelope.signatures[0]?.keyid ?? '').toBe('');
    expect(JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString())).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: app.descriptor.digest.slice(7) } }],
      predicateType: PredicateTypeCosignSign,
      predicate: {},
    });

    const c = candidate(signed, app);
    const verified = await createSigstoreVerifier({ keys }).verify(c);
    expect(verified).toEqual({
      verifier: 'sigstore',
      predicateType: PredicateTypeCosignSign,
      keyHint: publicKeyHint(p256),
      referrer: c.referrer.digest,
      statement: {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ digest: { sha256: app.descriptor.digest.slice(7) } }],
        predicateType: PredicateTypeCosignSign,
        predicate: {},
      },
    });
  });

  it('accepts with any one of several keys, whatever the bundle hint says', async () => {
    const other = publicKeyPEM(generateKeyPairSync('ed25519').privateKey);
    const signed = await (await createKeySigner({ key: p256PEM })).sign({ subject: app.descriptor });
    const c = candidate(signed, app);
    expect((await createSigstoreVerifier({ keys: [other, ...keys] }).verify(c)).keyHint).toBe(publicKeyHint(p256));
    const noHint = JSON.parse(Buffer.from(signed.content).toString()) as BundleJSON;
    noHint.verificationMaterial.publicKey = { hint: '' };
    const unhinted = withContent(c, Buffer.from(JSON.stringify(noHint)));
    expect((await createSigstoreVerifier({ keys: [other, ...keys] }).verify(unhinted)).keyHint).toBe(
      publicKeyHint(p256),
    );
  });

  it('accepts an attestation when its predicate type is the required one', async () => {
    const signed = await (
      await createKeySigner({ key: p256PEM })
    ).sign({
      subject: app.descriptor,
      predicateType: slsa,
      predicate: { buildDefinition: {} },
    });
    expect(signed.annotations['dev.sigstore.bundle.predicateType']).toBe(slsa);
    const verified = await createSigstoreVerifier({ keys, predicateType: slsa }).verify(candidate(signed, app));
    expect(verified.predicateType).toBe(slsa);
    // The statement as signed, predicate included, for readers of the attestation.
    expect(verified.statement).toMatchObject({ predicateType: slsa, predicate: { buildDefinition: {} } });
  });

  it('accepts a message-signature bundle over the manifest bytes (blobber) as a plain signature', async () => {
    const c = candidate(await messageSignature(p256, app.bytes), app);
    const verified = await createSigstoreVerifier({ keys }).verify(c);
    expect(verified.predicateType).toBe(PredicateTypeCosignSign);
    expect(verified).not.toHaveProperty('statement');
    const wrongType = await refusal({ keys, predicateType: slsa }, c);
    expect(wrongType.message).toMatch(
      /predicate type "https:\/\/sigstore.dev\/cosign\/sign\/v1" is not the required "https:\/\/slsa.dev\/provenance\/v1"/,
    );
    const other = manifest('other');
    const misplaced = { ...c, subject: other.descriptor, subjectBytes: other.bytes };
    expect((await refusal({ keys }, misplaced)).message).toMatch(
      /message-signature digest is not the digest of the subject manifest/,
    );
  });
});

describe('refusals (ERR_LADING_VERIFICATION, "verify <referrer>: <why>")', () => {
  it('a key the policy does not trust', async () => {
    const signed = await (await createKeySigner({ key: p256PEM })).sign({ subject: app.descriptor });
    const stranger = publicKeyPEM(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    const error = await refusal({ keys: [stranger] }, candidate(signed, app));
    expect(error.message).toMatch(/the signature verifies with none of the 1 trusted keys/);
  });

  it('a tampered signature (one byte flipped)', async () => {
    const signed = await (await createKeySigner({ key: p256PEM })).sign({ subject: app.descriptor });
    const bundle = JSON.parse(Buffer.from(signed.content).toString()) as BundleJSON;
    const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? '', 'base64');
    sig[sig.length - 1] = (sig[sig.length - 1] ?? 0) ^ 0x01;
    bundle.dsseEnvelope.signatures = [{ sig: sig.toString('base64') }];
    const error = await refusal({ keys }, withContent(candidate(signed, app), Buffer.from(JSON.stringify(bundle))));
    expect(error.message).toMatch(/verifies with none of the 1 trusted keys/);
  });

  it('a tampered payload (another subject, same signature)', async () => {
    const signed = await (await createKeySigner({ key: p256PEM })).sign({ subject: app.descriptor });
    const bundle = JSON.parse(Buffer.from(signed.content).toString()) as BundleJSON;
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as object;
    const forged = { ...statement, subject: [{ digest: { sha256: manifest('other').descriptor.digest.slice(7) } }] };
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(forged)).toString('base64');
    const error = await refusal({ keys }, withContent(candidate(signed, app), Buffer.from(JSON.stringify(bundle))));
    expect(error.message).toMatch(/verifies with none/);
  });

  it('a valid signature about another manifest', async () => {
    const other = manifest('other');
    const signed = await (await createKeySigner({ key: p256PEM })).sign({ subject: other.descriptor });
    const error = await refusal({ keys }, candidate(signed, app));
    expect(error.message).toContain(`do not include ${app.descriptor.digest}`);
  });

  it('an SLSA attestation where a signature is required', async () => {
    const signed = await (
      await createKeySigner({ key: p256PEM })
    ).sign({ subject: app.descriptor, predicateType: slsa });
    const error = await refusal({ keys }, candidate(signed, app));
    expect(error.message).toMatch(
      /predicate type "https:\/\/slsa.dev\/provenance\/v1" is not the required "https:\/\/sigstore.dev\/cosign\/sign\/v1"/,
    );
  });

  it('no log entry when the policy wants one', async () => {
    const signed = await (await createKeySigner({ key: p256PEM })).sign({ subject: app.descriptor });
    const error = await refusal({ keys, thresholds: { tlog: 1 } }, candidate(signed, app));
    expect(error.message).toMatch(/expected 1 tlog entries, got 0/);
  });

  it('a layer that is not a Sigstore bundle', async () => {
    const signed = await (await createKeySigner({ key: p256PEM })).sign({ subject: app.descriptor });
    const c = candidate(
      { ...signed, artifactType: 'application/vnd.cncf.notary.signature', layerMediaType: 'application/jose+json' },
      app,
    );
    expect(createSigstoreVerifier({ keys }).accepts(c)).toBe(false);
    expect((await refusal({ keys }, c)).message).toMatch(/unsupported media type "application\/jose\+json"/);
  });

  it('content that is not a bundle, and a DSSE payload that is not in-toto', async () => {
    const signed = await (await createKeySigner({ key: p256PEM })).sign({ subject: app.descriptor });
    const c = candidate(signed, app);
    expect((await refusal({ keys }, withContent(c, Buffer.from('{"mediaType":1}')))).message).toMatch(
      /not a valid Sigstore bundle/,
    );
    expect((await refusal({ keys }, withContent(c, Buffer.from([0xff])))).message).toMatch(/not UTF-8 JSON/);
    const bundle = JSON.parse(Buffer.from(signed.content).toString()) as BundleJSON;
    bundle.dsseEnvelope.payloadType = 'text/plain';
    expect((await refusal({ keys }, withContent(c, Buffer.from(JSON.stringify(bundle))))).message).toMatch(
      /DSSE payload type "text\/plain" is not/,
    );
  });
});

describe('policy', () => {
  it('accepts the bundle media types of every version, by layer or artifactType', () => {
    const verifier = createSigstoreVerifier({ keys });
    const layer = (mediaType: string) => ({ mediaType, digest: 'sha256:x', size: 1 });
    for (const type of [
      MediaTypeSigstoreBundleV03,
      'application/vnd.dev.sigstore.bundle+json;version=0.1',
      'application/vnd.dev.sigstore.bundle+json;version=0.2',
      'application/vnd.dev.sigstore.bundle+json; version=0.3',
    ]) {
      expect(verifier.accepts({ referrer: layer(manifestType), layer: layer(type) })).toBe(true);
    }
    expect(
      verifier.accepts({
        referrer: { ...layer(manifestType), artifactType: MediaTypeSigstoreBundleV03 },
        layer: layer('application/octet-stream'),
      }),
    ).toBe(true);
    // Legacy cosign signatures (read by legacy.ts) are accepted; notation's JWS is not a kind this verifier reads.
    expect(
      verifier.accepts({
        referrer: layer(manifestType),
        layer: layer('application/vnd.dev.cosign.simplesigning.v1+json'),
      }),
    ).toBe(true);
    expect(
      verifier.accepts({
        referrer: layer('application/vnd.cncf.notary.signature'),
        layer: layer('application/jose+json'),
      }),
    ).toBe(false);
  });

  it.each<[SigstoreVerifierPolicy, RegExp]>([
    [{}, /name trusted identities or keys/],
    [{ identities: [{ subject: 'a', issuer: 'b' }] }, /keyless identities need a trustedRoot or tuf/],
    [{ keys, trustedRoot: 'x.json', tuf: true }, /give trustedRoot or tuf, not both/],
    [{ unsafeAnyIdentity: true, identities: [{ subject: 'a', issuer: 'b' }], tuf: true }, /contradict/],
    [{ keys, thresholds: { tlog: -1 } }, /thresholds.tlog: -1 is not a count/],
    [{ keys, predicateType: '' }, /predicateType is empty/],
    [
      { identities: [{ subject: 'a', issuer: 'b', extensions: { sourceRepositoryURI: '' } }], tuf: true },
      /identities\[0\]\.extensions\.sourceRepositoryURI: empty/,
    ],
    [{ keys, thresholds: { ctlog: 1.5 } }, /thresholds.ctlog: 1.5 is not a count/],
    [{ keys: ['nope'] }, /load public key/],
    [
      { keys: [publicKeyPEM(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)] },
      /policy keys\[0\]: RSA key of 1024 bits/,
    ],
  ])('refuses %j with ERR_LADING_USAGE', (policy, message) => {
    let error: unknown;
    try {
      createSigstoreVerifier(policy);
    } catch (e) {
      error = e;
    }
    expect(isLadingError(error, 'ERR_LADING_USAGE')).toBe(true);
    expect((error as Error).message).toMatch(message);
  });
});

/** A message-signature bundle signed by `key` over `data`, as sigstore-js (and blobber) build them. */
async function messageSignature(key: KeyObject, data: Buffer): Promise<SignedReferrer> {
  const bundle = await new MessageSignatureBundleBuilder({
    signer: {
      sign: (bytes: Buffer) =>
        Promise.resolve({
          signature: signData(key, bytes),
          key: { $case: 'publicKey', publicKey: publicKeyPEM(key), hint: publicKeyHint(key) } as const,
        }),
    },
    witnesses: [],
  }).create({ data });
  return {
    artifactType: bundle.mediaType,
    layerMediaType: bundle.mediaType,
    content: Buffer.from(JSON.stringify(bundleToJSON(bundle))),
    annotations: { 'dev.sigstore.bundle.content': 'message-signature' },
  };
}

interface BundleJSON {
  mediaType: string;
  verificationMaterial: { publicKey?: { hint: string } };
  dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string; keyid?: string }[] };
}
