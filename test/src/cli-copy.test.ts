// `lading copy` as the built binary: distribution (tag fallback) → the fake registry with the referrers API, →
// an OCI layout → back to distribution, carrying lading's signature, cosign's attestation and a signature of the
// signature (and, apart, a legacy cosign `.sig` signature); `cosign verify` (the oracle) and `lading verify` accept
// every copy; a multi-platform index cosign signed with `sign --recursive` (legacy `.sig` tags on the index and each
// platform manifest) keeps every signature. Mounts within a registry, `--platform` against `oras cp --platform`, and
// the gate: a copy a signature does not allow writes nothing.

import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { CopyCommandResult, ErrorJSON, PushCommandResult, SignCommandResult } from '@lading/cli';
import { descriptorFor, MediaTypeImageIndex, type Descriptor } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn } from './cli-runner.js';
import { startFakeRegistry, type FakeRegistry } from './fake-registry/index.js';
import { isolatedClient } from './registry/helpers.js';
import { startSigstoreHarness, type SigstoreHarness } from './sigstore-harness/index.js';
import { cosign, cosignKeyFlags, cosignVerifyKeyArgs, writeEmptySigningConfig } from './sigstore/fixtures.js';
import { makeToolHome, run, testbed } from './testbed/index.js';

const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let harness: SigstoreHarness;
let fake: FakeRegistry;
let noServices: string;

const lading = ladingIn(() => ({ cwd: work, env: { ...env, COSIGN_PASSWORD: 'pw' } }), { inProcess: true });
const unique = (on: string, what: string): string => `${on}/copy/${what}-${randomBytes(4).toString('hex')}`;

async function oras(args: readonly string[]): Promise<string> {
  return (await run('oras', args, { env, cwd: work })).stdout;
}

async function discovered(args: readonly string[]): Promise<string[]> {
  const listed = JSON.parse(await oras(['discover', '--format', 'json', ...args])) as {
    referrers?: { digest: string }[];
    manifests?: { digest: string }[];
  };
  return (listed.manifests ?? listed.referrers ?? []).map((d) => d.digest).sort();
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** A signed artifact on distribution: lading's signature, cosign's attestation, and a signature of the signature. */
interface Signed {
  name: string;
  digest: string;
  signature: string;
  countersignature: string;
}

async function signedArtifact(): Promise<Signed> {
  const name = unique(host, 'src');
  const pushed = await lading(['push', '--json', '--sign', '--key', 'cosign.key', `${name}:v1`, 'notes.txt']);
  expectOK(pushed, 'push --sign');
  const { digest, signature } = json<PushCommandResult>(pushed);
  const attest = ['attest', ...cosignKeyFlags('cosign.key', noServices), '--type', 'slsaprovenance1'];
  const attested = await cosign(harness, work, [...attest, '--predicate', 'predicate.json', `${name}@${digest}`], {
    COSIGN_PASSWORD: 'pw',
  });
  expectOK(attested, 'cosign attest');
  const signatureDigest = signature?.digest ?? '';
  const countersigned = await lading(['sign', '--json', '--key', 'cosign.key', `${name}@${signatureDigest}`]);
  expectOK(countersigned, 'sign the signature');
  const countersignature = json<SignCommandResult>(countersigned).signature.digest;
  return { name, digest, signature: signatureDigest, countersignature };
}

/** cosign verify (the lading signature and cosign's attestation) and lading verify accept `name@digest`. */
async function expectVerifiable(name: string, digest: string): Promise<void> {
  const image = `${name}@${digest}`;
  expectOK(await cosign(harness, work, cosignVerifyKeyArgs('cosign.pub', image)), `cosign verify ${image}`);
  const attestation = [
    'verify-attestation',
    '--key',
    'cosign.pub',
    '--insecure-ignore-tlog',
    '--allow-http-registry',
    '--type',
    'slsaprovenance1',
    image,
  ];
  expectOK(await cosign(harness, work, attestation), `cosign verify-attestation ${image}`);
  expectOK(await lading(['verify', '--verify-key', 'cosign.pub', `${name}:v1`]), `lading verify ${name}:v1`);
}

/** A two-platform index (linux/amd64, linux/arm64) of lading pushes on distribution, tagged v1 in `name`. */
async function pushIndex(name: string): Promise<{ index: Descriptor; manifests: Descriptor[] }> {
  const builds: Descriptor[] = [];
  for (const arch of ['amd64', 'arm64']) {
    await mkdir(path.join(work, arch), { recursive: true });
    await writeFile(path.join(work, arch, 'tool.txt'), `tool for ${arch}\n`);
    const pushed = await lading(['push', '--json', `${name}:${arch}`, 'tool.txt'], {}, { cwd: path.join(work, arch) });
    expectOK(pushed, `push ${arch}`);
    const { digest } = json<PushCommandResult>(pushed);
    builds.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 0 });
  }
  const client = isolatedClient();
  const repo = client.repository(name);
  const manifests = await Promise.all(
    builds.map(async (b, i) => ({
      ...(await repo.resolve(b.digest)),
      platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
    })),
  );
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests }));
  const index = descriptorFor(MediaTypeImageIndex, bytes);
  await repo.pushManifest(index, bytes, ['v1']);
  await client.close();
  return { index, manifests };
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  host = bed.registries.anonymous.host;
  work = await mkdtemp(path.join(bed.dir, 'cli-copy-'));
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  await writeFile(path.join(work, 'predicate.json'), JSON.stringify({ buildDefinition: { buildType: 'x' } }));
  expectOK(await lading(['key', 'generate']), 'key generate');
  expectOK(await lading(['key', 'generate', '--output-key-prefix', 'other']), 'key generate other');
  harness = await startSigstoreHarness();
  noServices = await writeEmptySigningConfig(work);
  fake = await startFakeRegistry({ referrersAPI: true });
});

afterAll(async () => {
  await fake.close();
  await harness.close();
});

describe('lading copy --referrers', () => {
  it('distribution → referrers API registry, → OCI layout → distribution: cosign and lading verify every copy', async () => {
    const src = await signedArtifact();
    expect(await discovered(['--plain-http', `${src.name}@${src.digest}`])).toHaveLength(2);

    // To the fake registry, which serves the referrers API.
    const far = unique(fake.host, 'far');
    const toFar = await lading(['copy', '--json', '--referrers', `${src.name}:v1`, far]);
    expectOK(toFar, 'copy to the fake registry');
    const result = json<CopyCommandResult>(toFar);
    expect(result).toMatchObject({
      source: `${src.name}:v1`,
      destination: far,
      tag: 'v1',
      digest: src.digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      mounted: 0,
      skipped: 0,
    });
    // The artifact (manifest, table of contents, layer), and per referrer its manifest and bundle; the empty config
    // the referrers share is copied once.
    expect(result.copied).toBeGreaterThanOrEqual(3 + 3 * 2 + 1);
    expect(result.bytes).toBeGreaterThan(0);
    const found = result.referrers.map((r) => [r.digest, r.subject]);
    expect(found).toHaveLength(3);
    expect(found).toContainEqual([src.signature, src.digest]);
    expect(found).toContainEqual([src.countersignature, src.signature]);
    expect(result.referrers.every((r) => r.artifactType === bundleType)).toBe(true);
    const farRepository = far.slice(fake.host.length + 1);
    expect(fake.referrers(farRepository, src.digest)).toHaveLength(2);
    expect(fake.referrers(farRepository, src.signature).map((d) => d.digest)).toEqual([src.countersignature]);
    await expectVerifiable(far, src.digest);

    // Into an OCI layout folder (created by the copy), human output.
    const toLayout = await lading(['copy', '--no-progress', '-r', `${src.name}:v1`, 'oci:./bundle']);
    expectOK(toLayout, 'copy to a layout');
    expect(toLayout.stdout).toBe(`${src.digest}\n`);
    expect(toLayout.stderr).toMatch(
      new RegExp(`^Referrer ${src.signature.slice(0, 19)} ${bundleType.replace(/[.+]/g, '\\$&')} of sha256:`, 'm'),
    );
    expect(toLayout.stderr).toMatch(/^Tagged v1$/m);
    expect(toLayout.stderr).toMatch(
      /^Copied .+ to oci:\.\/bundle: \d+ copied \([^)]+\), 0 already there, 0 mounted, 3 referrers$/m,
    );
    expect(await discovered(['--oci-layout', `bundle@${src.digest}`])).toHaveLength(2);
    expectOK(await lading(['verify', '--verify-key', 'cosign.pub', 'oci:./bundle:v1']), 'lading verify (layout)');

    // Back out to distribution, which has no referrers API: the fallback index gets complete entries.
    const back = unique(host, 'back');
    const toBack = await lading(['copy', '--json', '-r', 'oci:./bundle:v1', back]);
    expectOK(toBack, 'copy back to distribution');
    expect(json<CopyCommandResult>(toBack)).toMatchObject({ digest: src.digest, tag: 'v1' });
    await expectVerifiable(back, src.digest);
    expect(await discovered(['--plain-http', '--artifact-type', bundleType, `${back}@${src.digest}`])).toHaveLength(2);
    const out = path.join(await mkdtemp(path.join(work, 'pulled-')), 'out');
    expectOK(await lading(['pull', '--verify-key', 'cosign.pub', `${back}:v1`, out]), 'pull --verify-key');
    expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');
  });
});

describe('lading copy --referrers with a legacy cosign signature', () => {
  it('carries the sha256-<hex>.sig manifest and tag: cosign verify accepts it on the far side and back', async () => {
    const name = unique(host, 'legacy');
    const pushed = await lading(['push', '--json', `${name}:v1`, 'notes.txt']);
    expectOK(pushed, 'push');
    const { digest } = json<PushCommandResult>(pushed);
    const legacy = [
      'sign',
      '--new-bundle-format=false',
      '--use-signing-config=false',
      '--allow-http-registry',
      '--yes',
    ];
    const signed = await cosign(
      harness,
      work,
      [...legacy, '--key', 'cosign.key', '--tlog-upload=false', `${name}@${digest}`],
      { COSIGN_PASSWORD: 'pw' },
    );
    expectOK(signed, 'cosign sign (legacy .sig)');
    const tag = `${digest.replace(':', '-')}.sig`;

    const far = unique(fake.host, 'legacy-far');
    const copied = await lading(['copy', '--json', '-r', `${name}:v1`, far]);
    expectOK(copied, 'copy -r');
    const result = json<CopyCommandResult>(copied);
    expect(result.referrers).toEqual([expect.objectContaining({ subject: digest, tag })]);
    expect(fake.tags(far.slice(fake.host.length + 1)).sort()).toEqual([tag, 'v1'].sort());
    expectOK(await cosign(harness, work, cosignVerifyKeyArgs('cosign.pub', `${far}@${digest}`)), 'cosign verify');
    expectOK(await lading(['verify', '--verify-key', 'cosign.pub', `${far}:v1`]), 'lading verify');

    expectOK(await lading(['copy', '-r', `${far}:v1`, 'oci:./legacy:v1']), 'copy to a layout');
    const back = unique(host, 'legacy-back');
    expectOK(await lading(['copy', '-r', 'oci:./legacy:v1', back]), 'copy back');
    expectOK(await cosign(harness, work, cosignVerifyKeyArgs('cosign.pub', `${back}@${digest}`)), 'cosign verify back');
  });
});

describe('lading copy --referrers of a multi-platform index', () => {
  it('carries the legacy .sig of the index and of each platform manifest (cosign sign --recursive)', async () => {
    const name = unique(host, 'recursive');
    const { index, manifests } = await pushIndex(name);
    const legacy = ['sign', '--new-bundle-format=false', '--use-signing-config=false', '--allow-http-registry'];
    const signed = await cosign(
      harness,
      work,
      [...legacy, '--yes', '--recursive', '--key', 'cosign.key', '--tlog-upload=false', `${name}@${index.digest}`],
      { COSIGN_PASSWORD: 'pw' },
    );
    expectOK(signed, 'cosign sign --recursive (legacy .sig)');
    const subjects = [index, ...manifests].map((d) => d.digest);
    const tags = subjects.map((digest) => `${digest.replace(':', '-')}.sig`);

    const far = unique(fake.host, 'recursive-far');
    const copied = await lading(['copy', '--json', '-r', `${name}:v1`, far]);
    expectOK(copied, 'copy -r');
    const result = json<CopyCommandResult>(copied);
    expect(result.referrers.map((r) => [r.subject, r.tag]).sort()).toEqual(
      subjects.map((digest, i) => [digest, tags[i]]).sort(),
    );
    expect(fake.tags(far.slice(fake.host.length + 1)).sort()).toEqual([...tags, 'v1'].sort());
    for (const digest of subjects) {
      expectOK(
        await cosign(harness, work, cosignVerifyKeyArgs('cosign.pub', `${far}@${digest}`)),
        `cosign verify ${digest}`,
      );
    }
  });
});

describe('lading copy with a mirror in the configuration file', () => {
  it('reads the source from the mirror and writes the destination to the registry, never to the mirror', async () => {
    const repository = `copy/mirrored-${randomBytes(4).toString('hex')}`;
    // The mirror (the fake registry under cache/) holds the source and, already, what the destination would be:
    // a destination read through the mirror would look complete and get nothing copied.
    const mirror = `${fake.host}/cache`;
    const pushed = await lading(['push', '--json', `${mirror}/${repository}:v1`, 'notes.txt']);
    expectOK(pushed, 'push to the mirror');
    const { digest } = json<PushCommandResult>(pushed);
    expectOK(await lading(['copy', `${mirror}/${repository}:v1`, `${mirror}/${repository}-copy:v1`]), 'seed');
    const file = path.join(work, `mirror-${randomBytes(4).toString('hex')}.yaml`);
    await writeFile(file, `version: 1\nregistries:\n  ${host}:\n    mirror: ${mirror}\n`);

    fake.clearLog();
    const copied = await lading(['copy', '--json', `${host}/${repository}:v1`, `${host}/${repository}-copy:v1`], {
      LADING_CONFIG: file,
    });
    expectOK(copied, 'copy through the mirror');
    expect(json<CopyCommandResult>(copied)).toMatchObject({ digest, skipped: 0 });
    const onMirror = fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(onMirror).toContain(`HEAD /v2/cache/${repository}/manifests/v1 200`);
    expect(onMirror.filter((r) => r.includes(`${repository}-copy`))).toEqual([]);
    // On the registry itself (no configuration: no mirror), the copy is there and the source is not.
    const direct = { LADING_CONFIG: '' };
    expect((await lading(['ls', `${host}/${repository}:v1`], direct)).code).toBe(3);
    const out = await mkdtemp(path.join(work, 'mirrored-'));
    expectOK(await lading(['pull', `${host}/${repository}-copy:v1`, out], direct), 'pull the copy from the registry');
    expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');
  });
});

describe('lading copy', () => {
  it('mounts blobs from the source repository within a registry; a second copy skips the manifest', async () => {
    const src = unique(host, 'mount-src');
    expectOK(await lading(['push', `${src}:v1`, 'notes.txt']), 'push');
    const dst = unique(host, 'mount-dst');
    const first = await lading(['copy', '--json', `${src}:v1`, `${dst}:stable`]);
    expectOK(first, 'copy');
    expect(json<CopyCommandResult>(first)).toMatchObject({ tag: 'stable', copied: 1, mounted: 2, skipped: 0 });
    expect(JSON.parse(await oras(['repo', 'tags', '--plain-http', '--format', 'json', dst])) as unknown).toMatchObject({
      tags: ['stable'],
    });
    const again = await lading(['copy', '--json', `${src}:v1`, `${dst}:stable`]);
    expectOK(again, 'copy again');
    expect(json<CopyCommandResult>(again)).toMatchObject({ copied: 0, mounted: 0, skipped: 1, referrers: [] });
  });

  it('--platform copies one platform manifest of an index, the one oras cp --platform copies', async () => {
    const name = unique(host, 'multi');
    const { index, manifests } = await pushIndex(name);

    const copied = await lading(['copy', '--json', '--platform', 'linux/arm64', `${name}:v1`, 'oci:./arm:v1']);
    expectOK(copied, 'copy --platform');
    expect(json<CopyCommandResult>(copied)).toMatchObject({
      digest: manifests[1]?.digest,
      index: index.digest,
      platform: { os: 'linux', architecture: 'arm64' },
      tag: 'v1',
    });
    await oras([
      'cp',
      '--from-plain-http',
      '--platform',
      'linux/arm64',
      `${name}:v1`,
      '--to-oci-layout',
      'oras-arm:v1',
    ]);
    const digestIn = async (layout: string): Promise<string> =>
      (JSON.parse(await oras(['manifest', 'fetch', '--oci-layout', '--descriptor', layout])) as { digest: string })
        .digest;
    expect(await digestIn('arm:v1')).toBe(await digestIn('oras-arm:v1'));
    const missingIndex = await lading(['manifest', 'fetch', '--json', `oci:./arm@${index.digest}`]);
    expect(missingIndex.code, missingIndex.stderr).toBe(3);

    const single = await lading(['copy', '--json', '--platform', 'linux/arm64', `${name}:arm64`, 'oci:./single']);
    expect(single.code, single.stderr).toBe(2);
    expect(json<ErrorJSON>(single).error.message).toMatch(/not an image index; drop --platform/);
  });

  it('with --verify-key, copies only what the key signed: otherwise exit 5 and nothing is written', async () => {
    const src = unique(host, 'gated');
    expectOK(await lading(['push', '--sign', '--key', 'cosign.key', `${src}:v1`, 'notes.txt']), 'push --sign');

    const toLayout = await lading(['copy', '--json', '--verify-key', 'other.pub', `${src}:v1`, 'oci:./refused:v1']);
    expectVerificationRefused(toLayout);
    expect(await exists(path.join(work, 'refused'))).toBe(false);
    const dst = unique(host, 'refused');
    expectVerificationRefused(await lading(['copy', '--json', '--verify-key', 'other.pub', `${src}:v1`, `${dst}:v1`]));
    const tags = await run('oras', ['repo', 'tags', '--plain-http', dst], { env, cwd: work, check: false });
    expect(tags.stdout.trim()).toBe('');

    const allowed = await lading(['copy', '--json', '--verify-key', 'cosign.pub', `${src}:v1`, `${dst}:v1`]);
    expectOK(allowed, 'copy --verify-key');
    const result = json<CopyCommandResult>(allowed);
    expect(result.verified?.map((v) => v.verifier)).toEqual(['sigstore']);
    expect(result.referrers).toEqual([]);
    expect((await oras(['repo', 'tags', '--plain-http', dst])).trim()).toBe('v1');
  });
});
