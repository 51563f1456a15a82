// Keyless interop between @lading/sigstore and cosign 3.1.1 against the offline Sigstore harness (Fulcio with CT
// log, Rekor v1, TSA), plus the verifier's refusals that need certificates.
//
// cosign accepts lading's keyless bundles with:
//   cosign verify-blob-attestation --bundle sig.sigstore.json --trusted-root trusted_root.json \
//     --certificate-identity alice@example.com --certificate-oidc-issuer https://oidc.lading.test \
//     --type https://sigstore.dev/cosign/sign/v1 manifest.json
// and produces bundles lading accepts with:
//   cosign attest-blob --yes --signing-config signing_config.json --trusted-root trusted_root.json \
//     --identity-token <jwt> --type <predicate type> --predicate predicate.json --bundle out.sigstore.json manifest.json
//   cosign sign-blob --yes --signing-config signing_config.json --trusted-root trusted_root.json \
//     --identity-token <jwt> --bundle out.sigstore.json manifest.json      (message signature over the manifest)
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from '@sigstore/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { SignatureCandidate, SignedReferrer } from '@lading/core';
import {
  createKeylessSigner,
  createKeySigner,
  createSigstoreVerifier,
  generateKeyPair,
  PredicateTypeCosignSign,
  type SigstoreVerifierPolicy,
} from '@lading/sigstore';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import {
  candidateFor,
  cosign,
  cosignIdentityFlags,
  cosignKeylessFlags,
  expectOK,
  expectRefused,
  keylessSignatureOf,
  makeSubject,
  referrerFromBundleFile,
  withContent,
  workFolder,
  type SignedSubject,
} from './fixtures.js';

const alice = 'alice@example.com';
const slsa = 'https://slsa.dev/provenance/v1';

let harness: SigstoreHarness;
let dir: string;
let cleanup: () => Promise<void>;
let subject: SignedSubject;
/** One lading keyless signature (Fulcio + Rekor + TSA, from the harness signing config), signed by alice. */
let signed: SignedReferrer;

beforeAll(async () => {
  harness = await startSigstoreHarness();
  ({ dir, cleanup } = await workFolder('sigstore-keyless'));
  subject = await makeSubject(dir, 'manifest');
  await writeFile(path.join(dir, 'empty-predicate.json'), '{}');
  await writeFile(path.join(dir, 'slsa-predicate.json'), JSON.stringify({ buildDefinition: { buildType: 'x' } }));
  const signer = await createKeylessSigner({
    identityToken: token(),
    signingConfig: harness.signingConfigPath,
  });
  signed = await signer.sign({ subject: subject.descriptor });
});

afterAll(async () => {
  await harness.close();
  await cleanup();
});

function token(email = alice): string {
  return harness.identityToken({ subject: 'account-1', email });
}

function policy(extra: Partial<SigstoreVerifierPolicy> = {}): SigstoreVerifierPolicy {
  return {
    trustedRoot: harness.trustedRootPath,
    identities: [{ subject: alice, issuer: harness.oidcIssuer }],
    ...extra,
  };
}

function bundleJSON(referrer: SignedReferrer): BundleJSON {
  return JSON.parse(Buffer.from(referrer.content).toString()) as BundleJSON;
}

describe('lading signs keyless, lading and cosign verify', () => {
  test('the bundle has a leaf certificate, a Rekor entry and a TSA timestamp, and verifies', async () => {
    const bundle = bundleJSON(signed);
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundle.verificationMaterial.certificate?.rawBytes).toBeTruthy();
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);
    expect(harness.requests.map((r) => `${r.service} ${r.status}`)).toEqual(
      expect.arrayContaining(['fulcio 200', 'rekor 201', 'tsa 201']),
    );

    const candidate = candidateFor(signed, subject);
    const verified = await createSigstoreVerifier(policy()).verify(candidate);
    expect(verified).toMatchObject(keylessSignatureOf(harness, candidate, alice));
    expect(verified.tlogIndex).toMatch(/^\d+$/);
    expect(verified.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The trusted root as an object works the same as the file.
    expect(
      (await createSigstoreVerifier(policy({ trustedRoot: harness.trustedRoot })).verify(candidate)).identity,
    ).toBe(alice);

    const file = path.join(dir, 'lading-keyless.sigstore.json');
    await writeFile(file, signed.content);
    const ok = await cosign(harness, dir, [
      'verify-blob-attestation',
      ...cosignIdentity(file, alice),
      '--type',
      PredicateTypeCosignSign,
      subject.file,
    ]);
    expectOK(ok);
    expect(ok.stderr).toContain('Verified OK');
    const wrong = await cosign(harness, dir, [
      'verify-blob-attestation',
      ...cosignIdentity(file, 'mallory@example.com'),
      '--type',
      PredicateTypeCosignSign,
      subject.file,
    ]);
    expect(wrong.code).not.toBe(0);
  });

  test('explicit service URLs (base URLs) instead of a signing config; a TSA-only bundle needs tlog 0', async () => {
    const rekorless = await createKeylessSigner({
      identityToken: token(),
      fulcioURL: harness.fulcioURL,
      rekorURL: false,
      tsaURL: harness.tsaURL,
    });
    const tsaOnly = await rekorless.sign({ subject: subject.descriptor });
    const bundle = bundleJSON(tsaOnly);
    expect(bundle.verificationMaterial.tlogEntries ?? []).toEqual([]);
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);
    const candidate = candidateFor(tsaOnly, subject);
    expect(await expectRefused(createSigstoreVerifier(policy()), candidate)).toBe('expected 1 tlog entries, got 0');
    const verified = await createSigstoreVerifier(policy({ thresholds: { tlog: 0 } })).verify(candidate);
    expect(verified.identity).toBe(alice);
    expect(verified.tlogIndex).toBeUndefined();
    expect(verified.timestamp).toBeDefined();

    const file = path.join(dir, 'tsa-only.sigstore.json');
    await writeFile(file, tsaOnly.content);
    expectOK(
      await cosign(harness, dir, [
        'verify-blob-attestation',
        ...cosignIdentity(file, alice),
        '--insecure-ignore-tlog',
        '--type',
        PredicateTypeCosignSign,
        subject.file,
      ]),
    );
  });

  test('a token provider is asked for a token at each signature', async () => {
    let calls = 0;
    const signer = await createKeylessSigner({
      tokenProvider: () => {
        calls += 1;
        return Promise.resolve(token());
      },
      signingConfig: harness.signingConfigPath,
    });
    await signer.sign({ subject: subject.descriptor });
    await signer.sign({ subject: subject.descriptor, predicateType: slsa, predicate: { x: 1 } });
    expect(calls).toBe(2);
  });
});

describe('cosign signs keyless, lading verifies', () => {
  test('attest-blob (DSSE, Statement v0.1 with a subject name) and sign-blob (message signature over the manifest)', async () => {
    const attestation = await cosignKeyless(
      ['attest-blob', '--type', PredicateTypeCosignSign, '--predicate', 'empty-predicate.json'],
      'cosign-attest.sigstore.json',
    );
    const statement = JSON.parse(
      Buffer.from(bundleJSON(attestation).dsseEnvelope?.payload ?? '', 'base64').toString(),
    ) as { _type: string };
    expect(statement._type).toBe('https://in-toto.io/Statement/v0.1');
    const fromAttest = await createSigstoreVerifier(policy()).verify(candidateFor(attestation, subject));
    expect(fromAttest).toMatchObject({
      identity: alice,
      issuer: harness.oidcIssuer,
      predicateType: PredicateTypeCosignSign,
    });

    const signature = await cosignKeyless(['sign-blob'], 'cosign-sign-blob.sigstore.json');
    expect(bundleJSON(signature).messageSignature).toBeDefined();
    const fromSignBlob = await createSigstoreVerifier(policy()).verify(candidateFor(signature, subject));
    expect(fromSignBlob).toMatchObject({ identity: alice, predicateType: PredicateTypeCosignSign });
  });

  test('a provenance attestation where a signature is required is refused (cosign verify would pass it)', async () => {
    const attestation = await cosignKeyless(
      ['attest-blob', '--type', slsa, '--predicate', 'slsa-predicate.json'],
      'cosign-slsa.sigstore.json',
    );
    const candidate = candidateFor(attestation, subject);
    expect(await expectRefused(createSigstoreVerifier(policy()), candidate)).toBe(
      `predicate type "${slsa}" is not the required "${PredicateTypeCosignSign}"`,
    );
    expect((await createSigstoreVerifier(policy({ predicateType: slsa })).verify(candidate)).predicateType).toBe(slsa);
  });
});

describe('refusals (ERR_LADING_VERIFICATION)', () => {
  test('wrong issuer', async () => {
    const verifier = createSigstoreVerifier(
      policy({ identities: [{ subject: alice, issuer: 'https://accounts.google.com' }] }),
    );
    expect(await expectRefused(verifier, candidateFor(signed, subject))).toBe(
      `untrusted certificate identity: issuer "${harness.oidcIssuer}" is not "https://accounts.google.com"`,
    );
  });

  test('wrong subject', async () => {
    const verifier = createSigstoreVerifier(
      policy({ identities: [{ subject: 'bob@example.com', issuer: harness.oidcIssuer }] }),
    );
    expect(await expectRefused(verifier, candidateFor(signed, subject))).toBe(
      'untrusted certificate identity: subject "alice@example.com" is not "bob@example.com"',
    );
  });

  test('a regexp that would only match unanchored', async () => {
    const evil = 'xalice@example.com.evil';
    const signer = await createKeylessSigner({ identityToken: token(evil), signingConfig: harness.signingConfigPath });
    const candidate = candidateFor(await signer.sign({ subject: subject.descriptor }), subject);
    const verifier = createSigstoreVerifier(
      policy({ identities: [{ subjectRegExp: 'alice@example.com', issuer: harness.oidcIssuer }] }),
    );
    expect(await expectRefused(verifier, candidate)).toBe(
      `untrusted certificate identity: subject "${evil}" is not matching /^(?:alice@example.com)$/`,
    );
    // The same pattern accepts the exact identity.
    expect((await verifier.verify(candidateFor(signed, subject))).identity).toBe(alice);
  });

  test('a bundle for another manifest', async () => {
    const other = await makeSubject(dir, 'other');
    const signer = await createKeylessSigner({ identityToken: token(), signingConfig: harness.signingConfigPath });
    const candidate = candidateFor(await signer.sign({ subject: other.descriptor }), subject);
    const why = await expectRefused(createSigstoreVerifier(policy()), candidate);
    expect(why).toBe(
      `statement subjects {"sha256":"${other.descriptor.digest.slice(7)}"} do not include ${subject.descriptor.digest}`,
    );
  });

  test('a tampered signature (one byte flipped)', async () => {
    // With a TSA timestamp the first check to fail is the timestamp, which is over the signature bytes.
    expect(
      await expectRefused(createSigstoreVerifier(policy()), flipSignatureByte(candidateFor(signed, subject))),
    ).toBe('timestamp could not be verified');
    // With a Rekor entry only, the log entry no longer matches the signature.
    const rekorOnly = await createKeylessSigner({
      identityToken: token(),
      fulcioURL: harness.fulcioURL,
      rekorURL: harness.rekorURL,
      tsaURL: false,
    });
    const logged = flipSignatureByte(candidateFor(await rekorOnly.sign({ subject: subject.descriptor }), subject));
    expect(await expectRefused(createSigstoreVerifier(policy()), logged)).toBe('tlog entry signature mismatch');
    // With no evidence at all (thresholds relaxed), the signature itself fails.
    const bare = await createKeylessSigner({
      identityToken: token(),
      fulcioURL: harness.fulcioURL,
      rekorURL: false,
      tsaURL: false,
    });
    const unwitnessed = flipSignatureByte(candidateFor(await bare.sign({ subject: subject.descriptor }), subject));
    const relaxed = createSigstoreVerifier(policy({ thresholds: { tlog: 0, timestamp: 0 } }));
    expect(await expectRefused(relaxed, unwitnessed)).toBe('signature verification failed');
  });

  test('a certificate outside its validity, with no timestamp to vouch for the signing time', async () => {
    const bare = await createKeylessSigner({
      identityToken: token(),
      fulcioURL: harness.fulcioURL,
      rekorURL: false,
      tsaURL: false,
    });
    const unwitnessed = await bare.sign({ subject: subject.descriptor });
    const candidate = candidateFor(unwitnessed, subject);
    const cert = X509Certificate.parse(
      Buffer.from(bundleJSON(unwitnessed).verificationMaterial.certificate?.rawBytes ?? '', 'base64'),
    );
    const relaxed = { thresholds: { tlog: 0, timestamp: 0 } };

    // By default a keyless bundle needs a trusted time.
    expect(await expectRefused(createSigstoreVerifier(policy()), candidate)).toBe('expected 1 timestamps, got 0');
    // Without one, the certificate is checked at verification time: valid now (Fulcio certificates live minutes)…
    expect((await createSigstoreVerifier(policy(relaxed)).verify(candidate)).timestamp).toBeUndefined();
    // …and refused once expired (the verifier's clock set past notAfter instead of waiting).
    const later = new Date(cert.notAfter.getTime() + 60_000);
    const expired = createSigstoreVerifier(policy({ ...relaxed, clock: () => later }));
    expect(await expectRefused(expired, candidate)).toMatch(
      /certificate is not valid or expired at the specified date/,
    );
  });

  test('a keyless bundle under a key-only policy, and a key bundle under an identity-only policy', async () => {
    const pair = await generateKeyPair({ password: '' });
    expect(await expectRefused(createSigstoreVerifier({ keys: [pair.publicKey] }), candidateFor(signed, subject))).toBe(
      'the bundle is keyless (a certificate) but the policy trusts only keys',
    );
    const keySigned = await (await createKeySigner({ key: pair.privateKey })).sign({ subject: subject.descriptor });
    expect(await expectRefused(createSigstoreVerifier(policy()), candidateFor(keySigned, subject))).toMatch(
      /^the bundle is signed by a key \(hint ".+"\) but the policy trusts no key$/,
    );
  });

  test('a certificate from a CA the trusted root does not list', async () => {
    const other = await startSigstoreHarness();
    try {
      const foreign = { trustedRoot: other.trustedRoot, thresholds: { tlog: 0, timestamp: 0 } };
      const bare = await createKeylessSigner({
        identityToken: token(),
        fulcioURL: harness.fulcioURL,
        rekorURL: false,
        tsaURL: false,
      });
      const candidate = candidateFor(await bare.sign({ subject: subject.descriptor }), subject);
      expect(await expectRefused(createSigstoreVerifier(policy(foreign)), candidate)).toMatch(
        /^Failed to verify certificate chain: /,
      );
      // The fully witnessed bundle is refused too (its timestamp is the first thing the foreign root cannot vouch for).
      expect(
        await expectRefused(
          createSigstoreVerifier(policy({ trustedRoot: other.trustedRoot })),
          candidateFor(signed, subject),
        ),
      ).toBe('timestamp could not be verified');
    } finally {
      await other.close();
    }
  });

  test('unsafeAnyIdentity accepts any identity the trusted root vouches for', async () => {
    const verified = await createSigstoreVerifier({ trustedRoot: harness.trustedRoot, unsafeAnyIdentity: true }).verify(
      candidateFor(signed, subject),
    );
    expect(verified.identity).toBe(alice);
  });
});

function flipSignatureByte(candidate: SignatureCandidate): SignatureCandidate {
  const bundle = JSON.parse(Buffer.from(candidate.content).toString()) as BundleJSON;
  const signature = bundle.dsseEnvelope?.signatures[0];
  if (!signature) throw new Error('no DSSE signature');
  const bytes = Buffer.from(signature.sig, 'base64');
  bytes[10] = (bytes[10] ?? 0) ^ 0x01;
  signature.sig = bytes.toString('base64');
  return withContent(candidate, Buffer.from(JSON.stringify(bundle)));
}

function cosignIdentity(bundle: string, identity: string): string[] {
  return ['--bundle', bundle, ...cosignIdentityFlags(harness, identity)];
}

async function cosignKeyless(command: string[], out: string): Promise<SignedReferrer> {
  const [verb, ...rest] = command;
  expectOK(
    await cosign(harness, dir, [
      verb ?? '',
      ...cosignKeylessFlags(harness, token()),
      ...rest,
      '--bundle',
      out,
      subject.file,
    ]),
  );
  return referrerFromBundleFile(path.join(dir, out));
}

interface BundleJSON {
  mediaType: string;
  verificationMaterial: {
    certificate?: { rawBytes: string };
    tlogEntries?: unknown[];
    timestampVerificationData?: { rfc3161Timestamps?: unknown[] };
  };
  dsseEnvelope?: { payload: string; signatures: { sig: string }[] };
  messageSignature?: unknown;
}
