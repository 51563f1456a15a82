/**
 * Writing a folder layer (docs/format.md, *A folder argument*): a tar archive of the walked entries where every
 * entry is its own gzip member, so one file can later be read with one range request.
 *
 * How the work is spread, and why:
 * - One reader takes the entries in order and feeds the uncompressed tar digest and each file's sha256 as it goes,
 *   so every byte is read once. Small files (≤ 1 MiB) are read ahead, a few at a time, so the reader does not wait
 *   on one open/read/close after another (on a 100k-file tree that latency, not compression, is the cost).
 * - Members are compressed on zlib's threadpool (Node's async zlib), up to `concurrency` at once, each by one of a
 *   pool of {@link GzipMemberEncoder}s that are reset between members rather than created per member.
 * - An {@link OrderedLayer} appends the finished members in order, so the layer's bytes never depend on which member
 *   finished first (or on `concurrency`).
 *
 * Memory stays bounded whatever the tree: big files are streamed in fixed chunks with backpressure, read-ahead is
 * capped in files and bytes, compressed bytes waiting for their turn are capped per member and in total (the rest
 * spills to temporary files), and at most {@link MaxPendingMembers} members wait to be placed.
 */
import { createHash } from 'node:crypto';
import { close, constants, fstat, open as openCallback, read, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

import { Digester } from '../digest.js';
import { ErrorCodes, LadingError, isLadingError } from '../errors.js';
import { GzipMemberEncoder, LayerFile, OrderedLayer, type MemberPlaced, type MemberSink } from './gzip-layer.js';
import { encodeTarHeader, tarEndOfArchive, tarPadding } from './tar-member.js';
import type { TOCEntry } from './toc.js';
import type { FolderEntry } from './walk.js';

/** `O_NOFOLLOW` where the platform has it (Windows does not; there the walk's own check is all there is). */
const NoFollow = (constants as Partial<typeof constants>).O_NOFOLLOW ?? 0;
/** Files up to this size are read ahead whole; bigger ones are streamed by the reader when their turn comes. */
const ReadAheadFileLimit = 1024 * 1024;
/** Read-ahead holds at most this many files… */
const ReadAheadFiles = 32;
/** …and at most this many bytes. */
const ReadAheadBytes = 8 * 1024 * 1024;
/** Big files are streamed in chunks of this size. */
const ReadChunk = 512 * 1024;
/** zlib output chunk size: bigger than Node's 16 KiB default, fewer threadpool round trips; the bytes are the same. */
const ZlibChunk = 64 * 1024;
/** Compressed bytes all waiting members may hold in memory together before spilling to disk. */
const HoldBudgetBytes = 64 * 1024 * 1024;
/** Compressed bytes one waiting member may hold in memory before spilling to disk. */
const MemberHoldLimit = 4 * 1024 * 1024;
/** Members added to the layer but not yet placed in it (bounds bookkeeping on trees of many tiny files). */
const MaxPendingMembers = 256;

const openFD = promisify(openCallback);
const fstatFD = promisify(fstat);
const readFD = promisify(read);
const closeFD = promisify(close);

/** Options of {@link writeFolderLayer}. */
export interface FolderLayerOptions {
  /** The layer file to write. */
  file: string;
  /** Path prefix of spill files (`<prefix><n>`), in a folder the caller removes. */
  spillPrefix: string;
  /** Index of the layer in the manifest (recorded in the TOC entries). */
  layer: number;
  /** Names the input in error messages (`pack <where>: …`). */
  where: string;
  /** mtime of every header, seconds; with `preserveTimes`, each entry's own time is used instead. */
  sourceDateEpoch: number;
  /** Keep each entry's own mtime instead of `sourceDateEpoch`. */
  preserveTimes: boolean;
  /** Members compressed on the threadpool at once (one encoder each). */
  concurrency: number;
  /** zlib level, -1 (default, 6) to 9. */
  gzipLevel: number;
  /** Stops the work; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Called after file content is read, with the content bytes read so far and the compressed bytes written to the
   * layer so far.
   */
  onProgress?: (bytesRead: number, layerBytes: number) => void;
}

/** What {@link writeFolderLayer} produced. */
export interface FolderLayer {
  /** `sha256:` digest of the compressed layer. */
  digest: string;
  /** Size of the compressed layer. */
  size: number;
  /** `sha256:` digest of the uncompressed tar (the `io.deis.oras.content.digest` annotation). */
  tarDigest: string;
  /** One TOC entry per tar entry, in layer order, with offsets and lengths of their gzip members. */
  entries: TOCEntry[];
}

/** A count of free slots, taken by the one reader and given back by whoever finishes. */
class Slots {
  #free: number;
  #waiting: (() => void) | undefined;

  constructor(count: number) {
    this.#free = count;
  }

  async acquire(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    // Only the reader waits, so one waiter at a time.
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiting = undefined;
        reject(asError(signal.reason));
      };
      this.#waiting = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(): void {
    const next = this.#waiting;
    this.#waiting = undefined;
    if (next) next();
    else this.#free++;
  }
}

/** Shared state of one layer being written. */
interface LayerRun {
  options: FolderLayerOptions;
  where: string;
  signal: AbortSignal;
  tar: Digester;
  layer: LayerFile;
  ordered: OrderedLayer;
  /** Members being compressed (one encoder each). */
  compressing: Slots;
  /** Members added but not yet placed. */
  pending: Slots;
  /** Every encoder made, and those free for the next member. */
  encoders: Set<GzipMemberEncoder>;
  idle: GzipMemberEncoder[];
  consumers: Set<Promise<void>>;
  fail: (error: unknown) => void;
  /** Content bytes read so far. */
  bytesRead: number;
}

/** A file read ahead: its bytes and the stats of the open file they came from. */
interface Loaded {
  stats: Stats;
  data: Buffer;
}

/**
 * Writes the folder layer of `entries` (in order, as {@link walkFolder} yields them) to `options.file`: for each
 * entry a gzip member holding its PAX header (if any), ustar header, data and padding, then a member holding the
 * two zero blocks that end the archive. Returns the digests, size and TOC entries. On failure the layer file is
 * left incomplete (the caller removes its temporary folder) and the first error is thrown (the signal's reason when
 * it was aborted).
 */
export async function writeFolderLayer(
  entries: AsyncIterable<FolderEntry>,
  options: FolderLayerOptions,
): Promise<FolderLayer> {
  const internal = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, internal.signal]) : internal.signal;
  const layer = await LayerFile.create(options.file);
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown): void => {
    if (failure !== undefined) return;
    failure = { error };
    internal.abort(error);
  };
  const holdLimit = Math.max(64 * 1024, Math.min(MemberHoldLimit, Math.floor(HoldBudgetBytes / options.concurrency)));
  const run: LayerRun = {
    options,
    where: `pack ${options.where}`,
    signal,
    tar: new Digester(),
    layer,
    ordered: new OrderedLayer(layer, options.spillPrefix, holdLimit, HoldBudgetBytes, signal),
    compressing: new Slots(options.concurrency),
    pending: new Slots(MaxPendingMembers),
    encoders: new Set(),
    idle: [],
    consumers: new Set(),
    fail,
    bytesRead: 0,
  };
  run.ordered.done.catch(fail);
  // On any failure, stop every compressor so the consumers and the ordered writer wind down.
  signal.addEventListener('abort', () => {
    for (const encoder of run.encoders) encoder.destroy(asError(signal.reason));
  });

  const tocEntries: TOCEntry[] = [];
  try {
    for await (const { entry, loaded } of readAhead(entries, run)) {
      const tocEntry: TOCEntry = {
        path: entry.path,
        type: entry.type,
        mode: entry.mode,
        layer: options.layer,
        offset: 0,
        length: 0,
      };
      tocEntries.push(tocEntry);
      await addEntry(run, entry, loaded, tocEntry);
    }
    await addMember(run, tarEndOfArchive(), () => undefined);
    run.ordered.close();
    await run.ordered.done;
    await Promise.all(run.consumers);
    await layer.close();
  } catch (error) {
    fail(error);
    await Promise.allSettled([...run.consumers]);
    await run.ordered.done.catch(() => undefined);
    await layer.discard();
    for (const encoder of run.encoders) encoder.destroy();
    options.signal?.throwIfAborted();
    throw (failure ?? { error }).error;
  }
  for (const encoder of run.encoders) encoder.destroy();
  return { digest: layer.digester.digest(), size: layer.position, tarDigest: run.tar.digest(), entries: tocEntries };
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function mtimeOf(run: LayerRun, seconds: number): number {
  return run.options.preserveTimes ? seconds : run.options.sourceDateEpoch;
}

/**
 * Yields the walked entries in order, small files with their content already read. Up to {@link ReadAheadFiles}
 * files and {@link ReadAheadBytes} bytes are read ahead; a failed read surfaces when its entry's turn comes.
 */
async function* readAhead(
  walk: AsyncIterable<FolderEntry>,
  run: LayerRun,
): AsyncGenerator<{ entry: FolderEntry; loaded: Loaded | undefined }> {
  const iterator = walk[Symbol.asyncIterator]();
  const window: { entry: FolderEntry; bytes: number; loading: Promise<Loaded | undefined> }[] = [];
  let bytes = 0;
  let exhausted = false;
  const fill = async (): Promise<void> => {
    while (!exhausted && window.length < ReadAheadFiles && bytes < ReadAheadBytes) {
      const next = await iterator.next();
      if (next.done === true) {
        exhausted = true;
        return;
      }
      const entry = next.value;
      const small = entry.type === 'file' && entry.size <= ReadAheadFileLimit;
      const loading = small ? readSmallFile(entry, run.where) : Promise.resolve(undefined);
      // Rejections are handled when the entry's turn comes; until then, keep them from counting as unhandled.
      loading.catch(() => undefined);
      const size = small ? entry.size : 0;
      bytes += size;
      window.push({ entry, bytes: size, loading });
    }
  };
  try {
    await fill();
    for (let item = window.shift(); item !== undefined; item = window.shift()) {
      run.signal.throwIfAborted();
      const loaded = await item.loading;
      bytes -= item.bytes;
      await fill();
      yield { entry: item.entry, loaded };
    }
  } finally {
    await iterator.return?.();
  }
}

/**
 * Reads a small file whole, through the callback API (much lighter than a FileHandle per file). The file is opened
 * without following a symlink and its type checked on the open descriptor: a path swapped for a link or a device
 * after the walk is refused rather than read. Returns undefined when it has grown past the read-ahead limit (the
 * reader then streams it).
 */
async function readSmallFile(entry: FolderEntry, where: string): Promise<Loaded | undefined> {
  let fd: number;
  try {
    fd = await openFD(entry.source, constants.O_RDONLY | NoFollow);
  } catch (cause) {
    throw cannotRead(entry, where, cause);
  }
  try {
    const stats = await fstatFD(fd);
    checkRegular(stats, entry, where);
    if (stats.size > ReadAheadFileLimit) return undefined;
    const data = Buffer.allocUnsafe(stats.size);
    let filled = 0;
    while (filled < data.byteLength) {
      const { bytesRead } = await readFD(fd, data, filled, data.byteLength - filled, filled).catch((cause: unknown) => {
        throw cannotRead(entry, where, cause);
      });
      if (bytesRead === 0) throw shrank(entry, where);
      filled += bytesRead;
    }
    return { stats, data };
  } finally {
    await closeFD(fd).catch(() => undefined);
  }
}

function checkRegular(stats: Stats, entry: FolderEntry, where: string): void {
  if (stats.isFile()) return;
  throw new LadingError(
    ErrorCodes.usage,
    `${where}: ${JSON.stringify(entry.path)} changed while packing (no longer a regular file)`,
  );
}

function cannotRead(entry: FolderEntry, where: string, cause: unknown): LadingError {
  if (isLadingError(cause)) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  return new LadingError(ErrorCodes.usage, `${where}: cannot read ${JSON.stringify(entry.path)}: ${message}`, {
    cause,
  });
}

function shrank(entry: FolderEntry, where: string): LadingError {
  return new LadingError(ErrorCodes.usage, `${where}: ${JSON.stringify(entry.path)} shrank while being packed`);
}

/** Adds one entry: its whole tar bytes when they are in memory, else its file streamed. */
async function addEntry(
  run: LayerRun,
  entry: FolderEntry,
  loaded: Loaded | undefined,
  tocEntry: TOCEntry,
): Promise<void> {
  const placed: MemberPlaced = (offset, length) => {
    tocEntry.offset = offset;
    tocEntry.length = length;
  };
  if (entry.type !== 'file') {
    const mtime = mtimeOf(run, entry.mtime);
    const header = { path: entry.path, type: entry.type, mode: entry.mode, size: 0, mtime };
    if (entry.target !== undefined) tocEntry.target = entry.target;
    await addMember(
      run,
      encodeTarHeader(entry.target === undefined ? header : { ...header, target: entry.target }),
      placed,
    );
    return;
  }
  if (loaded === undefined) {
    await addStreamedFile(run, entry, tocEntry, placed);
    return;
  }
  const { stats, data } = loaded;
  const mode = stats.mode & 0o777;
  const header = encodeTarHeader({
    path: entry.path,
    type: 'file',
    mode,
    size: data.byteLength,
    mtime: mtimeOf(run, Math.floor(stats.mtimeMs / 1000)),
  });
  Object.assign(tocEntry, { mode, size: data.byteLength, sha256: createHash('sha256').update(data).digest('hex') });
  countRead(run, data.byteLength);
  await addMember(run, Buffer.concat([header, data, tarPadding(data.byteLength)]), placed);
}

function countRead(run: LayerRun, bytes: number): void {
  run.bytesRead += bytes;
  run.options.onProgress?.(run.bytesRead, run.layer.position);
}

/** Adds a member whose tar bytes are all in memory. */
async function addMember(run: LayerRun, tarBytes: Buffer, placed: MemberPlaced): Promise<void> {
  await addCompressed(run, placed, (write) => write(tarBytes));
}

/** Queues a member in the layer; its pending slot is given back once it is placed. */
function queue(run: LayerRun, placed: MemberPlaced): MemberSink {
  return run.ordered.add((offset, length) => {
    placed(offset, length);
    run.pending.release();
  });
}

/**
 * Adds a member: waits for a free encoder (at most `concurrency` compress at once), queues the member in the layer,
 * runs `feed` (the reading and hashing, in order), then lets the compression finish in the background while the
 * reader moves on; the encoder goes back to the pool once the whole member is in its sink.
 */
async function addCompressed(
  run: LayerRun,
  placed: MemberPlaced,
  feed: (write: (chunk: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<void> {
  await run.pending.acquire(run.signal);
  await run.compressing.acquire(run.signal);
  const sink = queue(run, placed);
  const encoder = run.idle.pop() ?? newEncoder(run);
  const member = encoder.begin((chunk) => sink.write(chunk), run.signal);
  try {
    await feed(async (chunk) => {
      run.tar.update(chunk);
      await member.write(chunk);
    });
  } catch (error) {
    // The member is incomplete: its encoder is not reused, and the sink fails with the rest of the layer.
    encoder.destroy();
    void sink.fail(error);
    run.compressing.release();
    throw error;
  }
  const consumer: Promise<void> = member
    .finish()
    .then(async () => {
      await sink.end();
      run.idle.push(encoder);
    })
    .catch(async (error: unknown) => {
      run.fail(error);
      encoder.destroy();
      await sink.fail(error);
    })
    .finally(() => {
      run.consumers.delete(consumer);
      run.compressing.release();
    });
  run.consumers.add(consumer);
}

function newEncoder(run: LayerRun): GzipMemberEncoder {
  const encoder = new GzipMemberEncoder(run.options.gzipLevel, ZlibChunk);
  run.encoders.add(encoder);
  return encoder;
}

/**
 * Streams a big file into its member in fixed-size chunks. Opened without following a symlink and checked on the
 * open descriptor; the header takes its size, mode and time from that descriptor, and a file that shrinks while
 * being read is refused (its header would lie). A file that grows is cut at the size its header states.
 */
async function addStreamedFile(
  run: LayerRun,
  entry: FolderEntry,
  tocEntry: TOCEntry,
  placed: MemberPlaced,
): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(entry.source, constants.O_RDONLY | NoFollow);
  } catch (cause) {
    throw cannotRead(entry, run.where, cause);
  }
  try {
    const stats = await handle.stat();
    checkRegular(stats, entry, run.where);
    const size = stats.size;
    const mode = stats.mode & 0o777;
    const mtime = mtimeOf(run, Math.floor(stats.mtimeMs / 1000));
    const content = createHash('sha256');
    await addCompressed(run, placed, async (write) => {
      await write(encodeTarHeader({ path: entry.path, type: 'file', mode, size, mtime }));
      for (let position = 0; position < size;) {
        const chunk = await readChunk(handle, Math.min(ReadChunk, size - position), position, entry, run.where);
        position += chunk.byteLength;
        content.update(chunk);
        countRead(run, chunk.byteLength);
        await write(chunk);
      }
      await write(tarPadding(size));
    });
    Object.assign(tocEntry, { mode, size, sha256: content.digest('hex') });
  } finally {
    await handle.close();
  }
}

/** Reads exactly `length` bytes at `position` into a fresh buffer (the compressor keeps it until it is done). */
async function readChunk(
  handle: FileHandle,
  length: number,
  position: number,
  entry: FolderEntry,
  where: string,
): Promise<Buffer> {
  const chunk = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(chunk, filled, length - filled, position + filled));
    } catch (cause) {
      throw cannotRead(entry, where, cause);
    }
    if (bytesRead === 0) throw shrank(entry, where);
    filled += bytesRead;
  }
  return chunk;
}
