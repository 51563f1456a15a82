// Legacy cosign signatures (the manifest tagged `sha256-<hex>.sig`, simple-signing layers), which lading reads but
// never writes. cosign 3.1.1 still makes them with:
//   cosign sign --new-bundle-format=false --use-signing-config=false --allow-http-registry --yes \
//     --key cosign.key --tlog-upload=false <ref>@<digest>                                      (key, no log entry)
//   cosign sign … --fulcio-url <fulcio> --rekor-url <rekor> --identity-token <jwt> \
//     --trusted-root trusted_root.json <ref>@<digest>                                         (keyless, Rekor SET)
//   cosign sign … --fulcio-url <fulcio> --tlog-upload=false --timestamp-server-url <tsa>/api/v1/timestamp …
//                                                                                             (keyless, RFC 3161)
// on the test bed's anonymous distribution (no referrers API), keyless against the offline Sigstore harness. The
// verifier is checked with the candidates the gate builds from that tag, then `lading verify` and `lading pull`
// end to end.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { descriptorFor, MediaTypeImageManifest, type Descriptor, type SignatureCandidate } from '@lading/core';
import type {
  DiscoverCommandResult,
  ErrorJSON,
  PullCommandResult,
  PushCommandResult,
  VerifyCommandResult,
} from '@lading/cli';
import { createSigstoreVerifier, PredicateTypeCosignSign, type SigstoreVerifierPolicy } from '@lading/sigstore';
import { publicKeyHint, toPublicKey } from '@lading/sigstore/internal';
import { json, ladingIn } from '../cli-runner.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { makeToolHome, run, testbed, type RunResult } from '../testbed/index.js';
import { cosign, expectOK, expectRefused, keylessSignatureOf } from './fixtures.js';

const simpleSigning = 'application/vnd.dev.cosign.simplesigning.v1+json';
const annotationSignature = 'dev.cosignproject.cosign/signature';
const annotationCertificate = 'dev.sigstore.cosign/certificate';
const annotationChain = 'dev.sigstore.cosign/chain';
const annotationBundle = 'dev.sigstore.cosign/bundle';
const annotationTimestamp = 'dev.sigstore.cosign/rfc3161timestamp';
const alice = 'alice@example.com';
const legacyFlags = ['--new-bundle-format=false', '--use-signing-config=false', '--allow-http-registry', '--yes'];

let harness: SigstoreHarness;
let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let keyHint: string;

/** An artifact pushed by lading: its repository, manifest descriptor and bytes. */
interface Pushed {
  name: string;
  subject: Descriptor;
  subjectBytes: Buffer;
}

/** The `.sig` manifest of an artifact as read from the registry, and the candidates the gate builds from it. */
interface LegacySignatures {
  manifest: LegacyManifest;
  candidates: SignatureCandidate[];
}

interface LegacyManifest {
  mediaType: string;
  subject?: unknown;
  layers: Descriptor[];
}

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  harness = await startSigstoreHarness();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'legacy-interop-'));
  expectOK(await cosign(harness, work, ['generate-key-pair'], { COSIGN_PASSWORD: 'pw-1' }));
  expectOK(
    await cosign(harness, work, ['generate-key-pair', '--output-key-prefix', 'other'], { COSIGN_PASSWORD: 'pw-2' }),
  );
  keyHint = publicKeyHint(toPublicKey(await readFile(path.join(work, 'cosign.pub'))));
});

afterAll(async () => {
  await harness.close();
});

/** Runs `lading args…` in `work` with the isolated environment to completion. */
const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

function tool(name: 'crane' | 'oras', args: readonly string[]): Promise<RunResult> {
  return run(name, args, { env, cwd: work });
}

/** Pushes a one-file artifact with lading to a fresh repository; returns it with its manifest as the registry has it. */
async function push(note: string): Promise<Pushed> {
  const name = `${host}/legacy/${note}-${randomBytes(4).toString('hex')}`;
  await writeFile(path.join(work, `${note}.txt`), `${note}\n`);
  const result = await lading(['push', '--json', `${name}:v1`, `${note}.txt`]);
  expectOK(result);
  const { digest } = json<PushCommandResult>(result);
  const subjectBytes = Buffer.from((await tool('crane', ['manifest', `${name}@${digest}`])).stdout);
  const subject = descriptorFor(MediaTypeImageManifest, subjectBytes);
  expect(subject.digest).toBe(digest);
  return { name, subject, subjectBytes };
}

function sigTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** `cosign sign` (legacy format) with `cosign.key` (or `other.key`), no log entry. */
async function signWithKey(artifact: Pushed, key: 'cosign' | 'other' = 'cosign'): Promise<void> {
  const password = key === 'cosign' ? 'pw-1' : 'pw-2';
  const args = ['sign', ...legacyFlags, '--key', `${key}.key`, '--tlog-upload=false'];
  expectOK(
    await cosign(harness, work, [...args, `${artifact.name}@${artifact.subject.digest}`], {
      COSIGN_PASSWORD: password,
    }),
  );
}

/** `cosign sign` (legacy format) keyless as `identity`, with a Rekor entry (`rekor`) or an RFC 3161 timestamp. */
async function signKeyless(artifact: Pushed, evidence: 'rekor' | 'tsa', identity = alice): Promise<void> {
  const witness =
    evidence === 'rekor'
      ? ['--rekor-url', harness.rekorURL]
      : ['--tlog-upload=false', '--timestamp-server-url', `${harness.tsaURL}/api/v1/timestamp`];
  const token = harness.identityToken({ subject: 'account-1', email: identity });
  const args = ['sign', ...legacyFlags, '--fulcio-url', harness.fulcioURL, '--identity-token', token];
  const trust = ['--trusted-root', harness.trustedRootPath];
  expectOK(await cosign(harness, work, [...args, ...trust, ...witness, `${artifact.name}@${artifact.subject.digest}`]));
}

/**
 * Reads `<name>:sha256-<hex>.sig` of `artifact` and builds what the gate offers: one candidate per simple-signing
 * layer, about `subject` (default the artifact itself), the `.sig` manifest as referrer with the simple-signing
 * artifactType, the layer descriptor with its annotations and the layer bytes.
 */
async function legacySignatures(artifact: Pushed, subject: Pushed = artifact): Promise<LegacySignatures> {
  const bytes = Buffer.from(
    (await tool('crane', ['manifest', `${artifact.name}:${sigTag(artifact.subject.digest)}`])).stdout,
  );
  const manifest = JSON.parse(bytes.toString()) as LegacyManifest;
  const referrer = { ...descriptorFor(manifest.mediaType, bytes), artifactType: simpleSigning };
  const candidates: SignatureCandidate[] = [];
  for (const layer of manifest.layers.filter((l) => l.mediaType === simpleSigning)) {
    const content = Buffer.from((await tool('crane', ['blob', `${artifact.name}@${layer.digest}`])).stdout);
    expect(descriptorFor(simpleSigning, content).digest).toBe(layer.digest);
    candidates.push({
      subject: subject.subject,
      subjectBytes: subject.subjectBytes,
      referrer,
      manifest: bytes,
      layer,
      content,
    });
  }
  return { manifest, candidates };
}

async function onlyCandidate(artifact: Pushed): Promise<SignatureCandidate> {
  const { candidates } = await legacySignatures(artifact);
  expect(candidates).toHaveLength(1);
  return candidates[0] as SignatureCandidate;
}

/** The candidate with one annotation of its layer replaced. */
function withAnnotation(candidate: SignatureCandidate, name: string, value: string): SignatureCandidate {
  return {
    ...candidate,
    layer: { ...candidate.layer, annotations: { ...candidate.layer.annotations, [name]: value } },
  };
}

/** `text` (base64) with one bit of its decoded byte at `index` flipped, base64 again. */
function flipBase64(text: string, index = 10): string {
  const bytes = Buffer.from(text, 'base64');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return bytes.toString('base64');
}

function keyPolicy(key = 'cosign.pub'): Promise<SigstoreVerifierPolicy> {
  return readFile(path.join(work, key), 'utf8').then((pem) => ({ keys: [pem] }));
}

function identityPolicy(extra: Partial<SigstoreVerifierPolicy> = {}): SigstoreVerifierPolicy {
  return { trustedRoot: harness.trustedRoot, identities: [{ subject: alice, issuer: harness.oidcIssuer }], ...extra };
}

describe('cosign signs with a key (legacy .sig), the lading verifier accepts', () => {
  let artifact: Pushed;
  let candidate: SignatureCandidate;
  let manifest: LegacyManifest;

  beforeAll(async () => {
    artifact = await push('key');
    await signWithKey(artifact);
    const read = await legacySignatures(artifact);
    manifest = read.manifest;
    expect(read.candidates).toHaveLength(1);
    candidate = read.candidates[0] as SignatureCandidate;
  });

  test('the .sig manifest has no subject, one simple-signing layer with only the signature annotation', () => {
    expect(manifest.subject).toBeUndefined();
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([simpleSigning]);
    expect(Object.keys(candidate.layer.annotations ?? {})).toEqual([annotationSignature]);
    const payload = JSON.parse(Buffer.from(candidate.content).toString()) as {
      critical: { type: string; image: Record<string, string> };
    };
    expect(payload.critical.type).toBe('cosign container image signature');
    expect(payload.critical.image['docker-manifest-digest']).toBe(artifact.subject.digest);
  });

  test('the key verifies it, as a plain signature, by the .sig manifest', async () => {
    const verifier = createSigstoreVerifier(await keyPolicy());
    expect(verifier.accepts(candidate)).toBe(true);
    expect(await verifier.verify(candidate)).toEqual({
      verifier: 'sigstore',
      predicateType: PredicateTypeCosignSign,
      keyHint,
      referrer: candidate.referrer.digest,
    });
    // The oracle agrees.
    expectOK(
      await cosign(harness, work, [
        'verify',
        '--key',
        'cosign.pub',
        '--insecure-ignore-tlog',
        '--allow-http-registry',
        `${artifact.name}@${artifact.subject.digest}`,
      ]),
    );
  });

  test('refused: another key, a tampered signature annotation, an attestation required', async () => {
    expect(await expectRefused(createSigstoreVerifier(await keyPolicy('other.pub')), candidate)).toMatch(
      /^the signature verifies with none of the 1 trusted keys/,
    );
    const signature = candidate.layer.annotations?.[annotationSignature] ?? '';
    const tampered = withAnnotation(candidate, annotationSignature, flipBase64(signature));
    expect(await expectRefused(createSigstoreVerifier(await keyPolicy()), tampered)).toMatch(
      /^the signature verifies with none of the 1 trusted keys/,
    );
    const slsa = 'https://slsa.dev/provenance/v1';
    expect(
      await expectRefused(createSigstoreVerifier({ ...(await keyPolicy()), predicateType: slsa }), candidate),
    ).toBe(`predicate type "${PredicateTypeCosignSign}" is not the required "${slsa}"`);
  });

  test('refused: the .sig of another artifact offered for this one (its payload names the other digest)', async () => {
    const other = await push('key-other');
    const [copied] = (await legacySignatures(artifact, other)).candidates;
    expect(copied).toBeDefined();
    expect(await expectRefused(createSigstoreVerifier(await keyPolicy()), copied as SignatureCandidate)).toBe(
      `simple-signing payload is about "${artifact.subject.digest}", not the subject ${other.subject.digest}`,
    );
  });
});

describe('cosign signs keyless (legacy .sig) against the harness, the lading verifier accepts', () => {
  test('Fulcio + Rekor: certificate and Rekor bundle annotations; the SET is log evidence and a trusted time', async () => {
    const artifact = await push('keyless-rekor');
    await signKeyless(artifact, 'rekor');
    const candidate = await onlyCandidate(artifact);
    const annotations = candidate.layer.annotations ?? {};
    expect(Object.keys(annotations).sort()).toEqual(
      [annotationBundle, annotationCertificate, annotationChain, annotationSignature].sort(),
    );
    const rekor = JSON.parse(annotations[annotationBundle] ?? '') as {
      SignedEntryTimestamp: string;
      Payload: { logIndex: number; integratedTime: number };
    };

    const verified = await createSigstoreVerifier(identityPolicy()).verify(candidate);
    expect(verified).toMatchObject({
      ...keylessSignatureOf(harness, candidate, alice),
      tlogIndex: String(rekor.Payload.logIndex),
      timestamp: new Date(rekor.Payload.integratedTime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    });

    // Refusals: another identity, a key-only policy, a SET the log did not sign, a signature the entry does not log.
    const bob = identityPolicy({ identities: [{ subject: 'bob@example.com', issuer: harness.oidcIssuer }] });
    expect(await expectRefused(createSigstoreVerifier(bob), candidate)).toBe(
      `untrusted certificate identity: subject "${alice}" is not "bob@example.com"`,
    );
    expect(await expectRefused(createSigstoreVerifier(await keyPolicy()), candidate)).toBe(
      'the bundle is keyless (a certificate) but the policy trusts only keys',
    );
    const forged = withAnnotation(
      candidate,
      annotationBundle,
      JSON.stringify({ ...rekor, SignedEntryTimestamp: flipBase64(rekor.SignedEntryTimestamp, 20) }),
    );
    expect(await expectRefused(createSigstoreVerifier(identityPolicy()), forged)).toBe(
      'inclusion promise could not be verified',
    );
    const signature = annotations[annotationSignature] ?? '';
    const tampered = withAnnotation(candidate, annotationSignature, flipBase64(signature));
    expect(await expectRefused(createSigstoreVerifier(identityPolicy()), tampered)).toBe('signature mismatch');
    // Without its Rekor bundle the signature has no evidence left, which a keyless policy needs.
    const unlogged = Object.fromEntries(Object.entries(annotations).filter(([name]) => name !== annotationBundle));
    const bare = { ...candidate, layer: { ...candidate.layer, annotations: unlogged } };
    expect(await expectRefused(createSigstoreVerifier(identityPolicy()), bare)).toBe('expected 1 timestamps, got 0');
  });

  test('Fulcio + TSA, no Rekor: refused while a log entry is required, accepted with tlog 0', async () => {
    const artifact = await push('keyless-tsa');
    await signKeyless(artifact, 'tsa');
    const candidate = await onlyCandidate(artifact);
    const annotations = candidate.layer.annotations ?? {};
    expect(annotations[annotationBundle]).toBeUndefined();
    expect(annotations[annotationTimestamp]).toMatch(/^\{"SignedRFC3161Timestamp":"/);

    expect(await expectRefused(createSigstoreVerifier(identityPolicy()), candidate)).toBe(
      'expected 1 tlog entries, got 0',
    );
    const verified = await createSigstoreVerifier(identityPolicy({ thresholds: { tlog: 0 } })).verify(candidate);
    expect(verified).toMatchObject({
      identity: alice,
      issuer: harness.oidcIssuer,
      predicateType: PredicateTypeCosignSign,
    });
    expect(verified.tlogIndex).toBeUndefined();
    expect(verified.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // The timestamp is over the signature: another signature leaves the policy without a trusted time.
    const signature = annotations[annotationSignature] ?? '';
    const tampered = withAnnotation(candidate, annotationSignature, flipBase64(signature));
    expect(await expectRefused(createSigstoreVerifier(identityPolicy({ thresholds: { tlog: 0 } })), tampered)).toBe(
      'timestamp could not be verified',
    );
  });
});

describe('end to end: lading verify and lading pull read the .sig tag', () => {
  test('verify --verify-key accepts a key signature; another key is exit 5', async () => {
    const artifact = await push('e2e-key');
    await signWithKey(artifact);
    const sig = (await onlyCandidate(artifact)).referrer.digest;
    const result = await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${artifact.name}:v1`]);
    expectOK(result);
    const out = json<VerifyCommandResult>(result);
    expect(out.digest).toBe(artifact.subject.digest);
    expect(out.verified).toHaveLength(1);
    expect(out.verified[0]).toMatchObject({
      verifier: 'sigstore',
      predicateType: PredicateTypeCosignSign,
      keyHint,
      referrer: sig,
    });
    const text = await lading(['verify', '--verify-key', 'cosign.pub', `${artifact.name}:v1`]);
    expect(text.stdout).toBe(`Verified signature by key ${keyHint}, referrer ${sig}\n`);

    const wrong = await lading(['verify', '--json', '--verify-key', 'other.pub', `${artifact.name}:v1`]);
    expectVerificationRefused(wrong, /the signature verifies with none of the 1 trusted keys/);

    // discover shows the .sig tag too (it is not a referrer), and only when there is one.
    const tag = `sha256-${artifact.subject.digest.slice('sha256:'.length)}.sig`;
    const found = await lading(['discover', '--json', `${artifact.name}:v1`]);
    expectOK(found);
    expect(json<DiscoverCommandResult>(found).legacySignatures).toEqual({ tag, digest: sig });
    const lines = await lading(['discover', `${artifact.name}:v1`]);
    expect(lines.stdout).toBe(
      `${artifact.name}:v1@${artifact.subject.digest}\n└── ${sig}  application/vnd.dev.cosign.simplesigning.v1+json  ${tag}\n`,
    );
    const unsigned = await push('e2e-unsigned');
    const none = await lading(['discover', '--json', `${unsigned.name}:v1`]);
    expectOK(none);
    expect(json<DiscoverCommandResult>(none).legacySignatures).toBeUndefined();
  });

  test('pull --verify-issuer --verify-subject --trusted-root accepts a keyless signature; another subject is exit 5, nothing written', async () => {
    const artifact = await push('e2e-keyless');
    await signKeyless(artifact, 'rekor');
    const flags = ['--trusted-root', harness.trustedRootPath, '--verify-issuer', harness.oidcIssuer];
    const dest = path.join(work, `pulled-${randomBytes(4).toString('hex')}`);
    const result = await lading(['pull', '--json', ...flags, '--verify-subject', alice, `${artifact.name}:v1`, dest]);
    expectOK(result);
    expect(json<PullCommandResult>(result)).toMatchObject({
      digest: artifact.subject.digest,
      verified: [{ identity: alice, issuer: harness.oidcIssuer, predicateType: PredicateTypeCosignSign }],
    });
    expect(await readFile(path.join(dest, 'e2e-keyless.txt'), 'utf8')).toBe('e2e-keyless\n');

    const refused = path.join(work, `refused-${randomBytes(4).toString('hex')}`);
    const wrong = await lading([
      'pull',
      '--json',
      ...flags,
      '--verify-subject',
      'mallory@example.com',
      `${artifact.name}:v1`,
      refused,
    ]);
    expectVerificationRefused(wrong, /subject "alice@example\.com" is not "mallory@example\.com"/);
    expect(existsSync(refused)).toBe(false);
  });

  test('a .sig copied from another artifact onto this one’s tag is exit 5', async () => {
    const signedOne = await push('e2e-copied-from');
    await signWithKey(signedOne);
    const victim = await push('e2e-copied-to');
    await tool('crane', [
      'copy',
      `${signedOne.name}:${sigTag(signedOne.subject.digest)}`,
      `${victim.name}:${sigTag(victim.subject.digest)}`,
    ]);
    const result = await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${victim.name}:v1`]);
    expectVerificationRefused(
      result,
      new RegExp(
        `simple-signing payload is about "${signedOne.subject.digest}", not the subject ${victim.subject.digest}`,
      ),
    );
    // The original is still accepted where it belongs.
    expect((await lading(['verify', '--verify-key', 'cosign.pub', `${signedOne.name}:v1`])).code).toBe(0);
  });

  test('a .sig manifest whose signature annotation was tampered with is exit 5', async () => {
    const artifact = await push('e2e-tampered');
    await signWithKey(artifact);
    const { manifest } = await legacySignatures(artifact);
    const layer = manifest.layers[0] as Descriptor;
    const annotations = layer.annotations ?? {};
    const tampered = {
      ...manifest,
      layers: [
        {
          ...layer,
          annotations: { ...annotations, [annotationSignature]: flipBase64(annotations[annotationSignature] ?? '') },
        },
      ],
    };
    const file = path.join(work, 'tampered-sig.json');
    await writeFile(file, JSON.stringify(tampered));
    await tool('oras', [
      'manifest',
      'push',
      '--plain-http',
      `${artifact.name}:${sigTag(artifact.subject.digest)}`,
      file,
    ]);
    const result = await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${artifact.name}:v1`]);
    expectVerificationRefused(result, /the signature verifies with none of the 1 trusted keys/);
  });
});

/** Expects exit 5 with ERR_LADING_VERIFICATION whose message matches `why`, and nothing on stdout but the error. */
function expectVerificationRefused(result: { code: number | null; stdout: string; stderr: string }, why: RegExp): void {
  expect(result.code, result.stderr).toBe(5);
  const error = json<ErrorJSON>(result).error;
  expect(error.code).toBe('ERR_LADING_VERIFICATION');
  expect(error.message).toMatch(why);
}
