// Trusted roots and bundles are checked strictly by @lading/sigstore before @sigstore/verify sees them, whatever
// their source: an authority without `validFor.start` (which sigstore-js would trust since 1970), a bundle carrying
// its root certificate, and a v0.1 bundle whose inclusion proof has no checkpoint (which crashed the verifier) are
// refused with a clear reason. Signatures are real (lading keyless against the offline Sigstore harness); the
// variants are edits of them, each next to an unedited control that verifies.

import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON, PushCommandResult } from '@lading/cli';
import {
  attachSignature,
  ErrorCodes,
  isLadingError,
  RegistryClient,
  type LadingError,
  type SignedReferrer,
} from '@lading/core';
import { createKeylessSigner, createSigstoreVerifier, fetchTrustedRoot, loadTrustedRoot } from '@lading/sigstore';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn } from '../cli-runner.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { startTUFRepository } from '../sigstore-harness/tuf.js';
import { makeToolHome, testbed } from '../testbed/index.js';
import {
  candidateFor,
  expectRefused,
  ladingIdentityFlags,
  ladingKeylessFlags,
  makeSubject,
  workFolder,
  type SignedSubject,
} from './fixtures.js';

const alice = 'alice@example.com';

let harness: SigstoreHarness;
let dir: string;
let cleanup: () => Promise<void>;
let subject: SignedSubject;
/** A lading keyless signature (v0.3 bundle: leaf certificate, Rekor entry with promise and proof, TSA timestamp). */
let signed: SignedReferrer;

beforeAll(async () => {
  harness = await startSigstoreHarness();
  ({ dir, cleanup } = await workFolder('sigstore-strict'));
  subject = await makeSubject(dir, 'manifest');
  const signer = await createKeylessSigner({
    identityToken: harness.identityToken({ subject: 'account-1', email: alice }),
    signingConfig: harness.signingConfigPath,
  });
  signed = await signer.sign({ subject: subject.descriptor });
});

afterAll(async () => {
  await harness.close();
  await cleanup();
});

const identities = () => [{ subject: alice, issuer: harness.oidcIssuer }];

async function refusal(promise: Promise<unknown>): Promise<LadingError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLadingError(error)) throw new Error(`expected a LadingError, got ${String(error)}`);
  return error;
}

type RootJSON = Record<string, { publicKey?: { validFor?: { start?: string } }; validFor?: { start?: string } }[]>;

/** The harness's trusted root as JSON, with `validFor.start` of the first authority of `kind` removed. */
function undatedRoot(kind: string): RootJSON {
  const root = TrustedRoot.toJSON(harness.trustedRoot) as RootJSON;
  const authority = root[kind]?.[0];
  if (authority === undefined) throw new Error(`the harness root has no ${kind}`);
  const window = kind === 'tlogs' || kind === 'ctlogs' ? authority.publicKey?.validFor : authority.validFor;
  if (window?.start === undefined) throw new Error(`${kind}[0] has no start to remove`);
  delete window.start;
  return root;
}

const authorityKinds = [
  ['tlogs', 'public key has no validFor.start'],
  ['ctlogs', 'public key has no validFor.start'],
  ['certificateAuthorities', 'has no validFor.start'],
  ['timestampAuthorities', 'has no validFor.start'],
] as const;

describe('trusted roots: every authority must be dated (validFor.start)', () => {
  it.each(authorityKinds)(
    'a root whose %s[0] has no start is refused from a file and as an object (ERR_LADING_USAGE)',
    async (kind, problem) => {
      const file = path.join(dir, `undated-${kind}.json`);
      await writeFile(file, JSON.stringify(undatedRoot(kind)));
      const candidate = candidateFor(signed, subject);

      // From a file: the signature, which verifies under the dated root, is not even looked at.
      const verifier = createSigstoreVerifier({ trustedRoot: file, identities: identities() });
      const fromFile = await refusal(verifier.verify(candidate));
      expect(fromFile.code).toBe(ErrorCodes.usage);
      expect(fromFile.message).toMatch(
        new RegExp(`^load trusted root ${file}: ${kind}\\[0\\] \\(http://[^)]+\\) ${problem}; `),
      );
      expect(fromFile.message).toContain('validFor.start');
      await expect(loadTrustedRoot(file)).rejects.toThrow(problem);

      // As an object: refused when the verifier is made.
      const object = TrustedRoot.fromJSON(undatedRoot(kind));
      expect(() => createSigstoreVerifier({ trustedRoot: object, identities: identities() })).toThrow(
        new RegExp(`^load trusted root object: ${kind}\\[0\\] .*${problem}`),
      );
    },
  );

  it('the same root served by a TUF mirror is refused (ERR_LADING_VERIFICATION), nothing from it trusted', async () => {
    const repo = await startTUFRepository({
      trustedRoot: Buffer.from(JSON.stringify(undatedRoot('tlogs'))),
    });
    try {
      const cachePath = path.join(dir, `tuf-cache-${randomBytes(4).toString('hex')}`);
      await mkdir(cachePath);
      const error = await refusal(fetchTrustedRoot({ mirrorURL: repo.url, rootPath: repo.initialRootPath, cachePath }));
      expect(error.code).toBe(ErrorCodes.verification);
      expect(error.message).toContain(
        `load trusted root tuf ${repo.url}: target trusted_root.json is refused: tlogs[0] (${harness.rekorURL}) public key has no validFor.start`,
      );
    } finally {
      await repo.close();
    }
  });

  it('the dated harness root (the control) verifies the same signature', async () => {
    const verifier = createSigstoreVerifier({ trustedRoot: harness.trustedRootPath, identities: identities() });
    expect(await verifier.verify(candidateFor(signed, subject))).toMatchObject({ identity: alice });
  });
});

interface BundleJSON {
  mediaType: string;
  verificationMaterial: {
    certificate?: { rawBytes: string };
    x509CertificateChain?: { certificates: { rawBytes: string }[] };
    tlogEntries: { inclusionPromise?: unknown; inclusionProof?: { checkpoint?: { envelope: string } } }[];
  };
}

/**
 * The lading bundle rewritten as an older bundle version with its leaf in an `x509CertificateChain` followed by
 * `extra` certificates (base64 DER), edited by `edit`; as the referrer cosign 2 would have attached.
 */
function olderBundle(
  version: '0.1' | '0.2',
  extra: readonly string[] = [],
  edit: (bundle: BundleJSON) => void = () => undefined,
  source: SignedReferrer = signed,
): SignedReferrer {
  const bundle = JSON.parse(Buffer.from(source.content).toString()) as BundleJSON;
  const leaf = bundle.verificationMaterial.certificate;
  if (leaf === undefined) throw new Error('the lading bundle has no leaf certificate');
  const mediaType = `application/vnd.dev.sigstore.bundle+json;version=${version}`;
  bundle.mediaType = mediaType;
  delete bundle.verificationMaterial.certificate;
  bundle.verificationMaterial.x509CertificateChain = {
    certificates: [leaf, ...extra.map((rawBytes) => ({ rawBytes }))],
  };
  edit(bundle);
  return {
    ...signed,
    artifactType: mediaType,
    layerMediaType: mediaType,
    content: Buffer.from(JSON.stringify(bundle)),
  };
}

/** The harness's Fulcio root certificate (base64 DER), the one the trusted root trusts. */
function fulcioRoot(): string {
  const raw = harness.trustedRoot.certificateAuthorities[0]?.certChain?.certificates[0]?.rawBytes;
  if (raw === undefined) throw new Error('the harness root has no CA certificate');
  return Buffer.from(raw).toString('base64');
}

describe('bundles: no root in the chain, no inclusion proof without a checkpoint', () => {
  const verifier = () => createSigstoreVerifier({ trustedRoot: harness.trustedRootPath, identities: identities() });

  it('a v0.2 bundle with the leaf alone verifies (control); with the root certificate after it, it is refused', async () => {
    const control = candidateFor(olderBundle('0.2'), subject);
    expect(await verifier().verify(control)).toMatchObject({ identity: alice, referrer: control.referrer.digest });

    const withRoot = candidateFor(olderBundle('0.2', [fulcioRoot()]), subject);
    expect(await expectRefused(verifier(), withRoot)).toBe(
      'certificate chain [1] is a root certificate (self-issued); a bundle must not carry its root: the trusted root alone says which roots are trusted',
    );
  });

  it('a v0.1 bundle whose inclusion proof lost its checkpoint is refused with the reason, not a crash', async () => {
    const control = candidateFor(olderBundle('0.1'), subject);
    const entry = (JSON.parse(Buffer.from(control.content).toString()) as BundleJSON).verificationMaterial
      .tlogEntries[0];
    expect(entry?.inclusionPromise).toBeDefined();
    expect(entry?.inclusionProof?.checkpoint?.envelope).toBeTruthy();
    expect(await verifier().verify(control)).toMatchObject({ identity: alice });

    const noCheckpoint = candidateFor(
      olderBundle('0.1', [], (bundle) => {
        delete bundle.verificationMaterial.tlogEntries[0]?.inclusionProof?.checkpoint;
      }),
      subject,
    );
    const why = await expectRefused(verifier(), noCheckpoint);
    expect(why).toMatch(/^tlogEntries\[0\] \(log index \d+\) has an inclusion proof without a checkpoint/);
    expect(why).not.toMatch(/Cannot read properties/);
  });
});

describe('lading verify: undated trusted roots and malformed bundles', () => {
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  const lading = ladingIn(() => ({ cwd, env }), { inProcess: true });

  beforeAll(async () => {
    cwd = path.join(dir, 'cli');
    await mkdir(path.join(cwd, 'config'), { recursive: true });
    ({ env } = await makeToolHome(cwd));
    await writeFile(path.join(cwd, 'config/app.yaml'), 'name: app\n');
  });

  it('--trusted-root with an undated authority is exit 2 (usage) naming the file and the authority', async () => {
    const name = `${testbed().registries.anonymous.host}/strict/undated-${randomBytes(4).toString('hex')}`;
    const token = harness.identityToken({ subject: 'account-1', email: alice });
    const pushed = await lading([
      'push',
      '--json',
      '--sign',
      ...ladingKeylessFlags(harness, token),
      `${name}:v1`,
      'config',
    ]);
    expectOK(pushed);
    const ref = `${name}@${json<PushCommandResult>(pushed).digest}`;
    expectOK(await lading(['verify', ...ladingIdentityFlags(harness, alice), ref]), 'the control verifies');

    const file = path.join(cwd, 'undated.json');
    await writeFile(file, JSON.stringify(undatedRoot('tlogs')));
    const flags = ['--trusted-root', file, '--verify-issuer', harness.oidcIssuer, '--verify-subject', alice];
    const result = await lading(['verify', '--json', ...flags, ref]);
    expect(result.code, result.stderr).toBe(2);
    const error = json<ErrorJSON>(result).error;
    expect(error).toMatchObject({ code: 'ERR_LADING_USAGE', exitCode: 2 });
    expect(error.message).toContain(
      `load trusted root ${file}: tlogs[0] (${harness.rekorURL}) public key has no validFor.start`,
    );
  });

  /**
   * Pushes an unsigned artifact, signs its manifest keylessly with lading's signer, and attaches `edit` of that
   * bundle as the only signature referrer (as an old cosign would have). Returns the digest reference.
   */
  async function attachEdited(edit: (signature: SignedReferrer) => SignedReferrer): Promise<string> {
    const name = `${testbed().registries.anonymous.host}/strict/bundle-${randomBytes(4).toString('hex')}`;
    expectOK(await lading(['push', `${name}:v1`, 'config']));
    const client = new RegistryClient();
    try {
      const repository = client.repository(name);
      const manifest = await repository.resolve('v1');
      const signer = await createKeylessSigner({
        identityToken: harness.identityToken({ subject: 'account-1', email: alice }),
        signingConfig: harness.signingConfigPath,
      });
      await attachSignature(repository, manifest, edit(await signer.sign({ subject: manifest })));
      return `${name}@${manifest.digest}`;
    } finally {
      await client.http.close();
    }
  }

  it('a bundle carrying the root certificate is exit 5 with the reason', async () => {
    const ref = await attachEdited((signature) => olderBundle('0.2', [fulcioRoot()], undefined, signature));
    const result = await lading(['verify', '--json', ...ladingIdentityFlags(harness, alice), ref]);
    expect(expectVerificationRefused(result).message).toContain(
      'certificate chain [1] is a root certificate (self-issued); a bundle must not carry its root',
    );
  });

  it('a v0.1 bundle whose inclusion proof has no checkpoint is exit 5 with the reason, not a crash', async () => {
    const ref = await attachEdited((signature) =>
      olderBundle(
        '0.1',
        [],
        (bundle) => {
          delete bundle.verificationMaterial.tlogEntries[0]?.inclusionProof?.checkpoint;
        },
        signature,
      ),
    );
    const result = await lading(['verify', '--json', ...ladingIdentityFlags(harness, alice), ref]);
    const error = expectVerificationRefused(result);
    expect(error.message).toMatch(/tlogEntries\[0\] \(log index \d+\) has an inclusion proof without a checkpoint/);
    expect(error.message).not.toMatch(/Cannot read properties/);
  });
});
