// Verification policy files on the command line: the built `lading` binary against the test bed's distribution,
// with real signatures — cosign keys (lading key generate), SSH keys (ssh-keygen), keyless certificates from the
// offline Sigstore harness — and a real attestation (lading attest). The policy matrix: allow, deny, warn; N of M
// mixing keyless, key and SSH; an attestation condition met and unmet; unmatched references and the default;
// every command of the CLI either reads no artifact content or refuses what the policy rejects; invalid files;
// policy test; trust export and --trust.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type {
  CatCommandResult,
  ErrorJSON,
  ListCommandResult,
  PullCommandResult,
  PushCommandResult,
  VerifyCommandResult,
} from '@lading/cli';
import { descriptorFor, MediaTypeImageIndex, type Descriptor, type PolicyEvaluation } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn, occupiedDestination, snapshot } from '../cli-runner.js';
import { isolatedClient } from '../registry/helpers.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { cosignKeyFlags, ladingKeylessFlags, writeEmptySigningConfig } from '../sigstore/fixtures.js';
import { allowedLine, makeKey, type TestKey } from '../ssh/fixtures.js';
import { makeToolHome, repoRoot, run, testbed } from '../testbed/index.js';

const alice = 'alice@example.com';
const ci = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1';
const slsa = 'https://slsa.dev/provenance/v1';

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let harness: SigstoreHarness;
let sshKey: TestKey;
/** Signed by cosign.key, alice's SSH key and the keyless identity `ci`; attested (SLSA v1) with cosign.key. */
let all: PushCommandResult & { ref: string };
/** Signed by cosign.key only. */
let keyOnly: PushCommandResult & { ref: string };
/** Not signed. */
let unsigned: PushCommandResult & { ref: string };

const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });
const unique = (what: string): string => `${host}/policy/${what}-${randomBytes(4).toString('hex')}`;

async function push(name: string, signing: readonly string[]): Promise<PushCommandResult & { ref: string }> {
  const result = await lading(['push', '--json', ...signing, `${name}:v1`, 'notes.txt'], { COSIGN_PASSWORD: 'pw-1' });
  expectOK(result, 'push');
  return { ...json<PushCommandResult>(result), ref: `${name}:v1` };
}

/** Writes `text` as policy file `name` in `work`; returns its name (relative: the CLI runs in `work`). */
async function policy(name: string, text: string): Promise<string> {
  await writeFile(path.join(work, name), text);
  return name;
}

const keyAuthority = (file: string, name = 'release-key'): string =>
  `      - name: ${name}\n        key: { file: ${file} }\n`;
const sshAuthority = `      - name: ops\n        ssh: { allowedSignersFile: allowed_signers, principals: [${alice}] }\n`;
const keylessAuthority = (subject: string): string =>
  `      - name: ci\n        keyless: { issuer: "${harness.oidcIssuer}", subject: "${subject}", trustedRoot: harness-root.json }\n`;

function rule(match: string, authorities: string, extra = ''): string {
  return `  - name: app\n    match: "${match}"\n${extra}    authorities:\n${authorities}`;
}

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-policy-'));
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  harness = await startSigstoreHarness();
  await writeFile(path.join(work, 'harness-root.json'), await readFile(harness.trustedRootPath));
  expectOK(await lading(['key', 'generate'], { COSIGN_PASSWORD: 'pw-1' }), 'key generate');
  expectOK(await lading(['key', 'generate', '--output-key-prefix', 'other'], { COSIGN_PASSWORD: 'pw-2' }), 'other');
  sshKey = await makeKey(work, 'alice', ['-t', 'ed25519']);
  await writeFile(path.join(work, 'allowed_signers'), allowedLine(alice, sshKey));
  await writeFile(
    path.join(work, 'provenance.json'),
    JSON.stringify({
      buildDefinition: {
        buildType: 'https://actions.github.io/buildtypes/workflow/v1',
        externalParameters: { workflow: { repository: 'https://github.com/acme/app', ref: 'refs/tags/v1' } },
      },
      runDetails: { builder: { id: 'https://github.com/actions/runner/github-hosted' } },
    }),
  );

  all = await push(unique('all'), ['--sign', '--key', 'cosign.key']);
  expectOK(await lading(['sign', '--ssh-key', sshKey.file, all.ref]), 'sign --ssh-key');
  const token = harness.identityToken({ subject: ci });
  expectOK(await lading(['sign', ...ladingKeylessFlags(harness, token), all.ref]), 'sign keyless');
  expectOK(
    await lading(
      ['attest', '--key', 'cosign.key', '--predicate', 'provenance.json', '--type', 'slsaprovenance1', all.ref],
      {
        COSIGN_PASSWORD: 'pw-1',
      },
    ),
    'attest',
  );
  // A second attestation of the same type whose predicate meets no condition below: a satisfied requirement must
  // report the conditions of the attestation that met them, whichever was checked last.
  await writeFile(
    path.join(work, 'provenance-other.json'),
    JSON.stringify({
      buildDefinition: {
        buildType: 'other',
        externalParameters: { workflow: { repository: 'https://github.com/acme/other' } },
      },
      runDetails: { builder: { id: 'self-hosted' } },
    }),
  );
  expectOK(
    await lading(
      ['attest', '--key', 'cosign.key', '--predicate', 'provenance-other.json', '--type', 'slsaprovenance1', all.ref],
      { COSIGN_PASSWORD: 'pw-1' },
    ),
    'attest other',
  );
  keyOnly = await push(unique('key-only'), ['--sign', '--key', 'cosign.key']);
  unsigned = await push(unique('unsigned'), []);
});

afterAll(async () => {
  await harness.close();
});

describe('allow, deny, warn', () => {
  it('allow: pull writes the files; --json carries the rule and each authority', async () => {
    const file = await policy(
      'allow.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, keyAuthority('cosign.pub'))}`,
    );
    const dest = path.join(await mkdtemp(path.join(work, 'allow-')), 'out');
    const result = await lading(['pull', '--json', '--no-progress', '--policy', file, keyOnly.ref, dest]);
    expectOK(result, 'pull --policy');
    const out = json<PullCommandResult>(result);
    expect(await readFile(path.join(dest, 'notes.txt'), 'utf8')).toBe('release notes\n');
    expect(out.policy).toMatchObject({
      policy: file,
      reference: keyOnly.ref,
      digest: keyOnly.digest,
      rule: { name: 'app', line: 3, pattern: `${host}/policy/**`, mode: 'enforce' },
      decision: 'allow',
      reasons: [],
      warnings: [],
      authorities: [{ name: 'release-key', kind: 'key', satisfied: true }],
    });
    expect(out.verified).toEqual([expect.objectContaining({ verifier: 'sigstore', subject: keyOnly.digest })]);
  });

  it('deny: exit 5 naming the policy, rule and line; the destination is left as it was', async () => {
    const file = await policy(
      'deny.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, keyAuthority('other.pub'))}`,
    );
    const { dir, before } = await occupiedDestination(work, 'deny');
    const result = await lading(['pull', '--json', '--no-progress', '--overwrite', '--policy', file, keyOnly.ref, dir]);
    const error = expectVerificationRefused(result);
    expect(error.message).toContain(`policy deny.yaml rule app (line 3): 0 of the 1 authorities required signed`);
    expect(error.message).toContain('release-key: verify');
    expect(error.message).toMatch(/; nothing was read$/);
    expect(await snapshot(dir)).toEqual(before);
  });

  it('warn: the read proceeds; the warning is on stderr and in --json', async () => {
    const file = await policy(
      'warn.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, keyAuthority('other.pub'), '    mode: warn\n')}`,
    );
    const result = await lading(['ls', '--json', '--policy', file, keyOnly.ref]);
    expectOK(result, 'ls warn');
    const out = json<ListCommandResult & { policy: PolicyEvaluation }>(result);
    expect(out.entries.map((e) => e.path)).toEqual(['notes.txt']);
    expect(out.policy.decision).toBe('warn');
    expect(out.policy.warnings).toEqual([
      expect.stringMatching(
        /^policy warn\.yaml rule app \(line 3\), mode warn: .*0 of the 1 authorities required signed.*; proceeding$/,
      ),
    ]);
    expect(result.stderr).toContain(`Warning: ${out.policy.warnings[0] ?? ''}`);
    // Every reading command puts the gate's warnings in its --json, as verify does.
    expect(out.warnings).toEqual(out.policy.warnings);
    const cat = await lading(['cat', '--json', '--policy', file, keyOnly.ref, 'notes.txt']);
    expectOK(cat, 'cat warn');
    expect(json<CatCommandResult>(cat).warnings).toEqual(out.policy.warnings);
    const dir = await mkdtemp(path.join(work, 'warn-'));
    const pull = await lading(['pull', '--json', '--no-progress', '--policy', file, keyOnly.ref, dir]);
    expectOK(pull, 'pull warn');
    expect(json<PullCommandResult>(pull).warnings).toEqual(out.policy.warnings);
    for (const command of [['inspect'], ['manifest', 'fetch']]) {
      const read = await lading([...command, '--json', '--policy', file, keyOnly.ref]);
      expectOK(read, `${command.join(' ')} warn`);
      expect(json<{ warnings?: string[] }>(read).warnings).toEqual(out.policy.warnings);
    }
    const verify = await lading(['verify', '--json', '--policy', file, keyOnly.ref]);
    expectOK(verify, 'verify warn');
    expect(json<VerifyCommandResult>(verify).warnings).toEqual(out.policy.warnings);
  });
});

describe('N of M distinct authorities, mixing keyless, key and SSH', () => {
  const three = (): string => `${keylessAuthority(ci)}${keyAuthority('cosign.pub')}${sshAuthority}`;

  it('3 of 3: each authority accepts its own signature', async () => {
    const file = await policy(
      'three.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, three(), '    threshold: 3\n')}`,
    );
    const result = await lading(['verify', '--json', '--policy', file, all.ref]);
    expectOK(result, 'verify 3 of 3');
    const out = json<VerifyCommandResult & { policy: PolicyEvaluation }>(result);
    expect(out.policy.authorities.map((a) => [a.name, a.kind, a.satisfied])).toEqual([
      ['ci', 'keyless', true],
      ['release-key', 'key', true],
      ['ops', 'ssh', true],
    ]);
    expect(out.policy.authorities[0]?.verified[0]).toMatchObject({ identity: ci, issuer: harness.oidcIssuer });
    expect(out.policy.authorities[2]?.verified[0]).toMatchObject({ verifier: 'ssh', identity: alice });
    expect(out.verified).toHaveLength(3);
  });

  it('2 of 3 where only the key signed: refused, saying which authorities failed', async () => {
    const file = await policy(
      'two.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, three(), '    threshold: 2\n')}`,
    );
    const error = expectVerificationRefused(await lading(['verify', '--json', '--policy', file, keyOnly.ref]));
    expect(error.message).toContain('1 of the 2 authorities required signed (3 listed): ci: verify');
    expect(error.message).toContain('ops: verify');
    // 1 of 3 is enough for the key-only artifact.
    const one = await policy('one.yaml', `version: 1\nrules:\n${rule(`${host}/policy/**`, three())}`);
    expectOK(await lading(['verify', '--policy', one, keyOnly.ref]), 'verify 1 of 3');
  });

  it('one signature counts for one authority only, even when two authorities accept it', async () => {
    const twice = `${keyAuthority('cosign.pub', 'a')}${keyAuthority('cosign.pub', 'b')}`;
    const file = await policy(
      'twice.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, twice, '    threshold: 2\n')}`,
    );
    const error = expectVerificationRefused(await lading(['verify', '--json', '--policy', file, keyOnly.ref]));
    expect(error.message).toContain(
      '1 of the 2 authorities required signed (2 listed): b: its only signatures already count for another authority',
    );
  });
});

describe('attestations with conditions on the verified predicate', () => {
  const withAttestation = (conditions: string): string =>
    `version: 1\nrules:\n${rule(`${host}/policy/**`, keyAuthority('cosign.pub'))}    attestations:\n      - predicateType: ${slsa}\n        conditions:\n${conditions}`;

  it('met: equality, anchored regexp and one-of all hold', async () => {
    const file = await policy(
      'attest-met.yaml',
      withAttestation(
        '          - { path: buildDefinition.externalParameters.workflow.repository, equals: "https://github.com/acme/app" }\n' +
          '          - { path: runDetails.builder.id, matches: "https://github\\\\.com/actions/runner/.+" }\n' +
          '          - { path: buildDefinition.buildType, oneOf: ["https://actions.github.io/buildtypes/workflow/v1", "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"] }\n',
      ),
    );
    const result = await lading(['cat', '--json', '--policy', file, all.ref, 'notes.txt']);
    expectOK(result, 'cat with attestation');
    const out = json<CatCommandResult & { policy: PolicyEvaluation }>(result);
    expect(out.policy.attestations).toEqual([
      expect.objectContaining({
        predicateType: slsa,
        satisfied: true,
        conditions: [
          expect.objectContaining({ path: 'buildDefinition.externalParameters.workflow.repository', met: true }),
          expect.objectContaining({ path: 'runDetails.builder.id', met: true }),
          expect.objectContaining({ path: 'buildDefinition.buildType', met: true }),
        ],
      }),
    ]);
    const attestation = out.policy.attestations[0]?.verified[0];
    expect(attestation?.predicateType).toBe(slsa);
    expect(attestation?.keyHint).toBe(out.policy.authorities[0]?.verified[0]?.keyHint);
    // The verified statement is the one lading attest signed: its predicate is provenance.json.
    expect(attestation?.statement?.predicate).toEqual(
      JSON.parse(await readFile(path.join(work, 'provenance.json'), 'utf8')),
    );
  });

  it('unmet: refused naming the field, the condition and the value found', async () => {
    const file = await policy(
      'attest-unmet.yaml',
      withAttestation(
        '          - { path: buildDefinition.externalParameters.workflow.repository, equals: "https://github.com/evil/app" }\n',
      ),
    );
    const error = expectVerificationRefused(await lading(['verify', '--json', '--policy', file, all.ref]));
    expect(error.message).toContain(`attestation ${slsa}: release-key: verify ${host}`);
    expect(error.message).toContain(
      'predicate buildDefinition.externalParameters.workflow.repository equals "https://github.com/evil/app": is "https://github.com/acme/app"',
    );
  });

  it('cosign attest: provenance attested by cosign 3 meets the same conditions', async () => {
    const name = unique('cosign-attested');
    const pushed = await push(name, []);
    const noServices = await writeEmptySigningConfig(work);
    const attested = await run(
      'cosign',
      [
        'attest',
        ...cosignKeyFlags('cosign.key', noServices),
        '--predicate',
        'provenance.json',
        '--type',
        'slsaprovenance1',
        `${name}@${pushed.digest}`,
      ],
      { env: { ...env, COSIGN_PASSWORD: 'pw-1' }, cwd: work, check: false },
    );
    expectOK(attested, 'cosign attest');
    // The rule wants the key's plain signature too, which this artifact lacks; policy test shows both outcomes.
    const file = await policy(
      'cosign-attest.yaml',
      withAttestation(
        '          - { path: buildDefinition.externalParameters.workflow.repository, equals: "https://github.com/acme/app" }\n',
      ),
    );
    const result = await lading(['policy', 'test', '--json', file, pushed.ref]);
    const evaluation = json<PolicyEvaluation>(result);
    // No plain signature: the rule's threshold is not met, but the attestation cosign made is accepted.
    expect(evaluation.attestations).toEqual([
      expect.objectContaining({ satisfied: true, conditions: [expect.objectContaining({ met: true })] }),
    ]);
    expect(evaluation.decision).toBe('deny');
    expect(evaluation.reasons).toEqual([expect.stringMatching(/^0 of the 1 authorities required signed/)]);
  });

  it('missing: an artifact with no attestation of that type is refused', async () => {
    const file = await policy('attest-missing.yaml', withAttestation('          - { path: a, equals: 1 }\n'));
    const error = expectVerificationRefused(await lading(['verify', '--json', '--policy', file, keyOnly.ref]));
    expect(error.message).toContain(
      `attestation ${slsa}: release-key: verify ${keyOnly.ref}@${keyOnly.digest}: none of the`,
    );
  });
});

describe('matching: first rule wins, digest pins, unmatched references', () => {
  it('a digest pin before a broad rule decides for that repository and digest only', async () => {
    // The three test artifacts have the same content, so the same digest, in different repositories.
    expect(all.digest).toBe(keyOnly.digest);
    const file = await policy(
      'pinned.yaml',
      `version: 1\nrules:\n  - name: pin\n    match: "${keyOnly.ref.replace(/:v1$/, '')}@${keyOnly.digest}"\n    authorities:\n${keyAuthority('other.pub')}${rule(`${host}/policy/**`, keyAuthority('cosign.pub'))}`,
    );
    const error = expectVerificationRefused(await lading(['verify', '--json', '--policy', file, keyOnly.ref]));
    expect(error.message).toContain('rule pin (line 3)');
    const allowed = await lading(['verify', '--json', '--policy', file, all.ref]);
    expectOK(allowed, 'verify under the broad rule');
    const other = json<VerifyCommandResult & { policy: PolicyEvaluation }>(allowed);
    expect(other.policy.rule).toMatchObject({ name: 'app', line: 8 });
  });

  it('unmatched references are denied by default; allow and warn when the file says so', async () => {
    const narrow = `rules:\n${rule(`${host}/elsewhere/**`, keyAuthority('cosign.pub'))}`;
    const deny = await policy('unmatched-deny.yaml', `version: 1\n${narrow}`);
    const error = expectVerificationRefused(await lading(['ls', '--json', '--policy', deny, unsigned.ref]));
    expect(error.message).toContain(
      `policy unmatched-deny.yaml: no rule of policy unmatched-deny.yaml matches ${unsigned.ref}, and unmatched references are denied`,
    );
    const allow = await policy('unmatched-allow.yaml', `version: 1\nunmatched: allow\n${narrow}`);
    const allowed = await lading(['cat', '--policy', allow, unsigned.ref, 'notes.txt']);
    expectOK(allowed, 'cat unmatched allow');
    expect(allowed.stdout).toBe('release notes\n');
    const warn = await policy('unmatched-warn.yaml', `version: 1\nunmatched: warn\n${narrow}`);
    const warned = await lading(['cat', '--policy', warn, unsigned.ref, 'notes.txt']);
    expectOK(warned, 'cat unmatched warn');
    expect(warned.stderr).toContain(`Warning: no rule of policy unmatched-warn.yaml matches ${unsigned.ref}`);
  });
});

describe('multi-platform: a digest pin on a platform manifest', () => {
  it('covers a read of that platform through the index, and only that one', async () => {
    const name = unique('multi');
    const builds: Record<string, Descriptor> = {};
    for (const arch of ['amd64', 'arm64']) {
      await mkdir(path.join(work, arch), { recursive: true });
      await writeFile(path.join(work, arch, 'notes.txt'), `${arch} notes\n`);
      const pushed = await lading(
        ['push', '--json', `${name}:${arch}`, 'notes.txt'],
        {},
        { cwd: path.join(work, arch) },
      );
      expectOK(pushed, `push ${arch}`);
      builds[arch] = await isolatedClient().repository(name).resolve(json<PushCommandResult>(pushed).digest);
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypeImageIndex,
        manifests: Object.entries(builds).map(([arch, d]) => ({
          mediaType: d.mediaType,
          digest: d.digest,
          size: d.size,
          platform: { os: 'linux', architecture: arch },
        })),
      }),
    );
    await isolatedClient().repository(name).pushManifest(descriptorFor(MediaTypeImageIndex, index), index, ['v1']);
    const arm64 = builds.arm64?.digest ?? '';
    // Only the arm64 manifest is signed, by cosign.key.
    expectOK(await lading(['sign', '--key', 'cosign.key', `${name}@${arm64}`], { COSIGN_PASSWORD: 'pw-1' }), 'sign');
    const file = await policy(
      'multi.yaml',
      `version: 1\nrules:\n  - name: arm64\n    match: "${name}@${arm64}"\n    authorities:\n${keyAuthority('cosign.pub')}${rule(name, keyAuthority('other.pub'))}`,
    );
    const read = await lading([
      'cat',
      '--json',
      '--platform',
      'linux/arm64',
      '--policy',
      file,
      `${name}:v1`,
      'notes.txt',
    ]);
    expectOK(read, 'cat arm64');
    expect(json<CatCommandResult & { policy: PolicyEvaluation }>(read).policy.rule?.name).toBe('arm64');
    const other = await lading([
      'cat',
      '--json',
      '--platform',
      'linux/amd64',
      '--policy',
      file,
      `${name}:v1`,
      'notes.txt',
    ]);
    expect(expectVerificationRefused(other).message).toContain('policy multi.yaml rule app (line 8)');
  });
});

describe('every command either reads no artifact content or refuses what the policy rejects', () => {
  /** Commands that read no artifact content, and why each is exempt. */
  const readsNoContent: Record<string, string> = {
    attest: 'signs: reads only the manifest it signs, writes a referrer',
    completion: 'prints a shell completion script',
    'config:path': 'prints where the configuration file is',
    'config:show': 'prints the effective settings',
    delete: 'deletes a tag or manifest',
    discover: 'lists referrers (metadata), no content',
    help: 'prints help',
    'key:generate': 'writes a key pair',
    login: 'stores credentials',
    logout: 'removes credentials',
    'policy:validate': 'reads a policy file only',
    push: 'writes an artifact',
    'referrers:repair': 'rewrites the fallback referrers index (referrer metadata), no artifact content',
    sign: 'signs: reads only the manifest it signs, writes a referrer',
    tag: 'tags a manifest',
    'trust:export': 'copies policy files only',
    version: 'prints the version',
  };
  /**
   * How to run each command that reads content against `ref`, writing (if it writes) to `dest`; the policy is added
   * as `--policy FILE` at the end, or comes from LADING_POLICY.
   */
  const readers: Record<string, (ref: string, dest: string) => string[]> = {
    pull: (ref, dest) => ['pull', '--json', '--no-progress', ref, dest],
    ls: (ref) => ['ls', '--json', ref],
    cat: (ref) => ['cat', '--json', ref, 'notes.txt'],
    verify: (ref) => ['verify', '--json', ref],
    copy: (ref, dest) => ['copy', '--json', ref, `oci:${dest}:v1`],
    inspect: (ref) => ['inspect', '--json', ref],
    'manifest:fetch': (ref, dest) => ['manifest', 'fetch', '--json', '-o', dest, ref],
  };

  const commandIDs = async (): Promise<string[]> => {
    const manifest = JSON.parse(await readFile(path.join(repoRoot, 'packages/cli/oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, unknown>;
    };
    return Object.keys(manifest.commands);
  };

  it('the command list has no command in neither list', async () => {
    const ids = await commandIDs();
    expect(ids).toEqual(expect.arrayContaining(['pull', 'ls', 'cat', 'verify', 'policy:test']));
    const unclassified = ids.filter((id) => !(id in readsNoContent) && !(id in readers) && id !== 'policy:test');
    expect(unclassified, 'classify each new command: refuse a policy-rejected artifact, or read no content').toEqual(
      [],
    );
  });

  it('each reading command refuses a rejected artifact, given --policy or LADING_POLICY', async () => {
    const file = await policy(
      'walk.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, keyAuthority('other.pub'))}`,
    );
    const ids = await commandIDs();
    for (const [id, args] of Object.entries(readers).filter(([id]) => ids.includes(id))) {
      for (const how of ['flag', 'env'] as const) {
        const dest = path.join(work, `walk-${id.replace(':', '-')}-${how}`);
        const argv = args(keyOnly.ref, dest);
        const result =
          how === 'flag' ? await lading([...argv, '--policy', file]) : await lading(argv, { LADING_POLICY: file });
        const error = expectVerificationRefused(result);
        expect(error.message, `${id} (${how})`).toContain('policy walk.yaml rule app (line 3)');
        expect(existsSync(dest), `${id} wrote ${dest}`).toBe(false);
      }
    }
    // policy test reports the evaluation and exits 5 for a denial.
    const tested = await lading(['policy', 'test', '--json', file, keyOnly.ref]);
    expect(tested.code).toBe(5);
    expect(json<PolicyEvaluation>(tested).decision).toBe('deny');
  });

  it('a policy with --verify-* or SSH verification flags is a usage error, whichever way it is given', async () => {
    const file = await policy(
      'usage.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, keyAuthority('cosign.pub'))}`,
    );
    const withKey = await lading(['verify', '--json', '--policy', file, '--verify-key', 'cosign.pub', keyOnly.ref]);
    expect(withKey.code).toBe(2);
    expect(json<ErrorJSON>(withKey).error.message).toMatch(/^--verify-key: not with a verification policy/);
    const fromEnv = await lading(
      ['ls', '--json', '--allowed-signers', 'allowed_signers', '--verify-principal', alice, keyOnly.ref],
      {
        LADING_POLICY: file,
      },
    );
    expect(fromEnv.code).toBe(2);
    expect(json<ErrorJSON>(fromEnv).error.message).toMatch(/^--allowed-signers: not with a verification policy/);
    const attestationType = await lading([
      'verify',
      '--json',
      '--policy',
      file,
      '--attestation-type',
      'slsaprovenance1',
      all.ref,
    ]);
    expect(json<ErrorJSON>(attestationType).error.message).toMatch(
      /^--attestation-type: not with a verification policy/,
    );
  });
});

describe('invalid policy files', () => {
  it('policy validate and every read name file:line: field (exit 2)', async () => {
    const file = await policy(
      'invalid.yaml',
      `version: 1\nrules:\n  - match: "${host}/policy/**"\n    threshold: 2\n    authorities:\n      - key: { file: cosign.pub }\n      - ssh: { allowedSignersFile: allowed_signers }\n`,
    );
    const expected = ['invalid.yaml:7: rules[0].authorities[1].ssh.principals: required'];
    const validated = await lading(['policy', 'validate', file]);
    expect(validated.code).toBe(2);
    expect(validated.stderr).toBe(`Error: policy invalid.yaml: invalid:\n  ${expected[0]}\n`);
    const pulled = await lading(['pull', '--json', '--policy', file, keyOnly.ref, path.join(work, 'invalid-out')]);
    expect(pulled.code).toBe(2);
    expect(json<ErrorJSON>(pulled).error.message).toBe(`policy invalid.yaml: invalid:\n  ${expected[0]}`);
    const unreadable = await lading(['verify', '--json', '--policy', 'missing.yaml', keyOnly.ref]);
    expect(unreadable.code).toBe(2);
    expect(json<ErrorJSON>(unreadable).error.message).toMatch(/^--policy \(or LADING_POLICY\) missing\.yaml: ENOENT/);
    // A key file that cannot be read is named with the policy line of its authority.
    const badKey = await policy(
      'bad-key.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, keyAuthority('nope.pub'))}`,
    );
    const refused = await lading(['verify', '--json', '--policy', badKey, keyOnly.ref]);
    expect(refused.code).toBe(2);
    expect(json<ErrorJSON>(refused).error.message).toMatch(
      /^policy bad-key\.yaml:6: rules\[0\]\.authorities\[0\] \(release-key\): ENOENT/,
    );
  });

  it('policy validate summarises a valid file', async () => {
    const file = await policy(
      'valid.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, `${keyAuthority('cosign.pub')}${sshAuthority}`)}`,
    );
    const result = await lading(['policy', 'validate', file]);
    expectOK(result, 'policy validate');
    expect(result.stdout).toBe(
      `valid.yaml: valid, 1 rule(s); unmatched references: deny\n  app (line 3): ${host}/policy/**: 1 of release-key (key), ops (ssh), enforce\n`,
    );
  });
});

describe('policy test', () => {
  it('shows the rule, each authority, each attestation condition and the decision', async () => {
    const file = await policy(
      'explain.yaml',
      `version: 1\nrules:\n${rule(`${host}/policy/**`, `${keyAuthority('cosign.pub')}${keyAuthority('other.pub', 'other')}`)}    attestations:\n      - predicateType: ${slsa}\n        authorities: [release-key]\n        conditions:\n          - { path: runDetails.builder.id, oneOf: [x, y] }\n`,
    );
    const result = await lading(['policy', 'test', file, all.ref]);
    expect(result.code).toBe(5);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`Rule app (line 3) matched by ${host}/policy/**; mode enforce; 1 of 2 authorities required`);
    expect(lines[1]).toBe('  authority release-key (key): satisfied');
    expect(lines[2]).toMatch(/^ {4}Verified signature by key \S+, referrer sha256:/);
    expect(lines).toContain('  authority other (key): not satisfied');
    expect(lines).toContain(`  attestation ${slsa}: not satisfied`);
    // The conditions as checked on the last of the two attestations read (the listing decides which).
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^ {4}unmet: runDetails\.builder\.id one of \["x","y"\] \(is "(https:\/\/github\.com\/actions\/runner\/github-hosted|self-hosted)"\)$/,
      ),
    );
    expect(lines.at(-2)).toBe(
      `Policy explain.yaml: rule app (line 3, pattern ${host}/policy/**, mode enforce) denies ${all.ref}@${all.digest}`,
    );
  });
});

describe('trust export and --trust', () => {
  it('copies keys, allowed_signers and trusted roots; the folder alone verifies', async () => {
    const source = path.join(work, 'export-src');
    await mkdir(source);
    for (const name of ['cosign.pub', 'allowed_signers', 'harness-root.json']) {
      await writeFile(path.join(source, name), await readFile(path.join(work, name)));
    }
    await writeFile(
      path.join(source, 'policy.yaml'),
      `version: 1\nrules:\n${rule(`${host}/policy/**`, `${keylessAuthority(ci)}${keyAuthority('cosign.pub')}${sshAuthority}`, '    threshold: 3\n')}`,
    );
    const out = path.join(work, 'trust');
    const result = await lading([
      'trust',
      'export',
      '--json',
      '--policy',
      path.join(source, 'policy.yaml'),
      '--out',
      out,
    ]);
    expectOK(result, 'trust export');
    const exported = json<{ out: string; policy: string; files: { from: string; to: string }[] }>(result);
    expect(exported.files.map((f) => f.to).sort()).toEqual([
      'allowed_signers/app-ops',
      'keys/app-release-key.pub',
      'roots/app-ci.json',
    ]);
    expect((await readdir(out)).sort()).toEqual(['allowed_signers', 'keys', 'policy.yaml', 'roots']);
    const written = await readFile(path.join(out, 'policy.yaml'), 'utf8');
    expect(written).toContain('trustedRoot: roots/app-ci.json');
    expect(written).toContain('file: keys/app-release-key.pub');
    expect(written).toContain('allowedSignersFile: allowed_signers/app-ops');
    // The source files are gone: only the exported folder is trusted.
    await rename(source, `${source}-gone`);
    const verified = await lading(['verify', '--json', '--trust', 'trust', all.ref]);
    expectOK(verified, 'verify --trust');
    expect(
      json<VerifyCommandResult & { policy: PolicyEvaluation }>(verified).policy.authorities.map((a) => a.satisfied),
    ).toEqual([true, true, true]);
    expectVerificationRefused(await lading(['verify', '--json', '--trust', 'trust', keyOnly.ref]));
    // --trust replaces a policy from LADING_POLICY (as --policy does), and does not go with --policy.
    const denyAll = await policy('deny-all.yaml', 'version: 1\nrules: []\n');
    expectOK(
      await lading(['verify', '--trust', 'trust', all.ref], { LADING_POLICY: denyAll }),
      'verify --trust over env',
    );
    const both = await lading(['verify', '--json', '--trust', 'trust', '--policy', denyAll, all.ref]);
    expect(both.code).toBe(2);
    expect(json<ErrorJSON>(both).error.message).toBe(
      '--trust: not with --policy (one policy per read); give one of them',
    );
    // An existing, non-empty folder is not overwritten.
    const again = await lading(['trust', 'export', '--json', '--policy', path.join(out, 'policy.yaml'), '--out', out]);
    expect(again.code).toBe(2);
    expect(json<ErrorJSON>(again).error.message).toBe(`trust export --out ${out}: not empty; choose a new folder`);
  });

  // A keyless authority without trustedRoot gets the root fetched with TUF: offline-trust.test.ts.
  it('a keyless authority without a trusted root needs an initial root for its TUF mirror; nothing is written', async () => {
    const file = await policy(
      'tuf.yaml',
      `version: 1\nrules:\n  - match: "${host}/**"\n    authorities:\n      - keyless: { issuer: https://x, subject: y }\n`,
    );
    const out = path.join(work, 'tuf-out');
    const result = await lading([
      'trust',
      'export',
      '--json',
      '--policy',
      file,
      '--out',
      out,
      '--tuf-mirror',
      'http://127.0.0.1:1',
    ]);
    expect(result.code).toBe(2);
    expect(json<ErrorJSON>(result).error.message).toMatch(
      /^load trusted root tuf http:\/\/127\.0\.0\.1:1: .*--tuf-root/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
