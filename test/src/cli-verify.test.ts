// `lading verify` and `lading discover`, run as the built binary against the test bed's anonymous distribution
// (no referrers API: the sha256-<hex> tag fallback), with key signatures made by lading and by cosign 3.1.1
// offline (a signing config with no services), and oras as the oracle for discover.

import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type {
  AttestCommandResult,
  DiscoverCommandResult,
  ErrorJSON,
  KeyGenerateResult,
  PushCommandResult,
  VerifyCommandResult,
} from '@lading/cli';
import { beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn } from './cli-runner.js';
import { cosignKeyFlags, writeEmptySigningConfig } from './sigstore/fixtures.js';
import { makeToolHome, run, testbed, type RunResult } from './testbed/index.js';

const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const signType = 'https://sigstore.dev/cosign/sign/v1';
const attestType = 'https://example.com/predicate/v1';

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let keyHint: string;
let noServices: string;

/** Runs `lading args…` in `work` with the isolated environment (plus `extraEnv`) to completion. */
const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

/** cosign 3.1.1 offline in `work` with `cosign.key` (password pw-1); never throws on its exit code. */
function cosign(verb: string, args: readonly string[]): Promise<RunResult> {
  return run('cosign', [verb, ...cosignKeyFlags('cosign.key', noServices), ...args], {
    env: { ...env, COSIGN_PASSWORD: 'pw-1' },
    cwd: work,
    check: false,
  });
}

const unique = (what: string): string => `${host}/cli-verify/${what}-${randomBytes(4).toString('hex')}`;

/** Pushes notes.txt to `name:v1`, signed with cosign.key by lading when `sign`; returns the push result. */
async function push(name: string, sign: boolean): Promise<PushCommandResult> {
  const signing = sign ? ['--sign', '--key', 'cosign.key'] : [];
  const result = await lading(['push', '--json', ...signing, `${name}:v1`, 'notes.txt'], { COSIGN_PASSWORD: 'pw-1' });
  expectOK(result, 'push');
  return json<PushCommandResult>(result);
}

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-verify-'));
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  noServices = await writeEmptySigningConfig(work);
  const first = await lading(['key', 'generate', '--json'], { COSIGN_PASSWORD: 'pw-1' });
  expectOK(first, 'key generate');
  keyHint = json<KeyGenerateResult>(first).keyHint;
  expectOK(
    await lading(['key', 'generate', '--output-key-prefix', 'other'], { COSIGN_PASSWORD: 'pw-2' }),
    'key generate other',
  );
});

describe('lading verify', () => {
  let name: string;
  let pushed: PushCommandResult;
  let signature: string;

  beforeAll(async () => {
    name = unique('signed');
    pushed = await push(name, true);
    signature = pushed.signature?.digest ?? '';
    expect(signature).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('prints one line per verified signature on stdout (exit 0)', async () => {
    const result = await lading(['verify', '--verify-key', 'cosign.pub', `${name}:v1`]);
    expectOK(result, 'verify');
    expect(result.stdout).toBe(`Verified signature by key ${keyHint}, referrer ${signature}\n`);
    expect(result.stderr).toBe('');
  });

  it('--json prints {reference, digest, verified}; a digest reference works too', async () => {
    // The verified statement of a plain signature: about the manifest, cosign's sign predicate type, empty predicate.
    const signedStatement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: pushed.digest.slice(7) } }],
      predicateType: signType,
      predicate: {},
    };
    const result = await lading([
      'verify',
      '--json',
      '--verify-key',
      'other.pub',
      '--verify-key',
      'cosign.pub',
      `${name}:v1`,
    ]);
    expectOK(result, 'verify --json');
    expect(json<VerifyCommandResult>(result)).toEqual({
      reference: `${name}:v1`,
      digest: pushed.digest,
      verified: [
        {
          verifier: 'sigstore',
          predicateType: signType,
          keyHint,
          referrer: signature,
          subject: pushed.digest,
          statement: signedStatement,
        },
      ],
    });
    const byDigest = await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${name}@${pushed.digest}`]);
    expectOK(byDigest, 'verify by digest');
    expect(json<VerifyCommandResult>(byDigest)).toEqual({
      reference: `${name}@${pushed.digest}`,
      digest: pushed.digest,
      verified: [
        {
          verifier: 'sigstore',
          predicateType: signType,
          keyHint,
          referrer: signature,
          subject: pushed.digest,
          statement: signedStatement,
        },
      ],
    });
  });

  it('another key is exit 5 (ERR_LADING_VERIFICATION), nothing on stdout', async () => {
    const result = await lading(['verify', '--json', '--verify-key', 'other.pub', `${name}:v1`]);
    expect(expectVerificationRefused(result).message).toContain(
      'the signature verifies with none of the 1 trusted keys',
    );
    const text = await lading(['verify', '--verify-key', 'other.pub', `${name}:v1`]);
    expect(text.code).toBe(5);
    expect(text.stdout).toBe('');
    expect(text.stderr).toMatch(/^Error: verify .*nothing was read$/m);
  });

  it('an unsigned artifact is exit 5: no signature among 0 referrers', async () => {
    const unsigned = unique('unsigned');
    await push(unsigned, false);
    const result = await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${unsigned}:v1`]);
    expect(result.code).toBe(5);
    expect(json<ErrorJSON>(result).error.message).toMatch(/no sigstore signature among 0 referrer\(s\)/);
  });

  it('accepts what cosign sign attaches, by cosign’s key hint', async () => {
    const other = unique('cosign-signed');
    const manifest = (await push(other, false)).digest;
    expectOK(await cosign('sign', [`${other}@${manifest}`]), 'cosign sign');
    const result = await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${other}:v1`]);
    expectOK(result, 'verify cosign signature');
    const out = json<VerifyCommandResult>(result);
    expect(out.digest).toBe(manifest);
    expect(out.verified).toHaveLength(1);
    expect(out.verified[0]).toMatchObject({ verifier: 'sigstore', predicateType: signType, keyHint });
    expect((await lading(['verify', '--verify-key', 'other.pub', `${other}:v1`])).code).toBe(5);
  });

  it('usage errors are exit 2 before anything is fetched', async () => {
    const none = await lading(['verify', `${name}:v1`]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(
      /^Error: verify: say whom to trust with --policy \(or LADING_POLICY, or --trust\), --verify-key, --verify-issuer and --verify-subject\[-regexp\], --allowed-signers and --verify-principal, --github-repo or --github-owner, or --verify-unsafe$/m,
    );
    const half = await lading(['verify', '--verify-issuer', 'https://issuer.example', `${name}:v1`]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/^Error: --verify-issuer: give the signer too/m);
    const missing = await lading(['verify', '--verify-key', 'nope.pub', `${name}:v1`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^Error: --verify-key nope\.pub: ENOENT/m);
    const rootOnly = await lading(['verify', '--trusted-root', 'nope.json', `${name}:v1`]);
    expect(rootOnly.code).toBe(2);
    expect(rootOnly.stderr).toMatch(/^Error: --trusted-root: say whom to trust/m);
  });
});

describe('lading discover', () => {
  let name: string;
  let pushed: PushCommandResult;
  let signature: string;
  let attestation: string;

  beforeAll(async () => {
    name = unique('discover');
    pushed = await push(name, true);
    signature = pushed.signature?.digest ?? '';
    await writeFile(path.join(work, 'predicate.json'), '{"builder":"test"}');
    expectOK(
      await cosign('attest', ['--predicate', 'predicate.json', '--type', attestType, `${name}@${pushed.digest}`]),
      'cosign attest',
    );
    // oras is the oracle for the referrer digests.
    const oras = await run('oras', ['discover', '--plain-http', '--format', 'json', `${name}:v1`], {
      env,
      cwd: work,
    });
    const listed = json<{ referrers?: { digest: string }[]; manifests?: { digest: string }[] }>(oras);
    const digests = (listed.manifests ?? listed.referrers ?? []).map((d) => d.digest);
    expect(digests).toHaveLength(2);
    expect(digests).toContain(signature);
    attestation = digests.find((d) => d !== signature) ?? '';
  });

  it('lists the signature and the attestation: digest, artifact type, predicate type, created', async () => {
    const result = await lading(['discover', `${name}:v1`]);
    expectOK(result, 'discover');
    expect(result.stderr).toBe('');
    // A tree, as oras discover prints it: the artifact, then one branch per referrer.
    const tree = result.stdout.split('\n');
    expect(tree.pop()).toBe('');
    expect(tree.shift()).toBe(`${name}:v1@${pushed.digest}`);
    expect(tree.map((l) => l.slice(0, 4))).toEqual(['├── ', '└── ']);
    const lines = tree.map((l) => l.slice(4));
    const created = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z';
    expect(lines.map((l) => l.split('  ')[0]).sort()).toEqual([signature, attestation].sort());
    const byDigest = new Map(lines.map((l) => [l.split('  ')[0], l]));
    expect(byDigest.get(signature)).toMatch(
      new RegExp(`^${signature}  ${escape(bundleType)}  ${escape(signType)}  ${created}$`),
    );
    expect(byDigest.get(attestation)).toMatch(
      new RegExp(`^${attestation}  ${escape(bundleType)}  ${escape(attestType)}  ${created}$`),
    );
  });

  it('--json agrees with oras discover on the digests', async () => {
    const result = await lading(['discover', '--json', `${name}:v1`]);
    expectOK(result, 'discover --json');
    const out = json<DiscoverCommandResult>(result);
    expect(out.reference).toBe(`${name}:v1`);
    expect(out.digest).toBe(pushed.digest);
    expect(out.referrers.map((d) => d.digest).sort()).toEqual([signature, attestation].sort());
    for (const referrer of out.referrers) {
      expect(referrer.artifactType).toBe(bundleType);
      expect(referrer.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    }
    const types = out.referrers.map((d) => d.annotations?.['dev.sigstore.bundle.predicateType']).sort();
    expect(types).toEqual([attestType, signType].sort());
  });

  it('--artifact-type filters; an artifact without referrers lists nothing (exit 0)', async () => {
    const bundles = await lading(['discover', '--json', '--artifact-type', bundleType, `${name}@${pushed.digest}`]);
    expectOK(bundles, 'discover --artifact-type bundle');
    expect(json<DiscoverCommandResult>(bundles).referrers).toHaveLength(2);
    const none = await lading(['discover', '--artifact-type', 'application/vnd.example.sbom', `${name}:v1`]);
    expectOK(none, 'discover --artifact-type sbom');
    expect(none.stdout).toBe(`${name}:v1@${pushed.digest}\n`);

    const unsigned = unique('no-referrers');
    const manifest = (await push(unsigned, false)).digest;
    const empty = await lading(['discover', '--json', `${unsigned}:v1`]);
    expectOK(empty, 'discover unsigned');
    expect(json<DiscoverCommandResult>(empty)).toEqual({
      reference: `${unsigned}:v1`,
      digest: manifest,
      referrers: [],
    });
  });

  it('verify --attestation-type accepts cosign’s attestation, and its absence is exit 5', async () => {
    const result = await lading([
      'verify',
      '--json',
      '--attestation-type',
      attestType,
      '--verify-key',
      'cosign.pub',
      `${name}:v1`,
    ]);
    expectOK(result, 'verify --attestation-type');
    expect(json<VerifyCommandResult>(result).verified).toEqual([
      {
        verifier: 'sigstore',
        predicateType: attestType,
        keyHint,
        referrer: attestation,
        subject: pushed.digest,
        // The verified statement, as cosign signed it: about this manifest, with its predicate.
        statement: expect.objectContaining({
          predicateType: attestType,
          subject: [expect.objectContaining({ digest: { sha256: pushed.digest.slice(7) } })],
          predicate: expect.anything() as unknown,
        }) as unknown,
      },
    ]);
    const missing = await lading(['verify', '--attestation-type', 'spdx', '--verify-key', 'cosign.pub', `${name}:v1`]);
    expect(missing.code).toBe(5);
    expect(missing.stdout).toBe('');
  });

  it('a missing tag is exit 3', async () => {
    const result = await lading(['discover', `${name}:missing`]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
  });
});

describe('lading attest', () => {
  const slsa1 = 'https://slsa.dev/provenance/v1';
  let name: string;
  let manifest: string;
  let attested: AttestCommandResult;

  beforeAll(async () => {
    name = unique('attested');
    manifest = (await push(name, false)).digest;
    await writeFile(path.join(work, 'provenance.json'), '{"buildDefinition":{"buildType":"https://example.com/b"}}');
    const result = await lading(
      [
        'attest',
        '--json',
        '--key',
        'cosign.key',
        '--predicate',
        'provenance.json',
        '--type',
        'slsaprovenance1',
        `${name}:v1`,
      ],
      { COSIGN_PASSWORD: 'pw-1' },
    );
    expectOK(result, 'attest');
    attested = json<AttestCommandResult>(result);
  });

  it('--json names the manifest, the predicate type and the attestation referrer', () => {
    expect(attested).toEqual({
      reference: `${name}@${manifest}`,
      digest: manifest,
      predicateType: slsa1,
      attestation: {
        digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as unknown,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: expect.any(Number) as unknown,
        artifactType: bundleType,
      },
    });
  });

  it('cosign verify-attestation accepts it (short name and URI), and refuses another type', async () => {
    const common = ['verify-attestation', '--key', 'cosign.pub', '--insecure-ignore-tlog', '--allow-http-registry'];
    const options = { env, cwd: work, check: false };
    const short = await run('cosign', [...common, '--type', 'slsaprovenance1', `${name}@${manifest}`], options);
    expectOK(short, 'cosign verify-attestation --type slsaprovenance1');
    const uri = await run('cosign', [...common, '--type', slsa1, `${name}@${manifest}`], options);
    expectOK(uri, 'cosign verify-attestation --type <uri>');
    const other = await run('cosign', [...common, '--type', 'spdx', `${name}@${manifest}`], options);
    expect(other.code).not.toBe(0);
  });

  it('lading verify --attestation-type accepts it; a plain signature check does not', async () => {
    const result = await lading([
      'verify',
      '--attestation-type',
      'slsaprovenance1',
      '--verify-key',
      'cosign.pub',
      `${name}:v1`,
    ]);
    expectOK(result, 'verify --attestation-type');
    expect(result.stdout).toBe(`Verified signature by key ${keyHint}, referrer ${attested.attestation.digest}\n`);
    const signature = await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${name}:v1`]);
    expect(signature.code).toBe(5);
    expect(json<ErrorJSON>(signature).error.code).toBe('ERR_LADING_VERIFICATION');
  });

  it('usage errors are exit 2: an unknown type, an unreadable predicate; no key nor token is exit 4', async () => {
    const badType = await lading(
      ['attest', '--key', 'cosign.key', '--predicate', 'provenance.json', '--type', 'nonsense', `${name}:v1`],
      { COSIGN_PASSWORD: 'pw-1' },
    );
    expect(badType.code).toBe(2);
    expect(badType.stderr).toMatch(/^Error: --type nonsense: not a URI nor one of slsaprovenance, /m);
    const noPredicate = await lading(
      ['attest', '--key', 'cosign.key', '--predicate', 'nope.json', '--type', 'spdx', `${name}:v1`],
      { COSIGN_PASSWORD: 'pw-1' },
    );
    expect(noPredicate.code).toBe(2);
    expect(noPredicate.stderr).toMatch(/^Error: --predicate nope\.json: ENOENT/m);
    // Without --key, attest is keyless: with no identity token in the environment it is an auth failure.
    const noKey = await lading(['attest', '--predicate', 'provenance.json', '--type', 'spdx', `${name}:v1`]);
    expect(noKey.code).toBe(4);
    expect(noKey.stderr).toMatch(/identity token: none in the environment/);
    const badVerifyType = await lading([
      'verify',
      '--attestation-type',
      'nonsense',
      '--verify-key',
      'cosign.pub',
      `${name}:v1`,
    ]);
    expect(badVerifyType.code).toBe(2);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
