import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { ByteStream } from './content.js';
import type { Descriptor, ImageIndex, ImageManifest } from './descriptor.js';
import { descriptorFor, readAll, sha256 } from './digest.js';
import { ErrorCodes } from './errors.js';
import { OCILayout } from './oci-layout.js';
import { AnnotationRefName, EmptyJSON, MediaTypeImageIndex, MediaTypeImageManifest } from './media-types.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function read(stream: ByteStream): Promise<string> {
  return new TextDecoder().decode(await readAll(stream, 1 << 24, 'test'));
}

async function* chunks(...parts: (string | Error)[]): ByteStream {
  for (const part of parts) {
    await Promise.resolve();
    if (part instanceof Error) throw part;
    yield text(part);
  }
}

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lading-layout-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every file under `root`, relative, sorted. */
async function files(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
}

async function indexJSON(root: string): Promise<ImageIndex> {
  return JSON.parse(await readFile(path.join(root, 'index.json'), 'utf8')) as ImageIndex;
}

function manifestBytes(fields: Partial<ImageManifest> = {}): Uint8Array {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypeImageManifest,
    config: { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size },
    layers: [],
    ...fields,
  };
  return text(JSON.stringify(manifest));
}

async function pushManifest(layout: OCILayout, fields: Partial<ImageManifest> = {}): Promise<Descriptor> {
  const bytes = manifestBytes(fields);
  const desc = descriptorFor(MediaTypeImageManifest, bytes);
  await layout.push(desc, bytes);
  return desc;
}

const blobFile = (desc: Descriptor): string => path.join('blobs', 'sha256', desc.digest.slice('sha256:'.length));

describe('OCILayout.open', () => {
  it('creates the folder, oci-layout and an empty index.json', async () => {
    const root = path.join(dir, 'new', 'layout');
    const layout = await OCILayout.open(root);
    expect(layout.root).toBe(root);
    expect(JSON.parse(await readFile(path.join(root, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(await indexJSON(root)).toEqual({ schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests: [] });
    expect(await files(root)).toEqual(['index.json', 'oci-layout']);
  });

  it('refuses a folder that is not a layout when asked not to create one', async () => {
    await expect(OCILayout.open(dir, { create: false })).rejects.toMatchObject({ code: ErrorCodes.notFound });
    await expect(OCILayout.open(path.join(dir, 'absent'), { create: false })).rejects.toMatchObject({
      code: ErrorCodes.notFound,
    });
    expect(await files(dir)).toEqual([]);
  });

  it('refuses another layout version and an index.json that is not an index', async () => {
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await expect(OCILayout.open(dir)).rejects.toMatchObject({ code: ErrorCodes.protocol });
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(path.join(dir, 'index.json'), '<html>');
    await expect(OCILayout.open(dir)).rejects.toMatchObject({ code: ErrorCodes.protocol });
  });
});

describe('OCILayout', () => {
  it('stores blobs under blobs/<alg>/<hex> and streams them back verified', async () => {
    const layout = await OCILayout.open(dir);
    const desc = descriptorFor('text/plain', text('hello world'));
    expect(await layout.exists(desc)).toBe(false);
    await layout.push(desc, chunks('hello', ' ', 'world'));
    expect(await layout.exists(desc)).toBe(true);
    expect(await readFile(path.join(dir, blobFile(desc)), 'utf8')).toBe('hello world');
    expect(await read(await layout.fetch(desc))).toBe('hello world');
    expect(await files(dir)).toEqual([blobFile(desc), 'index.json', 'oci-layout'].sort());
  });

  it('streams a large blob through in many chunks', async () => {
    const layout = await OCILayout.open(dir);
    const piece = 'x'.repeat(64 * 1024);
    const parts = Array.from({ length: 80 }, () => piece);
    const desc = { mediaType: 'application/octet-stream', digest: sha256(parts.join('')), size: 80 * piece.length };
    await layout.push(desc, chunks(...parts));
    expect((await readAll(await layout.fetch(desc), desc.size, 'test')).byteLength).toBe(desc.size);
  });

  it('refuses wrong content and leaves neither the blob nor a temporary file', async () => {
    const layout = await OCILayout.open(dir);
    const desc = descriptorFor('text/plain', text('expected content'));
    await expect(layout.push(desc, text('tampered content'))).rejects.toMatchObject({
      code: ErrorCodes.integrity,
      message: expect.stringContaining(`push ${dir}@${desc.digest}: digest mismatch`) as unknown,
    });
    await expect(layout.push(desc, chunks('expected', ' content', '!'))).rejects.toMatchObject({
      code: ErrorCodes.integrity,
    });
    await expect(layout.push(desc, chunks('expected'))).rejects.toMatchObject({ code: ErrorCodes.integrity });
    expect(await layout.exists(desc)).toBe(false);
    expect(await files(dir)).toEqual(['index.json', 'oci-layout']);
  });

  it('leaves no temporary file when the source stream fails or the signal aborts', async () => {
    const layout = await OCILayout.open(dir);
    const desc = descriptorFor('text/plain', text('abcdef'));
    const broken = new Error('connection reset');
    await expect(layout.push(desc, chunks('abc', broken))).rejects.toBe(broken);
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    async function* slow(): ByteStream {
      yield text('abc');
      controller.abort(reason);
      await Promise.resolve();
      yield text('def');
    }
    await expect(layout.push(desc, slow(), { signal: controller.signal })).rejects.toBe(reason);
    expect(await files(dir)).toEqual(['index.json', 'oci-layout']);
  });

  it('stops a fetch when the signal aborts, rejecting with its reason', async () => {
    const layout = await OCILayout.open(dir);
    const content = 'y'.repeat(1 << 20);
    const desc = descriptorFor('application/octet-stream', text(content));
    await layout.push(desc, text(content));
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const stream = await layout.fetch(desc, { signal: controller.signal });
    let received = 0;
    const reading = (async () => {
      for await (const chunk of stream) {
        received += chunk.byteLength;
        controller.abort(reason);
      }
    })();
    await expect(reading).rejects.toBe(reason);
    expect(received).toBeLessThan(desc.size);
  });

  it('refuses digests that are not sha256/sha512 lower-case hex, so no path escapes blobs/', async () => {
    const layout = await OCILayout.open(dir);
    for (const digest of [
      'sha256:../../../../etc/passwd',
      `sha256:${'A'.repeat(64)}`,
      `md5:${'a'.repeat(32)}`,
      `sha256:${'a'.repeat(63)}/`,
    ]) {
      const desc = { mediaType: 'text/plain', digest, size: 1 };
      await expect(layout.push(desc, text('x'))).rejects.toMatchObject({ code: ErrorCodes.usage });
      await expect(layout.fetch(desc)).rejects.toMatchObject({ code: ErrorCodes.usage });
      await expect(layout.exists(desc)).rejects.toMatchObject({ code: ErrorCodes.usage });
    }
    expect(await files(dir)).toEqual(['index.json', 'oci-layout']);
  });

  it('reports missing blobs and a blob that does not match the descriptor asked for', async () => {
    const layout = await OCILayout.open(dir);
    const desc = descriptorFor('text/plain', text('abc'));
    await expect(layout.fetch(desc)).rejects.toMatchObject({ code: ErrorCodes.notFound });
    await layout.push(desc, text('abc'));
    await expect(read(await layout.fetch({ ...desc, size: 4 }))).rejects.toMatchObject({ code: ErrorCodes.integrity });
  });

  it('lists pushed manifests in index.json untagged, then tags them in place', async () => {
    const layout = await OCILayout.open(dir);
    const desc = await pushManifest(layout, { artifactType: 'application/x-demo', annotations: { note: 'n' } });
    const listed = { ...desc, artifactType: 'application/x-demo', annotations: { note: 'n' } };
    expect((await indexJSON(dir)).manifests).toEqual([listed]);
    await layout.tag(desc, 'v1');
    expect((await indexJSON(dir)).manifests).toEqual([
      { ...listed, annotations: { note: 'n', [AnnotationRefName]: 'v1' } },
    ]);
    expect(await layout.resolve('v1')).toEqual(listed);
    expect(await layout.resolve(desc.digest)).toEqual(listed);
    expect(await layout.tags()).toEqual(['v1']);
  });

  it('moves a tag by replacing its entry, keeping the previous manifest listed untagged', async () => {
    const layout = await OCILayout.open(dir);
    const one = await pushManifest(layout, { annotations: { n: '1' } });
    const two = await pushManifest(layout, { annotations: { n: '2' } });
    await layout.tag(one, 'latest');
    await layout.tag(one, 'stable');
    await layout.tag(two, 'latest');
    const entries = (await indexJSON(dir)).manifests.map((m) => [m.digest, m.annotations?.[AnnotationRefName]]);
    expect(entries).toEqual([
      [one.digest, 'stable'],
      [two.digest, 'latest'],
    ]);
    await layout.tag(two, 'stable');
    const after = (await indexJSON(dir)).manifests.map((m) => [m.digest, m.annotations?.[AnnotationRefName]]);
    expect(after).toEqual([
      [two.digest, 'latest'],
      [one.digest, undefined],
      [two.digest, 'stable'],
    ]);
    expect((await layout.resolve('stable')).digest).toBe(two.digest);
    expect((await layout.resolve(one.digest)).digest).toBe(one.digest);
  });

  it('refuses to tag a manifest that is not there, or with an invalid name', async () => {
    const layout = await OCILayout.open(dir);
    const absent = descriptorFor(MediaTypeImageManifest, manifestBytes());
    await expect(layout.tag(absent, 'v1')).rejects.toMatchObject({ code: ErrorCodes.notFound });
    const desc = await pushManifest(layout);
    await expect(layout.tag(desc, 'has space')).rejects.toMatchObject({ code: ErrorCodes.usage });
    await expect(layout.tag(desc, desc.digest)).rejects.toMatchObject({ code: ErrorCodes.usage });
    await expect(layout.resolve('v1')).rejects.toMatchObject({
      code: ErrorCodes.notFound,
      message: `resolve ${dir}:v1: no such tag`,
    });
  });

  it('resolves the digest of a manifest index.json does not list by reading the blob', async () => {
    const layout = await OCILayout.open(dir);
    const bytes = manifestBytes({ annotations: { child: 'yes' } });
    const desc = descriptorFor(MediaTypeImageManifest, bytes);
    // Written by another tool: in blobs/, not in index.json.
    await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    await writeFile(path.join(dir, blobFile(desc)), bytes);
    expect(await layout.resolve(desc.digest)).toEqual(desc);
    const blob = descriptorFor('text/plain', text('not a manifest'));
    await layout.push(blob, text('not a manifest'));
    await expect(layout.resolve(blob.digest)).rejects.toMatchObject({ code: ErrorCodes.notFound });
    await expect(layout.resolve(`sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });

  it('finds referrers through the subject of manifests reachable from index.json', async () => {
    const layout = await OCILayout.open(dir);
    const child = await pushManifest(layout, { annotations: { platform: 'a' } });
    const indexBytes = text(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests: [child] } satisfies ImageIndex),
    );
    const index = descriptorFor(MediaTypeImageIndex, indexBytes);
    await layout.push(index, indexBytes);
    await layout.tag(index, 'v1');
    const signature = await pushManifest(layout, {
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      subject: index,
      annotations: { 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
    });
    const sbom = await pushManifest(layout, {
      config: { mediaType: 'application/spdx+json', digest: EmptyJSON.digest, size: 2 },
      subject: index,
    });
    const childNote = await pushManifest(layout, { artifactType: 'application/x-note', subject: child });

    expect(await layout.referrers(index)).toEqual([
      {
        ...signature,
        artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        annotations: { 'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1' },
      },
      { ...sbom, artifactType: 'application/spdx+json' },
    ]);
    expect(await layout.referrers(index, { artifactType: 'application/spdx+json' })).toEqual([
      { ...sbom, artifactType: 'application/spdx+json' },
    ]);
    expect(await layout.referrers(child)).toEqual([{ ...childNote, artifactType: 'application/x-note' }]);
  });

  it('finds a referrer listed only as the child of an index', async () => {
    const layout = await OCILayout.open(dir);
    const subject = await pushManifest(layout);
    const note = manifestBytes({ artifactType: 'application/x-note', subject });
    const noteDesc = descriptorFor(MediaTypeImageManifest, note);
    // Written by another tool: only an index in index.json points at the referrer.
    await writeFile(path.join(dir, blobFile(noteDesc)), note);
    const indexBytes = text(JSON.stringify({ schemaVersion: 2, manifests: [noteDesc] }));
    const index = descriptorFor(MediaTypeImageIndex, indexBytes);
    await layout.push(index, indexBytes);
    expect((await layout.referrers(subject)).map((d) => d.digest)).toEqual([noteDesc.digest]);
  });

  it('gives the same state when reopened from disk', async () => {
    const first = await OCILayout.open(dir);
    const subject = await pushManifest(first, { annotations: { n: 'subject' } });
    await first.tag(subject, 'v1');
    const referrer = await pushManifest(first, { artifactType: 'application/x-sig', subject });
    const again = await OCILayout.open(dir, { create: false });
    expect(await again.tags()).toEqual(['v1']);
    expect(await again.resolve('v1')).toEqual(await first.resolve('v1'));
    expect(await again.referrers(subject)).toEqual([{ ...referrer, artifactType: 'application/x-sig' }]);
    expect(await read(await again.fetch(subject))).toBe(
      new TextDecoder().decode(manifestBytes({ annotations: { n: 'subject' } })),
    );
  });

  it('keeps every entry when many tags are set at once from two open layouts', async () => {
    const one = await OCILayout.open(dir);
    const two = await OCILayout.open(dir);
    const desc = await pushManifest(one);
    const tags = Array.from({ length: 40 }, (_, i) => `t${i}`);
    await Promise.all(tags.map((t, i) => (i % 2 === 0 ? one : two).tag(desc, t)));
    expect(await one.tags()).toEqual([...tags].sort());
    expect((await indexJSON(dir)).manifests).toHaveLength(40);
    expect((await files(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('keeps fields other tools wrote in index.json', async () => {
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(
      path.join(dir, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [], annotations: { 'com.example.owner': 'ops' } }),
    );
    const layout = await OCILayout.open(dir, { create: false });
    const desc = await pushManifest(layout);
    await layout.tag(desc, 'v1');
    expect(await indexJSON(dir)).toMatchObject({ annotations: { 'com.example.owner': 'ops' } });
  });

  it('deletes a blob with its index.json entries', async () => {
    const layout = await OCILayout.open(dir);
    const desc = await pushManifest(layout);
    await layout.tag(desc, 'v1');
    await layout.delete(desc);
    expect(await layout.exists(desc)).toBe(false);
    expect((await indexJSON(dir)).manifests).toEqual([]);
    await expect(layout.resolve('v1')).rejects.toMatchObject({ code: ErrorCodes.notFound });
    await expect(layout.delete(desc)).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });

  it('accepts a second push of a stored blob without reading the content', async () => {
    const layout = await OCILayout.open(dir);
    const desc = descriptorFor('text/plain', text('once'));
    await layout.push(desc, text('once'));
    const unreadable: ByteStream = {
      [Symbol.asyncIterator]() {
        throw new Error('content was read');
      },
    };
    await layout.push(desc, unreadable);
    expect(await read(await layout.fetch(desc))).toBe('once');
  });

  it('refuses a malformed manifest and stores nothing', async () => {
    const layout = await OCILayout.open(dir);
    const bytes = text('{"schemaVersion":2,"layers":"none"}');
    const desc = descriptorFor(MediaTypeImageManifest, bytes);
    await expect(layout.push(desc, bytes)).rejects.toMatchObject({ code: ErrorCodes.protocol });
    expect(await files(dir)).toEqual(['index.json', 'oci-layout']);
  });
});
