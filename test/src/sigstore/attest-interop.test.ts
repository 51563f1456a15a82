// `lading attest` and `lading verify --attestation-type`, run as the built binary against the test bed's anonymous
// distribution (the sha256-<hex> tag fallback) and the offline Sigstore harness, with cosign 3.1.1 as the oracle.
//
// For every `--type` short name cosign knows, both ways:
//   lading attest --key cosign.key --type <name> …  →  cosign verify-attestation --key cosign.pub \
//     --insecure-ignore-tlog --allow-http-registry --type <name> <ref>@<digest>   (and refuses another type)
//   cosign attest --key cosign.key --signing-config <no services> --type <name> … → lading verify \
//     --verify-key cosign.pub --attestation-type <name>                             (and exit 5 for another type)
// and keyless against the harness:
//   lading attest --identity-token <jwt> --signing-config signing_config.json … → cosign verify-attestation \
//     --trusted-root trusted_root.json --certificate-identity <id> --certificate-oidc-issuer <issuer> --type <name>
//   cosign attest --identity-token <jwt> --signing-config … --trusted-root … → lading verify --verify-issuer … \
//     --verify-subject … --trusted-root … --attestation-type <name>

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type {
  AttestCommandResult,
  DiscoverCommandResult,
  KeyGenerateResult,
  PushCommandResult,
  VerifyCommandResult,
} from '@lading/cli';
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
import {
  cosign as cosignIn,
  cosignIdentityFlags,
  cosignKeyFlags,
  cosignKeylessFlags,
  ladingIdentityFlags,
  ladingKeylessFlags,
  writeEmptySigningConfig,
} from './fixtures.js';

/** cosign 3.1.1's `--type` short names and their predicate types (options.PredicateTypeMap), with a predicate each. */
const shortNames: readonly { name: string; uri: string; predicate: object }[] = [
  { name: 'slsaprovenance', uri: 'https://slsa.dev/provenance/v0.2', predicate: slsa02() },
  { name: 'slsaprovenance02', uri: 'https://slsa.dev/provenance/v0.2', predicate: slsa02() },
  {
    name: 'slsaprovenance1',
    uri: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: { buildType: 'https://example.com/build/v1', externalParameters: { ref: 'v1' } },
      runDetails: { builder: { id: 'https://example.com/builder' } },
    },
  },
  { name: 'spdx', uri: 'https://spdx.dev/Document', predicate: spdxJSON() },
  { name: 'spdxjson', uri: 'https://spdx.dev/Document', predicate: spdxJSON() },
  {
    name: 'cyclonedx',
    uri: 'https://cyclonedx.org/bom',
    predicate: { bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components: [] },
  },
  {
    name: 'link',
    uri: 'https://in-toto.io/Link/v1',
    predicate: {
      _type: 'link',
      name: 'build',
      materials: {},
      products: {},
      byproducts: {},
      command: ['make'],
      environment: {},
    },
  },
  {
    name: 'vuln',
    uri: 'https://cosign.sigstore.dev/attestation/vuln/v1',
    predicate: {
      invocation: { parameters: null, uri: 'https://example.com/scan/1', event_id: '1', 'builder.id': 'scanner' },
      scanner: { uri: 'pkg:example/scanner', version: '1.0.0', db: { uri: '', version: '' }, result: {} },
      metadata: { scanStartedOn: '2025-01-01T00:00:00Z', scanFinishedOn: '2025-01-01T00:01:00Z' },
    },
  },
  {
    name: 'openvex',
    uri: 'https://openvex.dev/ns',
    predicate: {
      '@context': 'https://openvex.dev/ns/v0.2.0',
      '@id': 'https://example.com/vex/1',
      author: 'lading tests',
      timestamp: '2025-01-01T00:00:00Z',
      version: 1,
      statements: [],
    },
  },
  { name: 'custom', uri: 'https://cosign.sigstore.dev/attestation/v1', predicate: { note: 'anything' } },
];

const alice = 'alice@example.com';
const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let harness: SigstoreHarness;
let noServices: string;
let keyHint: string;

/** Runs `lading args…` in `work` with the isolated environment (COSIGN_PASSWORD for cosign.key, plus `extraEnv`). */
const lading = ladingIn(() => ({ cwd: work, env: { ...env, COSIGN_PASSWORD: 'pw-1' } }), { inProcess: true });

/** cosign 3.1.1 offline (the harness's tool environment) in `work`; never throws on its exit code. */
function cosign(args: readonly string[]): Promise<RunResult> {
  return cosignIn(harness, work, args, { COSIGN_PASSWORD: 'pw-1' });
}

/** `cosign attest --key cosign.key` with no Sigstore services (offline, as cosign attest does by default otherwise). */
function cosignAttestKey(type: string, predicateFile: string, ref: string): Promise<RunResult> {
  return cosign([
    'attest',
    ...cosignKeyFlags('cosign.key', noServices),
    '--type',
    type,
    '--predicate',
    predicateFile,
    ref,
  ]);
}

function verifyAttestationKey(type: string, ref: string): Promise<RunResult> {
  return cosign([
    'verify-attestation',
    '--key',
    'cosign.pub',
    '--insecure-ignore-tlog',
    '--allow-http-registry',
    '--type',
    type,
    ref,
  ]);
}

function verifyAttestationKeyless(type: string, identity: string, ref: string): Promise<RunResult> {
  return cosign([
    'verify-attestation',
    ...cosignIdentityFlags(harness, identity),
    '--allow-http-registry',
    '--type',
    type,
    ref,
  ]);
}

/** Pushes a small unique file to a fresh repository as `:v1`; returns `repo` and the manifest digest. */
async function pushFresh(what: string): Promise<{ repo: string; digest: string }> {
  const repo = `${host}/attest/${what}-${randomBytes(4).toString('hex')}`;
  const file = path.join(work, `${what}.txt`);
  await writeFile(file, `${what} ${randomBytes(8).toString('hex')}\n`);
  const result = await lading(['push', '--json', `${repo}:v1`, path.basename(file)]);
  expectOK(result, 'push');
  return { repo, digest: json<PushCommandResult>(result).digest };
}

/** The in-toto statements in what `cosign verify-attestation` prints on stdout (one DSSE envelope per line). */
function statementsFrom(stdout: string): { predicateType: string; predicate: unknown }[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const envelope = JSON.parse(line) as { payload: string };
      return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
        predicateType: string;
        predicate: unknown;
      };
    });
}

/** The next short name after `index` whose predicate type differs: cosign and lading must refuse it. */
function otherThan(index: number): string {
  const own = shortNames[index]?.uri;
  for (let step = 1; step < shortNames.length; step++) {
    const candidate = shortNames[(index + step) % shortNames.length];
    if (candidate !== undefined && candidate.uri !== own) return candidate.name;
  }
  throw new Error('no other predicate type');
}

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'attest-interop-'));
  harness = await startSigstoreHarness();
  noServices = await writeEmptySigningConfig(work);
  const generated = await lading(['key', 'generate', '--json']);
  expectOK(generated, 'key generate');
  keyHint = json<KeyGenerateResult>(generated).keyHint;
  for (const { name, predicate } of shortNames) {
    await writeFile(path.join(work, `${name}.json`), JSON.stringify(predicate));
  }
});

afterAll(async () => {
  await harness.close();
});

describe('the --type short names', () => {
  it('are exactly cosign’s: the names cosign attest and verify-attestation list, and those lading accepts', async () => {
    const expected = shortNames.map((t) => t.name).sort();
    for (const verb of ['attest', 'verify-attestation']) {
      const help = await cosign([verb, '--help']);
      expectOK(help);
      const listed = /specify a predicate type \(([a-z0-9|]+)\) or an URI/.exec(help.stdout)?.[1];
      expect(listed?.split('|').sort(), `cosign ${verb} --help`).toEqual(expected);
    }
    // lading's usage error lists the names it knows.
    const unknown = await lading(['attest', '--predicate', 'custom.json', '--type', 'nonsense', `${host}/x:v1`]);
    expect(unknown.code).toBe(2);
    const names = /^Error: --type nonsense: not a URI nor one of (.*)$/m.exec(unknown.stderr)?.[1];
    expect(names?.split(', ').sort(), unknown.stderr).toEqual(expected);
  });
});

describe.each(shortNames.map((t, index) => ({ ...t, other: otherThan(index) })))(
  'key-based, --type $name',
  ({ name, uri, other }) => {
    it(`lading attests: cosign verify-attestation --type ${name} accepts, --type ${other} refuses`, async () => {
      const { repo, digest } = await pushFresh(name);
      const result = await lading([
        'attest',
        '--json',
        '--key',
        'cosign.key',
        '--predicate',
        `${name}.json`,
        '--type',
        name,
        `${repo}:v1`,
      ]);
      expectOK(result, 'attest');
      const attested = json<AttestCommandResult>(result);
      expect(attested).toMatchObject({ reference: `${repo}@${digest}`, digest, predicateType: uri });
      expect(attested.attestation.artifactType).toBe(bundleType);

      const accepted = await verifyAttestationKey(name, `${repo}@${digest}`);
      expectOK(accepted);
      const statements = statementsFrom(accepted.stdout);
      expect(statements.map((s) => s.predicateType)).toEqual([uri]);
      expect(statements[0]?.predicate).toEqual(JSON.parse(await readFile(path.join(work, `${name}.json`), 'utf8')));
      expectOK(await verifyAttestationKey(uri, `${repo}@${digest}`));

      const refused = await verifyAttestationKey(other, `${repo}@${digest}`);
      expect(refused.code, refused.stderr).not.toBe(0);
      expect(refused.stderr).toContain(`none of the attestations matched the predicate type: ${other}, found: ${uri}`);
    });

    it(`cosign attests: lading verify --attestation-type ${name} accepts, ${other} is exit 5`, async () => {
      const { repo, digest } = await pushFresh(`cosign-${name}`);
      expectOK(await cosignAttestKey(name, `${name}.json`, `${repo}@${digest}`));
      const verify = (type: string): Promise<LadingTextRun> =>
        lading(['verify', '--json', '--attestation-type', type, '--verify-key', 'cosign.pub', `${repo}:v1`]);
      const accepted = await verify(name);
      expectOK(accepted, `verify --attestation-type ${name}`);
      const out = json<VerifyCommandResult>(accepted);
      expect(out.digest).toBe(digest);
      expect(out.verified).toMatchObject([{ verifier: 'sigstore', predicateType: uri, keyHint, subject: digest }]);
      const error = expectVerificationRefused(await verify(other));
      expect(error.message).toContain(`predicate type "${uri}" is not the required`);
    });
  },
);

describe('key-based attestations, more', () => {
  it('an SPDX tag-value predicate is exit 2: cosign cannot verify a string predicate, not even its own', async () => {
    const text = 'SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\nDocumentName: config\n';
    await writeFile(path.join(work, 'sbom.spdx'), text);
    const { repo, digest } = await pushFresh('spdx-text');
    const refused = await lading([
      'attest',
      '--key',
      'cosign.key',
      '--predicate',
      'sbom.spdx',
      '--type',
      'spdx',
      `${repo}:v1`,
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^Error: --predicate sbom\.spdx: not JSON: /m);
    // cosign attest --type spdx states the text as a string predicate, which its verify-attestation cannot decode.
    expectOK(await cosignAttestKey('spdx', 'sbom.spdx', `${repo}@${digest}`));
    const unreadable = await verifyAttestationKey('spdx', `${repo}@${digest}`);
    expect(unreadable.code).not.toBe(0);
    expect(unreadable.stderr).toContain('invalid attestation: decoding json');
  });

  it('cosign decodes a vuln predicate into its schema: a misfit (a time not RFC 3339) is refused by cosign', async () => {
    const vuln = shortNames.find((t) => t.name === 'vuln')?.predicate as { metadata: object };
    await writeFile(
      path.join(work, 'bad-vuln.json'),
      JSON.stringify({ ...vuln, metadata: { scanStartedOn: 'yesterday', scanFinishedOn: 'today' } }),
    );
    const { repo, digest } = await pushFresh('bad-vuln');
    expectOK(
      await lading(['attest', '--key', 'cosign.key', '--predicate', 'bad-vuln.json', '--type', 'vuln', `${repo}:v1`]),
      'attest bad vuln',
    );
    const refused = await verifyAttestationKey('vuln', `${repo}@${digest}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('unmarshaling CosignVulnStatement');
    // The signature itself is sound: under its URI (no schema) cosign accepts it.
    expectOK(await verifyAttestationKey('https://cosign.sigstore.dev/attestation/vuln/v1', `${repo}@${digest}`));
  });

  it('cosign wraps a custom predicate as {Data, Timestamp}; lading states it as given', async () => {
    const { repo, digest } = await pushFresh('cosign-custom');
    expectOK(await cosignAttestKey('custom', 'custom.json', `${repo}@${digest}`));
    const verified = await verifyAttestationKey('custom', `${repo}@${digest}`);
    expectOK(verified);
    expect(statementsFrom(verified.stdout).map((s) => s.predicate)).toEqual([
      {
        Data: await readFile(path.join(work, 'custom.json'), 'utf8'),
        Timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as unknown,
      },
    ]);
  });

  it('an artifact carrying only cosign’s attestation: pull --verify-key is exit 5, destination unchanged', async () => {
    const { repo } = await pushFresh('attestation-only');
    expectOK(await cosignAttestKey('slsaprovenance1', 'slsaprovenance1.json', `${repo}:v1`));
    expectOK(await verifyAttestationKey('slsaprovenance1', `${repo}:v1`));
    const { dir: dest, before } = await occupiedDestination(work, 'attestation-only');
    const pulled = await lading(['pull', '--json', '--overwrite', '--verify-key', 'cosign.pub', `${repo}:v1`, dest]);
    const error = expectVerificationRefused(pulled);
    expect(error.message).toContain('predicate type "https://slsa.dev/provenance/v1" is not the required');
    expect(await snapshot(dest)).toEqual(before);
    // A plain signature check refuses it as well; the attestation check accepts it.
    expectVerificationRefused(await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${repo}:v1`]));
    expectOK(
      await lading(['verify', '--attestation-type', 'slsaprovenance1', '--verify-key', 'cosign.pub', `${repo}:v1`]),
      'verify --attestation-type',
    );
  });

  it('usage errors are exit 2 and attach nothing: a predicate not a JSON object, --key with a token, a wrong password', async () => {
    const { repo } = await pushFresh('usage');
    await writeFile(path.join(work, 'array.json'), '[1, 2]');
    await writeFile(path.join(work, 'text.txt'), 'not json\n');
    const array = await lading([
      'attest',
      '--key',
      'cosign.key',
      '--predicate',
      'array.json',
      '--type',
      'custom',
      `${repo}:v1`,
    ]);
    expect(array.code).toBe(2);
    expect(array.stderr).toMatch(
      /^Error: --predicate array\.json: the predicate must be a JSON object, not an array$/m,
    );
    const text = await lading([
      'attest',
      '--key',
      'cosign.key',
      '--predicate',
      'text.txt',
      '--type',
      'spdxjson',
      `${repo}:v1`,
    ]);
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/^Error: --predicate text\.txt: not JSON: /m);
    const both = await lading([
      'attest',
      '--key',
      'cosign.key',
      '--identity-token',
      'x',
      '--predicate',
      'custom.json',
      '--type',
      'custom',
      `${repo}:v1`,
    ]);
    expect(both.code).toBe(2);
    const wrongPassword = await lading(
      ['attest', '--key', 'cosign.key', '--predicate', 'custom.json', '--type', 'custom', `${repo}:v1`],
      { COSIGN_PASSWORD: 'wrong' },
    );
    expect(wrongPassword.code).toBe(2);
    expect(wrongPassword.stderr).toMatch(/^Error: --key cosign\.key: /m);
    const discovered = await lading(['discover', '--json', `${repo}:v1`]);
    expectOK(discovered, 'discover');
    expect(json<DiscoverCommandResult>(discovered).referrers).toEqual([]);
  });
});

describe('keyless attestations (offline Sigstore harness)', () => {
  const token = (email = alice): string => harness.identityToken({ subject: 'account-1', email });
  const identityFlags = (subject: string): string[] => ladingIdentityFlags(harness, subject);

  it('lading attests keyless: cosign verify-attestation accepts the identity and type, refuses others', async () => {
    const { repo, digest } = await pushFresh('keyless');
    const result = await lading([
      'attest',
      '--json',
      ...ladingKeylessFlags(harness, token()),
      '--predicate',
      'cyclonedx.json',
      '--type',
      'cyclonedx',
      `${repo}:v1`,
    ]);
    expectOK(result, 'attest keyless');
    const attested = json<AttestCommandResult>(result);
    expect(attested.predicateType).toBe('https://cyclonedx.org/bom');
    expect(harness.requests.map((r) => r.service)).toEqual(expect.arrayContaining(['fulcio', 'rekor']));

    const ref = `${repo}@${digest}`;
    expectOK(await verifyAttestationKeyless('cyclonedx', alice, ref));
    expectOK(await verifyAttestationKeyless('https://cyclonedx.org/bom', alice, ref));
    expect((await verifyAttestationKeyless('cyclonedx', 'mallory@example.com', ref)).code).not.toBe(0);
    expect((await verifyAttestationKeyless('spdx', alice, ref)).code).not.toBe(0);

    const verified = await lading([
      'verify',
      '--json',
      '--attestation-type',
      'cyclonedx',
      ...identityFlags(alice),
      `${repo}:v1`,
    ]);
    expectOK(verified, 'verify keyless attestation');
    expect(json<VerifyCommandResult>(verified).verified).toMatchObject([
      {
        predicateType: 'https://cyclonedx.org/bom',
        identity: alice,
        issuer: harness.oidcIssuer,
        referrer: attested.attestation.digest,
      },
    ]);
  });

  it('keyless without an identity token is exit 4 and attaches nothing', async () => {
    const { repo } = await pushFresh('no-token');
    const result = await lading(['attest', '--predicate', 'custom.json', '--type', 'custom', `${repo}:v1`]);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Error: identity token: none in the environment/m);
    const discovered = await lading(['discover', '--json', `${repo}:v1`]);
    expect(json<DiscoverCommandResult>(discovered).referrers).toEqual([]);
  });

  describe('cosign attests keyless (new bundle format)', () => {
    let repo: string;
    let digest: string;
    let attestation: string;

    beforeAll(async () => {
      ({ repo, digest } = await pushFresh('cosign-keyless'));
      expectOK(
        await cosign([
          'attest',
          ...cosignKeylessFlags(harness, token()),
          '--allow-http-registry',
          '--type',
          'slsaprovenance1',
          '--predicate',
          'slsaprovenance1.json',
          `${repo}@${digest}`,
        ]),
      );
      const discovered = await lading(['discover', '--json', `${repo}:v1`]);
      expectOK(discovered, 'discover');
      const referrers = json<DiscoverCommandResult>(discovered).referrers;
      expect(referrers).toHaveLength(1);
      attestation = referrers[0]?.digest ?? '';
    });

    it('lading discover lists it with its predicate type', async () => {
      const result = await lading(['discover', `${repo}:v1`]);
      expectOK(result, 'discover');
      expect(result.stdout).toMatch(
        new RegExp(
          `^${escape(repo)}:v1@sha256:[0-9a-f]{64}\\n└── ${attestation}  ${escape(bundleType)}  ${escape('https://slsa.dev/provenance/v1')}  \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z\\n$`,
        ),
      );
    });

    it('lading verify --attestation-type with the identity accepts it; another type or subject is exit 5', async () => {
      const accepted = await lading([
        'verify',
        '--json',
        '--attestation-type',
        'slsaprovenance1',
        ...identityFlags(alice),
        `${repo}:v1`,
      ]);
      expectOK(accepted, 'verify --attestation-type keyless');
      const out = json<VerifyCommandResult>(accepted);
      expect(out.digest).toBe(digest);
      expect(out.verified).toMatchObject([
        {
          verifier: 'sigstore',
          predicateType: 'https://slsa.dev/provenance/v1',
          identity: alice,
          issuer: harness.oidcIssuer,
          referrer: attestation,
        },
      ]);
      expect(out.verified[0]?.tlogIndex).toMatch(/^\d+$/);

      const otherType = expectVerificationRefused(
        await lading([
          'verify',
          '--json',
          '--attestation-type',
          'slsaprovenance',
          ...identityFlags(alice),
          `${repo}:v1`,
        ]),
      );
      expect(otherType.message).toContain('predicate type "https://slsa.dev/provenance/v1" is not the required');
      const otherSubject = expectVerificationRefused(
        await lading([
          'verify',
          '--json',
          '--attestation-type',
          'slsaprovenance1',
          ...identityFlags('mallory@example.com'),
          `${repo}:v1`,
        ]),
      );
      expect(otherSubject.message).toContain('mallory@example.com');
    });

    it('pull with the identity refuses an artifact carrying only the attestation (exit 5, destination unchanged)', async () => {
      const { dir: dest, before } = await occupiedDestination(work, 'keyless-only');
      const pulled = await lading(['pull', '--json', '--overwrite', ...identityFlags(alice), `${repo}:v1`, dest]);
      expectVerificationRefused(pulled);
      expect(await snapshot(dest)).toEqual(before);
    });
  });
});

function slsa02(): object {
  return {
    builder: { id: 'https://example.com/builder' },
    buildType: 'https://example.com/build/v1',
    invocation: { configSource: { uri: 'git+https://example.com/repo', digest: { sha1: 'abc' } } },
    materials: [],
  };
}

function spdxJSON(): object {
  return {
    spdxVersion: 'SPDX-2.3',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: 'config',
    dataLicense: 'CC0-1.0',
    documentNamespace: 'https://example.com/spdx/config',
    creationInfo: { created: '2025-01-01T00:00:00Z', creators: ['Tool: lading-tests'] },
    packages: [],
  };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
