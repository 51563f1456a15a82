// GitHub artifact attestations, verified as `gh attestation verify` does and beyond: `lading verify --github-repo`
// against the test bed's distribution and the offline Sigstore harness, whose Fulcio certifies GitHub Actions tokens
// with GitHub's extensions (../sigstore-harness/github.ts). Provenance is attested by lading, by cosign 3.1.1
// (`cosign attest --type slsaprovenance1`), and pushed the way `actions/attest-build-provenance` with
// `push-to-registry` does (a Sigstore bundle v0.3 referrer, attached here with oras). Each refusal names the field.
// Also: --output-predicate, pull of an attestation, and --offline with every non-loopback address a trap.

import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import type {
  AttestCommandResult,
  ErrorJSON,
  PullCommandResult,
  PushCommandResult,
  VerifyCommandResult,
} from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn, type LadingTextRun } from '../cli-runner.js';
import {
  BuildTypeSLSAGenerator,
  GitHubActionsIssuer,
  githubActionsToken,
  githubProvenance,
  type GitHubRun,
} from '../sigstore-harness/github.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { startTUFRepository, type TUFRepository } from '../sigstore-harness/tuf.js';
import { cosign as cosignIn, cosignKeylessFlags, ladingKeylessFlags } from '../sigstore/fixtures.js';
import { makeToolHome, run, testbed } from '../testbed/index.js';

const slsa = 'https://slsa.dev/provenance/v1';
const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const workflow = 'acme/app/.github/workflows/release.yml';

/** A tag build of acme/app by release.yml on a GitHub-hosted runner. */
const tagRun: GitHubRun = {
  repository: 'acme/app',
  ref: 'refs/tags/v1',
  sha,
  workflowPath: '.github/workflows/release.yml',
};

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let harness: SigstoreHarness;
const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'github-'));
  await writeFile(path.join(work, 'app.txt'), 'app\n');
  harness = await startSigstoreHarness();
});

afterAll(async () => {
  await harness.close();
});

/** Pushes app.txt to a fresh repository; returns `repo@digest` and the repository. */
async function pushFresh(what: string): Promise<{ repo: string; ref: string; digest: string }> {
  const repo = `${host}/github/${what}-${randomBytes(4).toString('hex')}`;
  const pushed = await lading(['push', '--json', `${repo}:v1`, 'app.txt']);
  expectOK(pushed, 'push');
  const { digest } = json<PushCommandResult>(pushed);
  return { repo, ref: `${repo}@${digest}`, digest };
}

/** `lading attest` of `predicate` as SLSA v1 provenance, keyless with `run`'s token; returns the referrer digest. */
async function ladingAttest(ref: string, run: GitHubRun, predicate: unknown): Promise<string> {
  const file = path.join(work, `predicate-${randomBytes(4).toString('hex')}.json`);
  await writeFile(file, JSON.stringify(predicate));
  const token = githubActionsToken(run);
  const attested = await lading([
    'attest',
    '--json',
    ...ladingKeylessFlags(harness, token),
    '--predicate',
    file,
    '--type',
    'slsaprovenance1',
    ref,
  ]);
  expectOK(attested, 'attest');
  return json<AttestCommandResult>(attested).attestation.digest;
}

/** `lading verify --json --trusted-root <harness> <flags> ref`. */
function verify(ref: string, flags: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<LadingTextRun> {
  return lading(['verify', '--json', '--trusted-root', harness.trustedRootPath, ...flags, ref], extraEnv);
}

/** Expects exit 5 naming `field`; returns the message. */
async function refused(ref: string, flags: readonly string[], field: RegExp | string): Promise<string> {
  const message = expectVerificationRefused(await verify(ref, flags)).message;
  expect(message).toContain('GitHub attestation: ');
  expect(message).toMatch(field);
  return message;
}

describe('lading-attested provenance from a tag build (actions build type)', () => {
  let ref: string;
  let repo: string;
  let digest: string;
  let referrer: string;
  const predicate = githubProvenance(tagRun);

  beforeAll(async () => {
    ({ ref, repo, digest } = await pushFresh('tag'));
    referrer = await ladingAttest(ref, tagRun, predicate);
  });

  it('is accepted with gh-style flags (any case for the repository); --json has the verified statement', async () => {
    for (const flags of [
      ['--github-repo', 'acme/app'],
      ['--github-repo', 'ACME/App'],
      ['--github-owner', 'acme'],
      [
        '--github-repo',
        'acme/app',
        '--signer-workflow',
        workflow,
        '--source-ref',
        'refs/tags/v1',
        '--source-digest',
        sha,
        '--signer-digest',
        sha,
        '--deny-self-hosted-runners',
        '--cert-oidc-issuer',
        GitHubActionsIssuer,
        '--predicate-type',
        slsa,
      ],
      ['--github-repo', 'acme/app', '--signer-workflow', `github.com/${workflow}@refs/tags/v1`],
      ['--github-repo', 'acme/app', '--signer-repo', 'acme/app'],
      ['--github-repo', 'acme/app', '--cert-identity', `https://github.com/${workflow}@refs/tags/v1`],
      [
        '--github-owner',
        'acme',
        '--cert-identity-regex',
        String.raw`https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/v[0-9]+`,
      ],
    ]) {
      const result = await verify(`${repo}:v1`, flags);
      expectOK(result, flags.join(' '));
      const [verified] = json<VerifyCommandResult>(result).verified;
      expect(verified).toMatchObject({
        verifier: 'sigstore',
        predicateType: slsa,
        identity: `https://github.com/${workflow}@refs/tags/v1`,
        issuer: GitHubActionsIssuer,
        referrer,
        subject: digest,
      });
      expect(verified?.statement).toMatchObject({
        _type: 'https://in-toto.io/Statement/v1',
        predicateType: slsa,
        subject: [{ digest: { sha256: digest.slice(7) } }],
        predicate,
      });
    }
  });

  it('cosign verify-attestation accepts it with the GitHub certificate flags, and refuses another repository', async () => {
    const flags = [
      'verify-attestation',
      '--trusted-root',
      harness.trustedRootPath,
      '--certificate-identity',
      `https://github.com/${workflow}@refs/tags/v1`,
      '--certificate-oidc-issuer',
      GitHubActionsIssuer,
      '--certificate-github-workflow-ref',
      'refs/tags/v1',
      '--certificate-github-workflow-sha',
      sha,
      '--type',
      'slsaprovenance1',
      '--allow-http-registry',
    ];
    expectOK(
      await cosignIn(harness, work, [...flags, '--certificate-github-workflow-repository', 'acme/app', ref]),
      'cosign verify-attestation',
    );
    const other = await cosignIn(harness, work, [
      ...flags,
      '--certificate-github-workflow-repository',
      'acme/other',
      ref,
    ]);
    expect(other.code, other.stderr).not.toBe(0);
  });

  it('--output-predicate prints the verified predicate only, and nothing when verification fails', async () => {
    const flags = ['--trusted-root', harness.trustedRootPath, '--github-repo', 'acme/app', '--output-predicate'];
    const result = await lading(['verify', ...flags, ref]);
    expectOK(result, 'verify --output-predicate');
    expect(JSON.parse(result.stdout)).toEqual(predicate);
    expect(result.stderr).toContain(`Verified signature by https://github.com/${workflow}@refs/tags/v1`);
    const wrong = await lading([
      'verify',
      ...flags.slice(0, 2),
      '--github-repo',
      'acme/other',
      '--output-predicate',
      ref,
    ]);
    expect(wrong.code).toBe(5);
    expect(wrong.stdout).toBe('');
    // With --attestation-type and any authority, too.
    const typed = await lading([
      'verify',
      '--trusted-root',
      harness.trustedRootPath,
      '--verify-issuer',
      GitHubActionsIssuer,
      '--verify-subject',
      `https://github.com/${workflow}@refs/tags/v1`,
      '--attestation-type',
      'slsaprovenance1',
      '--output-predicate',
      ref,
    ]);
    expectOK(typed, 'verify --attestation-type --output-predicate');
    expect(JSON.parse(typed.stdout)).toEqual(predicate);
    const untyped = await lading(['verify', '--verify-key', 'none.pub', '--output-predicate', ref]);
    expect(untyped.code).toBe(2);
    expect(untyped.stderr).toContain('--output-predicate: say which attestation');
  });

  it.each([
    [['--github-repo', 'acme/other'], /certificate identity ".*" is not a workflow of the repository "acme\/other"/],
    [
      ['--github-repo', 'acme/other', '--signer-repo', 'acme/app'],
      'certificate extension sourceRepositoryURI "https://github.com/acme/app" is not "https://github.com/acme/other" (repository)',
    ],
    [['--github-owner', 'evil'], /is not a workflow of the owner "evil"/],
    [
      ['--github-repo', 'acme/app', '--cert-identity', `https://github.com/${workflow}@refs/heads/main`],
      /certificate identity ".*release\.yml@refs\/tags\/v1" is not ".*release\.yml@refs\/heads\/main" \(cert identity\)/,
    ],
    [
      // Anchored at both ends: a pattern for part of the identity does not match it (gh's would).
      ['--github-repo', 'acme/app', '--cert-identity-regex', String.raw`release\.yml@refs/tags/v1`],
      /does not match "release\\\\.yml@refs\/tags\/v1" \(cert identity regexp, whole value\)/,
    ],
    [
      // The identity is right, but the source repository is still --github-repo's.
      ['--github-repo', 'acme/other', '--cert-identity', `https://github.com/${workflow}@refs/tags/v1`],
      /sourceRepositoryURI "https:\/\/github.com\/acme\/app" is not "https:\/\/github.com\/acme\/other" \(repository\)/,
    ],
    [['--github-repo', 'acme/app-evil'], /is not a workflow of the repository "acme\/app-evil"/],
    [
      ['--github-repo', 'acme/app', '--signer-workflow', 'acme/app/.github/workflows/other.yml'],
      /is not the signer workflow ".*other\.yml" at any ref/,
    ],
    [
      ['--github-repo', 'acme/app', '--signer-workflow', `${workflow}@refs/heads/main`],
      /is not the signer workflow ".*release\.yml@refs\/heads\/main"/,
    ],
    [
      ['--github-repo', 'acme/app', '--source-ref', 'refs/tags/v2'],
      /sourceRepositoryRef "refs\/tags\/v1" is not "refs\/tags\/v2"/,
    ],
    [['--github-repo', 'acme/app', '--source-digest', '0'.repeat(40)], /sourceRepositoryDigest ".*" is not "0{40}"/],
    [
      ['--github-repo', 'acme/app', '--cert-oidc-issuer', 'https://token.actions.example.ghe.com'],
      /issuer "https:\/\/token\.actions\.githubusercontent\.com" is not/,
    ],
    [
      ['--github-repo', 'acme/app', '--predicate-type', 'https://cyclonedx.org/bom'],
      /predicate type "https:\/\/slsa\.dev\/provenance\/v1" is not the required/,
    ],
  ])('refuses %j, naming the field (exit 5)', async (flags, field) => {
    const message = expectVerificationRefused(await verify(ref, flags)).message;
    expect(message).toMatch(field);
  });

  it('the signer flags are mutually exclusive, as gh makes them, and need --github-repo/--github-owner (exit 2)', async () => {
    const identity = `https://github.com/${workflow}@refs/tags/v1`;
    for (const [flags, message] of [
      [['--github-repo', 'acme/app', '--cert-identity', identity, '--cert-identity-regex', '.+'], /--cert-identity/],
      [['--github-repo', 'acme/app', '--cert-identity', identity, '--signer-repo', 'acme/app'], /--signer-repo/],
      [
        ['--github-repo', 'acme/app', '--cert-identity-regex', '.+', '--signer-workflow', workflow],
        /--signer-workflow/,
      ],
      [['--cert-identity', identity], /--github-repo/],
      [
        ['--github-repo', 'acme/app', '--cert-identity-regex', '(unclosed'],
        /^--cert-identity-regex "\(unclosed" is not a regular expression/,
      ],
    ] as const) {
      const result = await verify(ref, flags);
      expect(result.code, `${flags.join(' ')}: ${result.stderr}`).toBe(2);
      expect(json<ErrorJSON>(result).error.message).toMatch(message);
    }
  });

  it('pull of the attestation itself says what it is and how to read it, instead of a bare 0 files', async () => {
    const dest = await mkdtemp(path.join(work, 'attestation-'));
    const result = await lading(['pull', '--json', `${repo}@${referrer}`, dest]);
    expectOK(result, 'pull the attestation');
    const out = json<PullCommandResult>(result);
    expect(out.entries).toEqual([]);
    expect(out.signatureArtifact).toEqual({
      kind: 'Sigstore bundle',
      artifactType: bundleType,
      predicateType: slsa,
      subject: digest,
    });
    expect(await readdir(dest)).toEqual([]);
    const text = await lading(['pull', `${repo}@${referrer}`, dest]);
    expectOK(text, 'pull the attestation (text)');
    expect(text.stderr).toContain(
      `This is an attestation (predicate type ${slsa}) about ${repo}@${digest}: a Sigstore bundle (${bundleType}), not files`,
    );
    expect(text.stderr).toContain(
      `lading verify --attestation-type ${slsa} --output-predicate <trust flags> ${repo}@${digest}`,
    );
    // An ordinary artifact with files says nothing of the kind.
    const files = await lading(['pull', ref, await mkdtemp(path.join(work, 'files-'))]);
    expectOK(files);
    expect(files.stderr).not.toContain('This is');
  });
});

describe('--limit', () => {
  it('reads at most N attestations, as gh attestation verify --limit; out of range or without --github-* is exit 2', async () => {
    const { ref } = await pushFresh('limit');
    const attestations = [
      await ladingAttest(ref, tagRun, githubProvenance(tagRun)),
      await ladingAttest(
        ref,
        { ...tagRun, ref: 'refs/tags/v1.0.1' },
        githubProvenance({ ...tagRun, ref: 'refs/tags/v1.0.1' }),
      ),
    ];
    const all = await verify(ref, ['--github-repo', 'acme/app']);
    expectOK(all, 'verify without --limit');
    expect(
      json<VerifyCommandResult>(all)
        .verified.map((v) => v.referrer)
        .sort(),
    ).toEqual([...attestations].sort());
    const one = await verify(ref, ['--github-repo', 'acme/app', '--limit', '1']);
    expectOK(one, 'verify --limit 1');
    expect(json<VerifyCommandResult>(one).verified).toHaveLength(1);
    expect(attestations).toContain(json<VerifyCommandResult>(one).verified[0]?.referrer);
    // Refused: the message says what was left unread, never that no valid attestation exists.
    const message = expectVerificationRefused(
      await verify(ref, ['--github-repo', 'acme/other', '--limit', '1']),
    ).message;
    expect(message).toContain('none of the 1 sigstore signature(s)');
    expect(message).toContain('1 listed signature(s) were not read, as the gate reads at most 1 signature candidates');
    for (const flags of [
      ['--github-repo', 'acme/app', '--limit', '0'],
      ['--github-repo', 'acme/app', '--limit', '1001'],
      ['--verify-issuer', GitHubActionsIssuer, '--verify-subject', 'x', '--limit', '5'],
    ]) {
      const result = await verify(ref, flags);
      expect(result.code, `${flags.join(' ')}: ${result.stderr}`).toBe(2);
      expect(json<ErrorJSON>(result).error.message).toMatch(/--limit|--github-repo/);
    }
  });
});

describe('refusals from other runs', () => {
  it('branch instead of tag: the signer workflow pinned to a tag, or --source-ref of a tag', async () => {
    const branchRun: GitHubRun = { ...tagRun, ref: 'refs/heads/main' };
    const { ref } = await pushFresh('branch');
    await ladingAttest(ref, branchRun, githubProvenance(branchRun));
    expectOK(await verify(ref, ['--github-repo', 'acme/app']), 'a branch build is a build of the repository');
    await refused(
      ref,
      ['--github-repo', 'acme/app', '--source-ref', 'refs/tags/v1'],
      /sourceRepositoryRef "refs\/heads\/main" is not "refs\/tags\/v1" \(source ref\)/,
    );
    await refused(
      ref,
      ['--github-repo', 'acme/app', '--signer-workflow', `${workflow}@refs/tags/v1`],
      /not the signer workflow/,
    );
  });

  it('self-hosted runner: accepted unless --deny-self-hosted-runners, which names runnerEnvironment', async () => {
    const selfHosted: GitHubRun = { ...tagRun, runnerEnvironment: 'self-hosted' };
    const { ref } = await pushFresh('self-hosted');
    await ladingAttest(ref, selfHosted, githubProvenance(selfHosted));
    expectOK(await verify(ref, ['--github-repo', 'acme/app']), 'self-hosted, allowed');
    await refused(
      ref,
      ['--github-repo', 'acme/app', '--deny-self-hosted-runners'],
      'certificate extension runnerEnvironment "self-hosted" is not "github-hosted" (self-hosted runners denied)',
    );
  });

  it.each([
    ['buildDefinition.externalParameters.workflow.repository', 'https://github.com/acme/other', 'sourceRepositoryURI'],
    ['buildDefinition.externalParameters.workflow.ref', 'refs/tags/v0', 'sourceRepositoryRef'],
    ['buildDefinition.internalParameters.github.runner_environment', 'self-hosted', 'runnerEnvironment'],
    ['runDetails.builder.id', 'https://github.com/actions/runner/self-hosted', 'runnerEnvironment'],
    ['runDetails.metadata.invocationId', 'https://github.com/acme/app/actions/runs/1/attempts/1', 'runInvocationURI'],
  ])('a predicate whose %s disagrees with the certificate is refused, naming both', async (field, value, extension) => {
    const predicate = githubProvenance(tagRun);
    const keys = field.split('.');
    let at = predicate;
    for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
    at[keys.at(-1) ?? ''] = value;
    const { ref } = await pushFresh('disagree');
    await ladingAttest(ref, tagRun, predicate);
    await refused(
      ref,
      ['--github-repo', 'acme/app'],
      `SLSA provenance ${field} ${JSON.stringify(value)} disagrees with the certificate's ${extension} `,
    );
  });

  it("the commit the provenance names must be the certificate's; the build type must be GitHub's", async () => {
    const { ref } = await pushFresh('commit');
    const other = githubProvenance({ ...tagRun, sha: 'f'.repeat(40) });
    await ladingAttest(ref, tagRun, other);
    await refused(
      ref,
      ['--github-repo', 'acme/app'],
      /gitCommit "f{40}" disagrees with the certificate's sourceRepositoryDigest/,
    );
    const { ref: foreign } = await pushFresh('build-type');
    await ladingAttest(foreign, tagRun, {
      ...githubProvenance(tagRun),
      buildDefinition: { buildType: 'https://ci.example/build/v1' },
    });
    await refused(
      foreign,
      ['--github-repo', 'acme/app'],
      /buildDefinition\.buildType "https:\/\/ci\.example\/build\/v1" is not a GitHub Actions build type/,
    );
  });
});

describe('the SLSA GitHub generator build type', () => {
  it('accepted when the builder id is the generator workflow that signed; refused when it is not', async () => {
    const generator =
      'slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.0.0';
    const run: GitHubRun = { ...tagRun, jobWorkflowRef: generator };
    const { ref } = await pushFresh('generator');
    await ladingAttest(ref, run, githubProvenance(run, BuildTypeSLSAGenerator));
    const flags = ['--github-repo', 'acme/app', '--signer-repo', 'slsa-framework/slsa-github-generator'];
    expectOK(await verify(ref, flags), 'generator provenance');
    expectOK(await verify(ref, ['--github-repo', 'acme/app', '--signer-workflow', generator]), 'pinned generator');
    expectOK(
      await verify(ref, ['--github-repo', 'acme/app', '--cert-identity', `https://github.com/${generator}`]),
      'generator by --cert-identity',
    );
    // gh's default: without --signer-*, the signer must be a workflow of the repository itself.
    await refused(ref, ['--github-repo', 'acme/app'], /is not a workflow of the repository "acme\/app"/);
    const { ref: wrong } = await pushFresh('generator-wrong');
    const predicate = githubProvenance(run, BuildTypeSLSAGenerator);
    (predicate.runDetails as { builder: { id: string } }).builder.id =
      `https://github.com/${generator.replace('v2.0.0', 'v1.0.0')}`;
    await ladingAttest(wrong, run, predicate);
    await refused(wrong, flags, /runDetails\.builder\.id .* disagrees with the certificate's buildSignerURI/);
  });
});

describe('attestations made by other tools', () => {
  it('cosign attest --type slsaprovenance1 with a GitHub token is accepted', async () => {
    const { ref, digest } = await pushFresh('cosign');
    const predicate = githubProvenance(tagRun);
    await writeFile(path.join(work, 'cosign-provenance.json'), JSON.stringify(predicate));
    expectOK(
      await cosignIn(harness, work, [
        'attest',
        ...cosignKeylessFlags(harness, githubActionsToken(tagRun)),
        '--allow-http-registry',
        '--type',
        'slsaprovenance1',
        '--predicate',
        'cosign-provenance.json',
        ref,
      ]),
      'cosign attest',
    );
    const result = await verify(ref, ['--github-repo', 'acme/app', '--source-ref', 'refs/tags/v1']);
    expectOK(result, 'verify cosign attestation');
    expect(json<VerifyCommandResult>(result).verified[0]).toMatchObject({ predicateType: slsa, subject: digest });
    expect(json<VerifyCommandResult>(result).verified[0]?.statement?.predicate).toEqual(predicate);
  });

  it('a bundle referrer as actions/attest-build-provenance pushes it (push-to-registry) is found and checked', async () => {
    const { repo, ref, digest } = await pushFresh('attest-build-provenance');
    const dir = await mkdtemp(path.join(work, 'abp-'));
    const toolEnv = { ...env, HOME: dir };
    await run('oras', ['manifest', 'fetch', '--plain-http', '--output', 'manifest.json', ref], {
      env: toolEnv,
      cwd: dir,
    });
    const predicate = githubProvenance(tagRun);
    await writeFile(path.join(dir, 'provenance.json'), JSON.stringify(predicate));
    // A bundle v0.3 with a DSSE statement about the manifest (the blob is the manifest, so its sha256 is the digest).
    expectOK(
      await cosignIn(harness, dir, [
        'attest-blob',
        ...cosignKeylessFlags(harness, githubActionsToken(tagRun)),
        '--type',
        'slsaprovenance1',
        '--predicate',
        'provenance.json',
        '--bundle',
        'bundle.json',
        'manifest.json',
      ]),
      'cosign attest-blob',
    );
    const bundle = JSON.parse(await readFile(path.join(dir, 'bundle.json'), 'utf8')) as { mediaType: string };
    expect(bundle.mediaType).toBe(bundleType);
    // The referrer GitHub pushes: artifactType and layer the bundle v0.3 type, GitHub's annotations.
    await run(
      'oras',
      [
        'attach',
        '--plain-http',
        '--artifact-type',
        bundleType,
        '--annotation',
        'dev.sigstore.bundle.content=dsse-envelope',
        '--annotation',
        `dev.sigstore.bundle.predicateType=${slsa}`,
        ref,
        `bundle.json:${bundleType}`,
      ],
      { env: toolEnv, cwd: dir },
    );
    const result = await verify(`${repo}:v1`, ['--github-repo', 'acme/app', '--deny-self-hosted-runners']);
    expectOK(result, 'verify the attest-build-provenance referrer');
    expect(json<VerifyCommandResult>(result).verified[0]).toMatchObject({ predicateType: slsa, subject: digest });
    await refused(`${repo}:v1`, ['--github-repo', 'acme/other'], /not a workflow of the repository "acme\/other"/);
  });
});

describe('--bundle', () => {
  /** A bundle v0.3 (cosign attest-blob) of `build`'s SLSA provenance about `ref`'s manifest, in `dir`; its path. */
  async function bundleFor(ref: string, dir: string, build: GitHubRun, name: string): Promise<string> {
    const toolEnv = { ...env, HOME: dir };
    await run('oras', ['manifest', 'fetch', '--plain-http', '--output', 'manifest.json', ref], {
      env: toolEnv,
      cwd: dir,
    });
    await writeFile(path.join(dir, 'provenance.json'), JSON.stringify(githubProvenance(build)));
    expectOK(
      await cosignIn(harness, dir, [
        'attest-blob',
        ...cosignKeylessFlags(harness, githubActionsToken(build)),
        '--type',
        'slsaprovenance1',
        '--predicate',
        'provenance.json',
        '--bundle',
        name,
        'manifest.json',
      ]),
      'cosign attest-blob',
    );
    return path.join(dir, name);
  }

  it('verifies with the bundles of a file (JSON or JSON lines) instead of the referrers, as gh attestation verify --bundle', async () => {
    const { ref, digest } = await pushFresh('bundle');
    const dir = await mkdtemp(path.join(work, 'bundle-'));
    const good = await bundleFor(ref, dir, tagRun, 'good.json');
    const other = await bundleFor(ref, dir, { ...tagRun, repository: 'acme/other' }, 'other.json');
    // The peer tool accepts the bundle for the manifest it is about.
    expectOK(
      await cosignIn(harness, dir, [
        'verify-blob-attestation',
        '--trusted-root',
        harness.trustedRootPath,
        '--bundle',
        'good.json',
        '--certificate-identity',
        `https://github.com/${workflow}@refs/tags/v1`,
        '--certificate-oidc-issuer',
        GitHubActionsIssuer,
        '--type',
        'slsaprovenance1',
        'manifest.json',
      ]),
      'cosign verify-blob-attestation',
    );
    // Nothing is attached in the registry: without --bundle there is nothing to verify.
    const bare = expectVerificationRefused(await verify(ref, ['--github-repo', 'acme/app'])).message;
    expect(bare).toContain('no sigstore signature among 0 referrer(s)');
    const goodBytes = await readFile(good);
    const result = await verify(ref, ['--github-repo', 'acme/app', '--bundle', good]);
    expectOK(result, 'verify --bundle');
    const [verified] = json<VerifyCommandResult>(result).verified;
    expect(verified).toMatchObject({
      predicateType: slsa,
      identity: `https://github.com/${workflow}@refs/tags/v1`,
      subject: digest,
      referrer: `sha256:${createHash('sha256').update(goodBytes).digest('hex')}`,
    });
    expect(verified?.statement?.predicate).toEqual(githubProvenance(tagRun));
    // JSON lines, as gh attestation download writes: each bundle is tried, one suffices.
    const lines = path.join(dir, 'bundles.jsonl');
    const compact = (bytes: Buffer) => JSON.stringify(JSON.parse(bytes.toString()));
    await writeFile(lines, `${compact(await readFile(other))}\n\n${compact(goodBytes)}\n`);
    const both = await verify(ref, ['--github-repo', 'acme/app', '--bundle', lines]);
    expectOK(both, 'verify --bundle bundles.jsonl');
    expect(json<VerifyCommandResult>(both).verified).toHaveLength(1);
    // Refused: another repository's bundle; a bundle about another artifact.
    await refused(
      ref,
      ['--github-repo', 'acme/app', '--bundle', other],
      /is not a workflow of the repository "acme\/app"/,
    );
    // (pushFresh would push the same manifest: another file makes another artifact.)
    await writeFile(path.join(work, 'another.txt'), 'another\n');
    const another = `${host}/github/bundle-another-${randomBytes(4).toString('hex')}:v1`;
    expectOK(await lading(['push', another, 'another.txt']), 'push another');
    const wrong = expectVerificationRefused(
      await verify(another, ['--github-repo', 'acme/app', '--bundle', good]),
    ).message;
    expect(wrong).toMatch(/statement subjects .* do not include sha256:/);
    // Not bundles: exit 2, naming the file and the line.
    const junk = path.join(dir, 'junk.jsonl');
    await writeFile(junk, `${compact(goodBytes)}\nnot json\n`);
    const notJSON = await verify(ref, ['--github-repo', 'acme/app', '--bundle', junk]);
    expect(notJSON.code, notJSON.stderr).toBe(2);
    expect(json<ErrorJSON>(notJSON).error.message).toContain(`--bundle ${junk} line 2: not JSON`);
    const manifest = path.join(dir, 'manifest.json');
    const notBundle = await verify(ref, ['--github-repo', 'acme/app', '--bundle', manifest]);
    expect(notBundle.code, notBundle.stderr).toBe(2);
    expect(json<ErrorJSON>(notBundle).error.message).toContain(`--bundle ${manifest}: not a Sigstore bundle`);
    const limited = await verify(ref, ['--github-repo', 'acme/app', '--bundle', good, '--limit', '2']);
    expect(limited.code, limited.stderr).toBe(2);
  });
});

describe('--offline', () => {
  let ref: string;
  let repo: string;
  let trap: Server;
  let trapped = 0;
  let trapEnv: NodeJS.ProcessEnv;
  let tuf: TUFRepository;

  beforeAll(async () => {
    ({ ref, repo } = await pushFresh('offline'));
    await ladingAttest(ref, tagRun, githubProvenance(tagRun));
    // The registry client sends every non-loopback request through this proxy, which counts and refuses (it never
    // proxies loopback, where the registry is). sigstore-js fetches TUF with Node's fetch, which ignores proxy
    // variables: the TUF side is proven by a real local mirror's request log and by the exit code (2: refused before
    // any fetch; an attempted fetch that fails is 7).
    trap = createServer((request, response) => {
      trapped += 1;
      response.writeHead(502).end();
    });
    trap.on('connect', (_request, socket) => {
      trapped += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const proxy = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
    trapEnv = {};
    for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY']) {
      trapEnv[name] = proxy;
      trapEnv[name.toLowerCase()] = proxy;
    }
    tuf = await startTUFRepository({ trustedRoot: harness.trustedRoot });
  });

  afterAll(async () => {
    await tuf.close();
    await new Promise((resolve) => trap.close(resolve));
  });

  it('verify, pull, ls and cat work with --trusted-root and contact nothing but the registry', async () => {
    const github = await verify(ref, ['--offline', '--github-repo', 'acme/app'], trapEnv);
    expectOK(github, 'verify --offline --github-repo');
    const identity = [
      '--offline',
      '--trusted-root',
      harness.trustedRootPath,
      '--verify-issuer',
      GitHubActionsIssuer,
      '--verify-subject',
      `https://github.com/${workflow}@refs/tags/v1`,
      '--attestation-type',
      'slsaprovenance1',
    ];
    expectOK(await lading(['verify', ...identity, ref], trapEnv), 'verify --offline keyless');
    const plain = identity.slice(0, -2);
    // pull, ls and cat gate on a plain signature: sign it too (keyless, as a GitHub run).
    expectOK(await lading(['sign', ...ladingKeylessFlags(harness, githubActionsToken(tagRun)), ref]), 'sign');
    const dest = path.join(await mkdtemp(path.join(work, 'offline-pull-')), 'out');
    expectOK(await lading(['pull', ...plain, ref, dest], trapEnv), 'pull --offline');
    expect(await readFile(path.join(dest, 'app.txt'), 'utf8')).toBe('app\n');
    expectOK(await lading(['ls', ...plain, ref], trapEnv), 'ls --offline');
    const cat = await lading(['cat', ...plain, ref, 'app.txt'], trapEnv);
    expectOK(cat, 'cat --offline');
    expect(cat.stdout).toBe('app\n');
    expect(trapped).toBe(0);
  });

  it('refuses, before any fetch, what would need TUF: the default trusted root, --tuf-mirror, --tuf-root', async () => {
    // The same TUF mirror works without --offline (it is really configured and reachable)…
    const mirror = ['--tuf-mirror', tuf.url, '--tuf-root', tuf.initialRootPath];
    expectOK(await lading(['verify', '--github-repo', 'acme/app', ...mirror, ref]), 'verify through TUF');
    const served = tuf.requests.length;
    expect(served).toBeGreaterThan(0);
    // …and --offline does not touch it.
    for (const [args, what] of [
      [
        ['verify', '--json', '--offline', '--github-repo', 'acme/app', ...mirror, ref],
        `--offline: --tuf-mirror ${tuf.url} needs the network`,
      ],
      [
        ['verify', '--json', '--offline', '--github-repo', 'acme/app', ref],
        '--offline: the trusted root, by default the public good instance fetched and refreshed with TUF, needs the network',
      ],
      [
        [
          'pull',
          '--json',
          '--offline',
          '--verify-issuer',
          GitHubActionsIssuer,
          '--verify-subject-regexp',
          '.+',
          ref,
          path.join(work, 'never'),
        ],
        '--offline: the trusted root',
      ],
      [
        [
          'ls',
          '--json',
          '--offline',
          '--verify-issuer',
          GitHubActionsIssuer,
          '--verify-subject-regexp',
          '.+',
          ...mirror,
          ref,
        ],
        `--offline: --tuf-mirror`,
      ],
      [['cat', '--json', '--offline', '--verify-unsafe', `${repo}:v1`, 'app.txt'], '--offline: the trusted root'],
    ] as const) {
      const result = await lading([...args], trapEnv);
      expect(result.code, result.stderr).toBe(2);
      const error = json<ErrorJSON>(result).error;
      expect(error.code).toBe('ERR_LADING_USAGE');
      expect(error.message).toContain(what);
      expect(error.message).toContain('--trusted-root');
    }
    expect(tuf.requests.length).toBe(served);
    expect(trapped).toBe(0);
  });
});
