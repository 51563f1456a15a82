// Verification policy details, run as the built binary against the test bed's anonymous distribution and the
// offline Sigstore harness, with cosign 3.1.1 as the oracle:
//
// - Fulcio certificate extensions. lading signs keyless with a GitHub Actions-style token (repository, ref, sha,
//   workflow refs, run id…); the harness Fulcio maps those claims to extensions as Fulcio does, which cosign checks
//   with
//     cosign verify --trusted-root trusted_root.json \
//       --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main \
//       --certificate-oidc-issuer https://token.actions.githubusercontent.com \
//       --certificate-github-workflow-repository acme/app --certificate-github-workflow-ref refs/heads/main \
//       --certificate-github-workflow-sha <sha> --allow-http-registry <host>/<repo>@<digest>
//   and lading checks with --verify-repository, --verify-signer-workflow, --verify-source-ref and
//   --verify-source-digest.
// - Evidence thresholds: --verify-tlog-threshold, --verify-timestamp-threshold, --verify-ctlog-threshold.
// - Key signatures logged in Rekor (--key --tlog-upload), which cosign accepts without --insecure-ignore-tlog:
//     cosign verify --key cosign.pub --trusted-root trusted_root.json --allow-http-registry <host>/<repo>@<digest>

import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON, PullCommandResult, PushCommandResult, VerifyCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  expectOK,
  expectVerificationRefused,
  json,
  ladingIn,
  occupiedDestination,
  snapshot,
  type LadingTextRun,
} from '../cli-runner.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { makeToolHome, testbed, type RunResult } from '../testbed/index.js';
import { cosign as cosignIn, cosignIdentityFlags, ladingIdentityFlags, ladingKeylessFlags } from './fixtures.js';

const githubIssuer = 'https://token.actions.githubusercontent.com';
const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const workflowPath = 'acme/app/.github/workflows/release.yml';
const workflowURI = `https://github.com/${workflowPath}@refs/heads/main`;

/** The claims of a GitHub Actions OIDC token for a push to main of acme/app, running release.yml. */
const githubClaims = {
  iss: githubIssuer,
  sub: 'repo:acme/app:ref:refs/heads/main',
  repository: 'acme/app',
  repository_id: '123456',
  repository_owner: 'acme',
  repository_owner_id: '7890',
  repository_visibility: 'public',
  ref: 'refs/heads/main',
  sha,
  event_name: 'push',
  workflow: 'release',
  workflow_ref: `${workflowPath}@refs/heads/main`,
  workflow_sha: sha,
  job_workflow_ref: `${workflowPath}@refs/heads/main`,
  job_workflow_sha: sha,
  runner_environment: 'github-hosted',
  run_id: '4242',
  run_attempt: '1',
};

/** What Fulcio writes for {@link githubClaims}, by the names lading reports them. */
const githubExtensions = {
  issuer: githubIssuer,
  buildSignerURI: workflowURI,
  buildSignerDigest: sha,
  runnerEnvironment: 'github-hosted',
  sourceRepositoryURI: 'https://github.com/acme/app',
  sourceRepositoryDigest: sha,
  sourceRepositoryRef: 'refs/heads/main',
  sourceRepositoryIdentifier: '123456',
  sourceRepositoryOwnerURI: 'https://github.com/acme',
  sourceRepositoryOwnerIdentifier: '7890',
  buildConfigURI: workflowURI,
  buildConfigDigest: sha,
  buildTrigger: 'push',
  runInvocationURI: 'https://github.com/acme/app/actions/runs/4242/attempts/1',
  sourceRepositoryVisibilityAtSigning: 'public',
};

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let harness: SigstoreHarness;

/** Runs `lading args…` in `work` with the isolated environment (plus `extraEnv`) to completion. */
const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

/** Runs cosign 3.1.1 offline (the harness's tool environment) in `work`; never throws on its exit code. */
function cosign(args: readonly string[]): Promise<RunResult> {
  return cosignIn(harness, work, args);
}

/** Expects exit 2 with ERR_LADING_USAGE; returns the message (JSON when `--json` was given, else stderr). */
function expectUsage(result: LadingTextRun): string {
  expect(result.code, result.stderr).toBe(2);
  if (result.stdout === '') return result.stderr;
  const error = json<ErrorJSON>(result).error;
  expect(error.code).toBe('ERR_LADING_USAGE');
  return error.message;
}

const unique = (what: string): string => `${host}/policy/${what}-${randomBytes(4).toString('hex')}`;

/**
 * An RS256 compact JWS carrying `claims` plus audience `sigstore` and a ten-minute validity. The harness Fulcio
 * never checks the signature; the claims are what matters.
 */
function githubToken(claims: Record<string, string> = githubClaims): string {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const now = Math.floor(Date.now() / 1000);
  const payload = { ...claims, aud: 'sigstore', iat: now, nbf: now, exp: now + 600, jti: randomUUID() };
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** Pushes notes.txt to `name:v1` with the extra push arguments (signing), returns the manifest digest. */
async function push(name: string, signing: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await lading(['push', '--json', ...signing, `${name}:v1`, 'notes.txt'], extraEnv);
  expectOK(result, 'push');
  return json<PushCommandResult>(result).digest;
}

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'policy-interop-'));
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  harness = await startSigstoreHarness();
});

afterAll(async () => {
  await harness.close();
});

describe('Fulcio certificate extensions (GitHub Actions-style keyless signature)', () => {
  let name: string;
  let digest: string;
  /** The keyless identity flags that accept the GitHub signature. */
  let identity: string[];

  beforeAll(async () => {
    name = unique('github');
    digest = await push(name, ['--sign', ...ladingKeylessFlags(harness, githubToken())]);
    identity = ladingIdentityFlags(harness, workflowURI, githubIssuer);
  });

  it('cosign finds the extensions the harness Fulcio wrote from the token claims', async () => {
    const base = ['verify', ...cosignIdentityFlags(harness, workflowURI, githubIssuer), '--allow-http-registry'];
    const github = [
      '--certificate-github-workflow-repository',
      'acme/app',
      '--certificate-github-workflow-ref',
      'refs/heads/main',
      '--certificate-github-workflow-sha',
      sha,
      '--certificate-github-workflow-trigger',
      'push',
    ];
    expectOK(await cosign([...base, ...github, `${name}@${digest}`]), 'cosign verify with the GitHub claims');
    const other = await cosign([
      ...base,
      '--certificate-github-workflow-repository',
      'acme/other',
      `${name}@${digest}`,
    ]);
    expect(other.code, other.stderr).not.toBe(0);
  });

  it('verify accepts matching --verify-repository and --verify-signer-workflow; --json lists the extensions', async () => {
    const result = await lading([
      'verify',
      '--json',
      ...identity,
      '--verify-repository',
      'acme/app',
      '--verify-signer-workflow',
      workflowPath,
      '--verify-source-ref',
      'refs/heads/main',
      '--verify-source-digest',
      sha,
      `${name}:v1`,
    ]);
    expectOK(result, 'verify with extension flags');
    const verified = json<VerifyCommandResult>(result).verified;
    expect(verified).toHaveLength(1);
    expect(verified[0]).toMatchObject({ identity: workflowURI, issuer: githubIssuer });
    expect(verified[0]?.extensions).toEqual(githubExtensions);

    const text = await lading([
      'verify',
      ...identity,
      '--verify-repository',
      'https://github.com/acme/app',
      '--verify-signer-workflow',
      workflowURI,
      `${name}:v1`,
    ]);
    expectOK(text, 'verify with full URIs');
    expect(text.stdout).toContain(
      `Verified signature by ${workflowURI} (issuer ${githubIssuer}), repository https://github.com/acme/app, referrer `,
    );
  });

  it('pull --json shows the extensions and writes the files', async () => {
    const dest = await mkdtemp(path.join(work, 'github-'));
    const result = await lading(['pull', '--json', ...identity, '--verify-repository', 'acme/app', `${name}:v1`, dest]);
    expectOK(result, 'pull with --verify-repository');
    expect(json<PullCommandResult>(result).verified?.[0]?.extensions).toEqual(githubExtensions);
    expect(await readFile(path.join(dest, 'notes.txt'), 'utf8')).toBe('release notes\n');
  });

  it.each([
    [
      ['--verify-repository', 'acme/other'],
      'sourceRepositoryURI "https://github.com/acme/app" is not "https://github.com/acme/other"',
    ],
    [['--verify-repository', 'https://github.com/acme/app/'], 'sourceRepositoryURI'],
    [['--verify-signer-workflow', 'acme/app/.github/workflows/other.yml'], 'buildSignerURI'],
    // The workflow is matched up to "@": a file whose name only starts the same does not match.
    [['--verify-signer-workflow', 'acme/app/.github/workflows/release'], 'buildSignerURI'],
    [['--verify-signer-workflow', 'other/app/.github/workflows/release.yml'], 'buildSignerURI'],
    [['--verify-signer-workflow', `https://github.com/${workflowPath}@refs/heads/dev`], 'buildSignerURI'],
    [['--verify-source-ref', 'refs/heads/dev'], 'sourceRepositoryRef "refs/heads/main" is not "refs/heads/dev"'],
    [['--verify-source-digest', '0'.repeat(40)], `sourceRepositoryDigest "${sha}" is not "${'0'.repeat(40)}"`],
  ])('pull %j is refused (exit 5), nothing written', async (flags, why) => {
    const { dir, before } = await occupiedDestination(work, 'github-wrong');
    const result = await lading(['pull', '--json', '--overwrite', ...identity, ...flags, `${name}:v1`, dir]);
    const message = expectVerificationRefused(result).message;
    expect(message).toContain('untrusted certificate identity: certificate extension ');
    expect(message).toContain(why);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('a signature whose certificate has no repository extension is refused when one is required', async () => {
    const plain = unique('email');
    const token = harness.identityToken({ subject: 'account-1', email: 'alice@example.com' });
    await push(plain, ['--sign', ...ladingKeylessFlags(harness, token)]);
    const flags = ['--trusted-root', harness.trustedRootPath, '--verify-issuer', harness.oidcIssuer];
    const accepted = await lading([
      'verify',
      '--json',
      ...flags,
      '--verify-subject',
      'alice@example.com',
      `${plain}:v1`,
    ]);
    expectOK(accepted, 'verify the email signature');
    // Only the issuer extension: an email token carries no GitHub claims.
    expect(json<VerifyCommandResult>(accepted).verified[0]?.extensions).toEqual({ issuer: harness.oidcIssuer });
    const refused = await lading([
      'verify',
      '--json',
      ...flags,
      '--verify-subject',
      'alice@example.com',
      '--verify-repository',
      'acme/app',
      `${plain}:v1`,
    ]);
    expect(expectVerificationRefused(refused).message).toContain(
      'certificate extension sourceRepositoryURI (none) is not "https://github.com/acme/app"',
    );
  });
});

describe('evidence thresholds', () => {
  let keyless: string;
  let identity: string[];

  beforeAll(async () => {
    // The harness signing config names Fulcio (one SCT), Rekor (one entry, with a promise) and a TSA.
    keyless = unique('thresholds');
    const token = harness.identityToken({ subject: 'account-1', email: 'alice@example.com' });
    await push(keyless, ['--sign', ...ladingKeylessFlags(harness, token)]);
    identity = ladingIdentityFlags(harness, 'alice@example.com');
  });

  it('accepts what the bundle has: 1 log entry, 1 SCT, 2 trusted times (TSA and log entry)', async () => {
    const result = await lading([
      'verify',
      ...identity,
      '--verify-tlog-threshold',
      '1',
      '--verify-ctlog-threshold',
      '1',
      '--verify-timestamp-threshold',
      '2',
      `${keyless}:v1`,
    ]);
    expectOK(result, 'verify at the thresholds the bundle meets');
  });

  it.each([
    [['--verify-tlog-threshold', '2'], 'expected 2 tlog entries, got 1'],
    [['--verify-ctlog-threshold', '2'], 'expected 2 SCTs, got 1'],
    [['--verify-timestamp-threshold', '3'], 'expected 3 timestamps, got 2'],
  ])('%j is refused (exit 5)', async (flags, why) => {
    const result = await lading(['verify', '--json', ...identity, ...flags, `${keyless}:v1`]);
    expect(expectVerificationRefused(result).message).toContain(why);
  });
});

describe('key signatures logged in Rekor (--key --tlog-upload)', () => {
  let logged: string;
  let loggedDigest: string;
  let unlogged: string;
  let unloggedDigest: string;

  beforeAll(async () => {
    expectOK(await lading(['key', 'generate'], { COSIGN_PASSWORD: 'pw-1' }), 'key generate');
    logged = unique('key-logged');
    loggedDigest = await push(logged, []);
    const signed = await lading(
      ['sign', '--key', 'cosign.key', '--tlog-upload', '--rekor-url', harness.rekorURL, `${logged}:v1`],
      { COSIGN_PASSWORD: 'pw-1' },
    );
    expectOK(signed, 'sign --key --tlog-upload');
    unlogged = unique('key-unlogged');
    unloggedDigest = await push(unlogged, ['--sign', '--key', 'cosign.key'], { COSIGN_PASSWORD: 'pw-1' });
  });

  it('cosign verify --key --trusted-root accepts the logged signature without --insecure-ignore-tlog', async () => {
    const verify = (ref: string) =>
      cosign([
        'verify',
        '--key',
        'cosign.pub',
        '--trusted-root',
        harness.trustedRootPath,
        '--allow-http-registry',
        ref,
      ]);
    expectOK(await verify(`${logged}@${loggedDigest}`), 'cosign verify logged key signature');
    // The oracle agrees on the unlogged one: without a log entry cosign wants --insecure-ignore-tlog.
    expect((await verify(`${unlogged}@${unloggedDigest}`)).code).not.toBe(0);
  });

  it('verify --verify-key --verify-tlog-threshold 1 accepts the logged signature and refuses the unlogged one', async () => {
    const flags = ['--verify-key', 'cosign.pub', '--trusted-root', harness.trustedRootPath, '--verify-tlog-threshold'];
    const accepted = await lading(['verify', '--json', ...flags, '1', `${logged}:v1`]);
    expectOK(accepted, 'verify logged key signature');
    const verified = json<VerifyCommandResult>(accepted).verified;
    expect(verified).toHaveLength(1);
    expect(verified[0]?.tlogIndex).toMatch(/^\d+$/);
    expect(verified[0]?.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(verified[0]?.extensions).toBeUndefined();

    const refused = await lading(['verify', '--json', ...flags, '1', `${unlogged}:v1`]);
    expect(expectVerificationRefused(refused).message).toContain('expected 1 tlog entries, got 0');
    // The key's default threshold is 0: the unlogged signature is fine when no log entry is asked for.
    expectOK(await lading(['verify', ...flags, '0', `${unlogged}:v1`]), 'verify unlogged key signature, threshold 0');
  });

  it('--tlog-upload takes Rekor from the signing config; the entry is in the harness log', async () => {
    const name = unique('key-config');
    await push(name, []);
    const before = harness.requests.filter((r) => r.service === 'rekor' && r.method === 'POST').length;
    const signed = await lading(
      ['sign', '--key', 'cosign.key', '--tlog-upload', '--signing-config', harness.signingConfigPath, `${name}:v1`],
      { COSIGN_PASSWORD: 'pw-1' },
    );
    expectOK(signed, 'sign --tlog-upload --signing-config');
    expect(harness.requests.filter((r) => r.service === 'rekor' && r.method === 'POST')).toHaveLength(before + 1);
    const flags = ['--verify-key', 'cosign.pub', '--trusted-root', harness.trustedRootPath];
    expectOK(await lading(['verify', ...flags, '--verify-tlog-threshold', '1', `${name}:v1`]), 'verify');
  });
});

describe('usage errors (exit 2)', () => {
  it.each([
    [
      ['verify', '--verify-key', 'cosign.pub', '--verify-repository', 'acme/app'],
      /^--verify-repository: give the keyless identity too/,
    ],
    [
      ['verify', '--verify-unsafe', '--trusted-root', 'trusted_root.json', '--verify-signer-workflow', workflowPath],
      /^--verify-signer-workflow: give the keyless identity too/,
    ],
    [['pull', '--verify-source-ref', 'refs/heads/main'], /^--verify-source-ref: give the keyless identity too/],
    [['verify', '--verify-source-digest', sha], /^--verify-source-digest: give the keyless identity too/],
    [
      ['verify', '--verify-issuer', githubIssuer, '--verify-subject', workflowURI, '--verify-repository', 'acme'],
      /^--verify-repository acme: give owner\/repo \(on github.com\) or a full URI/,
    ],
    [
      [
        'verify',
        '--verify-issuer',
        githubIssuer,
        '--verify-subject',
        workflowURI,
        '--verify-signer-workflow',
        'acme/app',
      ],
      /^--verify-signer-workflow acme\/app: give owner\/repo\/path\/to\/workflow.yml/,
    ],
    [['verify', '--verify-key', 'cosign.pub', '--verify-tlog-threshold', '-1'], /greater than or equal to 0/],
    [['verify', '--verify-key', 'cosign.pub', '--verify-ctlog-threshold', 'two'], /Expected an integer/],
    [['verify', '--verify-key', 'cosign.pub', '--verify-timestamp-threshold', '1.5'], /Expected an integer/],
    [['ls', '--verify-timestamp-threshold', '1'], /^--verify-timestamp-threshold: say whom to trust/],
    [['sign', '--tlog-upload'], /--key/],
    [
      ['sign', '--key', 'cosign.key', '--rekor-url', 'http://127.0.0.1:1'],
      /^--rekor-url: with --key, a signature is logged only with --tlog-upload/,
    ],
    [
      ['sign', '--key', 'cosign.key', '--signing-config', 'x.json'],
      /^--signing-config: with --key, a signature is logged only/,
    ],
  ])('%j', async (args, message) => {
    const [command = '', ...rest] = args;
    const result = await lading([command, '--json', ...rest, `${host}/policy/usage:v1`], { COSIGN_PASSWORD: 'pw-1' });
    expect(expectUsage(result)).toMatch(message);
  });
});
