// `lading referrers repair` as the built binary. cosign signs and attests on distribution 2.8 (no referrers API):
// its entries in the sha256-<hex> fallback index carry no artifactType, so `oras discover --artifact-type` (the
// oracle) finds nothing; after the repair it finds them, and cosign and lading still verify. Then the conditional
// write on the fake registry: a writer that changes the index between the read and the PUT makes the If-Match PUT
// fail with 412, and the repair starts over from the new index without losing that writer's entry.

import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON, PushCommandResult, ReferrersRepairCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, json, ladingIn } from './cli-runner.js';
import { startFakeRegistry, type FakeRegistry } from './fake-registry/index.js';
import { startSigstoreHarness, type SigstoreHarness } from './sigstore-harness/index.js';
import { cosign, cosignKeyFlags, cosignVerifyKeyArgs, writeEmptySigningConfig } from './sigstore/fixtures.js';
import { makeToolHome, run, testbed } from './testbed/index.js';

const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const emptyType = 'application/vnd.oci.empty.v1+json';

let env: NodeJS.ProcessEnv;
let work: string;
let harness: SigstoreHarness;
let fake: FakeRegistry;
let noServices: string;

const lading = ladingIn(() => ({ cwd: work, env: { ...env, COSIGN_PASSWORD: 'pw' } }), { inProcess: true });

async function orasDiscover(reference: string, artifactType?: string): Promise<string[]> {
  const args = [
    'discover',
    '--plain-http',
    '--format',
    'json',
    ...(artifactType ? ['--artifact-type', artifactType] : []),
  ];
  const out = (await run('oras', [...args, reference], { env, cwd: work })).stdout;
  const listed = JSON.parse(out) as { referrers?: { digest: string }[]; manifests?: { digest: string }[] };
  return (listed.manifests ?? listed.referrers ?? []).map((d) => d.digest).sort();
}

async function fallbackIndex(name: string, digest: string): Promise<{ digest: string; entries: unknown[] }> {
  const tag = `sha256-${digest.slice('sha256:'.length)}`;
  const raw = (await run('oras', ['manifest', 'fetch', '--plain-http', `${name}:${tag}`], { env, cwd: work })).stdout;
  const descriptor = (
    await run('oras', ['manifest', 'fetch', '--plain-http', '--descriptor', `${name}:${tag}`], { env })
  ).stdout;
  return {
    digest: (JSON.parse(descriptor) as { digest: string }).digest,
    entries: (JSON.parse(raw) as { manifests: unknown[] }).manifests,
  };
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-referrers-repair-'));
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  await writeFile(path.join(work, 'predicate.json'), JSON.stringify({ buildDefinition: { buildType: 'x' } }));
  expectOK(await lading(['key', 'generate']), 'key generate');
  harness = await startSigstoreHarness();
  noServices = await writeEmptySigningConfig(work);
  fake = await startFakeRegistry({ referrersAPI: false, conditionalPut: true });
});

afterAll(async () => {
  await fake.close();
  await harness.close();
});

describe('lading referrers repair', () => {
  it('fills in the entries cosign wrote: oras discover --artifact-type finds them afterwards', async () => {
    const name = `${testbed().registries.anonymous.host}/repair/cosign-${randomBytes(4).toString('hex')}`;
    const pushed = await lading(['push', '--json', `${name}:v1`, 'notes.txt']);
    expectOK(pushed, 'push');
    const { digest } = json<PushCommandResult>(pushed);
    const image = `${name}@${digest}`;
    const withPassword = { COSIGN_PASSWORD: 'pw' };
    expectOK(await cosign(harness, work, ['sign', ...cosignKeyFlags('cosign.key', noServices), image], withPassword));
    const attest = ['attest', ...cosignKeyFlags('cosign.key', noServices), '--type', 'slsaprovenance1'];
    expectOK(await cosign(harness, work, [...attest, '--predicate', 'predicate.json', image], withPassword));

    const all = await orasDiscover(image);
    expect(all).toHaveLength(2);
    expect(await orasDiscover(image, bundleType)).toEqual([]);
    const before = await fallbackIndex(name, digest);

    const dry = await lading(['referrers', 'repair', '--dry-run', '--json', `${name}:v1`]);
    expectOK(dry, 'repair --dry-run');
    const planned = json<ReferrersRepairCommandResult>(dry);
    expect(planned).toMatchObject({
      reference: `${name}:v1`,
      digest,
      tag: `sha256-${digest.slice('sha256:'.length)}`,
      dryRun: true,
      index: 'unchanged',
      repaired: 2,
      stale: 0,
      before: before.digest,
    });
    expect(planned.after).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(planned.entries.map((e) => e.descriptor.artifactType)).toEqual([bundleType, bundleType]);
    expect(await fallbackIndex(name, digest)).toEqual(before);
    expect(await orasDiscover(image, bundleType)).toEqual([]);

    const repaired = await lading(['referrers', 'repair', '--json', `${name}:v1`]);
    expectOK(repaired, 'repair');
    const result = json<ReferrersRepairCommandResult>(repaired);
    expect(result).toMatchObject({ dryRun: false, index: 'rewritten', repaired: 2, stale: 0, after: planned.after });
    for (const entry of result.entries) {
      expect(entry.status).toBe('repaired');
      expect(entry.descriptor.artifactType).toBe(bundleType);
      expect(entry.descriptor.annotations?.['dev.sigstore.bundle.predicateType']).toMatch(/^https:\/\//);
    }
    expect(await orasDiscover(image, bundleType)).toEqual(all);
    expect((await fallbackIndex(name, digest)).digest).toBe(planned.after);

    // The signatures still verify, for cosign and for lading.
    expectOK(await cosign(harness, work, cosignVerifyKeyArgs('cosign.pub', image)), 'cosign verify');
    expectOK(await lading(['verify', '--verify-key', 'cosign.pub', `${name}:v1`]), 'lading verify');

    const again = await lading(['referrers', 'repair', '--no-progress', `${name}:v1`]);
    expectOK(again, 'repair again');
    const lines = again.stdout.trimEnd().split('\n');
    expect(lines.sort()).toEqual(all.map((d) => `${d}  ${bundleType}  complete`).sort());
    expect(again.stderr).toBe(
      `Referrers index sha256-${digest.slice('sha256:'.length)} of ${digest}: unchanged: every entry is complete; 0 repaired, 0 stale\n`,
    );
  });

  it('starts over when another writer changed the index (If-Match answered 412), keeping its entry', async () => {
    const repository = `repair/race-${randomBytes(4).toString('hex')}`;
    const config = fake.putBlob(repository, '{}', emptyType);
    const layer = fake.putBlob(repository, 'notes', 'text/plain');
    const subject = fake.putManifest(
      repository,
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] },
      { tag: 'v1' },
    );
    const referrer = (n: number): { mediaType: string; digest: string; size: number } => {
      const blob = fake.putBlob(repository, `signature ${n}`, 'application/octet-stream');
      return fake.putManifest(repository, {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: `application/example.type${n}`,
        config,
        layers: [blob],
        subject,
        annotations: { n: String(n) },
      });
    };
    const entry = (d: { mediaType: string; digest: string; size: number }): object => ({
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      artifactType: emptyType,
    });
    const first = referrer(1);
    const second = referrer(2);
    const gone = `sha256:${'e'.repeat(64)}`;
    const tag = `sha256-${subject.digest.slice('sha256:'.length)}`;
    const index = (entries: object[]): object => ({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: entries,
    });
    fake.putManifest(
      repository,
      index([entry(first), { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: gone, size: 10 }]),
      { tag },
    );
    // The other writer: adds its entry just before lading's first PUT of the index arrives.
    let raced = false;
    fake.inject({
      method: 'PUT',
      path: (request) => {
        if (request.path !== `/v2/${repository}/manifests/${tag}` || raced) return false;
        raced = true;
        fake.putManifest(repository, index([entry(first), entry(second)]), { tag });
        return false;
      },
      action: { kind: 'status', status: 500 },
    });
    const result = await lading(['referrers', 'repair', '--json', `${fake.host}/${repository}:v1`]);
    fake.clearFaults();
    expectOK(result, 'repair');
    expect(raced).toBe(true);
    const repaired = json<ReferrersRepairCommandResult>(result);
    expect(repaired.index).toBe('rewritten');
    expect(repaired.entries.map((e) => [e.descriptor.digest, e.status, e.descriptor.artifactType])).toEqual([
      [first.digest, 'repaired', 'application/example.type1'],
      [second.digest, 'repaired', 'application/example.type2'],
    ]);
    const puts = fake.requests.filter((r) => r.method === 'PUT' && r.path.endsWith(`/manifests/${tag}`));
    expect(puts.map((r) => r.status)).toEqual([412, 201]);
    const stored = JSON.parse(Buffer.from(fake.getManifest(repository, tag)?.bytes ?? []).toString('utf8')) as {
      manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[];
    };
    expect(stored.manifests.map((m) => [m.digest, m.artifactType, m.annotations?.n])).toEqual([
      [first.digest, 'application/example.type1', '1'],
      [second.digest, 'application/example.type2', '2'],
    ]);
  });

  it('drops an entry whose manifest is gone; nothing to do with the referrers API or without an index', async () => {
    const repository = `repair/stale-${randomBytes(4).toString('hex')}`;
    const config = fake.putBlob(repository, '{}', emptyType);
    const subject = fake.putManifest(
      repository,
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [] },
      { tag: 'v1' },
    );
    const reference = `${fake.host}/${repository}:v1`;
    const none = await lading(['referrers', 'repair', '--json', reference]);
    expectOK(none);
    expect(json<ReferrersRepairCommandResult>(none)).toMatchObject({ index: 'missing', entries: [] });

    const tag = `sha256-${subject.digest.slice('sha256:'.length)}`;
    const gone = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${'e'.repeat(64)}`,
      size: 9,
    };
    fake.putManifest(
      repository,
      { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [gone] },
      { tag },
    );
    const stale = await lading(['referrers', 'repair', '--json', reference]);
    expectOK(stale);
    expect(json<ReferrersRepairCommandResult>(stale)).toMatchObject({ index: 'rewritten', repaired: 0, stale: 1 });
    const stored = JSON.parse(Buffer.from(fake.getManifest(repository, tag)?.bytes ?? []).toString('utf8')) as {
      manifests: unknown[];
    };
    expect(stored.manifests).toEqual([]);

    fake.setReferrersAPI(true);
    try {
      const api = await lading(['referrers', 'repair', '--json', reference]);
      expectOK(api);
      expect(json<ReferrersRepairCommandResult>(api)).toMatchObject({ index: 'not-used', entries: [] });
    } finally {
      fake.setReferrersAPI(false);
    }

    expectOK(await lading(['push', 'oci:./layout:v1', 'notes.txt']), 'push to a layout');
    const layout = await lading(['referrers', 'repair', '--json', 'oci:./layout:v1']);
    expect(layout.code, layout.stderr).toBe(2);
    expect(json<ErrorJSON>(layout).error.message).toMatch(/only a registry keeps a fallback referrers index/);
  });
});
