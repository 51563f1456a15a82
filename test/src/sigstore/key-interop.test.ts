// Key-based signing interop between @lading/sigstore and cosign 3.1.1, both ways, at the bundle level.
//
// cosign checks a DSSE bundle over a blob when the statement's subject digest is the blob's SHA-256. The blob here
// is the signed manifest's bytes, written to a file, so the invocations that accept lading's bundles are:
//
//   cosign verify-blob-attestation --key cosign.pub --insecure-ignore-tlog \
//     --type https://sigstore.dev/cosign/sign/v1 --bundle sig.sigstore.json manifest.json
//   (P-384: lading signs over SHA-256, which cosign 3.1.1 verifies by default; cosign's own P-384 signatures are
//    over SHA-384 and need --signature-digest-algorithm sha384 to verify)
//   (with a Rekor entry: drop --insecure-ignore-tlog, add --trusted-root trusted_root.json)
//
// and the ones that produce bundles lading accepts:
//
//   COSIGN_PASSWORD=… cosign attest-blob --yes --key cosign.key --signing-config <no services> \
//     --trusted-root trusted_root.json --type <predicate type> --predicate predicate.json \
//     --bundle out.sigstore.json manifest.json                    (DSSE, Statement v0.1 with a subject name)
//   COSIGN_PASSWORD=… cosign sign-blob --yes --key cosign.key … --bundle out.sigstore.json manifest.json
//                                                                 (message signature over the manifest bytes)
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  createKeySigner,
  createSigstoreVerifier,
  generateKeyPair,
  PredicateTypeCosignSign,
  type KeySigner,
} from '@lading/sigstore';
import { publicKeyHint, publicKeyPEM, toPublicKey } from '@lading/sigstore/internal';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import {
  candidateFor,
  cosign,
  expectOK,
  expectRefused,
  makeSubject,
  referrerFromBundleFile,
  workFolder,
  writeEmptySigningConfig,
  type SignedSubject,
} from './fixtures.js';

const slsa = 'https://slsa.dev/provenance/v1';

let harness: SigstoreHarness;
let dir: string;
let cleanup: () => Promise<void>;
let subject: SignedSubject;
let emptySigningConfig: string;

beforeAll(async () => {
  harness = await startSigstoreHarness();
  ({ dir, cleanup } = await workFolder('sigstore-keys'));
  subject = await makeSubject(dir, 'manifest');
  emptySigningConfig = await writeEmptySigningConfig(dir);
  await writeFile(path.join(dir, 'empty-predicate.json'), '{}');
  await writeFile(path.join(dir, 'slsa-predicate.json'), JSON.stringify({ buildDefinition: { buildType: 'x' } }));
});

afterAll(async () => {
  await harness.close();
  await cleanup();
});

interface KeyCase {
  name: string;
  pem: string;
  password?: string;
  /** Extra cosign verify flags this key type needs. */
  verifyFlags?: string[];
}

function pkcs8(key: KeyObject, encryption?: { passphrase: string }): string {
  const options = encryption ? { cipher: 'aes-256-cbc', passphrase: encryption.passphrase } : {};
  return key.export({ format: 'pem', type: 'pkcs8', ...options }).toString();
}

async function keyCases(): Promise<KeyCase[]> {
  const ec256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const ec384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
  const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const rsa3072 = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
  const ed25519 = generateKeyPairSync('ed25519').privateKey;
  const cosignFormat = await generateKeyPair({ password: 'correct horse' });
  return [
    { name: 'ECDSA P-256, PKCS#8', pem: pkcs8(ec256) },
    { name: 'ECDSA P-256, SEC 1', pem: ec256.export({ format: 'pem', type: 'sec1' }).toString() },
    { name: 'ECDSA P-384, PKCS#8', pem: pkcs8(ec384), verifyFlags: [] },
    { name: 'RSA-2048, PKCS#1', pem: rsa2048.export({ format: 'pem', type: 'pkcs1' }).toString() },
    { name: 'RSA-3072, encrypted PKCS#8', pem: pkcs8(rsa3072, { passphrase: 'pw' }), password: 'pw' },
    { name: 'Ed25519, PKCS#8', pem: pkcs8(ed25519) },
    { name: 'ECDSA P-256, ENCRYPTED SIGSTORE PRIVATE KEY', pem: cosignFormat.privateKey, password: 'correct horse' },
  ];
}

describe('lading signs with a key, cosign and lading verify', () => {
  test('every key type and PEM format', async () => {
    for (const [index, keyCase] of (await keyCases()).entries()) {
      const signer = await createKeySigner({
        key: keyCase.pem,
        ...(keyCase.password ? { password: keyCase.password } : {}),
      });
      const signed = await signer.sign({ subject: subject.descriptor });
      const verified = await createSigstoreVerifier({ keys: [signer.publicKey] }).verify(candidateFor(signed, subject));
      expect(verified.keyHint, keyCase.name).toBe(signer.keyHint);
      expect(verified.predicateType).toBe(PredicateTypeCosignSign);

      const files = await writeKeyFiles(`case-${index}`, signer, signed.content);
      const result = await cosign(harness, dir, [
        'verify-blob-attestation',
        '--key',
        files.publicKey,
        '--insecure-ignore-tlog',
        ...(keyCase.verifyFlags ?? []),
        '--type',
        PredicateTypeCosignSign,
        '--bundle',
        files.bundle,
        subject.file,
      ]);
      expect(result.code, `${keyCase.name}\n${result.stderr}`).toBe(0);
      expect(result.stderr).toContain('Verified OK');
    }
  });

  test('cosign refuses the bundle for another blob and with another predicate type (it does check those)', async () => {
    const signer = await createKeySigner({
      key: pkcs8(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey),
    });
    const files = await writeKeyFiles('negative', signer, (await signer.sign({ subject: subject.descriptor })).content);
    const other = await makeSubject(dir, 'other-manifest');
    const verify = (blob: string, type: string) =>
      cosign(harness, dir, [
        'verify-blob-attestation',
        '--key',
        files.publicKey,
        '--insecure-ignore-tlog',
        '--type',
        type,
        '--bundle',
        files.bundle,
        blob,
      ]);
    expectOK(await verify(subject.file, PredicateTypeCosignSign));
    expect((await verify(other.file, PredicateTypeCosignSign)).code).not.toBe(0);
    expect((await verify(subject.file, slsa)).code).not.toBe(0);
  });

  test('with a Rekor entry (tlog option): cosign verifies it against the trusted root, lading requires it', async () => {
    const key = pkcs8(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey);
    const signer = await createKeySigner({ key, tlog: { rekorURL: harness.rekorURL } });
    const signed = await signer.sign({ subject: subject.descriptor });
    const bundle = JSON.parse(Buffer.from(signed.content).toString()) as {
      verificationMaterial: { tlogEntries: unknown[] };
    };
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);

    const verified = await createSigstoreVerifier({
      keys: [signer.publicKey],
      trustedRoot: harness.trustedRoot,
      thresholds: { tlog: 1 },
    }).verify(candidateFor(signed, subject));
    expect(verified.tlogIndex).toMatch(/^\d+$/);
    expect(verified.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const files = await writeKeyFiles('tlog', signer, signed.content);
    expectOK(
      await cosign(harness, dir, [
        'verify-blob-attestation',
        '--key',
        files.publicKey,
        '--trusted-root',
        harness.trustedRootPath,
        '--type',
        PredicateTypeCosignSign,
        '--bundle',
        files.bundle,
        subject.file,
      ]),
    );
  });
});

describe('cosign signs with a key, lading verifies', () => {
  test('a key pair from generate-key-pair: createKeySigner reads cosign.key; attest-blob and sign-blob bundles verify', async () => {
    const env = { COSIGN_PASSWORD: 'cosign-pw' };
    expectOK(await cosign(harness, dir, ['generate-key-pair', '--output-key-prefix', 'from-cosign'], env));
    const cosignKey = await readFile(path.join(dir, 'from-cosign.key'), 'utf8');
    const cosignPub = await readFile(path.join(dir, 'from-cosign.pub'), 'utf8');

    // cosign's key file works for lading's signer, and the two agree on the public key and its hint.
    const signer = await createKeySigner({ key: cosignKey, password: 'cosign-pw' });
    expect(signer.publicKey).toBe(publicKeyPEM(toPublicKey(cosignPub)));
    const ours = await signer.sign({ subject: subject.descriptor });
    const policy = { keys: [cosignPub] };
    expect((await createSigstoreVerifier(policy).verify(candidateFor(ours, subject))).keyHint).toBe(
      publicKeyHint(toPublicKey(cosignPub)),
    );

    const attestation = await cosignAttest('from-cosign.key', env, PredicateTypeCosignSign, 'empty-predicate.json');
    const verified = await createSigstoreVerifier(policy).verify(candidateFor(attestation, subject));
    expect(verified.predicateType).toBe(PredicateTypeCosignSign);
    expect(verified.keyHint).toBe(publicKeyHint(toPublicKey(cosignPub)));

    // sign-blob makes a message signature over the manifest bytes, blobber's shape: a plain signature.
    const signature = await cosignSignBlob('from-cosign.key', env);
    expect((await createSigstoreVerifier(policy).verify(candidateFor(signature, subject))).predicateType).toBe(
      PredicateTypeCosignSign,
    );
  });

  test('P-384 and RSA keys imported into cosign (cosign signs P-384 over SHA-384)', async () => {
    for (const [name, key] of [
      ['p384', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey],
      ['rsa', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ] as const) {
      const env = { COSIGN_PASSWORD: 'pw' };
      await writeFile(path.join(dir, `${name}.pem`), pkcs8(key));
      expectOK(
        await cosign(
          harness,
          dir,
          ['import-key-pair', '--key', `${name}.pem`, '--output-key-prefix', `imported-${name}`],
          env,
        ),
      );
      const attestation = await cosignAttest(
        `imported-${name}.key`,
        env,
        PredicateTypeCosignSign,
        'empty-predicate.json',
      );
      const verified = await createSigstoreVerifier({ keys: [publicKeyPEM(key)] }).verify(
        candidateFor(attestation, subject),
      );
      expect(verified.keyHint, name).toBe(publicKeyHint(key));
    }
  });

  test('a key pair from lading generateKeyPair is usable by cosign attest-blob and sign-blob', async () => {
    const pair = await generateKeyPair({ password: 'lading-pw' });
    await writeFile(path.join(dir, 'lading.key'), pair.privateKey, { mode: 0o600 });
    await writeFile(path.join(dir, 'lading.pub'), pair.publicKey);
    const env = { COSIGN_PASSWORD: 'lading-pw' };
    const attestation = await cosignAttest('lading.key', env, PredicateTypeCosignSign, 'empty-predicate.json');
    expect(
      (await createSigstoreVerifier({ keys: [pair.publicKey] }).verify(candidateFor(attestation, subject))).keyHint,
    ).toBe(pair.keyHint);
    await cosignSignBlob('lading.key', env, 'lading-blob.sigstore.json');
    expectOK(
      await cosign(harness, dir, [
        'verify-blob',
        '--key',
        'lading.pub',
        '--insecure-ignore-tlog',
        '--bundle',
        'lading-blob.sigstore.json',
        subject.file,
      ]),
    );
    const wrongPassword = await cosign(
      harness,
      dir,
      [
        'sign-blob',
        '--yes',
        '--key',
        'lading.key',
        '--signing-config',
        emptySigningConfig,
        '--trusted-root',
        harness.trustedRootPath,
        '--bundle',
        'x.json',
        subject.file,
      ],
      { COSIGN_PASSWORD: 'nope' },
    );
    expect(wrongPassword.code).not.toBe(0);
  });

  test('an SLSA attestation is refused where a signature is required, accepted where SLSA is', async () => {
    const env = { COSIGN_PASSWORD: 'slsa-pw' };
    const pair = await generateKeyPair({ password: 'slsa-pw' });
    await writeFile(path.join(dir, 'slsa.key'), pair.privateKey);
    const attestation = await cosignAttest('slsa.key', env, slsa, 'slsa-predicate.json');
    const candidate = candidateFor(attestation, subject);
    const why = await expectRefused(createSigstoreVerifier({ keys: [pair.publicKey] }), candidate);
    expect(why).toBe(`predicate type "${slsa}" is not the required "${PredicateTypeCosignSign}"`);
    expect(
      (await createSigstoreVerifier({ keys: [pair.publicKey], predicateType: slsa }).verify(candidate)).predicateType,
    ).toBe(slsa);
  });

  // With no state left behind: cosign ran with --trusted-root/--signing-config or key files only.
  test('cosign stayed offline (no TUF metadata fetched)', async () => {
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(harness.toolEnv.TUF_ROOT ?? '')).toEqual([]);
  });
});

async function writeKeyFiles(
  name: string,
  signer: KeySigner,
  bundle: Uint8Array,
): Promise<{ publicKey: string; bundle: string }> {
  const publicKey = path.join(dir, `${name}.pub`);
  const bundleFile = path.join(dir, `${name}.sigstore.json`);
  await writeFile(publicKey, signer.publicKey);
  await writeFile(bundleFile, bundle);
  return { publicKey, bundle: bundleFile };
}

async function cosignAttest(key: string, env: NodeJS.ProcessEnv, type: string, predicate: string) {
  const out = `attest-${path.basename(key)}-${type.replace(/\W+/g, '_')}.sigstore.json`;
  expectOK(
    await cosign(
      harness,
      dir,
      [
        'attest-blob',
        '--yes',
        '--key',
        key,
        '--signing-config',
        emptySigningConfig,
        '--trusted-root',
        harness.trustedRootPath,
        '--type',
        type,
        '--predicate',
        predicate,
        '--bundle',
        out,
        subject.file,
      ],
      env,
    ),
  );
  return referrerFromBundleFile(path.join(dir, out));
}

async function cosignSignBlob(key: string, env: NodeJS.ProcessEnv, out = `sign-${path.basename(key)}.sigstore.json`) {
  expectOK(
    await cosign(
      harness,
      dir,
      [
        'sign-blob',
        '--yes',
        '--key',
        key,
        '--signing-config',
        emptySigningConfig,
        '--trusted-root',
        harness.trustedRootPath,
        '--bundle',
        out,
        subject.file,
      ],
      env,
    ),
  );
  return referrerFromBundleFile(path.join(dir, out));
}
