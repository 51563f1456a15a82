import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { ByteStream, CallOptions, Target } from './content.js';
import { copy, copyGraph, DefaultCopyConcurrency, MaxReferrerSubjectsPerIndex, type CopyEvent } from './copy.js';
import type { Descriptor, ImageIndex, ImageManifest } from './descriptor.js';
import { descriptorFor, readAll, verifyContent } from './digest.js';
import { ErrorCodes } from './errors.js';
import { MemoryStore } from './memory-store.js';
import { EmptyJSON, MediaTypeImageConfig, MediaTypeImageIndex, MediaTypeImageLayerGzip } from './media-types.js';
import { OCILayout } from './oci-layout.js';
import { packManifest, type ManifestFields } from './artifact/pack.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function* once(bytes: Uint8Array): ByteStream {
  await Promise.resolve();
  yield bytes;
}

async function bytesOf(target: Target, desc: Descriptor): Promise<string> {
  return new TextDecoder().decode(await readAll(await target.fetch(desc), 1 << 20, 'test'));
}

async function pushBlob(store: Target, mediaType: string, content: string): Promise<Descriptor> {
  const desc = descriptorFor(mediaType, text(content));
  await store.push(desc, text(content));
  return desc;
}

async function pushJSON(store: Target, mediaType: string, doc: ImageManifest | ImageIndex): Promise<Descriptor> {
  return pushBlob(store, mediaType, JSON.stringify(doc));
}

/** An image for one platform: its own config, one layer of its own and one shared by every platform. */
async function pushImage(store: Target, platform: string, fields: Partial<ManifestFields> = {}): Promise<Descriptor> {
  const config = await pushBlob(store, MediaTypeImageConfig, JSON.stringify({ architecture: platform, os: 'linux' }));
  const shared = await pushBlob(store, MediaTypeImageLayerGzip, 'shared base layer');
  const own = await pushBlob(store, MediaTypeImageLayerGzip, `layer for ${platform}`);
  return pushManifest(store, { config, layers: [shared, own], ...fields });
}

/** Builds a manifest with packManifest and stores it. */
async function pushManifest(store: Target, fields: ManifestFields): Promise<Descriptor> {
  const { bytes, descriptor } = packManifest(fields);
  await store.push(descriptor, bytes);
  return descriptor;
}

async function pushIndex(store: Target, platforms: string[]): Promise<{ index: Descriptor; images: Descriptor[] }> {
  const images: Descriptor[] = [];
  for (const p of platforms)
    images.push({ ...(await pushImage(store, p)), platform: { architecture: p, os: 'linux' } });
  const index = await pushJSON(store, MediaTypeImageIndex, {
    schemaVersion: 2,
    mediaType: MediaTypeImageIndex,
    manifests: images,
  });
  return { index, images };
}

/** A referrer of `subject`: an artifact with one blob. */
async function pushReferrer(store: Target, subject: Descriptor, artifactType: string): Promise<Descriptor> {
  const blob = await pushBlob(store, 'application/octet-stream', `${artifactType} of ${subject.digest}`);
  const config = await pushBlob(store, EmptyJSON.mediaType, '{}');
  return pushManifest(store, { artifactType, config, layers: [blob], subject });
}

/** Wraps a target, recording pushes and how many are in flight at once; pushes can be made to wait. */
class Recorder implements Target {
  readonly pushed: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    readonly inner: Target,
    private readonly pushDelay = 0,
  ) {}

  async push(desc: Descriptor, content: ByteStream | Uint8Array, options?: CallOptions): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.pushDelay > 0) await sleep(this.pushDelay, undefined, options);
      await this.inner.push(desc, content, options);
      this.pushed.push(desc.digest);
    } finally {
      this.inFlight -= 1;
    }
  }

  fetch(desc: Descriptor, options?: CallOptions): Promise<ByteStream> {
    return this.inner.fetch(desc, options);
  }

  exists(desc: Descriptor, options?: CallOptions): Promise<boolean> {
    return this.inner.exists(desc, options);
  }

  resolve(reference: string, options?: CallOptions): Promise<Descriptor> {
    return this.inner.resolve(reference, options);
  }

  tag(desc: Descriptor, reference: string, options?: CallOptions): Promise<void> {
    return this.inner.tag(desc, reference, options);
  }
}

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lading-copy-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('copy', () => {
  it('copies a manifest with its config and layers from memory to a layout and back', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    await src.tag(root, 'v1');
    const layout = await OCILayout.open(dir);

    const copied = await copy(src, 'v1', layout, 'release');
    expect(copied.descriptor.digest).toBe(root.digest);
    expect((await layout.resolve('release')).digest).toBe(root.digest);

    const back = new MemoryStore();
    await copy(layout, 'release', back, 'again');
    expect((await back.resolve('again')).digest).toBe(root.digest);
    const manifest = JSON.parse(await bytesOf(back, root)) as ImageManifest;
    for (const desc of [manifest.config, ...manifest.layers]) {
      expect(await bytesOf(back, desc)).toBe(await bytesOf(src, desc));
    }
  });

  it('copies a multi-platform index with every platform, each shared blob once', async () => {
    const src = new MemoryStore();
    const { index, images } = await pushIndex(src, ['amd64', 'arm64', 'riscv64']);
    await src.tag(index, 'multi');
    const layout = await OCILayout.open(dir);
    const dst = new Recorder(layout);

    await copy(src, 'multi', dst, 'multi');
    // 3 configs + 3 own layers + 1 shared layer + 3 manifests + 1 index.
    expect(dst.pushed).toHaveLength(11);
    expect(new Set(dst.pushed).size).toBe(11);
    expect(dst.pushed.at(-1)).toBe(index.digest);
    for (const image of images) {
      const manifest = JSON.parse(await bytesOf(layout, image)) as ImageManifest;
      for (const child of [manifest.config, ...manifest.layers]) {
        expect(dst.pushed.indexOf(child.digest)).toBeLessThan(dst.pushed.indexOf(image.digest));
      }
    }
    const back = new MemoryStore();
    await copy(layout, 'multi', back, 'multi');
    expect(await bytesOf(back, index)).toBe(await bytesOf(src, index));
    expect(await back.exists(images[2] as Descriptor)).toBe(true);
  });

  it('pushes nothing that the destination already has', async () => {
    const src = new MemoryStore();
    const { index } = await pushIndex(src, ['amd64', 'arm64']);
    await src.tag(index, 'v1');
    const layout = await OCILayout.open(dir);
    await copy(src, 'v1', layout, 'v1');

    const dst = new Recorder(layout);
    const events: CopyEvent[] = [];
    await copy(src, 'v1', dst, 'v2', { onEvent: (e) => events.push(e) });
    expect(dst.pushed).toEqual([]);
    expect(events).toEqual([{ type: 'skipped', descriptor: index }]);
    expect((await layout.resolve('v2')).digest).toBe(index.digest);
  });

  it('copies only what is missing below a manifest the destination lacks', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    await src.tag(root, 'v1');
    const manifest = JSON.parse(await bytesOf(src, root)) as ImageManifest;
    const dst = new Recorder(new MemoryStore());
    await dst.inner.push(manifest.config, await src.fetch(manifest.config));

    const events: CopyEvent[] = [];
    await copy(src, 'v1', dst, 'v1', { onEvent: (e) => events.push(e) });
    expect(dst.pushed.sort()).toEqual([root.digest, ...manifest.layers.map((l) => l.digest)].sort());
    expect(events.filter((e) => e.type === 'skipped').map((e) => e.descriptor.digest)).toEqual([
      manifest.config.digest,
    ]);
    expect(
      events
        .filter((e) => e.type === 'copied')
        .map((e) => e.descriptor.digest)
        .sort(),
    ).toEqual(dst.pushed.sort());
  });

  it('does not tag when the destination reference is empty or the root digest', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    const dst = new MemoryStore();
    await copy(src, root.digest, dst, '');
    await copy(src, root.digest, dst, root.digest);
    expect(await dst.tags()).toEqual([]);
    expect((await dst.resolve(root.digest)).digest).toBe(root.digest);
    const other = `sha256:${'0'.repeat(64)}`;
    await expect(copy(src, root.digest, dst, other)).rejects.toMatchObject({ code: ErrorCodes.usage });
  });

  it('copies referrers, and referrers of referrers, only when asked', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    await src.tag(root, 'v1');
    const signature = await pushReferrer(src, root, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    const sbom = await pushReferrer(src, root, 'application/spdx+json');
    const sbomSignature = await pushReferrer(src, sbom, 'application/vnd.dev.sigstore.bundle.v0.3+json');

    const plain = await OCILayout.open(path.join(dir, 'plain'));
    await copy(src, 'v1', plain, 'v1');
    expect(await plain.referrers(root)).toEqual([]);

    const extended = await OCILayout.open(path.join(dir, 'extended'));
    await copy(src, 'v1', extended, 'v1', { referrers: true });
    const digests = (await extended.referrers(root)).map((d) => d.digest).sort();
    expect(digests).toEqual([signature.digest, sbom.digest].sort());
    expect((await extended.referrers(sbom)).map((d) => d.digest)).toEqual([sbomSignature.digest]);
    const sbomManifest = JSON.parse(await bytesOf(src, sbom)) as ImageManifest;
    expect(await extended.exists(sbomManifest.layers[0] as Descriptor)).toBe(true);
  });

  it('reports each referrer with its subject, and the referrers of referrers', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    await src.tag(root, 'v1');
    const signature = await pushReferrer(src, root, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    const countersignature = await pushReferrer(src, signature, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    const events: CopyEvent[] = [];
    await copy(src, 'v1', new MemoryStore(), 'v1', { referrers: true, onEvent: (e) => events.push(e) });
    const found = events.flatMap((e) => (e.type === 'referrer' ? [[e.descriptor.digest, e.subject.digest]] : []));
    expect(found).toEqual([
      [signature.digest, root.digest],
      [countersignature.digest, signature.digest],
    ]);
  });

  it("copies cosign's legacy .sig and .att manifests of the root with referrers, tagged the same", async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    await src.tag(root, 'v1');
    const sig = await pushImage(src, 'legacy signature');
    const att = await pushImage(src, 'legacy attestation');
    const prefix = root.digest.replace(':', '-');
    await src.tag(sig, `${prefix}.sig`);
    await src.tag(att, `${prefix}.att`);

    const plain = new MemoryStore();
    await copy(src, 'v1', plain, 'v1');
    expect((await plain.tags()).sort()).toEqual(['v1']);

    const dst = new MemoryStore();
    const events: CopyEvent[] = [];
    await copy(src, 'v1', dst, 'v1', { referrers: true, onEvent: (e) => events.push(e) });
    expect((await dst.tags()).sort()).toEqual([`${prefix}.att`, `${prefix}.sig`, 'v1']);
    expect((await dst.resolve(`${prefix}.sig`)).digest).toBe(sig.digest);
    expect((await dst.resolve(`${prefix}.att`)).digest).toBe(att.digest);
    const legacy = events.flatMap((e) =>
      e.type === 'referrer' && e.tag !== undefined ? [[e.tag, e.descriptor.digest]] : [],
    );
    expect(legacy.sort()).toEqual(
      [
        [`${prefix}.att`, att.digest],
        [`${prefix}.sig`, sig.digest],
      ].sort(),
    );
  });

  it("of an index, also copies each platform manifest's referrers and legacy tags (cosign sign --recursive)", async () => {
    const src = new MemoryStore();
    const { index, images } = await pushIndex(src, ['amd64', 'arm64']);
    await src.tag(index, 'multi');
    const [amd, arm] = images as [Descriptor, Descriptor];
    const tagOf = (d: Descriptor, suffix: string): string => `${d.digest.replace(':', '-')}.${suffix}`;
    const legacy: [string, Descriptor][] = [];
    for (const [subject, suffix] of [
      [index, 'sig'],
      [amd, 'sig'],
      [arm, 'sig'],
      [arm, 'att'],
    ] as const) {
      const signature = await pushImage(src, `legacy ${suffix} of ${subject.digest}`);
      await src.tag(signature, tagOf(subject, suffix));
      legacy.push([tagOf(subject, suffix), signature]);
    }
    const bundle = await pushReferrer(src, amd, 'application/vnd.dev.sigstore.bundle.v0.3+json');

    const dst = new MemoryStore();
    const copied = await copy(src, 'multi', dst, 'multi', { referrers: true });
    expect((await dst.tags()).sort()).toEqual([...legacy.map(([tag]) => tag), 'multi'].sort());
    for (const [tag, signature] of legacy) expect((await dst.resolve(tag)).digest).toBe(signature.digest);
    expect(await dst.exists(bundle)).toBe(true);
    expect(copied.referrers.map((r) => [r.descriptor.digest, r.subject.digest, r.tag]).sort()).toEqual(
      [
        [bundle.digest, amd.digest, undefined],
        ...legacy.map(([tag, signature]) => [
          signature.digest,
          tag.startsWith(index.digest.replace(':', '-'))
            ? index.digest
            : tag.startsWith(amd.digest.replace(':', '-'))
              ? amd.digest
              : arm.digest,
          tag,
        ]),
      ].sort(),
    );
  });

  it('of an index of indexes, also copies the legacy tags of the nested index and its manifests', async () => {
    const src = new MemoryStore();
    const { index: nested, images } = await pushIndex(src, ['amd64', 'arm64']);
    const outer = await pushJSON(src, MediaTypeImageIndex, {
      schemaVersion: 2,
      mediaType: MediaTypeImageIndex,
      manifests: [nested],
    });
    await src.tag(outer, 'v1');
    const tags = [nested, ...images].map((d) => `${d.digest.replace(':', '-')}.sig`);
    for (const tag of tags) await src.tag(await pushImage(src, `legacy ${tag}`), tag);

    const dst = new MemoryStore();
    await copy(src, 'v1', dst, 'v1', { referrers: true });
    expect((await dst.tags()).sort()).toEqual([...tags, 'v1'].sort());
  });

  it(`refuses referrers of an index listing more than ${MaxReferrerSubjectsPerIndex} manifests before copying anything`, async () => {
    const src = new MemoryStore();
    const manifests = Array.from({ length: MaxReferrerSubjectsPerIndex + 1 }, (_, n) =>
      descriptorFor('application/vnd.oci.image.manifest.v1+json', text(`manifest ${n}`)),
    );
    const index = await pushJSON(src, MediaTypeImageIndex, {
      schemaVersion: 2,
      mediaType: MediaTypeImageIndex,
      manifests,
    });
    const dst = new Recorder(new MemoryStore());
    const refused = copy(src, index.digest, dst, 'big', { referrers: true });
    await expect(refused).rejects.toMatchObject({ code: ErrorCodes.usage });
    await expect(refused).rejects.toThrow(/at most 256; this index lists more: copy without referrers/);
    expect(dst.pushed).toEqual([]);
  });

  it('with platform, copies and tags only that platform manifest of an index, and its referrers', async () => {
    const src = new MemoryStore();
    const { index, images } = await pushIndex(src, ['amd64', 'arm64']);
    await src.tag(index, 'multi');
    const arm = images[1] as Descriptor;
    const signature = await pushReferrer(src, arm, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    const dst = new Recorder(new MemoryStore());
    const events: CopyEvent[] = [];
    const copied = await copy(src, 'multi', dst, 'arm', {
      platform: 'linux/arm64',
      referrers: true,
      onEvent: (e) => events.push(e),
    });
    expect(copied.descriptor.digest).toBe(arm.digest);
    // The result sums the events up: the platform chosen, the referrer copied, what was pushed.
    expect(copied.index).toEqual(index);
    expect(copied.platform).toEqual({ architecture: 'arm64', os: 'linux' });
    expect(copied.referrers.map((r) => [r.descriptor.digest, r.subject])).toEqual([[signature.digest, arm]]);
    expect(copied.copied).toBe(events.filter((e) => e.type === 'copied').length);
    expect(copied.verified).toEqual([]);
    expect(events[0]).toEqual({
      type: 'platform',
      descriptor: arm,
      index,
      platform: { architecture: 'arm64', os: 'linux' },
    });
    expect((await dst.inner.resolve('arm')).digest).toBe(arm.digest);
    expect(await dst.inner.exists(index)).toBe(false);
    expect(await dst.inner.exists(images[0] as Descriptor)).toBe(false);
    expect(await dst.inner.exists(signature)).toBe(true);
    // 1 config + 2 layers + the manifest + the signature (manifest, empty config, blob).
    expect(dst.pushed).toHaveLength(7);

    const single = await copy(src, arm.digest, new MemoryStore(), '', { platform: 'linux/arm64' }).catch(
      (e: unknown) => e,
    );
    expect(single).toMatchObject({ code: ErrorCodes.usage });
    expect((single as Error).message).toMatch(/single manifest .*drop --platform/);
    const missing = copy(src, 'multi', new MemoryStore(), '', { platform: 'linux/s390x' });
    await expect(missing).rejects.toMatchObject({ code: ErrorCodes.usage });
  });

  it('asks the gate about the source before pushing anything; a refusal copies nothing', async () => {
    const src = new MemoryStore();
    const { index, images } = await pushIndex(src, ['amd64', 'arm64']);
    await src.tag(index, 'multi');
    const asked: { digest: string; platform?: string; reference: string }[] = [];
    const dst = new Recorder(new MemoryStore());
    const events: CopyEvent[] = [];
    const copied = await copy(src, 'multi', dst, 'v1', {
      display: 'mem/multi',
      platform: 'linux/amd64',
      onEvent: (event) => events.push(event),
      gate: {
        verify: (subject) => {
          expect(dst.pushed).toEqual([]);
          asked.push({
            digest: subject.descriptor.digest,
            reference: subject.reference,
            ...(subject.platform && { platform: subject.platform.descriptor.digest }),
          });
          return Promise.resolve({ verified: [], warnings: ['policy in warn mode'] });
        },
      },
    });
    expect(asked).toEqual([{ digest: index.digest, platform: images[0]?.digest, reference: 'mem/multi' }]);
    // What the gate said reaches the caller before anything is copied.
    const verifiedAt = events.findIndex((e) => e.type === 'verified');
    expect(events[verifiedAt]).toEqual({
      type: 'verified',
      descriptor: index,
      verified: [],
      warnings: ['policy in warn mode'],
    });
    expect(events.findIndex((e) => e.type === 'copied')).toBeGreaterThan(verifiedAt);
    expect(dst.pushed.length).toBeGreaterThan(0);
    // …and is in the result.
    expect(copied.warnings).toEqual(['policy in warn mode']);
    expect(copied.verified).toEqual([]);

    const refusedStore = new MemoryStore();
    const refused = new Recorder(refusedStore);
    const gate = { verify: () => Promise.reject(new Error('refused by the gate')) };
    await expect(copy(src, 'multi', refused, 'v1', { gate })).rejects.toThrow('refused by the gate');
    expect(refused.pushed).toEqual([]);
    expect(await refusedStore.tags()).toEqual([]);
  });

  it('refuses the referrers option when the source cannot list referrers', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    const dst = new Recorder(new MemoryStore());
    await expect(copy(new Recorder(src), root.digest, dst, '', { referrers: true })).rejects.toMatchObject({
      code: ErrorCodes.usage,
    });
    expect(dst.pushed).toEqual([]);
  });

  it('keeps at most `concurrency` pushes in flight', async () => {
    const src = new MemoryStore();
    const { index } = await pushIndex(src, ['amd64', 'arm64', 'ppc64le', 's390x']);
    for (const concurrency of [1, 2, 5]) {
      const dst = new Recorder(new MemoryStore(), 5);
      await copyGraph(src, dst, index, { concurrency });
      expect(dst.pushed).toHaveLength(14);
      expect(dst.maxInFlight).toBe(concurrency);
    }
    const dst = new Recorder(new MemoryStore(), 5);
    await copyGraph(src, dst, index);
    expect(dst.maxInFlight).toBe(DefaultCopyConcurrency);
    await expect(copyGraph(src, dst, index, { concurrency: 0 })).rejects.toMatchObject({ code: ErrorCodes.usage });
  });

  it('stops when the signal aborts and pushes nothing afterwards', async () => {
    const src = new MemoryStore();
    const { index } = await pushIndex(src, ['amd64', 'arm64', 'ppc64le', 's390x']);
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const dst = new Recorder(new MemoryStore(), 5);
    const events: CopyEvent[] = [];
    const onEvent = (e: CopyEvent): void => {
      events.push(e);
      if (e.type === 'copied') controller.abort(reason);
    };
    await expect(copyGraph(src, dst, index, { signal: controller.signal, onEvent })).rejects.toBe(reason);
    const pushed = dst.pushed.length;
    expect(pushed).toBeLessThan(14);
    expect(dst.inFlight).toBe(0);
    expect(dst.pushed).not.toContain(index.digest);
    await sleep(20);
    expect(dst.pushed).toHaveLength(pushed);

    const before = new Recorder(new MemoryStore());
    await expect(copyGraph(src, before, index, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(before.pushed).toEqual([]);
  });

  it('fails without pushing the parent when a child is corrupt in the source', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    const manifest = JSON.parse(await bytesOf(src, root)) as ImageManifest;
    const layer = manifest.layers[1] as Descriptor;
    const corrupt = new Recorder(src);
    corrupt.fetch = async (desc, options) =>
      desc.digest === layer.digest ? once(text('X'.repeat(desc.size))) : src.fetch(desc, options);
    // The wrapper serves bytes without checking them: the destination's verification must catch it.
    const dst = new Recorder(new MemoryStore());
    await expect(copy(corrupt, root.digest, dst, 'v1')).rejects.toMatchObject({ code: ErrorCodes.integrity });
    expect(dst.pushed).not.toContain(root.digest);
    expect(dst.pushed).not.toContain(layer.digest);
    await expect(dst.resolve('v1')).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });

  it('parses a fetched manifest only after the fetch has verified it', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    const manifest = JSON.parse(await bytesOf(src, root)) as ImageManifest;
    // Same size, still a well-formed manifest, but pointing at a config that is not the one the digest commits to.
    const hex = manifest.config.digest.slice(-1) === '0' ? '1' : '0';
    const tampered = { ...manifest, config: { ...manifest.config, digest: manifest.config.digest.slice(0, -1) + hex } };
    const lying = new Recorder(src);
    // A source whose bytes are wrong; its fetch keeps the Fetcher contract (content.ts) and checks them, but only
    // once every byte was handed out: the copy must not parse (and follow) the manifest before the stream ends.
    lying.fetch = async (desc, options) =>
      desc.digest === root.digest
        ? verifyContent(desc, once(text(JSON.stringify(tampered))), `fetch ${desc.digest}`)
        : src.fetch(desc, options);
    const dst = new Recorder(new MemoryStore());
    await expect(copyGraph(lying, dst, root)).rejects.toMatchObject({
      code: ErrorCodes.integrity,
      message: expect.stringContaining(`fetch ${root.digest}: digest mismatch`) as unknown,
    });
    expect(dst.pushed).toEqual([]);
  });

  it('refuses a manifest larger than maxManifestSize', async () => {
    const src = new MemoryStore();
    const root = await pushImage(src, 'amd64');
    const dst = new Recorder(new MemoryStore());
    await expect(copyGraph(src, dst, root, { maxManifestSize: root.size - 1 })).rejects.toMatchObject({
      code: ErrorCodes.protocol,
    });
    expect(dst.pushed).toEqual([]);
  });
});
