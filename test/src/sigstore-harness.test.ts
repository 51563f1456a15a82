// Smoke tests of the offline Sigstore harness with real clients: cosign 3.1.1 (sigstore-go) and sigstore-js, each
// as signer and as verifier, plus regression tests for each fix the harness applies to @sigstore/mock.
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleFromJSON, bundleToJSON, type Bundle } from '@sigstore/bundle';
import { RFC3161Timestamp, X509Certificate } from '@sigstore/core';
import {
  DSSEBundleBuilder,
  FulcioSigner,
  MessageSignatureBundleBuilder,
  RekorWitness,
  TSAWitness,
  type Witness,
} from '@sigstore/sign';
import {
  PolicyError,
  toSignedEntity,
  toTrustMaterial,
  VerificationError,
  Verifier,
  type VerifierOptions,
} from '@sigstore/verify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  MediaTypeSigningConfig,
  MediaTypeTrustedRoot,
  startSigstoreHarness,
  type SigstoreHarness,
} from './sigstore-harness/index.js';
import { run, type RunResult } from './testbed/tools.js';

const email = 'alice@example.com';
// The `sub` of email tokens: the certificate must carry the email instead, as Fulcio does for email issuers.
const accountID = 'account-1234';
const workflowSubject = 'https://github.com/example/repo/.github/workflows/release.yml@refs/heads/main';
const predicateType = 'https://lading.dev/test/v1';
const inTotoPayloadType = 'application/vnd.in-toto+json';

let harness: SigstoreHarness;
let work: string;
let blobPath: string;
const blob = Buffer.from('lading sigstore harness smoke test\n');

beforeAll(async () => {
  harness = await startSigstoreHarness();
  work = await mkdtemp(path.join(tmpdir(), 'lading-sigstore-test-'));
  blobPath = path.join(work, 'artifact.txt');
  await writeFile(blobPath, blob);
});

afterAll(async () => {
  await harness.close();
  await rm(work, { recursive: true, force: true });
});

describe('trust files', () => {
  test('the trusted root and signing config name the harness services', async () => {
    const root = JSON.parse(await readFile(harness.trustedRootPath, 'utf8')) as TrustedRootJSON;
    expect(root.mediaType).toBe(MediaTypeTrustedRoot);
    expect(root.tlogs.map((t) => t.baseUrl)).toEqual([harness.rekorURL]);
    expect(root.ctlogs).toHaveLength(1);
    expect(root.certificateAuthorities.map((c) => c.certChain.certificates.length)).toEqual([1]);
    expect(root.timestampAuthorities.map((c) => c.certChain.certificates.length)).toEqual([2]);

    const config = JSON.parse(await readFile(harness.signingConfigPath, 'utf8')) as SigningConfigJSON;
    expect(config.mediaType).toBe(MediaTypeSigningConfig);
    expect(config.caUrls.map((s) => s.url)).toEqual([harness.fulcioURL]);
    expect(config.rekorTlogUrls.map((s) => s.url)).toEqual([harness.rekorURL]);
    expect(config.tsaUrls.map((s) => s.url)).toEqual([`${harness.tsaURL}/api/v1/timestamp`]);
    expect(config.oidcUrls.map((s) => s.url)).toEqual([harness.oidcIssuer]);
    expect(harness.trustedRootPath.startsWith(harness.directory)).toBe(true);
  });
});

describe('cosign as signer', () => {
  test('sign-blob uses Fulcio, the TSA (binary RFC 3161) and Rekor; verify-blob accepts only the right identity', async () => {
    const bundlePath = path.join(work, 'cosign-blob.sigstore.json');
    const seen = harness.requests.length;
    await cosignSignBlob(bundlePath, harness.identityToken({ subject: accountID, email }));

    const requests = harness.requests.slice(seen).map((r) => `${r.service} ${r.contentType} ${r.status}`);
    expect(requests).toEqual([
      'fulcio application/json 200',
      'tsa application/timestamp-query 201',
      'rekor application/json 201',
    ]);
    const bundle = await readBundle(bundlePath);
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);

    const ok = await cosignVerifyBlob(bundlePath, email, harness.oidcIssuer);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('Verified OK');

    const wrongIdentity = await cosignVerifyBlob(bundlePath, 'mallory@example.com', harness.oidcIssuer);
    expect(wrongIdentity.code).not.toBe(0);
    expect(wrongIdentity.stderr).toContain('expected SAN value "mallory@example.com"');

    const wrongIssuer = await cosignVerifyBlob(bundlePath, email, 'https://accounts.example.com');
    expect(wrongIssuer.code).not.toBe(0);
    expect(wrongIssuer.stderr).toContain('expected issuer value "https://accounts.example.com"');

    // With --signing-config and --trusted-root cosign never looks for TUF metadata: it stayed offline.
    expect(await readdir(harness.toolEnv.TUF_ROOT ?? '')).toEqual([]);
    expect(await readdir(harness.toolEnv.HOME ?? '')).toEqual([]);
  });

  test('a cosign bundle verifies in @sigstore/verify with CT log, tlog and timestamp thresholds of 1', async () => {
    const bundlePath = path.join(work, 'cosign-for-js.sigstore.json');
    await cosignSignBlob(bundlePath, harness.identityToken({ subject: workflowSubject }));
    const bundle = await readBundle(bundlePath);

    const signer = sigstoreJSVerify(bundle, blob, workflowSubject);
    expect(signer.identity?.subjectAlternativeName).toBe(workflowSubject);
    expect(signer.identity?.extensions?.issuer).toBe(harness.oidcIssuer);
    expect(() => sigstoreJSVerify(bundle, blob, email)).toThrow(PolicyError);
  });

  test('attest-blob (DSSE) verifies with cosign verify-blob-attestation and @sigstore/verify', async () => {
    const predicatePath = path.join(work, 'predicate.json');
    await writeFile(predicatePath, JSON.stringify({ builder: 'cosign' }));
    const bundlePath = path.join(work, 'cosign-attestation.sigstore.json');
    const token = harness.identityToken({ subject: accountID, email });
    await cosign([
      'attest-blob',
      '--yes',
      ...signingFlags(token),
      '--predicate',
      predicatePath,
      '--type',
      predicateType,
      '--bundle',
      bundlePath,
      blobPath,
    ]);

    const verified = await cosign(
      ['verify-blob-attestation', ...verifyFlags(bundlePath, email), '--type', predicateType, blobPath],
      false,
    );
    expect(verified.code, verified.stderr).toBe(0);
    const bundle = await readBundle(bundlePath);
    expect(bundle.verificationMaterial.tlogEntries[0]?.kindVersion.kind).toBe('dsse');
    expect(sigstoreJSVerify(bundle, undefined, email).identity?.subjectAlternativeName).toBe(email);
  });
});

describe('sigstore-js as signer', () => {
  test('a message-signature bundle (Fulcio, Rekor, TSA) verifies in @sigstore/verify and cosign', async () => {
    const token = harness.identityToken({ subject: accountID, email });
    const bundle = await new MessageSignatureBundleBuilder({
      signer: fulcioSigner(token),
      witnesses: [rekorWitness(), tsaWitness()],
    }).create({ data: blob });
    const entry = bundle.verificationMaterial.tlogEntries[0];
    expect(entry?.kindVersion.kind).toBe('hashedrekord');
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);

    const signer = sigstoreJSVerify(bundle, blob, email);
    expect(signer.identity?.subjectAlternativeName).toBe(email);

    const bundlePath = path.join(work, 'js-blob.sigstore.json');
    await writeFile(bundlePath, JSON.stringify(bundleToJSON(bundle)));
    const ok = await cosignVerifyBlob(bundlePath, email, harness.oidcIssuer);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain('Verified OK');
    const wrong = await cosignVerifyBlob(bundlePath, 'mallory@example.com', harness.oidcIssuer);
    expect(wrong.code).not.toBe(0);
  });

  test('a DSSE in-toto bundle (Rekor dsse entry, TSA) verifies in @sigstore/verify and cosign', async () => {
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'artifact.txt', digest: { sha256: sha256Hex(blob) } }],
      predicateType,
      predicate: { builder: 'sigstore-js' },
    };
    const token = harness.identityToken({ subject: accountID, email });
    const bundle = await new DSSEBundleBuilder({
      signer: fulcioSigner(token),
      witnesses: [rekorWitness(), tsaWitness()],
    }).create({ data: Buffer.from(JSON.stringify(statement)), type: inTotoPayloadType });

    // The Rekor entry is the canonical dsse body (regression: the mock logged the proposed entry, which
    // sigstore-js refuses with TLOG_BODY_ERROR).
    const entry = bundle.verificationMaterial.tlogEntries[0];
    const body = JSON.parse(entry?.canonicalizedBody.toString('utf8') ?? '{}') as DSSEEntryBody;
    expect(body.kind).toBe('dsse');
    expect(body.spec.proposedContent).toBeUndefined();
    expect(body.spec.payloadHash.value).toBe(sha256Hex(Buffer.from(JSON.stringify(statement))));
    expect(sigstoreJSVerify(bundle, undefined, email).identity?.subjectAlternativeName).toBe(email);

    const bundlePath = path.join(work, 'js-attestation.sigstore.json');
    await writeFile(bundlePath, JSON.stringify(bundleToJSON(bundle)));
    const verified = await cosign(
      ['verify-blob-attestation', ...verifyFlags(bundlePath, email), '--type', predicateType, blobPath],
      false,
    );
    expect(verified.code, verified.stderr).toBe(0);
  });

  test('a bundle with only a TSA timestamp (no Rekor) verifies in @sigstore/verify by its timestamp', async () => {
    const token = harness.identityToken({ subject: accountID, email });
    const bundle = await new MessageSignatureBundleBuilder({
      signer: fulcioSigner(token),
      witnesses: [tsaWitness()],
    }).create({ data: blob });
    expect(bundle.verificationMaterial.tlogEntries).toEqual([]);

    const signer = sigstoreJSVerify(bundle, blob, email, { tlogThreshold: 0, timestampThreshold: 1 });
    expect(signer.identity?.subjectAlternativeName).toBe(email);

    // cosign wants a log entry unless told otherwise; then the TSA timestamp is the signing time it checks.
    const bundlePath = path.join(work, 'js-tsa-only.sigstore.json');
    await writeFile(bundlePath, JSON.stringify(bundleToJSON(bundle)));
    const strict = await cosignVerifyBlob(bundlePath, email, harness.oidcIssuer);
    expect(strict.code).not.toBe(0);
    expect(strict.stderr).toContain('not enough verified log entries');
    const lenient = await cosignVerifyBlob(bundlePath, email, harness.oidcIssuer, ['--insecure-ignore-tlog']);
    expect(lenient.code, lenient.stderr).toBe(0);
  });
});

describe('tampering', () => {
  test('@sigstore/verify refuses a bundle whose signature, artifact or log entry changed after signing', async () => {
    const token = harness.identityToken({ subject: accountID, email });
    const bundle = await new MessageSignatureBundleBuilder({
      signer: fulcioSigner(token),
      witnesses: [rekorWitness(), tsaWitness()],
    }).create({ data: blob });
    expect(sigstoreJSVerify(bundle, blob, email).identity?.subjectAlternativeName).toBe(email);

    const json = bundleToJSON(bundle) as BundleJSON;
    const badSignature = structuredClone(json);
    badSignature.messageSignature.signature = flipLastByte(badSignature.messageSignature.signature);
    expectRefused(() => sigstoreJSVerify(bundleFromJSON(badSignature), blob, email));

    expectRefused(() => sigstoreJSVerify(bundle, Buffer.from('another artifact\n'), email));

    const badEntry = structuredClone(json);
    const tlog = badEntry.verificationMaterial.tlogEntries[0];
    if (tlog) tlog.integratedTime = String(Number(tlog.integratedTime) + 1);
    expectRefused(() => sigstoreJSVerify(bundleFromJSON(badEntry), blob, email));

    const tamperedPath = path.join(work, 'tampered.sigstore.json');
    await writeFile(tamperedPath, JSON.stringify(badSignature));
    const cosignVerdict = await cosignVerifyBlob(tamperedPath, email, harness.oidcIssuer);
    expect(cosignVerdict.code).not.toBe(0);
  });
});

describe('harness fixes (regressions)', () => {
  test('TSA timestamps carry whole seconds, so every one parses in sigstore-js', async () => {
    for (let i = 0; i < 10; i++) {
      const reply = await postTimestamp(
        'application/json',
        JSON.stringify({ artifactHash: digestOf(i).toString('base64'), hashAlgorithm: 'sha256' }),
      );
      const genTime = tstInfoGenTime(reply);
      expect(genTime).toMatch(/^\d{14}Z$/);
      expect(RFC3161Timestamp.parse(reply).tstInfo.messageImprintHashedMessage).toEqual(digestOf(i));
    }
  });

  test('the TSA answers a binary RFC 3161 query for the digest it was asked', async () => {
    const preimage = Buffer.from('timestamp 42');
    const digest = createHash('sha256').update(preimage).digest();
    const reply = await postTimestamp('application/timestamp-query', timestampQuery(digest));
    const timestamp = RFC3161Timestamp.parse(reply);
    expect(timestamp.status).toBe(0n);
    expect(timestamp.tstInfo.messageImprintHashedMessage).toEqual(digest);
    // Throws unless the TSA signing certificate of the trusted root signed this timestamp over this imprint.
    timestamp.verify(preimage, tsaSigningKey());
  });

  test('Fulcio takes the token from Authorization: Bearer and answers 200; Rekor sends ETag and Location', async () => {
    const token = harness.identityToken({ subject: workflowSubject });
    const { publicKey, proof } = keyAndProof(workflowSubject);
    const fulcio = await fetch(`${harness.fulcioURL}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({
        publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: publicKey }, proofOfPossession: proof },
      }),
    });
    expect(fulcio.status).toBe(200);
    const chain = ((await fulcio.json()) as FulcioResponse).signedCertificateEmbeddedSct.chain.certificates;
    expect(chain).toHaveLength(2);
    expect(X509Certificate.parse(chain[0] ?? '').subjectAltName).toBe(workflowSubject);

    const rekor = await fetch(`${harness.rekorURL}/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(hashedRekord(publicKey)),
    });
    expect(rekor.status).toBe(201);
    const uuid = rekor.headers.get('etag') ?? '';
    expect(Object.keys((await rekor.json()) as object)).toEqual([uuid]);
    expect(rekor.headers.get('location')).toBe(`/api/v1/log/entries/${uuid}`);
    const again = await fetch(`${harness.rekorURL}/api/v1/log/entries/${uuid}`);
    expect(again.status).toBe(200);
  });

  test('a request for a path the harness does not serve gets 404 and is recorded', async () => {
    const response = await fetch(`${harness.rekorURL}/api/v1/log`);
    expect(response.status).toBe(404);
    expect(harness.requests.at(-1)).toMatchObject({
      service: 'rekor',
      method: 'GET',
      path: '/api/v1/log',
      status: 404,
    });
  });
});

// --- clients

function signingFlags(token: string): string[] {
  return [
    '--signing-config',
    harness.signingConfigPath,
    '--trusted-root',
    harness.trustedRootPath,
    '--identity-token',
    token,
  ];
}

function verifyFlags(bundlePath: string, identity: string, issuer = harness.oidcIssuer): string[] {
  return [
    '--bundle',
    bundlePath,
    '--trusted-root',
    harness.trustedRootPath,
    '--certificate-identity',
    identity,
    '--certificate-oidc-issuer',
    issuer,
  ];
}

async function cosign(args: string[], check = true): Promise<RunResult> {
  return run('cosign', args, { env: harness.toolEnv, cwd: work, check });
}

async function cosignSignBlob(bundlePath: string, token: string): Promise<void> {
  await cosign(['sign-blob', '--yes', ...signingFlags(token), '--bundle', bundlePath, blobPath]);
}

async function cosignVerifyBlob(
  bundlePath: string,
  identity: string,
  issuer: string,
  extra: string[] = [],
): Promise<RunResult> {
  return cosign(['verify-blob', ...verifyFlags(bundlePath, identity, issuer), ...extra, blobPath], false);
}

function fulcioSigner(token: string): FulcioSigner {
  return new FulcioSigner({
    fulcioBaseURL: harness.fulcioURL,
    identityProvider: { getToken: () => Promise.resolve(token) },
  });
}

function rekorWitness(): Witness {
  return new RekorWitness({ rekorBaseURL: harness.rekorURL });
}

function tsaWitness(): Witness {
  return new TSAWitness({ tsaBaseURL: harness.tsaURL });
}

/** Verifies with sigstore-js against the harness trusted root; `artifact` undefined for DSSE bundles. */
function sigstoreJSVerify(
  bundle: Bundle,
  artifact: Buffer | undefined,
  identity: string,
  options: VerifierOptions = {},
) {
  const verifier = new Verifier(toTrustMaterial(harness.trustedRoot), {
    tlogThreshold: 1,
    ctlogThreshold: 1,
    timestampThreshold: 1,
    ...options,
  });
  return verifier.verify(toSignedEntity(bundle, artifact), {
    subjectAlternativeName: identity,
    extensions: { issuer: harness.oidcIssuer },
  });
}

function expectRefused(verify: () => unknown): void {
  expect(verify).toThrow(VerificationError);
}

async function readBundle(file: string): Promise<Bundle> {
  return bundleFromJSON(JSON.parse(await readFile(file, 'utf8')));
}

// --- raw requests

async function postTimestamp(contentType: string, body: string | Buffer): Promise<Buffer<ArrayBuffer>> {
  const response = await fetch(`${harness.tsaURL}/api/v1/timestamp`, {
    method: 'POST',
    headers: { 'Content-Type': contentType },
    body,
  });
  expect(response.status).toBe(201);
  expect(response.headers.get('content-type')).toBe('application/timestamp-reply');
  return Buffer.from(await response.arrayBuffer());
}

/** The raw `genTime` of a timestamp reply (TSTInfo field 5), as the TSA encoded it. */
function tstInfoGenTime(reply: Buffer<ArrayBuffer>): string {
  const genTime = RFC3161Timestamp.parse(reply).tstInfo.root.subs[4];
  return genTime?.value.toString('ascii') ?? '';
}

/** A DER RFC 3161 TimeStampReq for a SHA-256 digest, with certReq true and no nonce (what sigstore-go sends). */
function timestampQuery(digest: Buffer): Buffer {
  const sha256AlgorithmIdentifier = Buffer.from('300d06096086480165030402010500', 'hex');
  const imprint = der(0x30, Buffer.concat([sha256AlgorithmIdentifier, der(0x04, digest)]));
  return der(0x30, Buffer.concat([Buffer.from('020101', 'hex'), imprint, Buffer.from('0101ff', 'hex')]));
}

function der(tag: number, content: Buffer): Buffer {
  if (content.length >= 128) throw new Error('der: long lengths not needed here');
  return Buffer.concat([Buffer.from([tag, content.length]), content]);
}

/** A fresh P-256 public key (PEM) and a proof of possession (signature over `subject`), as Fulcio clients send. */
function keyAndProof(subject: string): { publicKey: string; proof: string } {
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKey: keys.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    proof: sign('sha256', Buffer.from(subject), keys.privateKey).toString('base64'),
  };
}

/** The public key of the TSA signing certificate listed in the harness trusted root. */
function tsaSigningKey(): KeyObject {
  const der = harness.trustedRoot.timestampAuthorities[0]?.certChain?.certificates[0]?.rawBytes;
  if (!der) throw new Error('trusted root has no TSA certificate');
  return createPublicKey({ key: X509Certificate.parse(Buffer.from(der)).publicKey, format: 'der', type: 'spki' });
}

function hashedRekord(publicKeyPEM: string): object {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: sha256Hex(blob) } },
      signature: { content: 'c2ln', publicKey: { content: Buffer.from(publicKeyPEM).toString('base64') } },
    },
  };
}

// --- small helpers and JSON shapes

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function digestOf(i: number): Buffer {
  return createHash('sha256').update(`timestamp ${i}`).digest();
}

function flipLastByte(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
  return bytes.toString('base64');
}

interface TrustedRootJSON {
  mediaType: string;
  tlogs: { baseUrl: string }[];
  ctlogs: unknown[];
  certificateAuthorities: { certChain: { certificates: unknown[] } }[];
  timestampAuthorities: { certChain: { certificates: unknown[] } }[];
}

interface SigningConfigJSON {
  mediaType: string;
  caUrls: { url: string }[];
  oidcUrls: { url: string }[];
  rekorTlogUrls: { url: string }[];
  tsaUrls: { url: string }[];
}

interface BundleJSON {
  messageSignature: { signature: string };
  verificationMaterial: { tlogEntries: { integratedTime: string }[] };
}

interface DSSEEntryBody {
  kind: string;
  spec: { proposedContent?: unknown; payloadHash: { value: string } };
}

interface FulcioResponse {
  signedCertificateEmbeddedSct: { chain: { certificates: string[] } };
}
