import { describe, expect, it } from 'vitest';

import type { ByteStream } from './content.js';
import type { Descriptor, ImageManifest } from './descriptor.js';
import { descriptorFor, readAll } from './digest.js';
import { ErrorCodes } from './errors.js';
import { MemoryStore } from './memory-store.js';
import { EmptyJSON, MediaTypeImageManifest } from './media-types.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function read(stream: ByteStream): Promise<string> {
  return new TextDecoder().decode(await readAll(stream, 1 << 20, 'test'));
}

async function* chunks(...parts: string[]): ByteStream {
  for (const part of parts) {
    await Promise.resolve();
    yield text(part);
  }
}

/** A stream that fails the test if anyone reads it. */
const unreadable: ByteStream = {
  [Symbol.asyncIterator]() {
    throw new Error('content was read');
  },
};

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

async function pushManifest(store: MemoryStore, fields: Partial<ImageManifest> = {}): Promise<Descriptor> {
  const bytes = manifestBytes(fields);
  const desc = descriptorFor(MediaTypeImageManifest, bytes);
  await store.push(desc, bytes);
  return desc;
}

describe('MemoryStore', () => {
  it('stores, reports and streams back content', async () => {
    const store = new MemoryStore();
    const desc = descriptorFor('text/plain', text('hello world'));
    expect(await store.exists(desc)).toBe(false);
    await store.push(desc, chunks('hello', ' ', 'world'));
    expect(await store.exists(desc)).toBe(true);
    expect(await read(await store.fetch(desc))).toBe('hello world');
    // Each fetch is an independent stream.
    expect(await read(await store.fetch(desc))).toBe('hello world');
  });

  it('refuses content whose digest does not match, storing nothing', async () => {
    const store = new MemoryStore();
    const desc = descriptorFor('text/plain', text('expected'));
    await expect(store.push(desc, text('tampered'))).rejects.toMatchObject({
      code: ErrorCodes.integrity,
      message: expect.stringMatching(/^push sha256:[0-9a-f]{64}: digest mismatch/) as unknown,
    });
    expect(await store.exists(desc)).toBe(false);
  });

  it('refuses content shorter or longer than the descriptor says, storing nothing', async () => {
    const store = new MemoryStore();
    const desc = descriptorFor('text/plain', text('four'));
    await expect(store.push(desc, text('fou'))).rejects.toMatchObject({ code: ErrorCodes.integrity });
    await expect(store.push(desc, chunks('four', 'more'))).rejects.toMatchObject({ code: ErrorCodes.integrity });
    expect(await store.exists(desc)).toBe(false);
  });

  it('refuses a malformed manifest and a malformed digest', async () => {
    const store = new MemoryStore();
    const bad = descriptorFor(MediaTypeImageManifest, text('{"schemaVersion":2}'));
    await expect(store.push(bad, text('{"schemaVersion":2}'))).rejects.toMatchObject({ code: ErrorCodes.protocol });
    expect(await store.exists(bad)).toBe(false);
    const odd = { mediaType: 'text/plain', digest: 'sha256:../../etc/passwd', size: 1 };
    await expect(store.push(odd, text('x'))).rejects.toMatchObject({ code: ErrorCodes.usage });
    await expect(store.fetch(odd)).rejects.toMatchObject({ code: ErrorCodes.usage });
  });

  it('accepts a second push of stored content without reading it', async () => {
    const store = new MemoryStore();
    const desc = descriptorFor('text/plain', text('once'));
    await store.push(desc, text('once'));
    await store.push(desc, unreadable);
    expect(await read(await store.fetch(desc))).toBe('once');
  });

  it('reports missing content and checks what it serves against the descriptor asked for', async () => {
    const store = new MemoryStore();
    const desc = descriptorFor('text/plain', text('abc'));
    await expect(store.fetch(desc)).rejects.toMatchObject({ code: ErrorCodes.notFound });
    await store.push(desc, text('abc'));
    await expect(read(await store.fetch({ ...desc, size: 2 }))).rejects.toMatchObject({ code: ErrorCodes.integrity });
  });

  it('resolves tags and manifest digests to the manifest descriptor', async () => {
    const store = new MemoryStore();
    const desc = await pushManifest(store, { artifactType: 'application/x-demo', annotations: { a: 'b' } });
    await store.tag(desc, 'v1');
    const expected = { ...desc, artifactType: 'application/x-demo', annotations: { a: 'b' } };
    expect(await store.resolve('v1')).toEqual(expected);
    expect(await store.resolve(desc.digest)).toEqual(expected);
    expect(await store.tags()).toEqual(['v1']);
    await expect(store.resolve('v2')).rejects.toMatchObject({
      code: ErrorCodes.notFound,
      message: 'resolve v2: no such tag',
    });
  });

  it('does not resolve the digest of a blob that is not a manifest', async () => {
    const store = new MemoryStore();
    const blob = descriptorFor('text/plain', text('blob'));
    await store.push(blob, text('blob'));
    await expect(store.resolve(blob.digest)).rejects.toMatchObject({ code: ErrorCodes.notFound });
    await expect(store.tag(blob, 'v1')).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });

  it('moves a tag to another manifest and refuses invalid tags or missing manifests', async () => {
    const store = new MemoryStore();
    const one = await pushManifest(store, { annotations: { n: '1' } });
    const two = await pushManifest(store, { annotations: { n: '2' } });
    await store.tag(one, 'latest');
    await store.tag(two, 'latest');
    expect((await store.resolve('latest')).digest).toBe(two.digest);
    await expect(store.tag(two, 'bad tag')).rejects.toMatchObject({ code: ErrorCodes.usage });
    await expect(store.tag(two, '.hidden')).rejects.toMatchObject({ code: ErrorCodes.usage });
    const absent = descriptorFor(MediaTypeImageManifest, manifestBytes({ annotations: { n: '3' } }));
    await expect(store.tag(absent, 'v3')).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });

  it('lists referrers through the subject of stored manifests, with artifact type and annotations', async () => {
    const store = new MemoryStore();
    const subject = await pushManifest(store);
    const other = await pushManifest(store, { annotations: { other: 'yes' } });
    const signature = await pushManifest(store, {
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      subject,
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
    });
    // No artifactType: the config media type stands in for it, as the referrers API specifies.
    const sbom = await pushManifest(store, {
      config: { mediaType: 'application/spdx+json', digest: EmptyJSON.digest, size: 2 },
      subject,
    });
    await pushManifest(store, { subject: other });

    expect(await store.referrers(subject)).toEqual([
      {
        ...signature,
        artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
      },
      { ...sbom, artifactType: 'application/spdx+json' },
    ]);
    const filtered = await store.referrers(subject, { artifactType: 'application/spdx+json' });
    expect(filtered.map((d) => d.digest)).toEqual([sbom.digest]);
    expect(await store.referrers(signature)).toEqual([]);
  });

  it('deletes content with the tags pointing at it', async () => {
    const store = new MemoryStore();
    const desc = await pushManifest(store);
    await store.tag(desc, 'v1');
    await store.tag(desc, 'v2');
    await store.delete(desc);
    expect(await store.exists(desc)).toBe(false);
    expect(await store.tags()).toEqual([]);
    await expect(store.resolve('v1')).rejects.toMatchObject({ code: ErrorCodes.notFound });
    await expect(store.delete(desc)).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });

  it('honours an aborted signal', async () => {
    const store = new MemoryStore();
    const desc = descriptorFor('text/plain', text('x'));
    const reason = new Error('stop');
    const signal = AbortSignal.abort(reason);
    await expect(store.push(desc, text('x'), { signal })).rejects.toBe(reason);
    expect(await store.exists(desc)).toBe(false);
  });
});
