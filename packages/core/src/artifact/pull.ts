/**
 * pull: download an artifact into a folder so that the folder never holds a partial or unverified file. Layers are
 * fetched concurrently (each digest-checked), extracted into a staging folder beside the destination with every
 * hostile-archive check, compared with the table of contents, and only then moved into place.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, rename } from 'node:fs/promises';
import path from 'node:path';

import pLimit from 'p-limit';

import type { CallOptions, GraphTarget } from '../content.js';
import { DefaultCopyConcurrency } from '../copy.js';
import type { Descriptor, ImageManifest, Platform } from '../descriptor.js';
import { parseDigest } from '../digest.js';
import { ErrorCodes, fileSystemError, LadingError } from '../errors.js';
import { counted } from './progress.js';
import { AnnotationContentDigest } from '../media-types.js';
import type { VerificationGate, VerifiedSignature } from '../trust.js';
import {
  checkSymlinksInside,
  DefaultContentLimits,
  extractFile,
  extractTar,
  isEStargzMetadata,
  processUmask,
  WriteBudget,
  type ContentLimits,
  type ExtractedEntry,
  type ExtractOptions,
} from './extract.js';
import { layerKind, loadArtifact, type LoadedArtifact } from './load.js';
import { createStaging } from './staging.js';
import { checkEntryPath, type TOCEntry } from './toc.js';

/**
 * Limits on what one pull writes, the defence against archive bombs: the extraction's {@link ContentLimits}. They
 * bound the whole pull: every layer (folder and file layers alike) counts against the same limits, checked before
 * download from the table of contents or the manifest's file-layer sizes where those tell, and again on every entry
 * and byte written.
 */
export type PullLimits = ContentLimits;

/** The default {@link PullLimits}: the extraction's defaults (100,000 entries, 16 GiB in all, 8 GiB per file). */
export const DefaultPullLimits: Readonly<PullLimits> = DefaultContentLimits;

/** Progress of a pull, for the CLI to render. */
export type PullEvent =
  /**
   * The manifest passed the gate; `layers` and `bytes` are what will be downloaded (before skips). For an image
   * index, `descriptor` is the chosen platform manifest, `index` the index and `platform` its platform. `verified`
   * and `warnings`: what the gate vouched for (empty without a gate), as the result will say.
   */
  | {
      type: 'resolved';
      descriptor: Descriptor;
      layers: number;
      bytes: number;
      index?: Descriptor;
      platform?: Platform;
      verified: VerifiedSignature[];
      warnings: string[];
    }
  | { type: 'layer-start'; descriptor: Descriptor }
  | { type: 'layer-progress'; descriptor: Descriptor; bytes: number }
  | { type: 'layer-done'; descriptor: Descriptor }
  | { type: 'layer-skipped'; descriptor: Descriptor; reason: string }
  | { type: 'committed'; destination: string };

/** Options of {@link pullArtifact}. */
export interface PullOptions extends CallOptions {
  /** Folder to pull into; created when absent. */
  destination: string;
  /** Replace entries the destination already has (top-level names of the artifact). Default false: refuse. */
  overwrite?: boolean;
  /** Only these paths (files, or folders with everything below them). Default: everything. */
  files?: readonly string[];
  /** Limits; missing fields take {@link DefaultPullLimits}. */
  limits?: Partial<PullLimits>;
  /** Signature check before any content is read. Default none. */
  gate?: VerificationGate;
  /**
   * For an image index: the platform manifest to pull, `os/arch[/variant]`. Default: the only one, else this
   * machine's (see `loadArtifact`).
   */
  platform?: string;
  /** Layers downloaded at once. Default `DefaultCopyConcurrency` (3), as push and copy. */
  concurrency?: number;
  /** The reference as the user wrote it, for messages. Default `reference`. */
  display?: string;
  onEvent?: (event: PullEvent) => void;
}

/** One entry a pull wrote. */
export interface PulledEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size?: number;
}

/** What {@link pullArtifact} did. */
export interface PullResult {
  /** The manifest pulled (for an image index, the chosen platform manifest). */
  descriptor: Descriptor;
  /**
   * That manifest, parsed from the digest-checked bytes: its `artifactType`, `subject`, `annotations` and layer media
   * types tell what an artifact with no files is (a signature or an attestation), without fetching it again.
   */
  manifest: ImageManifest;
  /** When the reference resolved to an image index: the index. */
  index?: Descriptor;
  /** When the reference resolved to an image index: the platform of the manifest pulled, when the index gives one. */
  platform?: Platform;
  destination: string;
  entries: PulledEntry[];
  /** Bytes of file content written. */
  bytes: number;
  /** The signatures the gate vouched for, each with the digest it is about; empty without a gate. */
  verified: VerifiedSignature[];
  /** The gate's warnings; empty without a gate. */
  warnings: string[];
}

/** Whether `entryPath` is selected by `files`: equal to one, below one, or a parent folder of one. */
function selector(files: readonly string[] | undefined): (entryPath: string) => boolean {
  if (!files || files.length === 0) return () => true;
  const wanted = files.map((f) => f.replace(/^\.\//, '').replace(/\/+$/, ''));
  return (p) => wanted.some((w) => p === w || p.startsWith(`${w}/`) || w.startsWith(`${p}/`));
}

/** The size of each file the table of contents lists, by path. */
function tocFileSizes(entries: readonly TOCEntry[]): Map<string, number> {
  return new Map(entries.flatMap((e) => (e.type === 'file' && e.size !== undefined ? [[e.path, e.size]] : [])));
}

function sameEntry(toc: TOCEntry, got: ExtractedEntry): string | undefined {
  if (toc.type !== got.type) return `is a ${got.type}, the table of contents says ${toc.type}`;
  if (toc.mode !== got.mode)
    return `has mode ${got.mode.toString(8)}, the table of contents says ${toc.mode.toString(8)}`;
  if (toc.type === 'file') {
    if (toc.size !== got.size) return `has ${String(got.size)} bytes, the table of contents says ${String(toc.size)}`;
    if (toc.sha256 !== got.sha256)
      return `has sha256 ${String(got.sha256)}, the table of contents says ${String(toc.sha256)}`;
  }
  if (toc.type === 'symlink' && toc.target !== got.target)
    return `links to ${String(got.target)}, the table of contents says ${String(toc.target)}`;
  return undefined;
}

/** Checks what was extracted against the TOC: the same entries, types, modes, sizes, digests and targets. */
function crossCheck(
  toc: readonly TOCEntry[],
  got: readonly ExtractedEntry[],
  wanted: (p: string) => boolean,
  where: string,
): void {
  const byPath = new Map(got.map((e) => [e.path, e]));
  for (const entry of toc) {
    if (!wanted(entry.path)) continue;
    const found = byPath.get(entry.path);
    if (!found)
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: ${entry.path} is in the table of contents but not in the layers`,
      );
    const why = sameEntry(entry, found);
    if (why) throw new LadingError(ErrorCodes.integrity, `${where}: ${entry.path} ${why}`);
    byPath.delete(entry.path);
  }
  const extra = [...byPath.keys()][0];
  if (extra !== undefined)
    throw new LadingError(ErrorCodes.integrity, `${where}: ${extra} is in a layer but not in the table of contents`);
}

/**
 * Pulls the artifact `reference` names in `source` into `options.destination`. Nothing reaches the destination
 * unless every layer matched its digest, every extracted entry passed the safety checks and limits, and (for
 * lading artifacts) everything matches the table of contents; a failed or aborted pull leaves the destination as it
 * was. Existing entries are refused unless `overwrite`.
 */
export async function pullArtifact(source: GraphTarget, reference: string, options: PullOptions): Promise<PullResult> {
  const display = options.display ?? reference;
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  const emit = options.onEvent ?? (() => undefined);
  const limits = { ...DefaultPullLimits, ...options.limits };
  const where = `pull ${display}`;
  // One budget for the whole pull: every layer's entries and bytes count against the same limits.
  const budget = new WriteBudget(limits, `${where}: options.limits`);
  const artifact: LoadedArtifact = await loadArtifact(source, reference, display, {
    ...call,
    ...(options.gate && { gate: options.gate }),
    ...(options.platform !== undefined && { platform: options.platform }),
  });
  emit({
    type: 'resolved',
    descriptor: artifact.descriptor,
    layers: artifact.manifest.layers.length,
    bytes: artifact.manifest.layers.reduce((n, l) => n + l.size, 0),
    ...(artifact.index && { index: artifact.index }),
    ...(artifact.platform && { platform: artifact.platform }),
    verified: artifact.verified,
    warnings: artifact.warnings,
  });
  const wanted = selector(options.files);
  if (artifact.toc) {
    const chosen = artifact.toc.entries.filter((e) => wanted(e.path));
    if (options.files?.length && chosen.length === 0) {
      throw new LadingError(ErrorCodes.notFound, `${where}: none of ${options.files.join(', ')} is in the artifact`);
    }
    checkFileLayerSizes(artifact, where);
    checkKnownSizes(chosen, limits, where);
  } else {
    // Without a table of contents, the manifest still gives each file layer's size: count them before download.
    const files = artifact.manifest.layers.flatMap((layer, index) => {
      const kind = layerKind(layer);
      if (kind.kind !== 'file') return [];
      const file = checkEntryPath(kind.path, `${where}: layer ${index} title`);
      return wanted(file) ? [{ path: file, size: layer.size }] : [];
    });
    checkKnownSizes(files, limits, where);
  }
  const destination = path.resolve(options.destination);
  if (!options.overwrite) await refuseConflicts(destination, topLevelNames(artifact, wanted));
  // Two staging folders beside the destination (same filesystem, so moves are renames): one where each layer is
  // extracted into a folder of its own, so concurrent layers cannot interfere (a symlink one layer makes can never
  // be written through by another), and one holding the merged tree that is finally moved into place.
  const work = await createStaging(destination);
  const tree = await createStaging(destination).catch(async (error: unknown) => {
    await work.discard();
    throw error;
  });
  // The first layer to fail aborts the others, and the pull waits for all of them to stop before the staging
  // folders are removed: nothing is still writing into them (or re-creating them) after the call settles.
  const stop = new AbortController();
  const layerCall: CallOptions = {
    signal: options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal,
  };
  try {
    const umask = await processUmask(work.dir);
    const limit = pLimit(options.concurrency ?? DefaultCopyConcurrency);
    const context: LayerContext = { wanted, budget, umask, where, emit, artifact, call: layerCall };
    let failure: { error: unknown } | undefined;
    const settled = await Promise.allSettled(
      artifact.manifest.layers.map((layer, index) =>
        limit(() => {
          layerCall.signal?.throwIfAborted();
          return pullLayer(source, layer, index, work.dir, context);
        }).catch((error: unknown) => {
          failure ??= { error };
          stop.abort(error);
          throw error;
        }),
      ),
    );
    if (failure) throw options.signal?.aborted ? options.signal.reason : failure.error;
    const perLayer = settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    const extracted: ExtractedEntry[] = [];
    for (const [index, got] of perLayer.entries()) {
      if (!got) continue;
      const layerDir = path.join(work.dir, `layer-${index}`);
      for (const name of await readdir(layerDir)) {
        if (await exists(path.join(tree.dir, name))) {
          throw new LadingError(ErrorCodes.integrity, `${where}: ${name} appears in more than one layer`);
        }
        await rename(path.join(layerDir, name), path.join(tree.dir, name));
      }
      extracted.push(...got);
    }
    // Links from several untitled image layers may only escape once merged (`a/l -> ..` in one, `a/m -> l/..` in
    // another): check the merged tree as a whole.
    const links = extracted.filter((e) => e.type === 'symlink').map((e) => e.path);
    if (links.length > 0) await checkSymlinksInside(tree.dir, links, { where, linkScope: 'root' });
    if (artifact.toc) crossCheck(artifact.toc.entries, extracted, wanted, where);
    await tree.commit({ overwrite: options.overwrite ?? false });
    emit({ type: 'committed', destination });
    return {
      descriptor: artifact.descriptor,
      manifest: artifact.manifest,
      ...(artifact.index && { index: artifact.index }),
      ...(artifact.platform && { platform: artifact.platform }),
      destination,
      entries: extracted.map((e) => ({
        path: e.path,
        type: e.type,
        ...(e.size === undefined ? {} : { size: e.size }),
      })),
      bytes: extracted.reduce((n, e) => n + (e.size ?? 0), 0),
      verified: artifact.verified,
      warnings: artifact.warnings,
    };
  } catch (error) {
    // A full disk, too many open files…: say so, naming the destination (a failed write names no path).
    throw fileSystemError(error, `pull into ${destination}`, destination);
  } finally {
    await work.discard();
    await tree.discard();
  }
}

/**
 * Refuses before download what the known sizes already put over the limits: the entries chosen from the table of
 * contents, or the file layers of an artifact without one.
 */
function checkKnownSizes(known: readonly { path: string; size?: number }[], limits: PullLimits, where: string): void {
  const raise = '(raise the limit to pull it)';
  if (known.length > limits.maxFiles) {
    throw new LadingError(
      ErrorCodes.integrity,
      `${where}: ${known.length} entries is more than the ${limits.maxFiles} allowed ${raise}`,
    );
  }
  const total = known.reduce((n, e) => n + (e.size ?? 0), 0);
  if (total > limits.maxTotalBytes) {
    throw new LadingError(
      ErrorCodes.integrity,
      `${where}: ${total} bytes is more than the ${limits.maxTotalBytes} allowed ${raise}`,
    );
  }
  const big = known.find((e) => (e.size ?? 0) > limits.maxFileBytes);
  if (big) {
    throw new LadingError(
      ErrorCodes.integrity,
      `${where}: ${big.path} (${String(big.size)} bytes) is larger than the ${limits.maxFileBytes}-byte limit`,
    );
  }
}

/** A file layer is the file: the table of contents must give it the layer's size (refused before download). */
function checkFileLayerSizes(artifact: LoadedArtifact, where: string): void {
  for (const entry of artifact.toc?.entries ?? []) {
    const layer = artifact.manifest.layers[entry.layer];
    if (entry.type !== 'file' || !layer || layerKind(layer).kind !== 'file' || layer.size === entry.size) continue;
    throw new LadingError(
      ErrorCodes.integrity,
      `${where}: ${entry.path} has ${String(entry.size)} bytes in the table of contents, but its layer ${entry.layer} has ${layer.size}`,
    );
  }
}

/** The top-level names the artifact will write (from its TOC, else its layer titles), when they are known. */
function topLevelNames(artifact: LoadedArtifact, wanted: (p: string) => boolean): string[] {
  const paths = artifact.toc
    ? artifact.toc.entries.map((e) => e.path)
    : artifact.manifest.layers.flatMap((l) => {
        const kind = layerKind(l);
        const title = kind.kind === 'file' ? kind.path : kind.kind === 'tar' ? kind.title : undefined;
        return title === undefined ? [] : [checkEntryPath(title, `pull: layer ${l.digest} title`)];
      });
  return [...new Set(paths.filter(wanted).map((p) => p.split('/')[0] ?? p))];
}

/**
 * Refuses before anything is downloaded when the destination already holds a name the artifact writes (the
 * staging commit checks again, for names only known after extraction).
 */
async function refuseConflicts(destination: string, names: readonly string[]): Promise<void> {
  for (const name of names) {
    if (await exists(path.join(destination, name))) {
      throw new LadingError(
        ErrorCodes.usage,
        `pull into ${destination}: ${name} exists; use --overwrite to replace it`,
      );
    }
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** What every layer of one pull shares. */
interface LayerContext {
  wanted: (p: string) => boolean;
  /** The pull's limits, counted across all its layers. */
  budget: WriteBudget;
  /** The process umask, read once per pull. */
  umask: number;
  where: string;
  emit: (e: PullEvent) => void;
  artifact: LoadedArtifact;
  call: CallOptions;
}

async function pullLayer(
  source: GraphTarget,
  layer: Descriptor,
  index: number,
  stagingDir: string,
  context: LayerContext,
): Promise<ExtractedEntry[] | undefined> {
  const { wanted, budget, umask, where, emit, artifact, call } = context;
  const kind = layerKind(layer);
  if (kind.kind === 'skip') {
    emit({ type: 'layer-skipped', descriptor: layer, reason: 'untitled layer that is not a tar' });
    return undefined;
  }
  if (kind.kind === 'file') {
    checkEntryPath(kind.path, `${where}: layer ${index} title`);
    if (!wanted(kind.path)) return undefined;
  }
  if (kind.kind === 'tar' && kind.title !== undefined) {
    checkEntryPath(kind.title, `${where}: layer ${index} title`);
    if (!wanted(kind.title)) return undefined;
  }
  const layerDir = path.join(stagingDir, `layer-${index}`);
  await mkdir(layerDir, { mode: 0o700 });
  emit({ type: 'layer-start', descriptor: layer });
  const layerWhere = `${where}: layer ${layer.digest}`;
  // The fetcher checks size and digest as the bytes stream (the Fetcher contract): no second hash here.
  const content = counted(await source.fetch(layer, call), (bytes) => {
    emit({ type: 'layer-progress', descriptor: layer, bytes });
  });
  let entries: ExtractedEntry[];
  if (kind.kind === 'file') {
    const tocEntry = artifact.toc?.entries.find((e) => e.path === kind.path && e.layer === index);
    const { algorithm, encoded } = parseDigest(layer.digest);
    if (algorithm !== 'sha256') {
      throw new LadingError(ErrorCodes.usage, `${layerWhere}: file layers must use sha256 digests, not ${algorithm}`);
    }
    const entry = await extractFile(content, layerDir, kind.path, {
      where: layerWhere,
      mode: tocEntry?.mode ?? 0o644,
      umask,
      budget,
      // The TOC's size was checked against the layer's before download; either is the bound.
      maxBytes: tocEntry?.size ?? layer.size,
      // The layer digest is the content's sha256, and the fetch verifies it as the file is written.
      sha256: encoded,
    });
    entries = [entry];
  } else {
    const tarHash = createHash('sha256');
    const toc = artifact.toc;
    const tocSizes = toc && tocFileSizes(toc.entries);
    const extractOptions: ExtractOptions = {
      gzip: kind.gzip,
      budget,
      umask,
      // With a table of contents, each file's size is known: nothing past it is written.
      ...(tocSizes && { expectedFileSize: (p: string) => tocSizes.get(p) }),
      skip: (p: string) => !wanted(p) || isEStargzMetadata(p),
      where: layerWhere,
      // A folder layer holds nothing but its folder, and its links stay inside it; an untitled image layer is
      // extracted at the destination's root.
      linkScope: kind.title === undefined ? 'root' : 'top',
      ...(kind.title === undefined ? {} : { prefix: kind.title }),
      // The uncompressed tar's digest, for the ORAS content digest annotation.
      onArchiveChunk: (chunk) => tarHash.update(chunk),
      ...call,
    };
    entries = await extractTar(content, layerDir, extractOptions);
    const expected = layer.annotations?.[AnnotationContentDigest];
    const actual = `sha256:${tarHash.digest('hex')}`;
    if (expected !== undefined && expected !== actual) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${layerWhere}: uncompressed tar digest mismatch: expected ${expected} (io.deis.oras.content.digest), got ${actual}`,
      );
    }
  }
  emit({ type: 'layer-done', descriptor: layer });
  return entries;
}
