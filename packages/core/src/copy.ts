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

import { indexEntries, MaxRecursiveManifests, parsePlatform, resolvePlatformManifest } from './artifact/platform.js';
import type { CallOptions, GraphTarget, Target } from './content.js';
import { parseManifest, successors, type Descriptor, type Platform } from './descriptor.js';
import { fetchAll, isDigest, readAll } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';
import { DefaultManifestSizeLimit, IndexMediaTypes, ManifestMediaTypes } from './media-types.js';
import { isMounter, transferBlob, type TransferContext, type TransferEvent } from './transfer.js';
import type { VerificationGate, VerifiedSignature } from './trust.js';

/**
 * Default number of transfers in flight: 3, the value oras-go uses as "consistent with dockerd and containerd"
 * (dockerd's default `max-concurrent-downloads`). Registries rate-limit aggressive clients, and a few parallel
 * streams already fill most links.
 */
export const DefaultCopyConcurrency = 3;

/**
 * What {@link CopyGraphOptions.onEvent} reports, once per descriptor and step (and `progress` as a blob's bytes
 * move): the transfer vocabulary push uses too, and what only a copy has to say.
 */
export type CopyEvent =
  | TransferEvent
  /**
   * With `referrers`: a referrer of `subject` was listed in the source and will be copied (or skipped) next. For a
   * legacy cosign signature, attestation or SBOM (not a referrer: a manifest tagged `sha256-<hex>.sig`, `.att` or
   * `.sbom`), `tag` is that tag, set in the destination too.
   */
  | { type: 'referrer'; descriptor: Descriptor; subject: Descriptor; tag?: string }
  /** With {@link CopyOptions.platform}: the platform manifest chosen from `index`, the root of the copy. */
  | { type: 'platform'; descriptor: Descriptor; index: Descriptor; platform?: Platform }
  /**
   * With {@link CopyOptions.gate}: the gate let the source through, before anything was written; `verified` and
   * `warnings` are what it vouched for and said (the gate's `GateResult`).
   */
  | { type: 'verified'; descriptor: Descriptor; verified: VerifiedSignature[]; warnings: string[] };

/** Options of {@link copyGraph} and {@link copy}. */
export interface CopyGraphOptions extends CallOptions {
  /**
   * Most existence checks, transfers and referrer listings in flight at once (a positive integer).
   * Default {@link DefaultCopyConcurrency} (3).
   */
  concurrency?: number;
  /**
   * Also copy the referrers of the root (signatures, SBOMs…), and the referrers of those, recursively, and cosign's
   * legacy signatures, attestations and SBOMs of the root (the manifests tagged `sha256-<hex>.sig`, `.att`, `.sbom`),
   * tagged the same in `dst`. When the root is an image index, the same for every manifest and nested index it
   * lists (what `cosign sign --recursive` signs; at most {@link MaxReferrerSubjectsPerIndex}, more is
   * `ERR_LADING_USAGE` before anything is copied). `src` must then be a {@link GraphTarget}; otherwise the call
   * fails with `ERR_LADING_USAGE`. Default `false`.
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

/** Options of {@link copy}: those of {@link CopyGraphOptions}, and what only a copy by reference can do. */
export interface CopyOptions extends CopyGraphOptions {
  /**
   * Asked about the source root (and, with `platform`, the chosen platform manifest) after it is resolved and
   * digest-checked and before anything is written to `dst`; a rejection (say `ERR_LADING_VERIFICATION`) stops the
   * copy with nothing copied. `src` must then be a {@link GraphTarget}. Default: none (nothing is checked but
   * digests).
   */
  gate?: VerificationGate;
  /**
   * When `srcRef` names an image index: copy only the manifest for this platform, `os/arch[/variant]`, chosen as
   * `resolvePlatformManifest` chooses (as `oras cp --platform`), and tag that manifest `dstRef`. A single manifest
   * is `ERR_LADING_USAGE`. `src` must be a {@link GraphTarget}. Default: the whole index.
   */
  platform?: string;
  /** The source reference as the user wrote it, for messages and the gate. Default `srcRef`. */
  display?: string;
}

/** A referrer (or legacy cosign tag) a {@link copy} with `referrers` listed in the source and copied. */
export interface CopiedReferrer {
  descriptor: Descriptor;
  /** The manifest it is about. */
  subject: Descriptor;
  /** For a legacy cosign signature, attestation or SBOM: its `sha256-<hex>.sig`/`.att`/`.sbom` tag, set in `dst` too. */
  tag?: string;
}

/** What {@link copy} did: the events of the copy, summed up. */
export interface CopyResult {
  /** The root copied, as `src` resolved it; with `platform`, the chosen platform manifest. */
  descriptor: Descriptor;
  /** With `platform`: the image index the manifest was chosen from. */
  index?: Descriptor;
  /** With `platform`: the platform the index gives the chosen manifest, when it gives one. */
  platform?: Platform;
  /** With `gate`: the signatures it vouched for, each with the digest it is about; empty without a gate. */
  verified: VerifiedSignature[];
  /** With `gate`: its warnings; empty without a gate. */
  warnings: string[];
  /** With `referrers`: those listed and copied (or already there), in the order listed; empty without. */
  referrers: CopiedReferrer[];
  /** Descriptors pushed to `dst`. */
  copied: number;
  /** Bytes of the descriptors pushed (mounted blobs move no bytes and are not counted). */
  bytes: number;
  /** Descriptors `dst` already had (with everything below them). */
  skipped: number;
  /** Blobs mounted from another repository of the destination's registry. */
  mounted: number;
}

/**
 * Copies the manifest `srcRef` (a tag or digest) names in `src`, and everything it points at, to `dst`, then tags it
 * `dstRef` there. Returns a {@link CopyResult}: the root descriptor as `src` resolved it (with `platform`, the chosen
 * platform manifest), what the gate vouched for, the referrers copied and the counts; `onEvent` still sees each
 * step as it happens.
 *
 * `dstRef` is a tag; when it is empty or a digest, nothing is tagged (a digest must then be the root's, else
 * `ERR_LADING_USAGE`). The tag is set last, after the whole graph (and, with `referrers`, the referrers) is in `dst`.
 * With `gate`, the source is verified before anything is written. See {@link copyGraph} for the copy itself and
 * {@link CopyOptions} for the options and their defaults.
 */
export async function copy(
  src: Target,
  srcRef: string,
  dst: Target,
  dstRef: string,
  options: CopyOptions = {},
): Promise<CopyResult> {
  checkOptions(src, options);
  const { gate, platform, display = srcRef, onEvent, ...rest } = options;
  const result: Omit<CopyResult, 'descriptor'> = {
    verified: [],
    warnings: [],
    referrers: [],
    copied: 0,
    bytes: 0,
    skipped: 0,
    mounted: 0,
  };
  const tally = (event: CopyEvent): void => {
    switch (event.type) {
      case 'copied':
        result.copied++;
        result.bytes += event.descriptor.size;
        break;
      case 'skipped':
        result.skipped++;
        break;
      case 'mounted':
        result.mounted++;
        break;
      case 'referrer':
        result.referrers.push({
          descriptor: event.descriptor,
          subject: event.subject,
          ...(event.tag !== undefined && { tag: event.tag }),
        });
        break;
      case 'platform':
        result.index = event.index;
        if (event.platform) result.platform = event.platform;
        break;
      case 'verified':
        result.verified.push(...event.verified);
        result.warnings.push(...event.warnings);
        break;
      case 'copying':
      case 'progress':
        break;
    }
    onEvent?.(event);
  };
  const graphOptions: CopyGraphOptions = { ...rest, onEvent: tally };
  const where = `copy ${display}`;
  if ((gate !== undefined || platform !== undefined) && !isGraphTarget(src)) {
    throw new LadingError(
      ErrorCodes.usage,
      `${where}: the gate and platform options need a source that can list referrers (a GraphTarget)`,
    );
  }
  // A malformed --platform is a usage error before anything is fetched.
  if (platform !== undefined) parsePlatform(platform);
  const signalOption = options.signal === undefined ? {} : { signal: options.signal };
  const resolved = await src.resolve(srcRef, signalOption);
  let root = resolved;
  if (gate !== undefined || platform !== undefined) {
    const graph = src as GraphTarget;
    const bytes = await fetchAll(graph, resolved, where, signalOption, options.maxManifestSize);
    const parsed = parseManifest(bytes, resolved.mediaType, where);
    if (platform !== undefined) {
      if (parsed.kind !== 'index') {
        throw new LadingError(
          ErrorCodes.usage,
          `${where}: --platform ${platform}: it is a single manifest (${resolved.digest}), not an image index; drop --platform`,
        );
      }
      const chosen = await resolvePlatformManifest(
        graph,
        { descriptor: resolved, manifests: parsed.index.manifests },
        display,
        { ...signalOption, platform },
      );
      const result = await gate?.verify(
        {
          target: graph,
          reference: display,
          descriptor: resolved,
          manifest: bytes,
          platform: { descriptor: chosen.descriptor, manifest: chosen.bytes },
        },
        signalOption,
      );
      if (result) tally({ type: 'verified', descriptor: resolved, ...result });
      root = chosen.descriptor;
      tally({
        type: 'platform',
        descriptor: root,
        index: resolved,
        ...(chosen.platform && { platform: chosen.platform }),
      });
    } else {
      const result = await gate?.verify(
        { target: graph, reference: display, descriptor: resolved, manifest: bytes },
        signalOption,
      );
      if (result) tally({ type: 'verified', descriptor: resolved, ...result });
    }
  }
  if (isDigest(dstRef) && dstRef !== root.digest) {
    throw new LadingError(
      ErrorCodes.usage,
      `${where}: destination digest ${dstRef} is not the digest of the source (${root.digest})`,
    );
  }
  await copyGraph(src, dst, root, graphOptions);
  if (dstRef !== '' && !isDigest(dstRef)) await dst.tag(root, dstRef, signalOption);
  return { descriptor: root, ...result };
}

function isGraphTarget(t: Target): t is GraphTarget {
  return typeof (t as Partial<GraphTarget>).referrers === 'function';
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
    // Before anything is written: an index's platform manifests are subjects too (cosign sign --recursive).
    const subjects = options.referrers === true ? await referrerSubjects(context, root) : [];
    await copyNode(context, root);
    if (options.referrers === true) {
      await copyReferrers(context, src as GraphTarget, subjects);
      await Promise.all(subjects.map((subject) => copyLegacyTags(context, subject)));
    }
  } catch (error) {
    controller.abort(error);
    await settled(context);
    throw error;
  }
}

/** Everything one copyGraph call shares. */
interface CopyContext extends Omit<TransferContext, 'emit'> {
  /** Receives every event; the transfer's own events are a part of {@link CopyEvent}. */
  emit: (event: CopyEvent) => void;
  src: Target;
  limit: LimitFunction;
  /** Aborted by the caller's signal or by the first failure. */
  signal: AbortSignal;
  /** The copy of each digest, started once and awaited by every parent that needs it. */
  started: Map<string, Promise<void>>;
  maxManifestSize: number;
}

interface RepositoryLike {
  registry: string;
  repository: string;
}

function isRepositoryLike(t: unknown): t is RepositoryLike {
  const r = t as Partial<RepositoryLike>;
  return typeof r.registry === 'string' && typeof r.repository === 'string';
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
  const { src, signal } = context;
  return context.limit(() => transferBlob(context, desc, { open: () => src.fetch(desc, { signal }) }));
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
  // The source's fetch checks size and digest (the Fetcher contract in content.ts): read no more than the size.
  return readAll(await context.src.fetch(desc, { signal: context.signal }), desc.size, where);
}

/**
 * Most manifests whose referrers and legacy cosign tags a copy with `referrers` looks up, the root index's own
 * included (each costs a referrers listing and three tag lookups): the bound of `sign --recursive`,
 * {@link MaxRecursiveManifests} (256).
 */
export const MaxReferrerSubjectsPerIndex = MaxRecursiveManifests;

/**
 * The manifests whose referrers and legacy cosign tags a copy with `referrers` carries: the root and, when it is an
 * image index, every manifest and nested index it lists (what `cosign sign --recursive` and `lading sign
 * --recursive` sign; nested indexes are read as `indexEntries` reads them, depth-bounded), each digest once. More
 * than {@link MaxReferrerSubjectsPerIndex} is `ERR_LADING_USAGE`, before anything is copied.
 */
async function referrerSubjects(context: CopyContext, root: Descriptor): Promise<Descriptor[]> {
  if (!IndexMediaTypes.includes(root.mediaType)) return [root];
  const where = `copy ${root.digest}`;
  const parsed = parseManifest(await fetchManifest(context, root), root.mediaType, where);
  if (parsed.kind !== 'index') return [root];
  const listed = await indexEntries(context.src as GraphTarget, parsed.index.manifests, where, {
    signal: context.signal,
  });
  const seen = new Set([root.digest]);
  const subjects = [root];
  for (const { descriptor } of listed) {
    if (seen.has(descriptor.digest)) continue;
    seen.add(descriptor.digest);
    subjects.push(descriptor);
    if (subjects.length > MaxReferrerSubjectsPerIndex) {
      throw new LadingError(
        ErrorCodes.usage,
        `${where}: with referrers, the signatures of every manifest of an index are looked up, at most ${MaxReferrerSubjectsPerIndex}; this index lists more: copy without referrers, or one platform at a time (--platform)`,
      );
    }
  }
  return subjects;
}

/** Copies the referrers of each of `roots`, then theirs, breadth first, each digest once. */
async function copyReferrers(context: CopyContext, src: GraphTarget, roots: readonly Descriptor[]): Promise<void> {
  const listed = new Set(roots.map((d) => d.digest));
  let subjects = [...roots];
  while (subjects.length > 0) {
    const lists = await Promise.all(
      subjects.map((subject) => context.limit(() => src.referrers(subject, { signal: context.signal }))),
    );
    const fresh: Descriptor[] = [];
    lists.forEach((list, i) => {
      for (const referrer of list) {
        if (listed.has(referrer.digest)) continue;
        listed.add(referrer.digest);
        fresh.push(referrer);
        const subject = subjects[i];
        if (subject !== undefined) context.emit({ type: 'referrer', descriptor: referrer, subject });
      }
    });
    await Promise.all(fresh.map((referrer) => copyNode(context, referrer)));
    subjects = fresh;
  }
}

/** The tag suffixes of cosign's legacy scheme: signatures, attestations and SBOMs of a manifest, by its digest. */
const LegacyCosignSuffixes = ['sig', 'att', 'sbom'] as const;

/**
 * Copies the manifests tagged `<alg>-<hex>.sig|.att|.sbom` for `root` (one of the subjects: the copy's root, or a
 * manifest of its index) in the source (cosign before bundles), and tags them the same in the destination once each
 * is there; a tag the source lacks is skipped.
 */
async function copyLegacyTags(context: CopyContext, root: Descriptor): Promise<void> {
  await Promise.all(
    LegacyCosignSuffixes.map(async (suffix) => {
      const tag = `${root.digest.replace(':', '-')}.${suffix}`;
      let found: Descriptor;
      try {
        found = await context.limit(() => context.src.resolve(tag, { signal: context.signal }));
      } catch (error) {
        if (error instanceof LadingError && error.code === ErrorCodes.notFound) return;
        throw error;
      }
      context.emit({ type: 'referrer', descriptor: found, subject: root, tag });
      await copyNode(context, found);
      await context.limit(() => context.dst.tag(found, tag, { signal: context.signal }));
    }),
  );
}
