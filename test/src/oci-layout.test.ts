// Interop of lading's OCI image layout with oras and skopeo, both ways: what lading writes is read by the peers, and
// what the peers write is read (and extended) by lading. The peers are real binaries (see testbed/tools.ts).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  AnnotationRefName,
  AnnotationTitle,
  EmptyJSON,
  MediaTypeImageConfig,
  MediaTypeImageIndex,
  MediaTypeImageLayerGzip,
  MediaTypeImageManifest,
  descriptorFor,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  MemoryStore,
  OCILayout,
  copy,
} from '@lading/core';
import { readAll } from '@lading/core';
import { sha256 } from '@lading/core/internal';

import { run } from './testbed/tools.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const ArtifactType = 'application/vnd.lading.test.v1';
const SignatureType = 'application/vnd.dev.sigstore.bundle.v0.3+json';

let work: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lading-layout-interop-'));
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function pushBytes(
  store: MemoryStore,
  mediaType: string,
  bytes: Uint8Array,
  annotations?: Record<string, string>,
) {
  const desc = descriptorFor(mediaType, bytes);
  await store.push(desc, bytes);
  return annotations === undefined ? desc : { ...desc, annotations };
}

async function pushJSON(store: MemoryStore, mediaType: string, doc: ImageManifest | ImageIndex): Promise<Descriptor> {
  return pushBytes(store, mediaType, text(JSON.stringify(doc)));
}

/** An ORAS-style artifact: one file layer titled with its name, the empty config, an artifact type. */
async function pushArtifact(store: MemoryStore, name: string, content: string, subject?: Descriptor) {
  const layer = await pushBytes(store, 'text/plain', text(content), { [AnnotationTitle]: name });
  const config = await pushBytes(store, EmptyJSON.mediaType, text('{}'));
  return pushJSON(store, MediaTypeImageManifest, {
    schemaVersion: 2,
    mediaType: MediaTypeImageManifest,
    artifactType: subject === undefined ? ArtifactType : SignatureType,
    config,
    layers: [layer],
    ...(subject !== undefined && {
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    }),
    annotations: { 'org.example.note': name },
  });
}

/** A tiny but valid image for one architecture: a gzipped tar layer holding one file, and an image config. */
async function pushImage(store: MemoryStore, architecture: string): Promise<Descriptor> {
  const tar = tarOf(`hello-${architecture}.txt`, `hello from ${architecture}\n`);
  const layer = await pushBytes(store, MediaTypeImageLayerGzip, gzipSync(tar));
  const config = await pushBytes(
    store,
    MediaTypeImageConfig,
    text(
      JSON.stringify({
        architecture,
        os: 'linux',
        config: {},
        rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
      }),
    ),
  );
  return pushJSON(store, MediaTypeImageManifest, {
    schemaVersion: 2,
    mediaType: MediaTypeImageManifest,
    config,
    layers: [layer],
  });
}

/** A ustar archive with one regular file (enough for image tools to accept the layer). */
function tarOf(name: string, content: string): Uint8Array {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number): void => {
    header.write(value, offset, length, 'ascii');
  };
  const body = Buffer.from(content);
  field(name, 0, 100);
  field('0000644\0', 100, 8);
  field('0000000\0', 108, 8);
  field('0000000\0', 116, 8);
  field(`${body.length.toString(8).padStart(11, '0')}\0`, 124, 12);
  field('00000000000\0', 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  field(`${checksum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  const padding = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([header, body, padding, Buffer.alloc(1024)]);
}

async function bytesOf(target: OCILayout | MemoryStore, desc: Descriptor): Promise<Buffer> {
  return Buffer.from(await readAll(await target.fetch(desc), 1 << 24, 'test'));
}

async function indexJSON(root: string): Promise<ImageIndex> {
  return JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')) as ImageIndex;
}

describe('an OCI layout lading writes', () => {
  it('is pulled by oras and read by skopeo', async () => {
    const src = new MemoryStore();
    const root = await pushArtifact(src, 'hello.txt', 'hello from lading\n');
    await src.tag(root, 'v1');
    const dir = path.join(work, 'layout');
    await copy(src, 'v1', await OCILayout.open(dir), 'v1');

    const out = path.join(work, 'pulled');
    await run('oras', ['pull', '--oci-layout', `${dir}:v1`, '-o', out]);
    expect(await readFile(path.join(out, 'hello.txt'), 'utf8')).toBe('hello from lading\n');

    const fetched = await run('oras', ['manifest', 'fetch', '--oci-layout', `${dir}:v1`]);
    expect(fetched.stdout).toBe((await bytesOf(src, root)).toString('utf8'));

    const raw = await run('skopeo', ['inspect', '--raw', `oci:${dir}:v1`]);
    expect(raw.stdout).toBe((await bytesOf(src, root)).toString('utf8'));

    const copied = path.join(work, 'skopeo-dir');
    await run('skopeo', ['copy', `oci:${dir}:v1`, `dir:${copied}`]);
    const manifest = JSON.parse(await readFile(path.join(copied, 'manifest.json'), 'utf8')) as ImageManifest;
    expect(manifest.artifactType).toBe(ArtifactType);
    const layer = manifest.layers[0] as Descriptor;
    expect(await readFile(path.join(copied, layer.digest.slice('sha256:'.length)), 'utf8')).toBe('hello from lading\n');
  });

  it('holds a multi-platform index that skopeo inspects and copies with --all', async () => {
    const src = new MemoryStore();
    const amd64 = await pushImage(src, 'amd64');
    const arm64 = await pushImage(src, 'arm64');
    const index = await pushJSON(src, MediaTypeImageIndex, {
      schemaVersion: 2,
      mediaType: MediaTypeImageIndex,
      manifests: [
        { ...amd64, platform: { architecture: 'amd64', os: 'linux' } },
        { ...arm64, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    });
    await src.tag(index, 'multi');
    const dir = path.join(work, 'layout');
    await copy(src, 'multi', await OCILayout.open(dir), 'multi');

    const raw = await run('skopeo', ['inspect', '--raw', `oci:${dir}:multi`]);
    expect(raw.stdout).toBe((await bytesOf(src, index)).toString('utf8'));
    const arm = await run('skopeo', ['--override-arch', 'arm64', 'inspect', `oci:${dir}:multi`]);
    expect(JSON.parse(arm.stdout)).toMatchObject({ Architecture: 'arm64', Os: 'linux', Digest: index.digest });

    // skopeo writes its own layout; lading reads every platform back from it.
    const other = path.join(work, 'skopeo-layout');
    await run('skopeo', ['copy', '--all', `oci:${dir}:multi`, `oci:${other}:copied`]);
    const layout = await OCILayout.open(other, { create: false });
    expect((await layout.resolve('copied')).digest).toBe(index.digest);
    const back = new MemoryStore();
    await copy(layout, 'copied', back, 'copied');
    for (const desc of [index, amd64, arm64]) expect(await bytesOf(back, desc)).toEqual(await bytesOf(src, desc));
  });

  it('shows its referrers to oras discover', async () => {
    const src = new MemoryStore();
    const root = await pushArtifact(src, 'hello.txt', 'signed content\n');
    await src.tag(root, 'v1');
    const signature = await pushArtifact(src, 'bundle.json', '{"fake":"bundle"}', root);
    const dir = path.join(work, 'layout');
    await copy(src, 'v1', await OCILayout.open(dir), 'v1', { referrers: true });

    const discovered = await run('oras', ['discover', '--oci-layout', `${dir}:v1`, '--format', 'json']);
    const tree = JSON.parse(discovered.stdout) as { digest: string; referrers: Descriptor[] };
    expect(tree.digest).toBe(root.digest);
    expect(tree.referrers.map((r) => [r.digest, r.artifactType])).toEqual([[signature.digest, SignatureType]]);

    const out = path.join(work, 'pulled');
    await run('oras', ['pull', '--oci-layout', `${dir}@${signature.digest}`, '-o', out]);
    expect(await readFile(path.join(out, 'bundle.json'), 'utf8')).toBe('{"fake":"bundle"}');
  });
});

describe('an OCI layout oras or skopeo writes', () => {
  it('is read by lading: oras push, then oras attach referrers', async () => {
    const dir = path.join(work, 'oras-layout');
    const files = path.join(work, 'files');
    await mkdir(files);
    await writeFile(path.join(files, 'hello.txt'), 'hello from oras\n');
    await writeFile(path.join(files, 'sig.json'), '{"sig":1}');
    await writeFile(path.join(files, 'sbom.json'), '{"sbom":1}');
    await run('oras', ['push', '--oci-layout', `${dir}:v1`, '--artifact-type', ArtifactType, 'hello.txt'], {
      cwd: files,
    });
    await run('oras', ['attach', '--oci-layout', `${dir}:v1`, '--artifact-type', SignatureType, 'sig.json'], {
      cwd: files,
    });
    await run(
      'oras',
      ['attach', '--oci-layout', `${dir}:v1`, '--artifact-type', 'application/spdx+json', 'sbom.json'],
      {
        cwd: files,
      },
    );

    const layout = await OCILayout.open(dir, { create: false });
    const root = await layout.resolve('v1');
    expect(root).toMatchObject({ mediaType: MediaTypeImageManifest, artifactType: ArtifactType });
    expect(root.annotations?.[AnnotationRefName]).toBeUndefined();
    const manifest = JSON.parse((await bytesOf(layout, root)).toString('utf8')) as ImageManifest;
    const layer = manifest.layers[0] as Descriptor;
    expect(layer.annotations?.[AnnotationTitle]).toBe('hello.txt');
    expect((await bytesOf(layout, layer)).toString('utf8')).toBe('hello from oras\n');

    const referrers = await layout.referrers(root);
    expect(referrers.map((r) => r.artifactType).sort()).toEqual(['application/spdx+json', SignatureType]);
    // oras stamps every manifest with a creation time; the referrers listing carries the manifest's annotations.
    for (const r of referrers) expect(r.annotations?.['org.opencontainers.image.created']).toMatch(/^\d{4}-/);
    const signatures = await layout.referrers(root, { artifactType: SignatureType });
    expect(signatures).toHaveLength(1);

    // Pull the artifact with its referrers out of the oras layout, through lading.
    const pulled = new MemoryStore();
    await copy(layout, 'v1', pulled, 'v1', { referrers: true });
    expect((await pulled.referrers(root)).map((r) => r.digest).sort()).toEqual(referrers.map((r) => r.digest).sort());
  });

  it('is extended by lading without losing what oras wrote, and oras reads both', async () => {
    const dir = path.join(work, 'shared-layout');
    const files = path.join(work, 'files');
    await mkdir(files);
    await writeFile(path.join(files, 'first.txt'), 'first\n');
    await run('oras', ['push', '--oci-layout', `${dir}:first`, 'first.txt'], { cwd: files });
    const before = await indexJSON(dir);

    const src = new MemoryStore();
    const second = await pushArtifact(src, 'second.txt', 'second\n');
    await src.tag(second, 'second');
    const layout = await OCILayout.open(dir, { create: false });
    await copy(src, 'second', layout, 'second');

    const after = await indexJSON(dir);
    expect(after.manifests.slice(0, before.manifests.length)).toEqual(before.manifests);
    expect(await layout.tags()).toEqual(['first', 'second']);
    for (const name of ['first', 'second']) {
      const out = path.join(work, `out-${name}`);
      await run('oras', ['pull', '--oci-layout', `${dir}:${name}`, '-o', out]);
      expect(await readFile(path.join(out, `${name}.txt`), 'utf8')).toBe(`${name}\n`);
    }

    // oras re-tags in the layout lading wrote to; lading sees the move.
    await run('oras', ['tag', '--oci-layout', `${dir}:second`, 'first']);
    expect((await layout.resolve('first')).digest).toBe(second.digest);
  });

  it('is read by lading after skopeo copies an image into it, and skopeo reads lading tags', async () => {
    const src = new MemoryStore();
    const image = await pushImage(src, 'amd64');
    await src.tag(image, 'v1');
    const ladingDir = path.join(work, 'lading-layout');
    await copy(src, 'v1', await OCILayout.open(ladingDir), 'v1');

    const skopeoDir = path.join(work, 'skopeo-layout');
    await run('skopeo', ['copy', `oci:${ladingDir}:v1`, `oci:${skopeoDir}:from-skopeo`]);
    // skopeo writes index.json without a mediaType and with only the tagged entry.
    expect((await indexJSON(skopeoDir)).manifests).toHaveLength(1);

    const layout = await OCILayout.open(skopeoDir, { create: false });
    const root = await layout.resolve('from-skopeo');
    expect(root.digest).toBe(image.digest);
    const pulled = new MemoryStore();
    await copy(layout, 'from-skopeo', pulled, 'v1');
    const manifest = JSON.parse((await bytesOf(pulled, image)).toString('utf8')) as ImageManifest;
    for (const desc of [manifest.config, ...manifest.layers]) {
      expect(await bytesOf(pulled, desc)).toEqual(await bytesOf(src, desc));
    }

    await layout.tag(root, 'tagged-by-lading');
    const inspected = await run('skopeo', ['inspect', `oci:${skopeoDir}:tagged-by-lading`]);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ Digest: image.digest, Architecture: 'amd64', Os: 'linux' });
  });
});
