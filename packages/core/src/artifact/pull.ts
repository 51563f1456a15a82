/**
 * pull: download an artifact into a folder so that the folder never holds a partial or unverified file. Layers are
 * fetched concurrently (each digest-checked), extracted into a staging folder beside the destination with every
 * hostile-archive check, compared with the table of contents, and only then moved into place.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

import pLimit from 'p-limit';

import type { CallOptions, GraphTarget } from '../content.js';
import type { Descriptor, Platform } from '../descriptor.js';
import { parseDigest, verifyContent } from '../digest.js';
import { ErrorCodes, fileSystemError, LadingError } from '../errors.js';
import { counted } from './progress.js';
import { AnnotationContentDigest } from '../media-types.js';
import type { VerificationGate, VerifiedSignature } from '../trust.js';
import {
  checkSymlinksInside,
  DefaultMaxFileBytes,
  DefaultMaxFiles,
  DefaultMaxTotalBytes,
  extractTar,
  isEStargzMetadata,
  processUmask,
  WriteBudget,
  type ExtractedEntry,
  type ExtractOptions,
} from './extract.js';
import { decompressionError, layerKind, loadArtifact, type LoadedArtifact } from './read.js';
import { createStaging } from './staging.js';
import { checkEntryPath, type TOCEntry } from './toc.js';

/**
 * Limits on what one pull writes, the defence against archive bombs. They bound the whole pull: every layer (folder
 * and file layers alike) counts against the same limits, checked before download from the table of contents or the
 * manifest's file-layer sizes where those tell, and again on every entry and byte written.
 */
export interface PullLimits {
  /** Most entries (files, folders, links) in all. Default 100,000. */
  maxFiles: number;
  /** Most bytes of file content in all. Default 16 GiB. */
  maxTotalBytes: number;
  /** Most bytes in one file. Default 8 GiB. */
  maxFileBytes: number;
}

/** The default {@link PullLimits} (the extraction's own defaults). */
export const DefaultPullLimits: PullLimits = Object.freeze({
  maxFiles: DefaultMaxFiles,
  maxTotalBytes: DefaultMaxTotalBytes,
  maxFileBytes: DefaultMaxFileBytes,
});

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
  /** Layers downloaded at once. Default 3. */
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

/** Counts and reports bytes going through. */
function progress(report: (bytes: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      total += chunk.length;
      report(total);
      done(null, chunk);
    },
  });
}

/** Hashes bytes going through (the uncompressed tar, for the ORAS content digest annotation). */
function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
}

/** Whether `entryPath` is selected by `files`: equal to one, below one, or a parent folder of one. */
function selector(files: readonly string[] | undefined): (entryPath: string) => boolean {
  if (!files || files.length === 0) return () => true;
  const wanted = files.map((f) => f.replace(/^\.\//, '').replace(/\/+$/, ''));
  return (p) => wanted.some((w) => p === w || p.startsWith(`${w}/`) || w.startsWith(`${p}/`));
}

/** How {@link writeFileLayer} writes one file layer. */
interface FileLayerWrite {
  /** Permission bits the artifact gives the file (the TOC's, else 0o644); written less `umask`. */
  mode: number;
  umask: number;
  /** Names the layer in errors. */
  where: string;
  /** The pull's budget: the file counts as one entry and its bytes against the limits. */
  budget: WriteBudget;
  /** Most bytes the file may hold: the table of contents' size, else the layer's (the digest check stops at it). */
  maxBytes: number;
  /** The layer digest's hex, which is the content's sha256. */
  contentSHA256: string;
}

/**
 * Writes a file layer under `root/relPath`, refusing to go through anything but real folders, and stopping before
 * the first byte past `maxBytes` or the budget.
 */
async function writeFileLayer(
  root: string,
  relPath: string,
  content: AsyncIterable<Uint8Array>,
  how: FileLayerWrite,
): Promise<ExtractedEntry> {
  const { mode, where, budget, maxBytes, contentSHA256 } = how;
  const full = budget.addEntry();
  if (full !== undefined) throw new LadingError(ErrorCodes.integrity, `${where}: ${relPath} ${full}`);
  const parts = relPath.split('/');
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    try {
      const st = await lstat(dir);
      if (!st.isDirectory())
        throw new LadingError(ErrorCodes.integrity, `${where}: ${relPath}: ${part} is not a folder`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dir, { mode: 0o755 });
    }
  }
  const file = path.join(root, relPath);
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new LadingError(ErrorCodes.integrity, `${where}: ${relPath} appears twice in the artifact`);
    }
    throw error;
  }
  let size = 0;
  // Checked before a chunk is passed on, so nothing past the expected size or the limits reaches the disk.
  const limit = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      if (size + chunk.length > maxBytes) {
        done(
          new LadingError(ErrorCodes.integrity, `${where}: ${relPath} has more than the expected ${maxBytes} bytes`),
        );
        return;
      }
      const over = budget.addBytes(size, chunk.length);
      if (over !== undefined) {
        done(new LadingError(ErrorCodes.integrity, `${where}: ${relPath} ${over}`));
        return;
      }
      size += chunk.length;
      done(null, chunk);
    },
  });
  // `content` is digest-verified as it ends (the pipeline rejects on a mismatch), so the layer digest is the
  // content's sha256: no second hash of the bytes.
  await pipeline(Readable.from(content), limit, handle.createWriteStream({ highWaterMark: 1024 * 1024 }));
  await chmod(file, mode & ~how.umask);
  return { path: relPath, type: 'file', mode, size, sha256: contentSHA256 };
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
  try {
    const umask = await processUmask(work.dir);
    const limit = pLimit(options.concurrency ?? 3);
    const perLayer = await Promise.all(
      artifact.manifest.layers.map((layer, index) =>
        limit(() => pullLayer(source, layer, index, work.dir, { wanted, budget, umask, where, emit, artifact, call })),
      ),
    );
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
  const verified = verifyContent(layer, await source.fetch(layer, call), layerWhere);
  const report = (bytes: number): void => {
    emit({ type: 'layer-progress', descriptor: layer, bytes });
  };
  let entries: ExtractedEntry[];
  if (kind.kind === 'file') {
    const tocEntry = artifact.toc?.entries.find((e) => e.path === kind.path && e.layer === index);
    const mode = tocEntry?.mode ?? 0o644;
    const { algorithm, encoded } = parseDigest(layer.digest);
    if (algorithm !== 'sha256') {
      throw new LadingError(ErrorCodes.usage, `${layerWhere}: file layers must use sha256 digests, not ${algorithm}`);
    }
    entries = [
      await writeFileLayer(layerDir, kind.path, counted(verified, report), {
        mode,
        umask,
        where: layerWhere,
        budget,
        // The TOC's size was checked against the layer's before download; either is the bound.
        maxBytes: tocEntry?.size ?? layer.size,
        contentSHA256: encoded,
      }),
    ];
  } else {
    const tarHash = createHash('sha256');
    const toc = artifact.toc;
    const tocSizes = toc && tocFileSizes(toc.entries);
    const extractOptions: ExtractOptions = {
      gzip: false,
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
      ...call,
    };
    const tar = new PassThrough();
    const stages: NodeJS.ReadWriteStream[] = [progress(report)];
    if (kind.gzip) stages.push(createGunzip());
    stages.push(hashing(tarHash), tar);
    const piping = pipeline([Readable.from(verified), ...stages]);
    const extracting = extractTar(tar, layerDir, extractOptions).catch((error: unknown) => {
      tar.destroy();
      throw error;
    });
    const [piped, got] = await Promise.allSettled([piping, extracting]);
    // Prefer the extraction's own error (it names the entry); a digest mismatch surfaces from the pipeline.
    if (got.status === 'rejected') {
      const pipeError = piped.status === 'rejected' ? decompressionError(piped.reason, layerWhere) : undefined;
      throw pipeError instanceof LadingError ? pipeError : got.reason;
    }
    if (piped.status === 'rejected') throw decompressionError(piped.reason, layerWhere);
    entries = got.value;
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
