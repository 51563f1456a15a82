/**
 * An OCI image layout folder as a {@link GraphTarget}: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.
 * https://github.com/opencontainers/image-spec/blob/main/image-layout.md
 *
 * Layout of the files lading writes, and why:
 * - Blobs are streamed to a temporary file beside their final name (same directory, so same file system) and renamed
 *   into place only after size and digest were verified: a blob name never holds partial or wrong content, and
 *   memory stays bounded whatever the size. Blobs are made read-only, as oras does.
 * - `index.json` is replaced atomically (temporary file + rename), and every read-modify-write of it is serialised
 *   within the process, across all `OCILayout` objects open on the same folder.
 * - Tags are `org.opencontainers.image.ref.name` annotations on `index.json` entries; tagging replaces the entry that
 *   held the name before.
 * - Every manifest pushed is also listed in `index.json`, untagged when no tag names it (oras-go does the same).
 *   Referrers are then found by walking the manifests reachable from `index.json` (through nested indexes) and
 *   reading their `subject`, so `oras discover --oci-layout` and lading see the same referrers, and a layout written
 *   by oras (`oras attach --oci-layout`) is read the same way. A manifest that is only in `blobs/` and reachable
 *   from no entry is not found by `referrers` (scanning every blob would read the whole layout).
 * - A manifest that loses its last tag stays listed, untagged, so it can still be resolved by digest and its
 *   referrers found.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import type { ByteStream, CallOptions, Deleter, GraphTarget, ReferrersOptions } from './content.js';
import { parseManifest, type Descriptor, type ImageIndex } from './descriptor.js';
import { isDigest, parseDigest, readAll, verifyContent } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';
import {
  checkCallerDescriptor,
  isManifestMediaType,
  isTag,
  manifestFacts,
  referrerDescriptor,
  toByteStream,
  type ManifestFacts,
} from './memory-store.js';
import {
  AnnotationRefName,
  DefaultManifestSizeLimit,
  IndexMediaTypes,
  MediaTypeImageIndex,
  MediaTypeImageManifest,
  OCILayoutVersion,
} from './media-types.js';

/** Options of {@link OCILayout.open}. */
export interface OCILayoutOptions extends CallOptions {
  /**
   * Create the folder, the `oci-layout` file and an empty `index.json` when they are missing. Default `true`.
   * With `false`, a folder that is not a layout is refused with `ERR_LADING_NOT_FOUND`.
   */
  create?: boolean;
}

/** `index.json` as read: an image index, plus whatever other fields another tool wrote (kept on rewrite). */
type IndexDocument = ImageIndex & Record<string, unknown>;

// Every read-modify-write of one layout's index.json, by any OCILayout object in this process, runs in this queue.
const indexQueues = new Map<string, Promise<void>>();

function serialised<T>(key: string, task: () => Promise<T>): Promise<T> {
  const result = (indexQueues.get(key) ?? Promise.resolve()).then(task);
  const tail = result.then(
    () => undefined,
    () => undefined,
  );
  indexQueues.set(key, tail);
  void tail.then(() => {
    if (indexQueues.get(key) === tail) indexQueues.delete(key);
  });
  return result;
}

// The ref.name grammar of the image-layout spec; Docker-style tags (which may contain `_`) are accepted as well.
const refComponent = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const refNamePattern = new RegExp(`^${refComponent}(?:/${refComponent})*$`);

function checkRefName(reference: string, where: string): void {
  if (isDigest(reference) || !(isTag(reference) || refNamePattern.test(reference))) {
    throw new LadingError(
      ErrorCodes.usage,
      `${where}: invalid tag ${JSON.stringify(reference)} (use a tag, or a ref.name as the image-layout spec defines it)`,
    );
  }
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function isMissing(error: unknown): boolean {
  const code = errnoCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function refName(desc: Descriptor): string | undefined {
  return desc.annotations?.[AnnotationRefName];
}

function withoutRefName(desc: Descriptor): Descriptor {
  const { annotations, ...rest } = structuredClone(desc);
  if (annotations === undefined) return rest;
  const { [AnnotationRefName]: _name, ...others } = annotations;
  return Object.keys(others).length > 0 ? { ...rest, annotations: others } : rest;
}

/** The fields of a caller's descriptor that belong in an index.json entry. */
function indexEntry(desc: Descriptor): Descriptor {
  return structuredClone({
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: desc.size,
    ...(desc.artifactType !== undefined && { artifactType: desc.artifactType }),
    ...(desc.platform !== undefined && { platform: desc.platform }),
    ...(desc.annotations !== undefined && { annotations: desc.annotations }),
  });
}

function withRefName(desc: Descriptor, name: string): Descriptor {
  return { ...structuredClone(desc), annotations: { ...desc.annotations, [AnnotationRefName]: name } };
}

async function unlinkQuietly(file: string): Promise<void> {
  await unlink(file).catch(() => undefined);
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/**
 * Streams a blob file. The file is opened on the first read, so a caller that never reads holds no descriptor; an
 * abort rejects with the signal's reason, as every lading call does, rather than Node's generic AbortError.
 */
async function* readBlob(file: string, signal?: AbortSignal): AsyncGenerator<Uint8Array, void, undefined> {
  try {
    for await (const chunk of createReadStream(file, signal === undefined ? {} : { signal })) {
      yield chunk as Uint8Array;
    }
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  }
}

/**
 * Writes `data` to `file` atomically: a temporary file in the same folder, flushed to disk, then renamed over it.
 * Readers see the old or the new content, never a mix.
 */
async function writeFileAtomic(file: string, data: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    await writeFile(temp, data, { flag: 'wx', flush: true });
    await rename(temp, file);
  } finally {
    await unlinkQuietly(temp);
  }
}

/**
 * A {@link GraphTarget} over an OCI image layout folder; open one with {@link OCILayout.open}. See the module notes
 * for how files are written and how referrers are found.
 *
 * - `push` streams to a temporary file and renames it into place after size and digest were verified; on mismatch
 *   nothing is left behind (`ERR_LADING_INTEGRITY`). Manifests (at most 4 MiB) are parsed first, refused with
 *   `ERR_LADING_PROTOCOL` when malformed, and listed in `index.json`. A blob already present is not rewritten and
 *   `content` is not read.
 * - `fetch` streams the blob file, verified against the descriptor as it is read.
 * - `resolve` takes a `ref.name` (tag) or a digest; by digest it also finds manifests that `index.json` does not
 *   list (children of an index, say) by reading the blob.
 * - `tag` points a `ref.name` at a manifest in the layout, replacing the entry that held the name.
 * - `delete` removes the blob and every `index.json` entry for its digest.
 * - Digests are validated (sha256 and sha512 only) before they become paths, so no name can escape `blobs/`.
 */
export class OCILayout implements GraphTarget, Deleter {
  /** Absolute path of the layout folder. */
  readonly root: string;
  readonly #queueKey: string;
  /** What each manifest read so far says; content-addressed, so it never goes stale. */
  readonly #facts = new Map<string, ManifestFacts>();

  private constructor(root: string, queueKey: string) {
    this.root = root;
    this.#queueKey = queueKey;
  }

  /**
   * Opens the layout in `root`, creating it unless `create` is `false` (see {@link OCILayoutOptions}).
   * Refuses an `oci-layout` file of another major version, and an `index.json` that is not an image index, with
   * `ERR_LADING_PROTOCOL`.
   */
  static async open(root: string, options: OCILayoutOptions = {}): Promise<OCILayout> {
    const create = options.create ?? true;
    const absolute = path.resolve(root);
    options.signal?.throwIfAborted();
    if (create) await mkdir(absolute, { recursive: true });
    let key: string;
    try {
      key = await realpath(absolute);
    } catch (cause) {
      throw new LadingError(ErrorCodes.notFound, `open ${absolute}: no such folder`, { cause });
    }
    const layout = new OCILayout(absolute, key);
    await serialised(key, () => layout.#initialise(create));
    return layout;
  }

  async #initialise(create: boolean): Promise<void> {
    const marker = path.join(this.root, 'oci-layout');
    const text = await readFile(marker, 'utf8').catch((error: unknown) => {
      this.#allowMissing(error, create);
      return undefined;
    });
    if (text === undefined) {
      await writeFileAtomic(marker, JSON.stringify({ imageLayoutVersion: OCILayoutVersion }));
    } else {
      this.#checkMarker(text);
    }
    const index = await this.#readIndex().catch((error: unknown) => {
      this.#allowMissing(error, create);
      return undefined;
    });
    if (index === undefined) {
      await this.#writeIndex({ schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests: [] });
    }
  }

  /** Returns (so the caller creates the file) when `error` says it is missing and creating is allowed; else throws. */
  #allowMissing(error: unknown, create: boolean): void {
    if (!isMissing(error)) throw error;
    if (create) return;
    throw new LadingError(
      ErrorCodes.notFound,
      `open ${this.root}: not an OCI image layout (no oci-layout or index.json file)`,
      { cause: error },
    );
  }

  #checkMarker(text: string): void {
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (cause) {
      throw new LadingError(ErrorCodes.protocol, `open ${this.root}: oci-layout is not JSON`, { cause });
    }
    // Minor versions of a layout stay readable by design; only a new major version may change the structure.
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw new LadingError(
        ErrorCodes.protocol,
        `open ${this.root}: unsupported imageLayoutVersion ${JSON.stringify(version)} (expected 1.x)`,
      );
    }
  }

  /** Stores `content` after verifying it against `desc`; see the class notes. */
  async push(desc: Descriptor, content: ByteStream | Uint8Array, options: CallOptions = {}): Promise<void> {
    const where = `push ${this.root}@${desc.digest}`;
    checkCallerDescriptor(desc, where);
    const file = this.#blobPath(desc.digest);
    options.signal?.throwIfAborted();
    if (await isFile(file)) return;
    if (!isManifestMediaType(desc.mediaType)) {
      await this.#writeBlob(file, verifyContent(desc, toByteStream(content), where), options.signal);
      return;
    }
    if (desc.size > DefaultManifestSizeLimit) {
      throw new LadingError(
        ErrorCodes.protocol,
        `${where}: manifest larger than the ${DefaultManifestSizeLimit}-byte limit`,
      );
    }
    const bytes = await readAll(verifyContent(desc, toByteStream(content), where), DefaultManifestSizeLimit, where);
    const facts = manifestFacts(bytes, desc.mediaType, where);
    await this.#writeBlob(file, [bytes], options.signal);
    this.#facts.set(desc.digest, facts);
    await this.#listManifest(desc, facts);
  }

  /** Streams the blob `desc` names, verified as it is read; `ERR_LADING_NOT_FOUND` when absent. */
  async fetch(desc: Descriptor, options: CallOptions = {}): Promise<ByteStream> {
    const where = `fetch ${this.root}@${desc.digest}`;
    checkCallerDescriptor(desc, where);
    const file = this.#blobPath(desc.digest);
    options.signal?.throwIfAborted();
    if (!(await isFile(file))) throw new LadingError(ErrorCodes.notFound, `${where}: blob not in the layout`);
    return verifyContent(desc, readBlob(file, options.signal), where);
  }

  /** True when the blob `desc` names is in the layout. */
  async exists(desc: Descriptor, options: CallOptions = {}): Promise<boolean> {
    checkCallerDescriptor(desc, `exists ${this.root}@${desc.digest}`);
    options.signal?.throwIfAborted();
    return isFile(this.#blobPath(desc.digest));
  }

  /**
   * The descriptor of the manifest a `ref.name` (tag) or digest names, as `index.json` lists it (annotations kept,
   * `ref.name` removed). When several entries carry the same `ref.name` (written by another tool), the last one wins.
   * `ERR_LADING_NOT_FOUND` when nothing matches.
   */
  async resolve(reference: string, options: CallOptions = {}): Promise<Descriptor> {
    options.signal?.throwIfAborted();
    const { manifests } = await this.#readIndex();
    if (isDigest(reference)) {
      const listed = manifests.find((m) => m.digest === reference);
      return listed === undefined ? this.#resolveBlob(reference) : withoutRefName(listed);
    }
    const tagged = manifests.findLast((m) => refName(m) === reference);
    if (tagged === undefined)
      throw new LadingError(ErrorCodes.notFound, `resolve ${this.root}:${reference}: no such tag`);
    return withoutRefName(tagged);
  }

  // A manifest that index.json does not list (a child of an index, say) is identified by reading the blob itself.
  async #resolveBlob(digest: string): Promise<Descriptor> {
    const where = `resolve ${this.root}@${digest}`;
    const file = this.#blobPath(digest);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (cause) {
      if (isMissing(cause)) throw new LadingError(ErrorCodes.notFound, `${where}: not in the layout`, { cause });
      throw cause;
    }
    if (size > DefaultManifestSizeLimit) {
      throw new LadingError(ErrorCodes.notFound, `${where}: the blob is too large to be a manifest`);
    }
    const bytes = await readAll(verifyContent({ digest, size }, createReadStream(file), where), size, where);
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(bytes, '', where);
    } catch (cause) {
      throw new LadingError(ErrorCodes.notFound, `${where}: the blob is not a manifest`, { cause });
    }
    const doc = parsed.kind === 'index' ? parsed.index : parsed.manifest;
    const fallback = parsed.kind === 'index' ? MediaTypeImageIndex : MediaTypeImageManifest;
    return { mediaType: doc.mediaType ?? fallback, digest, size };
  }

  /** Points the `ref.name` `reference` at the manifest `desc`, which must be in the layout; see the class notes. */
  async tag(desc: Descriptor, reference: string, options: CallOptions = {}): Promise<void> {
    const where = `tag ${this.root}:${reference}`;
    checkRefName(reference, where);
    checkCallerDescriptor(desc, where);
    options.signal?.throwIfAborted();
    if (!(await isFile(this.#blobPath(desc.digest)))) {
      throw new LadingError(ErrorCodes.notFound, `${where}: manifest ${desc.digest} is not in the layout`);
    }
    await this.#updateIndex((manifests) => retag(manifests, desc, reference));
  }

  /**
   * Manifests reachable from `index.json` whose `subject` is `subject.digest`, optionally of one artifact type,
   * each described as the referrers API does (see the module notes). Listed entries whose blob is missing are
   * skipped; a listed manifest that does not parse fails the call with `ERR_LADING_PROTOCOL`.
   */
  async referrers(subject: Descriptor, options: ReferrersOptions = {}): Promise<Descriptor[]> {
    options.signal?.throwIfAborted();
    const found: Descriptor[] = [];
    for await (const [desc, facts] of this.#reachableManifests(options.signal)) {
      if (facts.subject !== subject.digest) continue;
      if (options.artifactType !== undefined && facts.referrerType !== options.artifactType) continue;
      found.push(referrerDescriptor(desc, facts));
    }
    return found;
  }

  /** Deletes the blob `desc` names and the `index.json` entries for it; `ERR_LADING_NOT_FOUND` when absent. */
  async delete(desc: Descriptor, options: CallOptions = {}): Promise<void> {
    const where = `delete ${this.root}@${desc.digest}`;
    checkCallerDescriptor(desc, where);
    const file = this.#blobPath(desc.digest);
    options.signal?.throwIfAborted();
    await this.#updateIndex(async (manifests) => {
      try {
        await unlink(file);
      } catch (cause) {
        if (isMissing(cause)) throw new LadingError(ErrorCodes.notFound, `${where}: not in the layout`, { cause });
        throw cause;
      }
      this.#facts.delete(desc.digest);
      return manifests.filter((m) => m.digest !== desc.digest);
    });
  }

  /** The `ref.name`s (tags) `index.json` lists, sorted, each once. */
  async tags(options: CallOptions = {}): Promise<string[]> {
    options.signal?.throwIfAborted();
    const { manifests } = await this.#readIndex();
    return [...new Set(manifests.map(refName).filter((n) => n !== undefined))].sort();
  }

  #blobPath(digest: string): string {
    // parseDigest admits only known algorithms and lower-case hex: the path cannot leave blobs/.
    const { algorithm, encoded } = parseDigest(digest);
    return path.join(this.root, 'blobs', algorithm, encoded);
  }

  async #writeBlob(
    file: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<void> {
    const folder = path.dirname(file);
    await mkdir(folder, { recursive: true });
    // Same folder as the final name, so the rename stays on one file system and is atomic.
    const temp = path.join(folder, `.${path.basename(file).slice(0, 16)}.${randomUUID()}.tmp`);
    try {
      // Opened before the pipeline starts: a stream that opens lazily could create the file after a failed
      // pipeline's clean-up below had run, leaving the temporary file behind.
      const handle = await open(temp, 'wx', 0o444);
      const sink = handle.createWriteStream({ flush: true });
      await pipeline(source, sink, signal === undefined ? {} : { signal });
      await rename(temp, file);
    } catch (error) {
      // pipeline reports an abort as its own AbortError; callers expect the signal's reason.
      signal?.throwIfAborted();
      throw error;
    } finally {
      await unlinkQuietly(temp);
    }
  }

  async #readIndex(): Promise<IndexDocument> {
    const where = `read ${path.join(this.root, 'index.json')}`;
    const bytes = await readFile(path.join(this.root, 'index.json'));
    const parsed = parseManifest(bytes, MediaTypeImageIndex, where);
    if (parsed.kind !== 'index') throw new LadingError(ErrorCodes.protocol, `${where}: not an image index`);
    return parsed.index as IndexDocument;
  }

  async #writeIndex(index: IndexDocument | ImageIndex): Promise<void> {
    await writeFileAtomic(path.join(this.root, 'index.json'), JSON.stringify(index));
  }

  /** Read-modify-write of index.json, serialised per layout folder; writes only when the entries changed. */
  #updateIndex(change: (manifests: Descriptor[]) => Descriptor[] | Promise<Descriptor[]>): Promise<void> {
    return serialised(this.#queueKey, async () => {
      const index = await this.#readIndex();
      const manifests = await change(index.manifests);
      if (JSON.stringify(manifests) === JSON.stringify(index.manifests)) return;
      await this.#writeIndex({ ...index, manifests });
    });
  }

  /** Lists a pushed manifest in index.json, untagged, unless an entry for its digest is already there. */
  async #listManifest(desc: Descriptor, facts: ManifestFacts): Promise<void> {
    const entry: Descriptor = {
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      ...(facts.artifactType !== undefined && { artifactType: facts.artifactType }),
      ...(facts.annotations !== undefined && { annotations: { ...facts.annotations } }),
    };
    await this.#updateIndex((manifests) =>
      manifests.some((m) => m.digest === desc.digest) ? manifests : [...manifests, entry],
    );
  }

  /** Walks index.json entries and, through nested indexes, their children: each manifest once, with its facts. */
  async *#reachableManifests(signal?: AbortSignal): AsyncGenerator<[Descriptor, ManifestFacts]> {
    const queue = [...(await this.#readIndex()).manifests];
    const seen = new Set<string>();
    for (let desc = queue.shift(); desc !== undefined; desc = queue.shift()) {
      signal?.throwIfAborted();
      if (seen.has(desc.digest) || !isManifestMediaType(desc.mediaType)) continue;
      seen.add(desc.digest);
      const facts = await this.#manifestFacts(desc);
      if (facts === undefined) continue;
      yield [desc, facts];
      if (IndexMediaTypes.includes(desc.mediaType)) queue.push(...facts.children);
    }
  }

  /** Facts of a manifest in the layout (cached), or undefined when its blob is missing. */
  async #manifestFacts(desc: Descriptor): Promise<ManifestFacts | undefined> {
    const file = this.#blobPath(desc.digest);
    // Checked even when cached: another process (or OCILayout object) may have deleted it since.
    if (!(await isFile(file))) return undefined;
    const cached = this.#facts.get(desc.digest);
    if (cached !== undefined) return cached;
    const where = `read ${this.root}@${desc.digest}`;
    if (desc.size > DefaultManifestSizeLimit) {
      throw new LadingError(
        ErrorCodes.protocol,
        `${where}: manifest larger than the ${DefaultManifestSizeLimit}-byte limit`,
      );
    }
    const bytes = await readAll(verifyContent(desc, createReadStream(file), where), desc.size, where);
    const facts = manifestFacts(bytes, desc.mediaType, where);
    this.#facts.set(desc.digest, facts);
    return facts;
  }
}

/**
 * The index.json entries after pointing `name` at `desc`: entries that held the name lose it, an untagged entry for
 * the digest becomes the tagged one (keeping its annotations), and a manifest that lost its last entry stays listed
 * untagged.
 */
function retag(manifests: Descriptor[], desc: Descriptor, name: string): Descriptor[] {
  const untagged = manifests.find((m) => m.digest === desc.digest && refName(m) === undefined);
  const base = untagged ?? manifests.find((m) => m.digest === desc.digest) ?? indexEntry(desc);
  const kept = manifests.filter((m) => refName(m) !== name && m !== untagged);
  for (const old of manifests) {
    if (refName(old) === name && old.digest !== desc.digest && !kept.some((m) => m.digest === old.digest)) {
      kept.push(withoutRefName(old));
    }
  }
  return [...kept, withRefName(withoutRefName(base), name)];
}
