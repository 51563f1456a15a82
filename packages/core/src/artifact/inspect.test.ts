import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Descriptor } from '../descriptor.js';
import { descriptorFor } from '../digest.js';
import { ErrorCodes } from '../errors.js';
import { MemoryStore } from '../memory-store.js';
import { EmptyJSON, MediaTypeImageIndex, MediaTypeImageManifest } from '../media-types.js';
import type { GateSubject, VerificationGate } from '../trust.js';
import { inspectArtifact } from './inspect.js';
import { readManifest } from './manifest.js';
import { pushArtifact } from './push.js';
import { ArtifactTypeLading, MediaTypeTOC } from './toc.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lading-inspect-'));
  await mkdir(path.join(dir, 'config/conf.d'), { recursive: true });
  await writeFile(path.join(dir, 'config/app.yaml'), 'name: app\n');
  await writeFile(path.join(dir, 'config/conf.d/log.yaml'), 'level: info\n');
  await writeFile(path.join(dir, 'tool'), 'binary');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A referrer of `subject` with the given artifact type. */
async function referrer(store: MemoryStore, subject: Descriptor, artifactType: string, note: string): Promise<void> {
  const bytes = text(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypeImageManifest,
      artifactType,
      config: { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size },
      layers: [],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { note },
    }),
  );
  await store.push(descriptorFor(MediaTypeImageManifest, bytes), bytes);
}

/** A lading artifact (two folders, three files) tagged v1 in `store`, and an index over it tagged multi. */
async function artifacts(store: MemoryStore): Promise<{ manifest: Descriptor; index: Descriptor }> {
  const pushed = await pushArtifact(store, [{ path: 'config' }, { path: 'tool' }], { cwd: dir, tags: ['v1'] });
  const bytes = text(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypeImageIndex,
      manifests: [{ ...pushed.descriptor, platform: { os: 'linux', architecture: 'arm64' } }],
      annotations: { release: '1' },
    }),
  );
  const index = descriptorFor(MediaTypeImageIndex, bytes);
  await store.push(index, bytes);
  await store.tag(index, 'multi');
  return { manifest: pushed.descriptor, index };
}

/** A gate that records what it was asked and refuses when `refuse` is set. */
function recordingGate(asked: GateSubject[], refuse = false): VerificationGate {
  return {
    verify: (subject) => {
      asked.push(subject);
      return refuse
        ? Promise.reject(new Error('refused by the gate'))
        : Promise.resolve({ verified: [], warnings: [] });
    },
  };
}

describe('inspectArtifact', () => {
  it('sums up a lading artifact: table of contents, layers, referrers by type', async () => {
    const store = new MemoryStore();
    const { manifest } = await artifacts(store);
    await referrer(store, manifest, 'application/vnd.dev.sigstore.bundle.v0.3+json', 'a');
    await referrer(store, manifest, 'application/vnd.dev.sigstore.bundle.v0.3+json', 'b');
    await referrer(store, manifest, 'application/spdx+json', 'c');
    const result = await inspectArtifact(store, 'v1');
    expect(result).toMatchObject({
      descriptor: manifest,
      kind: 'manifest',
      artifactType: ArtifactTypeLading,
      config: { mediaType: MediaTypeTOC },
      toc: { files: 3, directories: 2, symlinks: 0, size: 10 + 12 + 6 },
      referrers: [
        { artifactType: 'application/spdx+json', count: 1 },
        { artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json', count: 2 },
      ],
    });
    expect(result.layers).toHaveLength(2);
    expect((await inspectArtifact(store, 'v1', { referrers: false })).referrers).toBeUndefined();
  });

  it('lists an index, or inspects one platform of it; the gate is asked first and can stop it', async () => {
    const store = new MemoryStore();
    const { manifest, index } = await artifacts(store);
    const asked: GateSubject[] = [];
    const listed = await inspectArtifact(store, 'multi', { gate: recordingGate(asked), display: 'mem:multi' });
    expect(listed).toMatchObject({ kind: 'index', descriptor: index, annotations: { release: '1' }, referrers: [] });
    expect(listed.manifests?.map((m) => m.digest)).toEqual([manifest.digest]);
    expect(asked.map((s) => [s.reference, s.descriptor.digest, s.platform])).toEqual([
      ['mem:multi', index.digest, undefined],
    ]);

    const arm = await inspectArtifact(store, 'multi', { platform: 'linux/arm64' });
    expect(arm).toMatchObject({ kind: 'manifest', descriptor: { digest: manifest.digest }, index, toc: { files: 3 } });
    expect(arm.platform).toEqual({ os: 'linux', architecture: 'arm64' });
    await expect(inspectArtifact(store, 'v1', { platform: 'linux/arm64' })).rejects.toMatchObject({
      code: ErrorCodes.usage,
    });
    await expect(inspectArtifact(store, 'v1', { gate: recordingGate([], true) })).rejects.toThrow(
      'refused by the gate',
    );
  });
});

describe('readManifest', () => {
  it('returns the stored bytes, or one platform manifest of an index, after the gate', async () => {
    const store = new MemoryStore();
    const { manifest, index } = await artifacts(store);
    const read = await readManifest(store, 'multi');
    expect(read.descriptor.digest).toBe(index.digest);
    expect(descriptorFor(MediaTypeImageIndex, read.bytes)).toEqual(index);

    const asked: GateSubject[] = [];
    const arm = await readManifest(store, 'multi', { platform: 'linux/arm64', gate: recordingGate(asked) });
    expect(arm.descriptor.digest).toBe(manifest.digest);
    expect(descriptorFor(MediaTypeImageManifest, arm.bytes).digest).toBe(manifest.digest);
    expect(arm.index?.digest).toBe(index.digest);
    expect(asked[0]?.platform?.descriptor.digest).toBe(manifest.digest);

    await expect(readManifest(store, 'v1', { platform: 'linux/arm64' })).rejects.toMatchObject({
      code: ErrorCodes.usage,
    });
    await expect(readManifest(store, 'v1', { gate: recordingGate([], true) })).rejects.toThrow('refused by the gate');
    await expect(readManifest(store, 'nope')).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });
});
