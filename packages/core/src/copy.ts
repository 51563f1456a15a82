/**
 * Copy of a content graph between targets: push (memory or folder → registry) and pull (registry → memory or folder)
 * are both this. The model is oras-go's `Copy`/`CopyGraph`/`ExtendedCopy`.
 *
 * A node is copied only after all of its children, so a destination never holds a manifest whose content is
 * missing; content already in the destination is skipped, and so is everything below a manifest that is already
 * there. Blobs are mounted from other repositories of the destination's registry when the destination can mount
 * (a remote repository) and the source is another repository of that registry, or `mountFrom` names candidates.
 */
import pLimit, { type LimitFunction } from 'p-limit';

import type { ByteStream, CallOptions, GraphTarget, Mounter, Target } from './content.js';
import { parseManifest, successors, type Descriptor } from './descriptor.js';
import { fetchAll, isDigest, readAll, verifyContent } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';
import type { VerificationGate } from './trust.js';
import { DefaultManifestSizeLimit, ManifestMediaTypes } from './media-types.js';

/**
 * Default number of transfers in flight: 3, the value oras-go uses as "consistent with dockerd and containerd"
 * (dockerd's default `max-concurrent-downloads`). Registries rate-limit aggressive clients, and a few parallel
 * streams already fill most links.
 */
export const DefaultCopyConcurrency = 3;

/** What {@link CopyGraphOptions.onEvent} reports, once per descriptor and step. */
export type CopyEvent =
  /** The descriptor is about to be transferred. */
  | { type: 'copying'; descriptor: Descriptor }
  /** The descriptor was pushed to the destination. */
  | { type: 'copied'; descriptor: Descriptor }
  /** The destination already had it (for a manifest: nothing below it was looked at either). */
  | { type: 'skipped'; descriptor: Descriptor }
  /** The blob was mounted from another repository of the destination's registry; no bytes moved. */
  | { type: 'mounted'; descriptor: Descriptor; from: string };

/** Options of {@link copyGraph} and {@link copy}. */
export interface CopyGraphOptions extends CallOptions {
  /**
   * Most existence checks, transfers and referrer listings in flight at once (a positive integer).
   * Default {@link DefaultCopyConcurrency} (3).
   */
  concurrency?: number;
  /**
   * Also copy the referrers of the root (signatures, SBOMs…), and the referrers of those, recursively. `src` must
   * then be a {@link GraphTarget}; otherwise the call fails with `ERR_LADING_USAGE`. Default `false`.
   */
  referrers?: boolean;
  /** Largest manifest read into memory, in bytes. Default `DefaultManifestSizeLimit` (4 MiB). */
  maxManifestSize?: number;
  /**
   * Repositories of the destination's registry to mount blobs from before downloading them, tried in order, when
   * the destination can mount. Default: the source's repository when source and destination are repositories of
   * the same registry (as oras-go does), else none.
   */
  mountFrom?: readonly string[];
  /**
   * Called synchronously for each step of each descriptor (see {@link CopyEvent}); the library never prints.
   * An exception thrown here fails the copy.
   */
  onEvent?: (event: CopyEvent) => void;
}

/** Options of {@link copy}: those of {@link CopyGraphOptions}, and a verification gate for the source. */
export interface CopyOptions extends CopyGraphOptions {
  /**
   * Verify the source before anything is copied: the root manifest is fetched (digest-checked, size-capped) and
   * the gate asked about it (its referrers are read from `src`, which must then be a {@link GraphTarget}); a refusal
   * rejects before anything is pushed to `dst`. Default: none.
   */
  gate?: VerificationGate;
  /** The source reference as the user gave it (`ghcr.io/acme/app:v1`): what the gate matches and names. Required with `gate`. */
  display?: string;
}

/**
 * Copies the manifest `srcRef` (a tag or digest) names in `src`, and everything it points at, to `dst`, then tags it
 * `dstRef` there. Returns the root descriptor as `src` resolved it.
 *
 * `dstRef` is a tag; when it is empty or a digest, nothing is tagged (a digest must then be the root's, else
 * `ERR_LADING_USAGE`). The tag is set last, after the whole graph (and, with `referrers`, the referrers) is in `dst`.
 * See {@link copyGraph} for the copy itself and {@link CopyGraphOptions} for the options and their defaults.
 */
export async function copy(
  src: Target,
  srcRef: string,
  dst: Target,
  dstRef: string,
  options: CopyOptions = {},
): Promise<Descriptor> {
  checkOptions(src, options);
  const signalOption = options.signal === undefined ? {} : { signal: options.signal };
  const root = await src.resolve(srcRef, signalOption);
  if (isDigest(dstRef) && dstRef !== root.digest) {
    throw new LadingError(
      ErrorCodes.usage,
      `copy ${srcRef}: destination digest ${dstRef} is not the digest of the source (${root.digest})`,
    );
  }
  if (options.gate) await verifySource(src, root, options.gate, options);
  const { gate: _gate, display: _display, ...graphOptions } = options;
  await copyGraph(src, dst, root, graphOptions);
  if (dstRef !== '' && !isDigest(dstRef)) await dst.tag(root, dstRef, signalOption);
  return root;
}

/**
 * Copies the graph rooted at `root` from `src` to `dst`, children before parents, and returns when all of it is in
 * `dst`.
 *
 * - Manifests and indexes (the media types in `ManifestMediaTypes`) are fetched, verified against their descriptor
 *   (size and digest) before they are parsed, and walked: a manifest's config and layers, an index's manifests,
 *   recursively. Everything else is an opaque blob streamed from `src.fetch` to `dst.push`, which verifies it.
 * - A descriptor `dst.exists()` reports present is skipped with everything below it.
 * - A digest that appears several times in the graph is copied once, even while the first copy is in flight.
 * - At most `concurrency` operations run at once (default 3).
 * - On the first failure, or when `signal` aborts, the work in flight is aborted and the call rejects once it has
 *   stopped, with that error (or the signal's reason): nothing is pushed after the promise settles.
 */
export async function copyGraph(
  src: Target,
  dst: Target,
  root: Descriptor,
  options: CopyGraphOptions = {},
): Promise<void> {
  checkOptions(src, options);
  const controller = new AbortController();
  const signals = options.signal === undefined ? [controller.signal] : [options.signal, controller.signal];
  const context: CopyContext = {
    src,
    dst,
    limit: pLimit(options.concurrency ?? DefaultCopyConcurrency),
    signal: AbortSignal.any(signals),
    started: new Map(),
    maxManifestSize: options.maxManifestSize ?? DefaultManifestSizeLimit,
    emit: options.onEvent ?? (() => undefined),
    mountFrom: options.mountFrom ?? sameRegistrySource(src, dst),
  };
  try {
    await copyNode(context, root);
    if (options.referrers === true) await copyReferrers(context, src as GraphTarget, root);
  } catch (error) {
    controller.abort(error);
    await settled(context);
    throw error;
  }
}

/** The gate of {@link CopyOptions.gate}: asked about the source's root manifest before anything is copied. */
async function verifySource(
  src: Target,
  root: Descriptor,
  gate: VerificationGate,
  options: CopyOptions,
): Promise<void> {
  const { display } = options;
  if (display === undefined || typeof (src as Partial<GraphTarget>).referrers !== 'function') {
    throw new LadingError(
      ErrorCodes.usage,
      'copy options.gate: give options.display (the source reference) and a source that lists referrers',
    );
  }
  const call = options.signal === undefined ? {} : { signal: options.signal };
  const manifest = await fetchAll(src, root, `copy ${display}`, call, options.maxManifestSize);
  await gate.verify({ target: src as GraphTarget, reference: display, descriptor: root, manifest }, call);
}

/** Everything one copyGraph call shares. */
interface CopyContext {
  src: Target;
  dst: Target;
  limit: LimitFunction;
  /** Aborted by the caller's signal or by the first failure. */
  signal: AbortSignal;
  /** The copy of each digest, started once and awaited by every parent that needs it. */
  started: Map<string, Promise<void>>;
  maxManifestSize: number;
  emit: (event: CopyEvent) => void;
  mountFrom: readonly string[];
}

interface RepositoryLike {
  registry: string;
  repository: string;
}

function isRepositoryLike(t: unknown): t is RepositoryLike {
  const r = t as Partial<RepositoryLike>;
  return typeof r.registry === 'string' && typeof r.repository === 'string';
}

function isMounter(t: unknown): t is Mounter {
  return typeof (t as Partial<Mounter>).mount === 'function';
}

/** The source repository, when source and destination are different repositories of one registry. */
function sameRegistrySource(src: Target, dst: Target): string[] {
  if (!isRepositoryLike(src) || !isRepositoryLike(dst) || !isMounter(dst)) return [];
  return src.registry === dst.registry && src.repository !== dst.repository ? [src.repository] : [];
}

function checkOptions(src: Target, options: CopyGraphOptions): void {
  const { concurrency, maxManifestSize } = options;
  if (concurrency !== undefined && !(Number.isSafeInteger(concurrency) && concurrency >= 1)) {
    throw new LadingError(ErrorCodes.usage, `copy options.concurrency: must be a positive integer, got ${concurrency}`);
  }
  if (maxManifestSize !== undefined && !(Number.isSafeInteger(maxManifestSize) && maxManifestSize >= 0)) {
    throw new LadingError(
      ErrorCodes.usage,
      `copy options.maxManifestSize: must be a non-negative integer, got ${maxManifestSize}`,
    );
  }
  if (options.referrers === true && typeof (src as Partial<GraphTarget>).referrers !== 'function') {
    throw new LadingError(ErrorCodes.usage, 'copy options.referrers: the source target cannot list referrers');
  }
}

// Waits until every copy started so far has stopped; a failing parent may still start children while we wait.
async function settled(context: CopyContext): Promise<void> {
  let count: number;
  do {
    count = context.started.size;
    await Promise.allSettled(context.started.values());
  } while (context.started.size !== count);
}

function copyNode(context: CopyContext, desc: Descriptor): Promise<void> {
  let started = context.started.get(desc.digest);
  if (started === undefined) {
    started = ManifestMediaTypes.includes(desc.mediaType) ? copyManifest(context, desc) : copyBlob(context, desc);
    context.started.set(desc.digest, started);
  }
  return started;
}

function copyBlob(context: CopyContext, desc: Descriptor): Promise<void> {
  const { src, dst, signal } = context;
  return context.limit(async () => {
    signal.throwIfAborted();
    if (await dst.exists(desc, { signal })) {
      context.emit({ type: 'skipped', descriptor: desc });
      return;
    }
    if (isMounter(dst)) {
      for (const from of context.mountFrom) {
        if (await dst.mount(desc, from, { signal })) {
          context.emit({ type: 'mounted', descriptor: desc, from });
          return;
        }
      }
    }
    context.emit({ type: 'copying', descriptor: desc });
    const content = await src.fetch(desc, { signal });
    try {
      await dst.push(desc, content, { signal });
    } catch (error) {
      await discard(content);
      throw error;
    }
    context.emit({ type: 'copied', descriptor: desc });
  });
}

async function copyManifest(context: CopyContext, desc: Descriptor): Promise<void> {
  const { dst, signal } = context;
  const bytes = await context.limit(async () => {
    signal.throwIfAborted();
    if (await dst.exists(desc, { signal })) return undefined;
    context.emit({ type: 'copying', descriptor: desc });
    return fetchManifest(context, desc);
  });
  if (bytes === undefined) {
    context.emit({ type: 'skipped', descriptor: desc });
    return;
  }
  const children = successors(parseManifest(bytes, desc.mediaType, `copy ${desc.digest}`));
  await Promise.all(children.map((child) => copyNode(context, child)));
  await context.limit(async () => {
    signal.throwIfAborted();
    await dst.push(desc, bytes, { signal });
  });
  context.emit({ type: 'copied', descriptor: desc });
}

/** Reads a manifest from the source and checks it against its descriptor before anything parses it. */
async function fetchManifest(context: CopyContext, desc: Descriptor): Promise<Uint8Array> {
  const where = `copy ${desc.digest}`;
  if (desc.size > context.maxManifestSize) {
    throw new LadingError(
      ErrorCodes.protocol,
      `${where}: manifest of ${desc.size} bytes is larger than the ${context.maxManifestSize}-byte limit`,
    );
  }
  // The source verifies too, but a Target is an interface: this check does not depend on its implementation.
  const content = await context.src.fetch(desc, { signal: context.signal });
  return readAll(verifyContent(desc, content, where), desc.size, where);
}

/** Copies the referrers of `root`, then theirs, breadth first, each digest once. */
async function copyReferrers(context: CopyContext, src: GraphTarget, root: Descriptor): Promise<void> {
  const listed = new Set([root.digest]);
  let subjects = [root];
  while (subjects.length > 0) {
    const lists = await Promise.all(
      subjects.map((subject) => context.limit(() => src.referrers(subject, { signal: context.signal }))),
    );
    const fresh = lists.flat().filter((d) => !listed.has(d.digest) && listed.add(d.digest));
    await Promise.all(fresh.map((referrer) => copyNode(context, referrer)));
    subjects = fresh;
  }
}

/** Best effort: lets the source release a stream nobody will read (an HTTP body, a file). */
async function discard(content: ByteStream): Promise<void> {
  try {
    await content[Symbol.asyncIterator]().return?.();
  } catch {
    // The push failure is what the caller needs to see.
  }
}
