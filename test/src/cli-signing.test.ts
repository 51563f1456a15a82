// `lading key generate`, `push --sign`, `sign` and the `--verify-*` flags of pull, ls and cat, run as the built
// binary against the test bed's distribution, the fake registry (referrers API on) and the offline Sigstore
// harness, with cosign 3.1.1 as the oracle. The invocations that accept lading's signatures are:
//
//   cosign verify --key cosign.pub --insecure-ignore-tlog --allow-http-registry <host>/<repo>@<digest>
//   cosign verify --trusted-root trusted_root.json --certificate-identity <id> \
//     --certificate-oidc-issuer <issuer> --allow-http-registry <host>/<repo>@<digest>
//
// and what cosign signs (`cosign sign --key cosign.key --signing-config <no services> --allow-http-registry --yes`)
// is accepted by `lading pull --verify-key cosign.pub`.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type {
  CatCommandResult,
  ErrorJSON,
  KeyGenerateResult,
  ListCommandResult,
  PullCommandResult,
  PushCommandResult,
  SignCommandResult,
} from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { descriptorFor } from '@lading/core';
import { readAll } from '@lading/core';

import { expectOK, expectVerificationRefused, json, ladingIn, occupiedDestination, snapshot } from './cli-runner.js';
import { isolatedClient } from './registry/helpers.js';
import { type FakeRegistry, startFakeRegistry } from './fake-registry/index.js';
import { startSigstoreHarness, type SigstoreHarness } from './sigstore-harness/index.js';
import {
  cosign as cosignIn,
  cosignIdentityFlags,
  cosignKeyFlags,
  cosignVerifyKeyArgs,
  ladingKeylessFlags,
  writeEmptySigningConfig,
} from './sigstore/fixtures.js';
import { makeToolHome, testbed, type RunResult } from './testbed/index.js';

let env: NodeJS.ProcessEnv;
let work: string;
let harness: SigstoreHarness;
let noServices: string;

/** Runs `lading args…` in `work` with the isolated environment (plus `extraEnv`) to completion. */
const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

/** Runs cosign 3.1.1 offline (the harness's tool environment) in `work`; never throws on its exit code. */
function cosign(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return cosignIn(harness, work, args, extraEnv);
}

const unique = (what: string): string => `cli/${what}-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-signing-'));
  await mkdir(path.join(work, 'config'));
  await writeFile(path.join(work, 'config/app.yaml'), 'name: app\n');
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  harness = await startSigstoreHarness();
  noServices = await writeEmptySigningConfig(work);
  // Two key pairs: ours, and another signer's whose public key must not be accepted for ours.
  const first = await lading(['key', 'generate', '--json'], { COSIGN_PASSWORD: 'pw-1' });
  expectOK(first, 'key generate');
  const other = await lading(
    ['key', 'generate', '--output-key-prefix', 'other', '--password-stdin'],
    {},
    { input: 'pw-2\n' },
  );
  expectOK(other, 'key generate other');
});

afterAll(async () => {
  await harness.close();
});

describe('lading key generate', () => {
  it('wrote cosign.key (mode 0600, cosign format) and cosign.pub, which cosign reads', async () => {
    expect((await stat(path.join(work, 'cosign.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(work, 'cosign.key'), 'utf8')).toMatch(
      /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/,
    );
    expect(await readFile(path.join(work, 'cosign.pub'), 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    // cosign reads the key with its password: it derives the same public key.
    const pub = await cosign(['public-key', '--key', 'cosign.key'], { COSIGN_PASSWORD: 'pw-1' });
    expectOK(pub, 'cosign public-key');
    expect(pub.stdout).toBe(await readFile(path.join(work, 'cosign.pub'), 'utf8'));
  });

  it('refuses to overwrite (exit 2, files unchanged) and needs a password', async () => {
    const key = await readFile(path.join(work, 'cosign.key'), 'utf8');
    const again = await lading(['key', 'generate', '--json'], { COSIGN_PASSWORD: 'x' });
    expect(again.code).toBe(2);
    expect(json<ErrorJSON>(again).error.message).toBe('key generate: cosign.key exists; it is not overwritten');
    expect(await readFile(path.join(work, 'cosign.key'), 'utf8')).toBe(key);

    const noPassword = await lading(['key', 'generate', '--output-key-prefix', 'nopw']);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toMatch(/^Error: key generate: no password: set COSIGN_PASSWORD/m);
    expect((await readdir(work)).filter((n) => n.startsWith('nopw'))).toEqual([]);
  });

  it('prints the written paths and the key hint as JSON', async () => {
    const result = await lading(['key', 'generate', '--json', '--output-key-prefix', 'json-key'], {
      COSIGN_PASSWORD: '',
    });
    expectOK(result, 'key generate --json');
    const out = json<KeyGenerateResult>(result);
    expect(out.privateKey).toBe(path.join(work, 'json-key.key'));
    expect(out.publicKey).toBe(path.join(work, 'json-key.pub'));
    expect(out.keyHint).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });
});

describe('key signatures on distribution: lading signs, cosign verifies; cosign signs, lading verifies', () => {
  let host: string;
  let name: string;
  let digest: string;
  let pushed: PushCommandResult;

  beforeAll(async () => {
    host = testbed().registries.anonymous.host;
    name = `${host}/${unique('signed')}`;
    const result = await lading(['push', '--json', '--sign', '--key', 'cosign.key', `${name}:v1`, 'config'], {
      COSIGN_PASSWORD: 'pw-1',
    });
    expectOK(result, 'push --sign');
    pushed = json<PushCommandResult>(result);
    digest = pushed.digest;
  });

  it('push --sign attaches a Sigstore bundle referrer and reports its digest', () => {
    expect(pushed.signature?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pushed.signature?.artifactType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(pushed.signature?.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  it('push --sign without --json keeps stdout to the manifest digest and names the signature on stderr', async () => {
    const result = await lading(
      ['push', '--sign', '--key', 'cosign.key', '--key-password-stdin', `${name}:v2`, 'notes.txt'],
      {},
      { input: 'pw-1\n' },
    );
    expectOK(result, 'push --sign --key-password-stdin');
    const manifest = result.stdout.trim();
    expect(manifest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.stderr).toMatch(new RegExp(`^Signed ${name}@${manifest}: signature sha256:[0-9a-f]{64}$`, 'm'));
  });

  it('cosign verify --key accepts the signature lading attached (interop proof)', async () => {
    const result = await cosign(cosignVerifyKeyArgs('cosign.pub', `${name}@${digest}`));
    expectOK(result, 'cosign verify');
    // cosign prints the verified payloads on stdout: the statement names our manifest digest.
    expect(result.stdout).toContain(digest.slice('sha256:'.length));
  });

  it('cosign verify refuses the signature for another key', async () => {
    const result = await cosign(cosignVerifyKeyArgs('other.pub', `${name}@${digest}`));
    expect(result.code).not.toBe(0);
  });

  it('pull --verify-key cosign.pub pulls and reports what it verified', async () => {
    const dest = await mkdtemp(path.join(work, 'verified-'));
    const result = await lading(['pull', '--json', '--verify-key', 'cosign.pub', `${name}:v1`, dest]);
    expectOK(result, 'pull --verify-key');
    const out = json<PullCommandResult>(result);
    expect(out.digest).toBe(digest);
    expect(out.verified).toHaveLength(1);
    expect(out.verified?.[0]).toMatchObject({
      verifier: 'sigstore',
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      referrer: pushed.signature?.digest,
    });
    expect(await readFile(path.join(dest, 'config/app.yaml'), 'utf8')).toBe('name: app\n');

    const plain = await lading([
      'pull',
      '--verify-key',
      'cosign.pub',
      `${name}:v1`,
      await mkdtemp(path.join(work, 'v-')),
    ]);
    expectOK(plain, 'pull --verify-key (text)');
    expect(plain.stderr).toMatch(/^Verified signature by key [A-Za-z0-9+/]{43}=, referrer sha256:[0-9a-f]{64}$/m);
  });

  it('pull --verify-key with another key is exit 5 and the destination is unchanged', async () => {
    const { dir, before } = await occupiedDestination(work, 'wrong-key');
    const result = await lading(['pull', '--json', '--overwrite', '--verify-key', 'other.pub', `${name}:v1`, dir]);
    expectVerificationRefused(result);
    expect(json<ErrorJSON>(result).error.message).toContain('the signature verifies with none of the 1 trusted keys');
    expect(await snapshot(dir)).toEqual(before);
    const text = await lading(['pull', '--verify-key', 'other.pub', `${name}:v1`, dir]);
    expect(text.code).toBe(5);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^Error: verify .*nothing was read$/m);
  });

  it('ls and cat check the signature too: accepted with the key, exit 5 with another', async () => {
    const ls = await lading(['ls', '--json', '--verify-key', 'cosign.pub', `${name}:v1`]);
    expectOK(ls, 'ls --verify-key');
    expect(json<ListCommandResult>(ls).verified?.[0]?.referrer).toBe(pushed.signature?.digest);
    const cat = await lading(['cat', '--verify-key', 'cosign.pub', `${name}:v1`, 'config/app.yaml']);
    expectOK(cat, 'cat --verify-key');
    expect(cat.stdout).toBe('name: app\n');
    const catJSON = await lading(['cat', '--json', '--verify-key', 'cosign.pub', `${name}:v1`, 'config/app.yaml']);
    expect(json<CatCommandResult>(catJSON).verified).toHaveLength(1);

    expectVerificationRefused(await lading(['ls', '--json', '--verify-key', 'other.pub', `${name}:v1`]));
    const refused = await lading(['cat', '--verify-key', 'other.pub', `${name}:v1`, 'config/app.yaml']);
    expect(refused.code).toBe(5);
    expect(refused.stdout).toBe('');
  });

  it('an unsigned artifact with --verify-key is exit 5 and nothing is written', async () => {
    const unsigned = `${host}/${unique('unsigned')}:v1`;
    expectOK(await lading(['push', unsigned, 'notes.txt']), 'push unsigned');
    const parent = await mkdtemp(path.join(work, 'unsigned-'));
    const dest = path.join(parent, 'dest');
    const result = await lading(['pull', '--json', '--verify-key', 'cosign.pub', unsigned, dest]);
    expectVerificationRefused(result);
    expect(json<ErrorJSON>(result).error.message).toMatch(/no sigstore signature among 0 referrer\(s\)/);
    expect(await readdir(parent)).toEqual([]);
  });

  it('a tampered manifest (the tag moved to an edited copy of the signed one) is exit 5, nothing written', async () => {
    const tampered = `${host}/${unique('tampered')}`;
    const signed = await lading(['push', '--json', '--sign', '--key', 'cosign.key', `${tampered}:v1`, 'config'], {
      COSIGN_PASSWORD: 'pw-1',
    });
    expectOK(signed, 'push --sign (to tamper with)');
    const original = json<PushCommandResult>(signed);
    const repo = isolatedClient().repository(tampered);
    const desc = await repo.resolve('v1');
    const manifest = JSON.parse(Buffer.from(await readAll(await repo.fetch(desc), desc.size, 'test')).toString()) as {
      annotations?: Record<string, string>;
    };
    // Same layers, one annotation changed: a different manifest that carries none of the original's signatures.
    manifest.annotations = { ...manifest.annotations, 'org.opencontainers.image.description': 'tampered' };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const edited = descriptorFor(desc.mediaType, bytes);
    await repo.pushManifest(edited, bytes, ['v1']);
    expect(edited.digest).not.toBe(original.digest);

    const parent = await mkdtemp(path.join(work, 'tampered-'));
    const result = await lading([
      'pull',
      '--json',
      '--verify-key',
      'cosign.pub',
      `${tampered}:v1`,
      path.join(parent, 'd'),
    ]);
    expectVerificationRefused(result);
    expect(json<ErrorJSON>(result).error.message).toContain(edited.digest);
    expect(await readdir(parent)).toEqual([]);
    // The original, by digest, still verifies: the signature is bound to the digest, not to the tag.
    expectOK(
      await lading(['verify', '--verify-key', 'cosign.pub', `${tampered}@${original.digest}`]),
      'verify the original by digest',
    );
  });

  it('cosign sign --key: lading pull --verify-key accepts cosign’s signature', async () => {
    const other = `${host}/${unique('cosign-signed')}`;
    const result = await lading(['push', '--json', `${other}:v1`, 'notes.txt']);
    expectOK(result, 'push');
    const manifest = json<PushCommandResult>(result).digest;
    const signed = await cosign(['sign', ...cosignKeyFlags('other.key', noServices), `${other}@${manifest}`], {
      COSIGN_PASSWORD: 'pw-2',
    });
    expectOK(signed, 'cosign sign');
    const dest = await mkdtemp(path.join(work, 'cosign-'));
    const pulled = await lading(['pull', '--json', '--verify-key', 'other.pub', `${other}:v1`, dest]);
    expectOK(pulled, 'pull --verify-key other.pub');
    expect(json<PullCommandResult>(pulled).verified?.[0]?.predicateType).toBe('https://sigstore.dev/cosign/sign/v1');
    expect(await readFile(path.join(dest, 'notes.txt'), 'utf8')).toBe('release notes\n');
    expectVerificationRefused(await lading(['pull', '--json', '--verify-key', 'cosign.pub', `${other}:v1`, dest]));
  });

  it('lading sign --key signs an existing artifact; cosign verify and pull --verify-key accept it', async () => {
    const existing = `${host}/${unique('sign-later')}`;
    const result = await lading(['push', '--json', `${existing}:v1`, 'notes.txt']);
    expectOK(result, 'push');
    const manifest = json<PushCommandResult>(result).digest;
    expectVerificationRefused(await lading(['ls', '--json', '--verify-key', 'cosign.pub', `${existing}:v1`]));

    const signed = await lading(['sign', '--json', '--key', 'cosign.key', `${existing}:v1`], {
      COSIGN_PASSWORD: 'pw-1',
    });
    expectOK(signed, 'sign');
    const out = json<SignCommandResult>(signed);
    expect(out.reference).toBe(`${existing}@${manifest}`);
    expect(out.digest).toBe(manifest);
    expect(out.signature.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    expectOK(await cosign(cosignVerifyKeyArgs('cosign.pub', `${existing}@${manifest}`)), 'cosign verify');
    expectOK(await lading(['ls', '--verify-key', 'cosign.pub', `${existing}:v1`]), 'ls --verify-key');
  });

  it('a wrong key password fails before anything is pushed (exit 2)', async () => {
    const repo = `${host}/${unique('bad-password')}`;
    const result = await lading(['push', '--sign', '--key', 'cosign.key', `${repo}:v1`, 'notes.txt'], {
      COSIGN_PASSWORD: 'wrong',
    });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Error: --key cosign\.key: /m);
    expect((await lading(['ls', `${repo}:v1`])).code).toBe(3);
  });

  it('keyless without an identity token fails before anything is pushed (exit 4)', async () => {
    const repo = `${host}/${unique('no-token')}`;
    const result = await lading(['push', '--sign', `${repo}:v1`, 'notes.txt']);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Error: identity token: none in the environment/m);
    // No registry-login hint: the message itself says how to provide a token.
    expect(result.stderr).not.toContain('docker login');
    expect((await lading(['ls', `${repo}:v1`])).code).toBe(3);
  });

  it('usage errors: signing flags without --sign, an identity half-given, a missing key file', async () => {
    const ref = `${host}/${unique('usage')}:v1`;
    const noSign = await lading(['push', '--key', 'cosign.key', ref, 'notes.txt']);
    expect(noSign.code).toBe(2);
    expect(noSign.stderr).toMatch(/^Error: push: the signing flags .* need --sign$/m);
    const half = await lading(['pull', '--verify-issuer', 'https://issuer.example', `${name}:v1`, work]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/^Error: --verify-issuer: give the signer too/m);
    const missing = await lading(['pull', '--verify-key', 'nope.pub', `${name}:v1`, work]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^Error: --verify-key nope\.pub: ENOENT/m);
  });
});

describe('keyless signatures (offline Sigstore harness)', () => {
  const subject = 'alice@example.com';
  let name: string;
  let digest: string;

  beforeAll(async () => {
    name = `${testbed().registries.anonymous.host}/${unique('keyless')}`;
    const signing = ['--sign', ...ladingKeylessFlags(harness, harness.identityToken({ subject, email: subject }))];
    const result = await lading(['push', '--json', ...signing, `${name}:v1`, 'config']);
    expectOK(result, 'push --sign keyless');
    digest = json<PushCommandResult>(result).digest;
  });

  it('cosign verify accepts the identity against the harness trusted root', async () => {
    const result = await cosign([
      'verify',
      ...cosignIdentityFlags(harness, subject),
      '--allow-http-registry',
      `${name}@${digest}`,
    ]);
    expectOK(result, 'cosign verify keyless');
  });

  it('pull --verify-issuer --verify-subject --trusted-root accepts it; another subject is exit 5', async () => {
    const dest = await mkdtemp(path.join(work, 'keyless-'));
    const flags = ['--trusted-root', harness.trustedRootPath, '--verify-issuer', harness.oidcIssuer];
    const result = await lading(['pull', '--json', ...flags, '--verify-subject', subject, `${name}:v1`, dest]);
    expectOK(result, 'pull keyless');
    expect(json<PullCommandResult>(result).verified?.[0]).toMatchObject({
      identity: subject,
      issuer: harness.oidcIssuer,
    });
    expect(await readFile(path.join(dest, 'config/app.yaml'), 'utf8')).toBe('name: app\n');

    const regexp = await lading(['ls', ...flags, '--verify-subject-regexp', '.*@example\\.com', `${name}:v1`]);
    expectOK(regexp, 'ls --verify-subject-regexp');

    const { dir, before } = await occupiedDestination(work, 'keyless-wrong');
    const wrong = await lading([
      'pull',
      '--json',
      '--overwrite',
      ...flags,
      '--verify-subject',
      'mallory@example.com',
      `${name}:v1`,
      dir,
    ]);
    expectVerificationRefused(wrong);
    expect(json<ErrorJSON>(wrong).error.message).toContain('mallory@example.com');
    expect(await snapshot(dir)).toEqual(before);
  });

  it('--verify-unsafe accepts any identity, with a warning', async () => {
    const result = await lading([
      'ls',
      '--json',
      '--verify-unsafe',
      '--trusted-root',
      harness.trustedRootPath,
      `${name}:v1`,
    ]);
    expectOK(result, 'ls --verify-unsafe');
    expect(result.stderr).toMatch(/^Warning: --verify-unsafe: /m);
    expect(json<ListCommandResult>(result).verified?.[0]?.identity).toBe(subject);
  });
});

describe('against the fake registry with the referrers API', () => {
  let registry: FakeRegistry;
  let ref: string;
  let digest: string;
  let signature: string;

  beforeAll(async () => {
    registry = await startFakeRegistry({ referrersAPI: true });
    ref = `${registry.host}/cli/signed:v1`;
    const result = await lading(['push', '--json', '--sign', '--key', 'cosign.key', ref, 'config'], {
      COSIGN_PASSWORD: 'pw-1',
    });
    expectOK(result, 'push --sign (fake registry)');
    const out = json<PushCommandResult>(result);
    digest = out.digest;
    signature = out.signature?.digest ?? '';
  });
  afterAll(async () => {
    await registry.close();
  });

  it('the referrers API lists the signature', () => {
    const listed = registry.referrers('cli/signed', digest);
    expect(listed.map((d) => [d.digest, d.artifactType])).toEqual([
      [signature, 'application/vnd.dev.sigstore.bundle.v0.3+json'],
    ]);
  });

  it('pull --verify-key accepts our key and refuses another (exit 5, nothing written)', async () => {
    const dest = await mkdtemp(path.join(work, 'fake-'));
    const ok = await lading(['pull', '--json', '--verify-key', 'cosign.pub', ref, dest]);
    expectOK(ok, 'pull --verify-key (fake registry)');
    expect(json<PullCommandResult>(ok).verified?.[0]?.referrer).toBe(signature);
    const empty = await mkdtemp(path.join(work, 'fake-refused-'));
    expectVerificationRefused(await lading(['pull', '--json', '--verify-key', 'other.pub', ref, empty]));
    expect(await readdir(empty)).toEqual([]);
  });

  it('lading sign adds a second signature the other key then accepts', async () => {
    const signed = await lading(['sign', '--key', 'other.key', '--key-password-stdin', ref], {}, { input: 'pw-2\n' });
    expectOK(signed, 'sign (fake registry)');
    const second = signed.stdout.trim();
    expect(second).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(
      registry
        .referrers('cli/signed', digest)
        .map((d) => d.digest)
        .sort(),
    ).toEqual([signature, second].sort());
    const cat = await lading(['cat', '--verify-key', 'other.pub', ref, 'config/app.yaml']);
    expectOK(cat, 'cat --verify-key other.pub');
    expect(cat.stdout).toBe('name: app\n');
  });
});
