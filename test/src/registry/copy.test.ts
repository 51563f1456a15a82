// copy() between remote repositories, OCI layouts and memory: push and pull are both a copy of a graph.
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { MemoryStore, OCILayout, copy, descriptorFor, type CopyEvent } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { testbed, type TestBed } from '../testbed/index.js';
import {
  collect,
  emptyConfig,
  imageManifest,
  isolatedClient,
  jsonBlob,
  pushSmallArtifact,
  randomBlob,
} from './helpers.js';

const bed: TestBed = testbed();
const unique = (): string => randomBytes(4).toString('hex');

describe('copy across targets', () => {
  const client = isolatedClient();
  afterAll(async () => {
    await client.close();
  });

  it('copies layout → distribution → layout with identical content', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-copy-'));
    const layout = await OCILayout.open(path.join(dir, 'src'), { create: true });
    const blob = randomBlob(2 * 1024 * 1024);
    await layout.push(emptyConfig.desc, emptyConfig.bytes);
    await layout.push(blob.desc, blob.bytes);
    const m = imageManifest([blob.desc]);
    await layout.push(m.desc, m.bytes);
    await layout.tag(m.desc, 'v1');

    const remote = client.repository(`${bed.registries.anonymous.host}/copy/layout-${unique()}`);
    const events: CopyEvent[] = [];
    const { descriptor: root } = await copy(layout, 'v1', remote, 'v1', { onEvent: (e) => events.push(e) });
    expect(root.digest).toBe(m.desc.digest);
    expect(
      events
        .filter((e) => e.type === 'copied')
        .map((e) => e.descriptor.digest)
        .sort(),
    ).toEqual([emptyConfig.desc.digest, blob.desc.digest, m.desc.digest].sort());

    // Second copy: the manifest exists, so nothing below it is even looked at.
    const again: CopyEvent[] = [];
    await copy(layout, 'v1', remote, 'v1', { onEvent: (e) => again.push(e) });
    expect(again).toEqual([
      { type: 'skipped', descriptor: expect.objectContaining({ digest: m.desc.digest }) as unknown },
    ]);

    const back = await OCILayout.open(path.join(dir, 'back'), { create: true });
    await copy(remote, 'v1', back, 'v1');
    expect(await collect(await back.fetch(blob.desc))).toEqual(blob.bytes);
    expect((await back.resolve('v1')).digest).toBe(m.desc.digest);
  });

  it('mounts blobs instead of uploading them between repositories of one registry', async () => {
    const host = bed.registries.anonymous.host;
    const src = client.repository(`${host}/copy/mount-src-${unique()}`);
    const dst = client.repository(`${host}/copy/mount-dst-${unique()}`);
    await pushSmallArtifact(client, `${host}/${src.repository}`, 'v1', 'mount me');
    const events: CopyEvent[] = [];
    await copy(src, 'v1', dst, 'v1', { onEvent: (e) => events.push(e) });
    const mounted = events.filter((e) => e.type === 'mounted');
    expect(mounted).toHaveLength(2); // the empty config and the layer
    expect(mounted.map((e) => ('from' in e ? e.from : ''))).toEqual([src.repository, src.repository]);
    const layer = descriptorFor('application/vnd.oci.image.layer.v1.tar', Buffer.from('mount me'));
    expect((await collect(await dst.fetch(layer))).toString()).toBe('mount me');
  });

  it('copies an artifact with its referrers (extended copy) from distribution to crane', async () => {
    const from = client.repository(`${bed.registries.anonymous.host}/copy/ext-${unique()}`);
    const to = client.repository(`${bed.registries.crane.host}/copy/ext-${unique()}`);
    const { manifest } = await pushSmallArtifact(client, `${from.registry}/${from.repository}`, 'v1');
    const note = jsonBlob({ signed: true }, 'application/json');
    await from.push(note.desc, note.bytes);
    const ref = imageManifest([note.desc], { subject: manifest, artifactType: 'application/vnd.lading.sig' });
    await from.pushManifest(ref.desc, ref.bytes);
    await copy(from, 'v1', to, 'v1', { referrers: true });
    const listed = await to.referrers(manifest);
    expect(listed.map((d) => [d.digest, d.artifactType])).toEqual([[ref.desc.digest, 'application/vnd.lading.sig']]);
  });
});

describe('copy against the fake registry in strict mode', () => {
  let reg: FakeRegistry;
  beforeAll(async () => {
    reg = await startFakeRegistry();
  });
  afterAll(async () => {
    await reg.close();
  });

  it('pulls a Docker manifest list and its manifests into memory, verifying each', async () => {
    const layer = reg.putBlob('docker/app', 'layer bytes', 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const config = reg.putBlob(
      'docker/app',
      '{"architecture":"amd64","os":"linux"}',
      'application/vnd.docker.container.image.v1+json',
    );
    const image = reg.putManifest(
      'docker/app',
      { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config, layers: [layer] },
      { mediaType: 'application/vnd.docker.distribution.manifest.v2+json' },
    );
    reg.putManifest(
      'docker/app',
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
        manifests: [{ ...image, platform: { architecture: 'amd64', os: 'linux' } }],
      },
      { tag: 'latest', mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json' },
    );
    const client = isolatedClient();
    const store = new MemoryStore();
    const { descriptor: root } = await copy(client.repository(`${reg.host}/docker/app`), 'latest', store, 'latest');
    expect(root.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
    expect((await collect(await store.fetch(layer))).toString()).toBe('layer bytes');
    expect(await store.exists(image)).toBe(true);
    await client.close();
  });

  it('makes no request beyond a HEAD when the destination already has the artifact', async () => {
    const client = isolatedClient();
    const store = new MemoryStore();
    const blob = randomBlob(1000);
    await store.push(emptyConfig.desc, emptyConfig.bytes);
    await store.push(blob.desc, blob.bytes);
    const m = imageManifest([blob.desc]);
    await store.push(m.desc, m.bytes);
    await store.tag(m.desc, 'v1');
    const repo = client.repository(`${reg.host}/strict/app`);
    await copy(store, 'v1', repo, 'v1');
    reg.clearLog();
    reg.expect(
      { method: 'HEAD', path: `/v2/strict/app/manifests/${m.desc.digest}`, times: 1 },
      { method: 'PUT', path: '/v2/strict/app/manifests/v1', times: 1 }, // the tag
      { method: 'GET', path: `/v2/strict/app/manifests/${m.desc.digest}`, times: 1 }, // tag() reads the bytes
    );
    await copy(store, 'v1', repo, 'v1');
    reg.assertNoUnexpected();
    reg.clearExpectations();
    await client.close();
  });
});
