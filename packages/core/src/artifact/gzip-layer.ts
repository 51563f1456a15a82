/**
 * Assembling a multi-member gzip layer from members compressed concurrently (docs/format.md, *One gzip member per
 * entry*). A {@link GzipMemberEncoder} compresses members one after another; each member's bytes go to a
 * {@link MemberSink}; an {@link OrderedLayer} appends the members to the layer file in order, so the layer's bytes do
 * not depend on which member finished first.
 *
 * Memory stays bounded: only the member at the head of the order writes straight to the layer; the others keep at
 * most `bufferLimit` bytes each, and a shared budget together, in memory, and spill the rest to a temporary file,
 * copied into the layer (then deleted) when their turn comes.
 */
import { createReadStream } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { constants, crc32, createDeflateRaw, type DeflateRaw } from 'node:zlib';

import { Digester } from '../digest.js';

/** Writes coalesce up to this many bytes before they reach the file (zlib hands out small chunks). */
const WriteCoalesce = 1024 * 1024;

/** zlib's XFL byte for a level, as its own gzip writer sets it (deflate.c): 2 at level 9, 4 below 2, else 0. */
function extraFlags(level: number): number {
  const effective = level === constants.Z_DEFAULT_COMPRESSION ? 6 : level;
  return effective === 9 ? 2 : effective < 2 ? 4 : 0;
}

/** Readiness of a {@link GzipMemberEncoder}'s current member, shared with its drain loop. */
interface MemberState {
  error: Error | undefined;
  finished: boolean;
  wake: (() => void) | undefined;
}

/** Feeds one member to a {@link GzipMemberEncoder}. */
export interface MemberWriter {
  /** Compresses `chunk` (the member's uncompressed bytes, in order); resolves once the compressor accepted it. */
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Ends the member: resolves once every byte of it (header, compressed data, trailer) went to the output. The
   * encoder is then ready for the next member.
   */
  finish(): Promise<void>;
}

/**
 * Writes gzip members (RFC 1952) one after another from one raw-deflate context, reset between members, instead of
 * a new zlib stream per member: on a tree of 100k small files, setting up and collecting 100k zlib streams costs
 * more time and memory than compressing. Compression runs on zlib's threadpool (Node's async zlib).
 *
 * Each member is a fixed header (no name, mtime 0, OS 3 = Unix whatever the platform, XFL as zlib sets it), the raw
 * deflate stream, and the CRC-32 and size of the input: byte for byte what zlib's own gzip writer produces at the
 * same level, except for the OS byte.
 */
export class GzipMemberEncoder {
  readonly #stream: DeflateRaw;
  readonly #header: Buffer;
  readonly #state: MemberState = { error: undefined, finished: false, wake: undefined };

  /** `level`: zlib level, -1 (default, 6) to 9. `chunkSize`: zlib's output chunk size (the bytes do not depend on it). */
  constructor(level: number, chunkSize: number) {
    this.#stream = createDeflateRaw({ level, chunkSize });
    this.#header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, extraFlags(level), 3]);
    // Errors end up in the member being written (its write, finish or output); never unhandled.
    this.#stream.on('error', (error: Error) => {
      this.#state.error ??= error;
      this.#state.wake?.();
    });
    this.#stream.on('readable', () => this.#state.wake?.());
  }

  /**
   * Starts a member whose bytes go to `out`, in order (the next call waits for the previous one to resolve).
   * `signal` aborts waits for the compressor.
   */
  begin(out: (chunk: Uint8Array) => Promise<void>, signal: AbortSignal): MemberWriter {
    const stream = this.#stream;
    const state = this.#state;
    state.finished = false;
    let crc = 0;
    let size = 0;
    const drained = this.#drain(out);
    // A failing output stops the compressor, so the writer's waits end with the error.
    drained.catch((error: unknown) => stream.destroy(error instanceof Error ? error : new Error(String(error))));
    return {
      write: async (chunk) => {
        if (state.error) throw state.error;
        signal.throwIfAborted();
        crc = crc32(chunk, crc);
        size += chunk.byteLength;
        if (!stream.write(chunk)) await once(stream, 'drain', { signal });
      },
      finish: async () => {
        await this.#flushFinish(signal);
        state.finished = true;
        state.wake?.();
        await drained;
        stream.reset();
        const trailer = Buffer.allocUnsafe(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(size % 2 ** 32, 4); // ISIZE is the input size modulo 2^32
        await out(trailer);
      },
    };
  }

  /** Frees the compressor; `error` (if any) fails the member under way. */
  destroy(error?: Error): void {
    this.#stream.destroy(error);
  }

  /** Hands the header, then compressed bytes as zlib produces them, to `out` until the member is finished. */
  async #drain(out: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    const state = this.#state;
    await out(this.#header);
    for (;;) {
      if (state.error) throw state.error;
      const chunk = this.#stream.read() as Buffer | null;
      if (chunk !== null) {
        await out(chunk);
        continue;
      }
      // The Z_FINISH flush completes only after all of its output was pushed, so nothing is left once finished.
      if (state.finished) return;
      await new Promise<void>((resolve) => {
        state.wake = resolve;
      });
      state.wake = undefined;
    }
  }

  /** Ends the deflate stream of the member (the context stays usable after `reset`). */
  async #flushFinish(signal: AbortSignal): Promise<void> {
    const state = this.#state;
    if (state.error) throw state.error;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = (): void => {
        this.#stream.off('error', onError);
        reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
      };
      this.#stream.once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#stream.flush(constants.Z_FINISH, () => {
        this.#stream.off('error', onError);
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}

/** The layer file being written: appends bytes, hashes them (the layer's digest) and knows the current offset. */
export class LayerFile {
  /** Digest and size of everything appended so far. */
  readonly digester = new Digester();
  readonly #handle: FileHandle;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Creates (or truncates) `file` for writing. */
  static async create(file: string): Promise<LayerFile> {
    return new LayerFile(await open(file, 'w'));
  }

  /** Bytes appended so far: the offset the next byte lands at. */
  get position(): number {
    return this.digester.size;
  }

  /** Appends `chunk`; resolves once it is buffered or written. The chunk is kept until written: do not reuse it. */
  async write(chunk: Uint8Array): Promise<void> {
    this.digester.update(chunk);
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
    if (this.#pendingBytes >= WriteCoalesce) await this.#flush();
  }

  /** Writes what is buffered and closes the file. */
  async close(): Promise<void> {
    try {
      await this.#flush();
    } finally {
      await this.#handle.close();
    }
  }

  /** Closes the file without caring about errors (after a failure, the caller removes the file). */
  async discard(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
  }

  async #flush(): Promise<void> {
    const data = Buffer.concat(this.#pending);
    this.#pending = [];
    this.#pendingBytes = 0;
    let offset = 0;
    while (offset < data.byteLength) {
      const { bytesWritten } = await this.#handle.write(data, offset, data.byteLength - offset);
      offset += bytesWritten;
    }
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A member that fails before anyone waits on it must not crash the process with an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Bytes all waiting members hold in memory together, shared by the members of one layer: however many members
 * wait, a member spills to disk once the budget is spent.
 */
export interface HoldBudget {
  /** Bytes held now. */
  held: number;
  /** Most bytes held at once. */
  readonly limit: number;
}

/**
 * Where one member's compressed bytes go. Until it is promoted (its turn in the layer), bytes are held in memory
 * up to the buffer limit and then in a spill file; once promoted, they go straight to the layer. Every operation
 * runs in order through a private queue, so promotion never interleaves with a write.
 */
export class MemberSink {
  /** Offset of the member in the layer (known once promoted). */
  offset = 0;
  /** Compressed length of the member (known once complete). */
  length = 0;
  /** Resolves when every byte of the member is in the layer; rejects when the member failed. */
  readonly completed: Promise<void>;

  readonly #layer: LayerFile;
  readonly #spillPath: string;
  readonly #bufferLimit: number;
  readonly #budget: HoldBudget;
  readonly #done = deferred();
  #queue: Promise<void> = Promise.resolve();
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #spill: FileHandle | undefined;
  #direct = false;
  #ended = false;
  #failed = false;

  /**
   * `bufferLimit` is the most this member keeps in memory, `budget` the limit it shares with the other members of
   * the layer; beyond either, its bytes go to a spill file at `spillPath`.
   */
  constructor(layer: LayerFile, spillPath: string, bufferLimit: number, budget: HoldBudget) {
    this.#layer = layer;
    this.#spillPath = spillPath;
    this.#bufferLimit = bufferLimit;
    this.#budget = budget;
    this.completed = this.#done.promise;
  }

  /** Adds compressed bytes; resolves when they are held (memory, spill file or layer). */
  write(chunk: Uint8Array): Promise<void> {
    return this.#run(async () => {
      if (this.#direct) await this.#layer.write(chunk);
      else await this.#hold(chunk);
    });
  }

  /** Marks the member complete: no more writes follow. */
  end(): Promise<void> {
    return this.#run(() => {
      this.#ended = true;
      this.#settle();
      return Promise.resolve();
    });
  }

  /** Makes this member the one writing to the layer: copies what it holds, then writes through. */
  promote(): Promise<void> {
    return this.#run(async () => {
      this.offset = this.#layer.position;
      await this.#release();
      this.#direct = true;
      this.#settle();
    });
  }

  /** Fails the member: rejects {@link completed} and removes its spill file. Safe to call more than once. */
  async fail(error: unknown): Promise<void> {
    if (this.#failed) return;
    this.#failed = true;
    this.#done.reject(error);
    this.#forget();
    // Wait for the queue so no write reopens the spill file after it is removed.
    await this.#queue;
    await this.#closeSpill();
  }

  #run(task: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(() => {
      if (this.#failed) throw new Error('gzip member: already failed');
      return task();
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #settle(): void {
    if (!this.#direct || !this.#ended) return;
    this.length = this.#layer.position - this.offset;
    this.#done.resolve();
  }

  async #hold(chunk: Uint8Array): Promise<void> {
    const size = chunk.byteLength;
    const fits = this.#buffered + size <= this.#bufferLimit && this.#budget.held + size <= this.#budget.limit;
    if (this.#spill === undefined && fits) {
      this.#chunks.push(chunk);
      this.#buffered += size;
      this.#budget.held += size;
      return;
    }
    if (this.#spill === undefined) {
      this.#spill = await open(this.#spillPath, 'w');
      for (const held of this.#chunks) await writeAll(this.#spill, held);
      this.#forget();
    }
    await writeAll(this.#spill, chunk);
  }

  /** Drops the chunks held in memory and gives their bytes back to the budget. */
  #forget(): void {
    this.#budget.held -= this.#buffered;
    this.#chunks = [];
    this.#buffered = 0;
  }

  async #release(): Promise<void> {
    if (this.#spill !== undefined) {
      await this.#spill.close();
      this.#spill = undefined;
      for await (const chunk of createReadStream(this.#spillPath, { highWaterMark: WriteCoalesce })) {
        await this.#layer.write(chunk as Uint8Array);
      }
      await unlink(this.#spillPath);
    }
    for (const chunk of this.#chunks) await this.#layer.write(chunk);
    this.#forget();
  }

  async #closeSpill(): Promise<void> {
    if (this.#spill === undefined) return;
    await this.#spill.close().catch(() => undefined);
    this.#spill = undefined;
    await unlink(this.#spillPath).catch(() => undefined);
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Called once a member is entirely in the layer, with its offset and compressed length. */
export type MemberPlaced = (offset: number, length: number) => void;

/**
 * Appends members to a {@link LayerFile} in the order they were added, one at a time, whatever order they finish
 * compressing in. {@link done} resolves after {@link close} once every member is placed; on failure (a member's,
 * the layer's, or the signal's) it rejects and every member still queued is failed.
 */
export class OrderedLayer {
  /** Settles when every member is in the layer (after {@link close}), or on the first failure. */
  readonly done: Promise<void>;

  readonly #layer: LayerFile;
  readonly #spillPrefix: string;
  readonly #bufferLimit: number;
  readonly #budget: HoldBudget;
  readonly #signal: AbortSignal;
  readonly #queue: { sink: MemberSink; placed: MemberPlaced }[] = [];
  #added = 0;
  #closed = false;
  #wake: (() => void) | undefined;

  /**
   * `spillPrefix` is a path prefix for spill files (`<prefix><n>`); `bufferLimit` the bytes one waiting member
   * keeps in memory before spilling, `budgetLimit` the bytes all of them keep together; `signal` stops the writer
   * (it then fails every queued member with the reason).
   */
  constructor(layer: LayerFile, spillPrefix: string, bufferLimit: number, budgetLimit: number, signal: AbortSignal) {
    this.#layer = layer;
    this.#spillPrefix = spillPrefix;
    this.#bufferLimit = bufferLimit;
    this.#budget = { held: 0, limit: budgetLimit };
    this.#signal = signal;
    // On abort, failing the queued members rejects the `completed` the writer may be waiting on.
    signal.addEventListener(
      'abort',
      () => {
        for (const { sink } of this.#queue) void sink.fail(signal.reason);
        this.#wake?.();
      },
      { once: true },
    );
    this.done = this.#writeInOrder();
    this.done.catch(() => undefined);
  }

  /** Queues a new member after every member added before; `placed` learns where it landed. */
  add(placed: MemberPlaced): MemberSink {
    const sink = new MemberSink(this.#layer, `${this.#spillPrefix}${this.#added++}`, this.#bufferLimit, this.#budget);
    this.#queue.push({ sink, placed });
    this.#wake?.();
    return sink;
  }

  /** No member follows: {@link done} resolves once those added are placed. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async #writeInOrder(): Promise<void> {
    try {
      for (;;) {
        const next = await this.#next();
        if (next === undefined) return;
        await next.sink.promote();
        await next.sink.completed;
        this.#queue.shift();
        next.placed(next.sink.offset, next.sink.length);
      }
    } catch (error) {
      await Promise.all(this.#queue.map(({ sink }) => sink.fail(error)));
      throw error;
    }
  }

  /** The next member to place, or undefined once closed and drained. */
  async #next(): Promise<{ sink: MemberSink; placed: MemberPlaced } | undefined> {
    for (;;) {
      this.#signal.throwIfAborted();
      const head = this.#queue[0];
      if (head !== undefined) return head;
      if (this.#closed) return undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}
