// The tag-schema fallback cannot make a referrers listing read without end (issue 11): a fallback index whose
// entries state no artifact type is resolved at most maxFallbackReads manifest GETs deep, each digest once, and the
// entries left unresolved are counted. GETs are counted on the fake registry (no referrers API).
import { randomBytes } from 'node:crypto';

import type { Descriptor, RegistryClient } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MediaType, startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { isolatedClient } from '../registry/helpers.js';

const EmptyJSONType = 'application/vnd.oci.empty.v1+json';
const BundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
let registry: FakeRegistry;
let client: RegistryClient;

beforeAll(async () => {
  registry = await startFakeRegistry({ referrersAPI: false });
  client = isolatedClient();
});
afterAll(async () => {
  await client.close();
  await registry.close();
});

/** A repository with a subject manifest and `count` referrers of it (artifact type `BundleType` in the manifest). */
function setUp(count: number): { repo: string; subject: Descriptor; referrers: Descriptor[] } {
  const repo = `bound/r-${randomBytes(4).toString('hex')}`;
  const config = registry.putBlob(repo, '{}', EmptyJSONType);
  const layer = registry.putBlob(repo, 'payload', 'application/octet-stream');
  const subject = registry.putManifest(
    repo,
    { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer] },
    { tag: 'v1' },
  );
  const referrers = Array.from({ length: count }, (_, n) =>
    registry.putManifest(repo, {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: BundleType,
      config,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { n: String(n) },
    }),
  );
  return { repo, subject, referrers };
}

/** Tags the fallback index of `subject` listing `entries` as cosign writes them: empty artifact type. */
function fallbackIndex(repo: string, subject: Descriptor, entries: readonly Descriptor[]): void {
  registry.putManifest(
    repo,
    {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: entries.map((d) => ({
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        artifactType: EmptyJSONType,
      })),
    },
    { tag: subject.digest.replace(':', '-') },
  );
}

/** Manifest GETs by digest since the last `clearLog` (the fallback index is read by tag). */
function referrerGETs(): number {
  return registry.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/sha256:')).length;
}

describe('fallback referrers listing with entries of unknown artifact type', () => {
  it('1,000 distinct entries cost at most 64 manifest GETs; the other 936 are counted as unresolved', async () => {
    const { repo, subject, referrers } = setUp(1000);
    fallbackIndex(repo, subject, referrers);
    const repository = client.repository(`${registry.host}/${repo}`);

    registry.clearLog();
    const counts: number[] = [];
    const typed = await repository.referrers(subject, {
      artifactType: BundleType,
      onUnresolved: (n) => counts.push(n),
    });
    expect(referrerGETs()).toBe(64);
    expect(typed.map((d) => d.digest)).toEqual(referrers.slice(0, 64).map((d) => d.digest));
    expect(counts).toEqual([936]);

    registry.clearLog();
    const all = await repository.referrers(subject);
    expect(referrerGETs()).toBe(64);
    expect(all).toHaveLength(1000);
    expect(all.filter((d) => d.artifactType === BundleType)).toHaveLength(64);
    expect(all.slice(64).every((d) => d.artifactType === EmptyJSONType)).toBe(true);
  });

  it('1,000 copies of one entry cost one GET and list it once', async () => {
    const { repo, subject, referrers } = setUp(1);
    const [only] = referrers as [Descriptor];
    fallbackIndex(
      repo,
      subject,
      Array.from({ length: 1000 }, () => only),
    );

    registry.clearLog();
    const counts: number[] = [];
    const listed = await client
      .repository(`${registry.host}/${repo}`)
      .referrers(subject, { artifactType: BundleType, onUnresolved: (n) => counts.push(n) });
    expect(referrerGETs()).toBe(1);
    expect(listed.map((d) => d.digest)).toEqual([only.digest]);
    expect(counts).toEqual([]);
  });

  it('maxFallbackReads sets the bound', async () => {
    const { repo, subject, referrers } = setUp(10);
    fallbackIndex(repo, subject, referrers);
    const small = isolatedClient({ maxFallbackReads: 3 });
    try {
      registry.clearLog();
      const counts: number[] = [];
      const typed = await small
        .repository(`${registry.host}/${repo}`)
        .referrers(subject, { artifactType: BundleType, onUnresolved: (n) => counts.push(n) });
      expect(referrerGETs()).toBe(3);
      expect(typed).toHaveLength(3);
      expect(counts).toEqual([7]);
    } finally {
      await small.close();
    }
  });
});
