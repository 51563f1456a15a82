// The package READMEs' round trips run as written (issue 11): the ```ts blocks of each README, in order, make one
// program, run with the Node running the tests (type stripping) against the test bed's distribution. The only
// change is the registry: `registry.example` becomes the test bed's host. Each program prints one JSON line, checked
// here (a README with several blocks prints a line per block), and a peer tool (cosign; oras and ssh-keygen)
// accepts what it signed where the format has one. The Sigstore README's keyless block signs with the test bed's
// offline Sigstore (its signing config and trusted root, a token in SIGSTORE_ID_TOKEN), as a private deployment.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { generateKeyPair } from '@lading/sigstore';
import { generateSshKeyPair } from '@lading/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isolatedClient } from '../registry/helpers.js';
import { startSigstoreHarness } from '../sigstore-harness/index.js';
import { cosignIdentityFlags } from '../sigstore/fixtures.js';
import { orasPullReferrer, sshKeygenVerify } from '../ssh/fixtures.js';
import { makeToolHome, repoRoot, run, testbed, type RunResult, type TestBed } from '../testbed/index.js';

const bed: TestBed = testbed();
const placeholder = 'registry.example';
/** The issuer and workflow identity the Sigstore README's keyless block trusts. */
const githubIssuer = 'https://token.actions.githubusercontent.com';
const workflow = 'https://github.com/acme/config/.github/workflows/release.yml@refs/tags/v1';
let env: NodeJS.ProcessEnv;
let work: string;

beforeAll(async () => {
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'readme-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The ```ts blocks of `readme` (repository-relative), in order, as one program. */
export async function readmeProgram(readme: string): Promise<string> {
  const text = await readFile(path.join(repoRoot, readme), 'utf8');
  const blocks = [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
  if (blocks.length === 0) throw new Error(`${readme}: no ts block`);
  return blocks.join('\n');
}

interface Ran {
  dir: string;
  repository: string;
  result: RunResult;
  printed: Record<string, unknown>;
}

/**
 * Runs the README program in a fresh folder holding `config/app.yaml` and `files`, with the packages resolved from
 * the test workspace; the registry placeholder becomes a fresh repository's host on the test bed.
 */
async function runReadme(readme: string, files: Record<string, string>, extraEnv: NodeJS.ProcessEnv = {}) {
  const dir = path.join(work, randomBytes(4).toString('hex'));
  await mkdir(path.join(dir, 'config'), { recursive: true });
  await writeFile(path.join(dir, 'config', 'app.yaml'), 'replicas: 3\n');
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content, { mode: 0o600 });
  await symlink(path.join(repoRoot, 'test', 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  const program = (await readmeProgram(readme)).replaceAll(placeholder, bed.registries.anonymous.host);
  const repository = /'([^']+\/acme\/[^':@]+)/.exec(program)?.[1];
  if (repository === undefined) throw new Error(`${readme}: no acme repository in the program`);
  const unique = `${repository}-${path.basename(dir)}`;
  await writeFile(path.join(dir, 'main.mts'), program.replaceAll(repository, unique));
  const result = await run(process.execPath, ['main.mts'], { cwd: dir, env: { ...env, ...extraEnv }, check: false });
  expect(result.stderr, `${readme} program's standard error`).toBe('');
  expect(result.code, result.stderr).toBe(0);
  // Each block may print a JSON line: together, what the program printed.
  const lines = result.stdout.trim().split('\n');
  const printed = Object.assign({}, ...lines.map((l) => JSON.parse(l) as Record<string, unknown>)) as Record<
    string,
    unknown
  >;
  return { dir, repository: unique, result, printed } satisfies Ran;
}

/** What `repository:v1` names on the registry, asked with a fresh client. */
async function resolveV1(repository: string): Promise<string> {
  const client = isolatedClient();
  try {
    return (await client.repository(repository).resolve('v1')).digest;
  } finally {
    await client.close();
  }
}

describe('package READMEs run as written', () => {
  it('@lading/core: a custom Signer and Verifier, sign+push, attest, verify+pull, a stranger refused', async () => {
    const ran = await runReadme('packages/core/README.md', {});
    expect(ran.printed).toEqual({
      digest: await resolveV1(ran.repository),
      tags: ['v1'],
      verified: ['https://example.com/signature/v1', 'https://slsa.dev/provenance/v1'],
      pulled: ['config', 'config/app.yaml'],
      refused: 'ERR_LADING_VERIFICATION',
    });
    expect(await readFile(path.join(ran.dir, 'out', 'config', 'app.yaml'), 'utf8')).toBe('replicas: 3\n');
    expect(existsSync(path.join(ran.dir, 'never'))).toBe(false);
  });

  it('@lading/sigstore: a cosign key signs and attests, a workflow signs keyless; lading and cosign verify', async () => {
    const keys = await generateKeyPair({ password: 'readme-pw' });
    const harness = await startSigstoreHarness({ oidcIssuer: githubIssuer });
    try {
      const ran = await runReadme(
        'packages/sigstore/README.md',
        {
          'cosign.key': keys.privateKey,
          'cosign.pub': keys.publicKey,
          'signing_config.json': await readFile(harness.signingConfigPath, 'utf8'),
          'trusted_root.json': await readFile(harness.trustedRootPath, 'utf8'),
        },
        { COSIGN_PASSWORD: 'readme-pw', SIGSTORE_ID_TOKEN: harness.identityToken({ subject: workflow }) },
      );
      const digest = await resolveV1(ran.repository);
      const { keyless, ...printed } = ran.printed;
      expect(printed).toEqual({
        digest,
        tags: ['v1'],
        verified: [{ keyHint: keys.keyHint, predicateType: 'https://slsa.dev/provenance/v1' }],
        pulled: ['config', 'config/app.yaml'],
      });
      // Every signature the gate accepted, in the registry's order: the workflow's (keyless) and the key's.
      expect(keyless).toHaveLength(2);
      expect(keyless).toEqual(expect.arrayContaining([{ identity: workflow, issuer: githubIssuer }, {}]));
      const pinned = `${ran.repository}@${digest}`;
      const peer = { cwd: ran.dir, env: { ...env, COSIGN_PASSWORD: 'readme-pw' } };
      const common = ['--key', 'cosign.pub', '--insecure-ignore-tlog', '--allow-http-registry'];
      await run('cosign', ['verify', ...common, pinned], peer);
      await run('cosign', ['verify-attestation', ...common, '--type', 'slsaprovenance1', pinned], peer);
      // cosign accepts the keyless signature under the same trusted root and identity.
      await run(
        'cosign',
        ['verify', '--allow-http-registry', ...cosignIdentityFlags(harness, workflow, githubIssuer), pinned],
        { cwd: ran.dir, env: harness.toolEnv },
      );
    } finally {
      await harness.close();
    }
  });

  it('@lading/ssh: an SSH key signs and attests, an allowed_signers file verifies; ssh-keygen -Y verify agrees', async () => {
    const key = generateSshKeyPair({ type: 'ssh-ed25519', comment: 'alice@example.com' });
    const ran = await runReadme('packages/ssh/README.md', {
      id_ed25519: key.privateKey,
      allowed_signers: `alice@example.com ${key.publicKey}`,
    });
    const digest = await resolveV1(ran.repository);
    const { signature, attestation, ...printed } = ran.printed;
    expect(printed).toEqual({
      digest,
      tags: ['v1'],
      verified: [{ identity: 'alice@example.com', keyHint: key.fingerprint }],
      pulled: ['config', 'config/app.yaml'],
      attested: [{ identity: 'alice@example.com', predicateType: 'https://slsa.dev/provenance/v1' }],
    });
    // oras fetches each referrer's two files; ssh-keygen checks the SSHSIG over statement.json, which for the
    // attestation states the predicate about the pushed manifest.
    for (const referrer of [signature, attestation]) {
      const files = await orasPullReferrer(env, ran.dir, ran.repository, String(referrer));
      const checked = await sshKeygenVerify(
        path.join(ran.dir, 'allowed_signers'),
        'alice@example.com',
        'lading',
        files,
      );
      expect(checked.code, checked.stderr).toBe(0);
      expect(checked.stdout).toContain('Good "lading" signature for alice@example.com');
      if (referrer !== attestation) continue;
      const statement = JSON.parse(await readFile(files.statement, 'utf8')) as Record<string, unknown>;
      expect(statement).toMatchObject({
        predicateType: 'https://slsa.dev/provenance/v1',
        predicate: { buildDefinition: { buildType: 'https://example.com/ci' } },
        subject: [{ digest: { sha256: digest.replace(/^sha256:/, '') } }],
      });
    }
  });
});
