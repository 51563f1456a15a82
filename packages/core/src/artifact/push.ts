/**
 * push: pack paths into an artifact (docs/format.md) and upload it to a target, blobs concurrently through copy's
 * transfer step (skip what the target holds, mount, stream), then the manifest under every tag.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import pLimit from 'p-limit';

import type { CallOptions, Target } from '../content.js';
import { DefaultCopyConcurrency } from '../copy.js';
import type { Descriptor } from '../descriptor.js';
import { fetchAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { transferBlob, type TransferContext, type TransferEvent } from '../transfer.js';
import type { OpenedTarget } from './target.js';
import { packArtifact, type PackInput, type PackOptions } from './pack.js';
import type { TOC } from './toc.js';

/**
 * Progress of a push, for the CLI to render: `packed`, then the transfer events of each blob (the vocabulary copy
 * uses: `skipped`, `mounted`, `copying`, `progress`, `copied`), then `tagged` per tag.
 */
export type PushEvent =
  { type: 'packed'; layers: number; bytes: number } | TransferEvent | { type: 'tagged'; tag: string };

/** Options of {@link pushArtifact}. */
export interface PushOptions extends CallOptions, Omit<PackOptions, 'tempDir' | 'signal'> {
  /**
   * Tags to point at the manifest. Default none (by digest only). When the destination is an `OpenedTarget` whose
   * reference names a tag, that tag is pushed too (first, duplicates dropped).
   */
  tags?: readonly string[];
  /** Blob uploads in flight at once. Default `DefaultCopyConcurrency` (3), as copy. */
  uploadConcurrency?: number;
  /**
   * Repositories of the destination's registry to mount blobs from before uploading them, tried in order (a
   * registry that holds the blob there links it, and no bytes move), when the destination can mount. Default none.
   */
  mountFrom?: readonly string[];
  /** Folder for temporary layer files (removed afterwards). Default the OS temp folder. */
  tempRoot?: string;
  /** Progress events; the library never prints. */
  onEvent?: (event: PushEvent) => void;
}

/** What {@link pushArtifact} pushed. */
export interface PushResult {
  /** The manifest's descriptor (its digest is the artifact's identity). */
  descriptor: Descriptor;
  /** The manifest bytes. */
  manifest: Buffer;
  toc: TOC;
  /** Layer descriptors in manifest order. */
  layers: Descriptor[];
  /** Tags that now point at it. */
  tags: string[];
  /** Blobs the target already had. */
  skipped: number;
}

interface ManifestPusher {
  pushManifest(desc: Descriptor, bytes: Uint8Array, tags: readonly string[], options?: CallOptions): Promise<void>;
}

function canPushManifest(t: unknown): t is ManifestPusher {
  return typeof (t as Partial<ManifestPusher>).pushManifest === 'function';
}

/** Tags put at once by {@link tagArtifact} unless told otherwise. */
const DefaultTagConcurrency = 8;

/** Options of {@link tagArtifact}. */
export interface TagOptions extends CallOptions {
  /** Receives a `tagged` event per tag; the library never prints. */
  onEvent?: (event: PushEvent) => void;
  /** Tags put at once. Default {@link DefaultTagConcurrency} (8). */
  concurrency?: number;
  /** The reference as the user wrote it, for messages. Default: the reference given, or the manifest's digest. */
  display?: string;
}

interface ManifestTagger {
  tagManifest(desc: Descriptor, bytes: Uint8Array, reference: string, options?: CallOptions): Promise<void>;
}

function canTagManifest(t: unknown): t is ManifestTagger {
  return typeof (t as Partial<ManifestTagger>).tagManifest === 'function';
}

/**
 * Points `tags` (duplicates dropped) at a manifest `target` already holds, named by a reference (a tag or a digest:
 * it is resolved and the manifest fetched, digest-checked, at most 4 MiB) or given as its descriptor and bytes (the
 * last step of a push, kept apart so that a caller can sign the manifest, pushed by digest, before any tag moves).
 * Registries get the manifest PUT again by digest, then one PUT under each tag, up to `concurrency` (default 8) at
 * once (each request keeps the client's retry rules); other targets (local layouts) tag it one tag at a time. On
 * the first failure no further tag is started, those under way are awaited, and the first error is thrown. Emits
 * `tagged` per tag, in the order given, once all are in place. Returns the manifest's descriptor and the tags.
 * `ERR_LADING_USAGE` for an empty reference; whatever the target throws (`ERR_LADING_NOT_FOUND`…).
 */
export async function tagArtifact(
  target: Target,
  manifest: string | { descriptor: Descriptor; bytes: Uint8Array },
  tags: readonly string[],
  options: TagOptions = {},
): Promise<{ descriptor: Descriptor; tags: string[] }> {
  const unique = [...new Set(tags)];
  const concurrency = options.concurrency ?? DefaultTagConcurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new LadingError(ErrorCodes.usage, `tag: concurrency must be a positive integer, got ${concurrency}`);
  }
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  if (typeof manifest === 'string') {
    const where = `tag ${options.display ?? manifest}`;
    if (manifest === '') throw new LadingError(ErrorCodes.usage, `${where}: name a tag or a digest of the artifact`);
    const descriptor = await target.resolve(manifest, call);
    manifest = { descriptor, bytes: await fetchAll(target, descriptor, where, call) };
  }
  if (unique.length > 0) {
    if (canPushManifest(target)) await target.pushManifest(manifest.descriptor, manifest.bytes, [], call);
    await putTags(target, manifest, unique, concurrency, call);
  }
  for (const tag of unique) options.onEvent?.({ type: 'tagged', tag });
  return { descriptor: manifest.descriptor, tags: unique };
}

function isOpenedTarget(value: Target | OpenedTarget): value is OpenedTarget {
  return typeof (value as Partial<OpenedTarget>).display === 'string' && 'target' in value;
}

/** Puts `tags` on a manifest already stored by digest: concurrently on registries, in turn on other targets. */
async function putTags(
  target: Target,
  manifest: { descriptor: Descriptor; bytes: Uint8Array },
  tags: readonly string[],
  concurrency: number,
  call: CallOptions,
): Promise<void> {
  const { descriptor, bytes } = manifest;
  if (canTagManifest(target)) {
    await eachBounded(tags, concurrency, (tag) => target.tagManifest(descriptor, bytes, tag, call));
  } else {
    // An OCI layout rewrites one index.json per tag: nothing to gain from overlapping them.
    for (const tag of tags) await target.tag(descriptor, tag, call);
  }
}

/**
 * Runs `task` on every item, at most `limit` at once. After the first failure no new task starts; the promise
 * settles once the running ones have, rejecting with the first error.
 */
async function eachBounded<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * Packs `inputs` and pushes the artifact to `destination`: the TOC and layers first (at most `uploadConcurrency` at
 * once, each skipped when `target.exists` says it is there), then the manifest, then the tags (8 at once on a
 * registry, as {@link tagArtifact} puts them; with no `tags`, the
 * manifest is pushed by digest only; {@link tagArtifact} tags it later). Memory stays bounded:
 * layers stream from temporary files (or the original files) and are removed afterwards, success or not.
 *
 * `destination` is a {@link Target}, or what `openTarget` returned: then the tag its reference names
 * (`registry/app:v9`) is pushed with `options.tags`, and a reference naming a digest (`@sha256:…`) is refused with
 * `ERR_LADING_USAGE` before anything is packed or sent (a push cannot choose its digest). A bare `Target` knows no
 * reference: only `options.tags` are pushed.
 */
export async function pushArtifact(
  destination: Target | OpenedTarget,
  inputs: readonly PackInput[],
  options: PushOptions = {},
): Promise<PushResult> {
  let target: Target = destination as Target;
  const referenceTags: string[] = [];
  if (isOpenedTarget(destination)) {
    target = destination.target;
    if (destination.digest !== undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        `push ${destination.display}: a push cannot target a digest (the content decides it); name a tag or none`,
      );
    }
    if (destination.tag !== undefined) referenceTags.push(destination.tag);
  }
  if (inputs.length === 0) throw new LadingError(ErrorCodes.usage, 'push: no files or folders given');
  const signal = options.signal;
  const call: CallOptions = signal ? { signal } : {};
  const emit = options.onEvent ?? (() => undefined);
  const tempDir = await mkdtemp(path.join(options.tempRoot ?? tmpdir(), 'lading-push-'));
  try {
    const { tags: _tags, uploadConcurrency, mountFrom, tempRoot: _root, onEvent: _onEvent, ...packOptions } = options;
    const packed = await packArtifact(inputs, { ...packOptions, tempDir });
    const blobs = [
      { descriptor: packed.config.descriptor, open: () => Promise.resolve(packed.config.bytes) },
      ...packed.layers.map((l) => ({
        descriptor: l.descriptor,
        file: l.file,
        open: () => Promise.resolve(createReadStream(l.file, { highWaterMark: 1024 * 1024 })),
      })),
    ];
    emit({
      type: 'packed',
      layers: packed.layers.length,
      bytes: packed.layers.reduce((n, l) => n + l.descriptor.size, 0),
    });
    const limit = pLimit(uploadConcurrency ?? DefaultCopyConcurrency);
    let skipped = 0;
    // The first failed upload aborts the others, and the push waits for them to stop before its temporary layer
    // files are removed.
    const stop = new AbortController();
    const transfer: TransferContext = {
      dst: target,
      signal: signal ? AbortSignal.any([signal, stop.signal]) : stop.signal,
      mountFrom: mountFrom ?? [],
      emit: (event) => {
        if (event.type === 'skipped') skipped++;
        emit(event);
      },
    };
    let failure: { error: unknown } | undefined;
    await Promise.allSettled(
      blobs.map(({ descriptor, ...source }) =>
        limit(() => transferBlob(transfer, descriptor, source)).catch((error: unknown) => {
          failure ??= { error };
          stop.abort(error);
        }),
      ),
    );
    if (failure) throw signal?.aborted ? signal.reason : failure.error;
    const tags = [...new Set([...referenceTags, ...(options.tags ?? [])])];
    const { descriptor, bytes } = packed.manifest;
    if (canPushManifest(target)) await target.pushManifest(descriptor, bytes, [], call);
    else await target.push(descriptor, bytes, call);
    await putTags(target, packed.manifest, tags, DefaultTagConcurrency, call);
    for (const tag of tags) emit({ type: 'tagged', tag });
    return {
      descriptor,
      manifest: bytes,
      toc: packed.toc,
      layers: packed.layers.map((l) => l.descriptor),
      tags,
      skipped,
    };
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}
