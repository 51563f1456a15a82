/**
 * Safe tar extraction: the one place where bytes from a registry become files on disk. Every check below stops a
 * known attack on tar extractors (path traversal, writing through symlinks, links out of the tree, special files,
 * archive bombs, duplicates that replace what was verified); see each function's comment for which one.
 *
 * The archive is untrusted until the caller has compared the returned entries with what it expected (the TOC), so
 * everything is written into a staging folder the caller owns and later moves into place or deletes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  chmod,
  lstat,
  lutimes,
  mkdir,
  open,
  readlink,
  rmdir,
  symlink,
  utimes,
  type FileHandle,
} from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { addAbortSignal, pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

import { extract as tarExtract } from 'tar-stream';

import { ErrorCodes, LadingError } from '../errors.js';
import { checkEntryPath, hasControlCharacter } from './toc.js';

/** Default most entries in one archive (files, folders, links; every header counts). */
export const DefaultMaxFiles = 100_000;
/** Files up to this size are read into memory and written in the background (see `#smallFile`). */
const SmallFileBytes = 256 * 1024;
/** Background small-file writes at once: bounds memory to about 8 MiB. */
const ParallelWrites = 32;
/** Default most bytes of file content in one archive: 16 GiB. */
export const DefaultMaxTotalBytes = 16 * 1024 ** 3;
/** Default most bytes in one file: 8 GiB. */
export const DefaultMaxFileBytes = 8 * 1024 ** 3;
/**
 * Bytes gathered before one write to a large file: fewer, larger system calls (a registry's socket delivers 16 to
 * 64 KiB at a time), and the next batch is read while the previous one is being written.
 */
const WriteBatchBytes = 1024 * 1024;
/**
 * Allowance per entry for what is not file content (header, PAX or GNU long-name headers, padding), used to derive
 * the default {@link ExtractOptions.maxArchiveBytes}: a PAX header with a 4096-byte path and target fits in 16 KiB.
 */
const headerAllowance = 16 * 1024;
/** Most symlinks one path may go through when resolving a link target, as Linux's own limit (MAXSYMLINKS). */
const maxLinkHops = 40;

/** Where a symlink target must resolve. */
export type LinkScope = 'top' | 'root';

/** Options of {@link extractTar}. */
export interface ExtractOptions {
  /** Names the archive in error messages, which read `<where>: "<entry path>": <reason>`. Default `extract`. */
  where?: string;
  /** Gunzip the source first (multi-member gzip works: each member is decompressed in turn). Default false. */
  gzip?: boolean;
  /**
   * Most entries written; also the most headers one archive may hold (skipped ones too). Default
   * {@link DefaultMaxFiles} (100,000). This and the three limits below make the extraction's own budget; absent with
   * `budget`.
   */
  maxFiles?: number;
  /** Most bytes of file content written in all. Default {@link DefaultMaxTotalBytes} (16 GiB). */
  maxTotalBytes?: number;
  /** Most bytes in one file. Default {@link DefaultMaxFileBytes} (8 GiB). */
  maxFileBytes?: number;
  /**
   * Most bytes of the uncompressed tar stream (headers, padding, skipped data and everything after the end-of-archive
   * blocks included). Bounds the work a gzip bomb made of headers or zero blocks can cause, which the content limits
   * do not see. Default `maxTotalBytes + maxFiles × 16 KiB`.
   */
  maxArchiveBytes?: number;
  /**
   * Entries to ignore (their data is read and dropped), given the normalised path; called after the path checks.
   * For example eStargz metadata ({@link isEStargzMetadata}). Default: none.
   */
  skip?: (path: string) => boolean;
  /** Every entry must be this folder or lie below it (paths are kept as they are). Default: no constraint. */
  prefix?: string;
  /**
   * Where symlink targets must resolve. `top` (default) is the rule of the table of contents
   * (`symlinkStaysInside`): inside the entry's top-level folder, so links at the top level are refused; use it for
   * folder layers, whose entries all live under the folder's name. `root` allows anywhere inside `stagingDir`
   * (untitled image layers extracted at the destination's root); when several `root` layers are merged, check the
   * merged tree again with {@link checkSymlinksInside}.
   */
  linkScope?: LinkScope;
  /**
   * Limits shared with other extractions and file writes (all the layers of one pull), counted as entries and bytes
   * are written. When given, it replaces `maxFiles`, `maxTotalBytes`, `maxFileBytes` and `maxArchiveBytes`, which
   * must then be absent. Default: a budget of its own from those four options.
   */
  budget?: WriteBudget;
  /**
   * The size each file must have, when known in advance (the table of contents'): a file whose header announces
   * more is refused before anything is written, and data past it is never written. Returning undefined refuses the
   * file at once (it is not expected at all). Default: no expectation, only the limits.
   */
  expectedFileSize?: (path: string) => number | undefined;
  /**
   * Permission bits to clear from every file and folder mode, as tar does for a user who is not root: a folder 0777
   * in the archive is written 0755 under umask 022. Default: the process umask.
   */
  umask?: number;
  /** Set files', folders' and links' modification times to the header's mtime, as tar does. Default true. */
  preserveTimes?: boolean;
  /**
   * Sees each chunk of the tar stream (after gunzip) as the parser gets it, for example to hash the uncompressed
   * archive; called synchronously, before the chunk is parsed. Default: none.
   */
  onArchiveChunk?: (chunk: Uint8Array) => void;
  /** Stops the extraction; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** One entry written by {@link extractTar}, in archive order. */
export interface ExtractedEntry {
  /** Normalised relative path (no `./` prefix, no trailing slash). */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits the archive gives (`mode & 0o777`); written to disk with the umask cleared. */
  mode: number;
  /** Bytes written (files only). */
  size?: number;
  /** Lower-case hex SHA-256 of the bytes written (files only). */
  sha256?: string;
  /** Link target as stored (symlinks only). */
  target?: string;
}

/** True for the eStargz metadata entries (`stargz.index.json` and the landmark files), which are not user files. */
export function isEStargzMetadata(entryPath: string): boolean {
  return (
    entryPath === 'stargz.index.json' || entryPath === '.prefetch.landmark' || entryPath === '.no.prefetch.landmark'
  );
}

/**
 * What lading uses of tar-stream's parser, typed as it really behaves: `type` is null for unknown type flags, `mode`
 * and `size` may be null for malformed numbers, and sizes may exceed 2^53 (base-256 fields).
 */
interface TarHeader {
  name: string;
  type?: string | null;
  size?: number | null;
  mode?: number | null;
  mtime?: Date;
  linkname?: string | null;
}

/** One archive entry: its header and its data, which must be consumed before the parser goes on. */
interface TarEntry extends AsyncIterable<Uint8Array> {
  header: TarHeader;
}

/** tar-stream's parser (a streamx writable), fed bytes and iterated for entries. */
interface TarParser extends AsyncIterable<TarEntry> {
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(error?: unknown): void;
  readonly destroyed: boolean;
  /** streamx sets this as soon as destruction starts. */
  readonly destroying?: boolean;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Limits on the content one pull (or one extraction) writes, the defence against archive bombs: the one definition
 * that pull's `PullLimits` and the CLI's flags use.
 */
export interface ContentLimits {
  /** Most entries written (files, folders, links). Default {@link DefaultMaxFiles} (100,000). */
  maxFiles: number;
  /** Most bytes of file content written in all. Default {@link DefaultMaxTotalBytes} (16 GiB). */
  maxTotalBytes: number;
  /** Most bytes in one file. Default {@link DefaultMaxFileBytes} (8 GiB). */
  maxFileBytes: number;
}

/** The default {@link ContentLimits}. */
export const DefaultContentLimits: Readonly<ContentLimits> = Object.freeze({
  maxFiles: DefaultMaxFiles,
  maxTotalBytes: DefaultMaxTotalBytes,
  maxFileBytes: DefaultMaxFileBytes,
});

/** The limits of a {@link WriteBudget}: the content limits and the size of the uncompressed archive. */
export interface WriteLimits extends ContentLimits {
  /**
   * Most bytes of uncompressed tar read in all (headers, padding, skipped data and anything after the end-of-archive
   * blocks included): bounds the work a gzip bomb made of headers or zero blocks can cause, which the content limits
   * do not see.
   */
  maxArchiveBytes: number;
}

/** Eager validation of a limit, naming the option in the message (house style). */
function limit(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new LadingError(ErrorCodes.usage, `${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

/**
 * What may still be written, counted across everything that shares the budget: one budget per pull makes the
 * limits bound the whole pull (every layer, folder and file layers alike), not each layer anew. Counts only grow;
 * each `add…` method checks first and counts only what it allows, returning why it refuses (a phrase that follows
 * the entry's name) or undefined. Concurrent layers may share one budget (JavaScript runs one check at a time).
 *
 * Missing limits default to {@link DefaultMaxFiles}, {@link DefaultMaxTotalBytes}, {@link DefaultMaxFileBytes}, and
 * `maxArchiveBytes` to `maxTotalBytes + maxFiles × 16 KiB` (room for each entry's headers and padding). Invalid
 * limits (not a non-negative safe integer) throw `ERR_LADING_USAGE` naming the option as `<name>.<limit>` (`name`
 * default `limits`).
 */
export class WriteBudget {
  readonly limits: Readonly<WriteLimits>;
  #entries = 0;
  #bytes = 0;
  #archiveBytes = 0;

  constructor(limits: Partial<WriteLimits> = {}, name = 'limits') {
    const maxFiles = limit(limits.maxFiles, `${name}.maxFiles`, DefaultContentLimits.maxFiles);
    const maxTotalBytes = limit(limits.maxTotalBytes, `${name}.maxTotalBytes`, DefaultContentLimits.maxTotalBytes);
    const maxFileBytes = limit(limits.maxFileBytes, `${name}.maxFileBytes`, DefaultContentLimits.maxFileBytes);
    const derived = Math.min(Number.MAX_SAFE_INTEGER, maxTotalBytes + maxFiles * headerAllowance);
    const maxArchiveBytes = limit(limits.maxArchiveBytes, `${name}.maxArchiveBytes`, derived);
    this.limits = Object.freeze({ maxFiles, maxTotalBytes, maxFileBytes, maxArchiveBytes });
  }

  /** Entries counted so far. */
  get entries(): number {
    return this.#entries;
  }

  /** Bytes of file content counted so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Counts one entry about to be written. */
  addEntry(): string | undefined {
    if (this.#entries >= this.limits.maxFiles) return `is beyond the limit of ${this.limits.maxFiles} entries`;
    this.#entries++;
    return undefined;
  }

  /** Checks a file announced as `declared` bytes before any of it is written; counts nothing. */
  checkDeclared(declared: number): string | undefined {
    if (declared > this.limits.maxFileBytes) {
      return `declares ${declared} bytes, more than the ${this.limits.maxFileBytes}-byte limit`;
    }
    if (this.#bytes + declared > this.limits.maxTotalBytes) {
      return `would take the content written past the ${this.limits.maxTotalBytes}-byte total limit`;
    }
    return undefined;
  }

  /** Counts `bytes` more of a file that holds `fileBytes` so far, before they are written. */
  addBytes(fileBytes: number, bytes: number): string | undefined {
    if (fileBytes + bytes > this.limits.maxFileBytes)
      return `is larger than the ${this.limits.maxFileBytes}-byte limit`;
    if (this.#bytes + bytes > this.limits.maxTotalBytes) {
      return `takes the content written past the ${this.limits.maxTotalBytes}-byte total limit`;
    }
    this.#bytes += bytes;
    return undefined;
  }

  /** Counts `bytes` more of uncompressed tar read; the reason names no entry. */
  addArchiveBytes(bytes: number): string | undefined {
    if (this.#archiveBytes + bytes > this.limits.maxArchiveBytes) {
      return `the uncompressed archive is larger than the ${this.limits.maxArchiveBytes}-byte limit`;
    }
    this.#archiveBytes += bytes;
    return undefined;
  }
}

function budgetOf(options: ExtractOptions): WriteBudget {
  const own = {
    ...(options.maxFiles !== undefined && { maxFiles: options.maxFiles }),
    ...(options.maxTotalBytes !== undefined && { maxTotalBytes: options.maxTotalBytes }),
    ...(options.maxFileBytes !== undefined && { maxFileBytes: options.maxFileBytes }),
    ...(options.maxArchiveBytes !== undefined && { maxArchiveBytes: options.maxArchiveBytes }),
  };
  if (options.budget === undefined) return new WriteBudget(own, 'extract: options');
  const given = Object.keys(own)[0];
  if (given !== undefined) {
    throw new LadingError(ErrorCodes.usage, `extract: options.${given} cannot be given with options.budget`);
  }
  return options.budget;
}

/** The umask option, checked, or undefined when the process's is to be used. */
function umaskOption(options: { umask?: number }): number | undefined {
  if (options.umask === undefined) return undefined;
  if (!Number.isSafeInteger(options.umask) || options.umask < 0 || options.umask > 0o777) {
    throw new LadingError(ErrorCodes.usage, `extract: options.umask must be between 0 and 0o777, got ${options.umask}`);
  }
  return options.umask;
}

/**
 * The process umask, learnt by creating a folder with mode 0o777 in `dir` (a folder the caller owns, such as a
 * staging folder) and reading the mode the system gave it; the folder is removed at once. `process.umask()` would
 * tell it only by setting the umask twice, a race with any other thread creating files.
 */
export async function processUmask(dir: string): Promise<number> {
  const probe = path.join(dir, `.lading-umask-${randomBytes(8).toString('hex')}`);
  await mkdir(probe, { mode: 0o777 });
  try {
    return ~(await lstat(probe)).mode & 0o777;
  } finally {
    await rmdir(probe);
  }
}

/**
 * Extracts a tar stream into `stagingDir`, an existing folder the caller created and owns (normally empty), and
 * returns the entries written, in archive order, with each file's size and SHA-256 computed from the bytes written.
 *
 * Refused with `ERR_LADING_INTEGRITY` (message `<where>: "<path>": <reason>`, or `<where>: path "<path>" <reason>`
 * for the path checks shared with the table of contents), stopping at the first problem:
 * unsafe paths (absolute, `..`, empty or `.` segments, backslash, NUL or control characters; a leading `./` and a
 * trailing `/` are stripped first), paths outside `prefix`, files not listed by or larger than `expectedFileSize`,
 * symlinks whose target holds a control character, is absolute or resolves outside `linkScope` (lexically when written, and again through every link on disk once the archive is done), any entry
 * whose parent is a symlink or a file, hard links, devices, FIFOs and every other type, folder or link headers that
 * carry data, duplicate paths (a folder repeated with the same mode is tolerated and listed once), the limits (checked
 * on each header before anything is written, and on the bytes actually written), and a malformed, truncated or
 * corrupt archive. A directory entry named `.` or `./` (the archive's root, as `tar -C dir .` writes) is skipped.
 *
 * Files are created with `O_CREAT|O_EXCL|O_NOFOLLOW` after every parent was checked to be a real folder, so nothing
 * that already exists (a link planted or extracted earlier) is ever followed or replaced. Modes on disk are
 * `mode & 0o777 & ~umask` (setuid, setgid and sticky bits are dropped; the umask applies as tar applies it for a user
 * who is not root); folders stay owner-writable while extracting and get their mode (and mtime) at the end, deepest
 * first. Folders implied by a path but absent from the archive are created with 0o755 (less the umask) and are not
 * listed. Limits are counted in a {@link WriteBudget}, the caller's (`options.budget`) or the extraction's own.
 *
 * On error or abort it stops reading `source` and rejects (with the signal's reason when aborted; with `source`'s own
 * error, unchanged, when reading it failed; file-system errors are not wrapped either); what was written stays in
 * `stagingDir` for the caller to delete. Nothing is ever written outside `stagingDir`.
 */
export async function extractTar(
  source: AsyncIterable<Uint8Array>,
  stagingDir: string,
  options: ExtractOptions = {},
): Promise<ExtractedEntry[]> {
  const budget = budgetOf(options);
  const umaskGiven = umaskOption(options);
  if (options.prefix !== undefined) checkEntryPath(options.prefix, 'extract: options.prefix', ErrorCodes.usage);
  const { signal } = options;
  signal?.throwIfAborted();
  const umask = umaskGiven ?? (await processUmask(stagingDir));
  const run = new Extraction(path.resolve(stagingDir), options, budget, umask);
  const tar = tarExtract() as unknown as TarParser;
  const onAbort = (): void => {
    tar.destroy(signal?.reason);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const chunks = options.gzip ? gunzip(source, signal) : source;
  const fed: FeedState = {};
  const feeding = feed(chunks, tar, budget, run.where, fed, options.onArchiveChunk);
  // The feed's failure reaches the loop below through the destroyed parser; this only keeps it from being unhandled.
  feeding.catch(() => undefined);
  try {
    for await (const entry of tar) {
      signal?.throwIfAborted();
      await run.entry(entry);
    }
    await feeding;
    await run.finish();
    return run.entries;
  } catch (error) {
    tar.destroy();
    // Background writes must stop touching the staging folder before the caller removes it.
    await run.settle();
    if (signal?.aborted) throw signal.reason;
    // When the input failed, that is the cause, whatever the parser made of it. The source's own errors (a network
    // failure, a digest mismatch) keep their code; only broken gzip data means a malformed archive.
    if (fed.error !== undefined) throw isGzipError(fed.error) ? integrityError(fed.error, run.where) : fed.error;
    throw integrityError(error, run.where);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Options of {@link extractFile}. */
export interface ExtractFileOptions {
  /** Names the file in error messages, which read `<where>: "<path>": <reason>`. Default `extract`. */
  where?: string;
  /** Permission bits the artifact gives the file; written less `umask`. Default 0o644. */
  mode?: number;
  /** Most bytes the file may hold (a file layer's size): nothing past it reaches the disk. */
  maxBytes: number;
  /** Lower-case hex SHA-256 of the content, listed in the returned entry (the caller's fetch verifies it). */
  sha256: string;
  /** Limits shared with the other layers of the pull; the file counts as one entry and its bytes. */
  budget: WriteBudget;
  /** Permission bits to clear from the mode. Default: the process umask. */
  umask?: number;
}

/**
 * Writes `source` as the one file `entryPath` under `stagingDir` (a file layer, whose bytes are the file), with the
 * checks {@link extractTar} applies to a file entry: a safe path, parents that are real folders (created 0o755 less
 * the umask when missing), created with O_CREAT|O_EXCL|O_NOFOLLOW, the budget's limits and `maxBytes` checked
 * before each chunk is written (`ERR_LADING_INTEGRITY`). Bytes are written in batches of 1 MiB, the next batch read
 * while the previous one is written. On error what was written stays in `stagingDir` for the caller to delete; a
 * failure of `source` (a digest mismatch) passes unchanged.
 */
export async function extractFile(
  source: AsyncIterable<Uint8Array>,
  stagingDir: string,
  entryPath: string,
  options: ExtractFileOptions,
): Promise<ExtractedEntry> {
  const { where, budget } = options;
  const umask = umaskOption(options) ?? (await processUmask(stagingDir));
  const run = new Extraction(path.resolve(stagingDir), where === undefined ? {} : { where }, budget, umask);
  const entry = await run.file(source, entryPath, options);
  await run.finish();
  return entry;
}

/**
 * Decompresses a gzip stream: the one gunzip of the data path (extraction, and cat's reads). Node's gunzip reads
 * every member of a multi-member file in turn, which is how lading writes layers (one member per entry). Errors of
 * `source` or of the data (zlib's `Z_…`) surface to whoever iterates the result; `signal` aborts it.
 */
export function gunzip(source: AsyncIterable<Uint8Array>, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const unzip = createGunzip();
  if (signal) addAbortSignal(signal, unzip);
  // Errors destroy `unzip` too, so they surface in whoever iterates it; the callback has nothing left to do.
  return pipeline(Readable.from(source), unzip, () => undefined);
}

/** What {@link feed} saw go wrong, recorded before it destroys the parser. */
interface FeedState {
  error?: unknown;
}

/**
 * Writes `chunks` into the tar parser with backpressure, counting them against the budget's `maxArchiveBytes`. Any
 * failure destroys the parser with that error, so the reader sees it; a parser destroyed by the reader ends the feed.
 */
async function feed(
  chunks: AsyncIterable<Uint8Array>,
  tar: TarParser,
  budget: WriteBudget,
  where: string,
  state: FeedState,
  observe: ((chunk: Uint8Array) => void) | undefined,
): Promise<void> {
  try {
    for await (const chunk of chunks) {
      if (isDestroyed(tar)) return;
      const over = budget.addArchiveBytes(chunk.byteLength);
      if (over !== undefined) throw new LadingError(ErrorCodes.integrity, `${where}: ${over}`);
      observe?.(chunk);
      if (!tar.write(chunk)) await writable(tar);
    }
    if (!isDestroyed(tar)) tar.end();
  } catch (error) {
    state.error = error;
    tar.destroy(error);
    throw error;
  }
}

/** tar-stream's parser is a streamx stream: `destroying` is set as soon as destruction starts. */
function isDestroyed(tar: TarParser): boolean {
  return tar.destroyed || tar.destroying === true;
}

/** Resolves when the parser wants more input, or is gone. */
function writable(tar: TarParser): Promise<void> {
  if (isDestroyed(tar)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      tar.off('drain', done);
      tar.off('close', done);
      resolve();
    };
    tar.on('drain', done);
    tar.on('close', done);
  });
}

/** True for zlib's errors, which carry codes such as Z_DATA_ERROR and Z_BUF_ERROR (broken gzip data). */
export function isGzipError(error: unknown): boolean {
  return error instanceof Error && ((error as NodeJS.ErrnoException).code ?? '').startsWith('Z_');
}

/** True for errors from the file system (they keep their own code: a full disk is not a hostile archive). */
function isSystemError(error: unknown): boolean {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * The one mapper of decompression and archive errors: parser and zlib errors (bad checksum, truncated data, corrupt
 * deflate stream, codes `Z_…`) mean a malformed or tampered archive, and become `ERR_LADING_INTEGRITY`
 * `<where>[: "<entry>"]: invalid gzip data|archive: <reason>`. Lading and file-system errors, and aborts (an error
 * named `AbortError`), pass unchanged.
 */
export function integrityError(error: unknown, where: string, entryPath?: string): unknown {
  if (error instanceof LadingError || isSystemError(error)) return error;
  if (error instanceof Error && error.name === 'AbortError') return error;
  const what = entryPath === undefined ? where : `${where}: ${JSON.stringify(entryPath)}`;
  const reason = error instanceof Error ? error.message : String(error);
  const kind = isGzipError(error) ? 'gzip data' : 'archive';
  return new LadingError(ErrorCodes.integrity, `${what}: invalid ${kind}: ${reason}`, {
    cause: error,
  });
}

/** A folder whose final mode and mtime are applied at the end. */
interface PendingDir {
  mode: number;
  mtime?: Date;
}

/** The state of one extraction: what was seen, which folders are known to be real, what was written. */
class Extraction {
  readonly where: string;
  readonly entries: ExtractedEntry[] = [];
  readonly #root: string;
  readonly #options: ExtractOptions;
  readonly #budget: WriteBudget;
  /** Permission bits cleared from every mode written (the umask). */
  readonly #umask: number;
  /** Every path an archive entry named, with what it was (duplicate detection). */
  readonly #seen = new Map<string, { type: ExtractedEntry['type']; mode: number }>();
  /** Folders checked (by lstat) or created in this extraction: real folders, never links. */
  readonly #realDirs = new Set<string>(['']);
  /** Symlinks created in this extraction, checked again on disk at the end. */
  readonly #links: string[] = [];
  /** Folders created here, with the mode and mtime to apply at the end. */
  readonly #dirs = new Map<string, PendingDir>();
  #headers = 0;
  /** Small files whose bytes are read and checked, being written in the background (bounded). */
  readonly #writing = new Set<Promise<void>>();
  #writeError: unknown;

  constructor(root: string, options: ExtractOptions, budget: WriteBudget, umask: number) {
    this.#root = root;
    this.#options = options;
    this.#budget = budget;
    this.#umask = umask;
    this.where = options.where ?? 'extract';
  }

  /** Handles one archive entry; its data stream is always consumed before returning. */
  async entry(entry: TarEntry): Promise<void> {
    const { header } = entry;
    // Every header counts here, skipped ones too (a bound on the work of one archive); the budget counts the
    // entries written, across all the archives sharing it.
    this.#headers++;
    if (this.#headers > this.#budget.limits.maxFiles) {
      throw this.#refuse(header.name, `is beyond the limit of ${this.#budget.limits.maxFiles} entries`);
    }
    if (isArchiveRoot(header)) {
      // `tar -C dir .` writes the root itself; it names stagingDir, whose mode is the caller's business.
      await drain(entry, header.name, this.where);
      return;
    }
    const entryPath = this.#checkPath(header.name);
    if (this.#options.skip?.(entryPath)) {
      await drain(entry, entryPath, this.where);
      return;
    }
    try {
      await this.#write(entry, entryPath);
    } catch (error) {
      throw integrityError(error, this.where, entryPath);
    }
  }

  async #write(entry: TarEntry, entryPath: string): Promise<void> {
    const { header } = entry;
    const size = header.size ?? 0;
    switch (header.type) {
      case 'file':
        return this.#file(entry, entryPath);
      case 'directory':
        // A folder or link "with data" is read differently by different parsers (tar-stream reads its data as the
        // next header, GNU tar skips it): refusing it stops entries hidden from one reader but not another.
        if (size !== 0) throw this.#refuse(entryPath, `is a folder that declares ${size} bytes of data`);
        return this.#dir(entryPath, header);
      case 'symlink':
        if (size !== 0) throw this.#refuse(entryPath, `is a symbolic link that declares ${size} bytes of data`);
        return this.#symlink(entryPath, header);
      case 'link':
        // A hard link to a file outside the tree, or to a file this archive wrote, would let a later entry or the
        // user change something other than what was verified.
        throw this.#refuse(
          entryPath,
          `is a hard link to ${JSON.stringify(header.linkname ?? '')}, which is not allowed`,
        );
      case 'character-device':
      case 'block-device':
        // Device nodes give access to hardware or kernel memory when created as root.
        throw this.#refuse(entryPath, `is a ${header.type}, which is not allowed`);
      case 'fifo':
        // A FIFO blocks whoever opens it later.
        throw this.#refuse(entryPath, 'is a FIFO, which is not allowed');
      default:
        throw this.#refuse(entryPath, `has the unsupported type ${header.type ?? 'unknown'}`);
    }
  }

  /** Applies folder modes and times, after checking every link again now that the whole tree exists. */
  async finish(): Promise<void> {
    await this.settle();
    if (this.#writeError !== undefined) throw asError(this.#writeError);
    await checkSymlinksInside(this.#root, this.#links, {
      where: this.where,
      linkScope: this.#options.linkScope ?? 'top',
    });
    // Deepest first, so a parent made read-only never blocks a child; times after the last write into each folder.
    const dirs = [...this.#dirs].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [dirPath, pending] of dirs) {
      const absolute = this.#absolute(dirPath);
      if (pending.mtime && this.#options.preserveTimes !== false) await utimes(absolute, pending.mtime, pending.mtime);
      await chmod(absolute, pending.mode & ~this.#umask);
    }
  }

  /** Waits for every background write to end (success or not); call before the staging folder is discarded. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#writing]);
  }

  #refuse(entryPath: string, reason: string): LadingError {
    return new LadingError(ErrorCodes.integrity, `${this.where}: ${JSON.stringify(entryPath)}: ${reason}`);
  }

  #absolute(relative: string): string {
    return relative === '' ? this.#root : path.join(this.#root, ...relative.split('/'));
  }

  /**
   * Normalises and checks an entry's path. Stops path traversal (`../x`, `a/../../x`), absolute paths (`/etc/x`),
   * and names that mean different things on different systems (backslashes, NUL, control characters).
   */
  #checkPath(name: string): string {
    let entryPath = name.startsWith('./') ? name.slice(2) : name;
    if (entryPath.endsWith('/')) entryPath = entryPath.slice(0, -1);
    checkEntryPath(entryPath, this.where);
    const { prefix } = this.#options;
    if (prefix !== undefined && entryPath !== prefix && !entryPath.startsWith(`${prefix}/`)) {
      throw this.#refuse(entryPath, `lies outside ${JSON.stringify(prefix)}`);
    }
    return entryPath;
  }

  /** Refuses a second entry for a path: it would replace (or write through) what the first one wrote. */
  #checkNew(entryPath: string): void {
    if (this.#seen.has(entryPath)) throw this.#refuse(entryPath, 'appears more than once in the archive');
  }

  /** Counts an entry about to be written against the budget (shared by the whole pull). */
  #count(entryPath: string): void {
    const over = this.#budget.addEntry();
    if (over !== undefined) throw this.#refuse(entryPath, over);
  }

  /**
   * Makes sure every parent of `entryPath` is a real folder, creating missing ones. Stops writes through a symlink
   * (`a -> .` then `a/x`, or a link planted before extraction): a parent that is a link, or anything but a folder,
   * is refused, and lstat never follows the last component.
   */
  async #parents(entryPath: string): Promise<void> {
    const segments = entryPath.split('/');
    let current = '';
    for (const segment of segments.slice(0, -1)) {
      current = current === '' ? segment : `${current}/${segment}`;
      if (this.#realDirs.has(current)) continue;
      const stats = await lstatOrUndefined(this.#absolute(current));
      if (stats === undefined) {
        await mkdir(this.#absolute(current), { mode: 0o700 });
        this.#dirs.set(current, { mode: 0o755 });
      } else if (stats.isSymbolicLink()) {
        throw this.#refuse(entryPath, `goes through the symbolic link ${JSON.stringify(current)}`);
      } else if (!stats.isDirectory()) {
        throw this.#refuse(entryPath, `has the non-folder ${JSON.stringify(current)} as a parent`);
      }
      this.#realDirs.add(current);
    }
  }

  async #file(entry: TarEntry, entryPath: string): Promise<void> {
    const { header } = entry;
    const mode = permissions(header.mode, 0o644);
    const declared = header.size ?? 0;
    this.#checkNew(entryPath);
    const expected = this.#expectedSize(entryPath);
    // Refuse a header that announces too much before writing anything (the cheap half of the bomb defence).
    if (expected !== undefined && declared > expected) {
      throw this.#refuse(entryPath, `declares ${declared} bytes, the table of contents says ${expected}`);
    }
    const over = this.#budget.checkDeclared(declared);
    if (over !== undefined) throw this.#refuse(entryPath, over);
    this.#count(entryPath);
    await this.#parents(entryPath);
    this.#seen.set(entryPath, { type: 'file', mode });
    if (declared <= SmallFileBytes) {
      await this.#smallFile(entry, entryPath, declared, mode, header.mtime, expected);
      return;
    }
    const handle = await this.#create(entryPath);
    const out = new BatchedWriter(handle);
    let written: { size: number; sha256: string };
    try {
      written = await this.#copy(entry, out, entryPath, declared, expected);
      await out.end();
      if (written.size !== declared) {
        throw this.#refuse(entryPath, `has ${written.size} bytes of data, its header says ${declared}`);
      }
      await handle.chmod(mode & ~this.#umask);
      if (this.#options.preserveTimes !== false && validDate(header.mtime)) {
        await handle.utimes(header.mtime, header.mtime);
      }
    } finally {
      await out.settle();
      await handle.close();
    }
    this.entries.push({ path: entryPath, type: 'file', mode, ...written });
  }

  /**
   * Writes a whole stream as the file `name` (a file layer: the content is the file). The same rules as a tar entry:
   * the path checks, real parent folders, O_EXCL|O_NOFOLLOW, the budget's entry and byte limits, and nothing past
   * `maxBytes` reaches the disk. No hash: the caller knows the content's sha256 (`sha256`, from the layer digest the
   * fetcher checks), so the entry lists that.
   */
  async file(source: AsyncIterable<Uint8Array>, name: string, how: ExtractFileOptions): Promise<ExtractedEntry> {
    const entryPath = this.#checkPath(name);
    const mode = permissions(how.mode, 0o644);
    this.#checkNew(entryPath);
    this.#count(entryPath);
    await this.#parents(entryPath);
    this.#seen.set(entryPath, { type: 'file', mode });
    const handle = await this.#create(entryPath);
    const out = new BatchedWriter(handle);
    let size = 0;
    try {
      for await (const chunk of source) {
        if (size + chunk.byteLength > how.maxBytes) {
          throw this.#refuse(entryPath, `has more than the expected ${how.maxBytes} bytes`);
        }
        const over = this.#budget.addBytes(size, chunk.byteLength);
        if (over !== undefined) throw this.#refuse(entryPath, over);
        size += chunk.byteLength;
        await out.write(chunk);
      }
      await out.end();
      await handle.chmod(mode & ~this.#umask);
    } finally {
      await out.settle();
      await handle.close();
    }
    const entry: ExtractedEntry = { path: entryPath, type: 'file', mode, size, sha256: how.sha256 };
    this.entries.push(entry);
    return entry;
  }

  /**
   * A small file: its bytes are read (limits and hash as for any file), then created, written, given its mode and
   * time in the background, at most {@link ParallelWrites} at once, so the many round trips to the file system of a
   * tree of small files overlap instead of queueing. Every check happened before scheduling (the path, its parents,
   * duplicates), and the file is still created with O_EXCL|O_NOFOLLOW. Failures surface in {@link finish}.
   */
  async #smallFile(
    entry: TarEntry,
    entryPath: string,
    declared: number,
    mode: number,
    mtime: Date | undefined,
    expected: number | undefined,
  ): Promise<void> {
    if (this.#writeError !== undefined) throw asError(this.#writeError);
    const chunks: Uint8Array[] = [];
    const sink = { write: (chunk: Uint8Array): Promise<void> => (chunks.push(chunk), Promise.resolve()) };
    const written = await this.#copy(entry, sink, entryPath, declared, expected);
    if (written.size !== declared) {
      throw this.#refuse(entryPath, `has ${written.size} bytes of data, its header says ${declared}`);
    }
    this.entries.push({ path: entryPath, type: 'file', mode, ...written });
    while (this.#writing.size >= ParallelWrites) await Promise.race(this.#writing);
    const job = (async () => {
      const handle = await this.#create(entryPath);
      try {
        for (const chunk of chunks) await writeAll(handle, chunk);
        await handle.chmod(mode & ~this.#umask);
        if (this.#options.preserveTimes !== false && validDate(mtime)) await handle.utimes(mtime, mtime);
      } finally {
        await handle.close();
      }
    })().catch((error: unknown) => {
      this.#writeError ??= error;
    });
    this.#writing.add(job);
    void job.finally(() => this.#writing.delete(job));
  }

  /**
   * Creates the file exclusively: O_EXCL fails on anything already there (and, with O_CREAT, never follows a link
   * in the last component), O_NOFOLLOW says so again; so a link planted or extracted earlier is never followed.
   */
  async #create(entryPath: string): Promise<FileHandle> {
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    try {
      return await open(this.#absolute(entryPath), flags, 0o600);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ELOOP') throw this.#refuse(entryPath, 'already exists in the staging folder');
      throw error;
    }
  }

  /**
   * The size the file at `entryPath` must have (`expectedFileSize`), or undefined when there is no expectation; a
   * file that is not expected at all is refused.
   */
  #expectedSize(entryPath: string): number | undefined {
    const { expectedFileSize } = this.#options;
    if (expectedFileSize === undefined) return undefined;
    const size = expectedFileSize(entryPath);
    if (size === undefined) throw this.#refuse(entryPath, 'is a file the table of contents does not list');
    return size;
  }

  /**
   * Copies an entry's data into `handle`, hashing it and enforcing the limits (and the expected size) on the bytes
   * themselves.
   */
  async #copy(
    entry: TarEntry,
    handle: { write(chunk: Uint8Array): Promise<void> },
    entryPath: string,
    declared: number,
    expected: number | undefined,
  ): Promise<{ size: number; sha256: string }> {
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of entry) {
        this.#options.signal?.throwIfAborted();
        // Checked before writing, so a lying header or a bomb never puts more than the limit on disk.
        if (expected !== undefined && size + chunk.byteLength > expected) {
          throw this.#refuse(entryPath, `has more than the ${expected} bytes the table of contents says`);
        }
        const over = this.#budget.addBytes(size, chunk.byteLength);
        if (over !== undefined) throw this.#refuse(entryPath, over);
        size += chunk.byteLength;
        hash.update(chunk);
        await handle.write(chunk);
      }
    } catch (error) {
      if (error instanceof LadingError || isSystemError(error) || this.#options.signal?.aborted) throw error;
      // Anything else comes from the parser, which stops the entry's data when the archive ends early or breaks.
      const reason = `is cut short: the archive ends or breaks inside its ${declared} bytes of data`;
      throw new LadingError(ErrorCodes.integrity, `${this.where}: ${JSON.stringify(entryPath)}: ${reason}`, {
        cause: error,
      });
    }
    return { size, sha256: hash.digest('hex') };
  }

  /** A repeated folder entry is tolerated when identical (same mode); anything else at that path is a duplicate. */
  async #dir(entryPath: string, header: TarHeader): Promise<void> {
    const mode = permissions(header.mode, 0o755);
    const seen = this.#seen.get(entryPath);
    if (seen?.type === 'dir' && seen.mode === mode) return;
    this.#checkNew(entryPath);
    this.#count(entryPath);
    await this.#parents(entryPath);
    if (!this.#realDirs.has(entryPath)) {
      try {
        await mkdir(this.#absolute(entryPath), { mode: 0o700 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const stats = await lstat(this.#absolute(entryPath));
        // Something that is not a folder (a planted link) must not be adopted as one.
        if (!stats.isDirectory()) throw this.#refuse(entryPath, 'already exists in the staging folder');
      }
      this.#realDirs.add(entryPath);
    }
    this.#seen.set(entryPath, { type: 'dir', mode });
    this.#dirs.set(entryPath, validDate(header.mtime) ? { mode, mtime: header.mtime } : { mode });
    this.entries.push({ path: entryPath, type: 'dir', mode });
  }

  /**
   * Creates a symlink after a lexical check of its target: absolute targets and targets that climb out of the
   * allowed scope (`l -> ../../etc`) would let a later reader of the pulled tree reach files outside it.
   */
  async #symlink(entryPath: string, header: TarHeader): Promise<void> {
    const target = header.linkname ?? '';
    const mode = permissions(header.mode, 0o777);
    this.#checkNew(entryPath);
    if (target === '') throw this.#refuse(entryPath, 'is a symbolic link with an empty target');
    // A target is printed by `ls -l` and shells; control characters in it drive the terminal that shows it.
    if (hasControlCharacter(target)) {
      throw this.#refuse(entryPath, `links to a target with a control character (${JSON.stringify(target)})`);
    }
    const scope = this.#options.linkScope ?? 'top';
    if (!targetStaysInside(entryPath, target, scope)) {
      throw this.#refuse(entryPath, `links outside the ${scopeName(scope)} (${JSON.stringify(target)})`);
    }
    this.#count(entryPath);
    await this.#parents(entryPath);
    try {
      await symlink(target, this.#absolute(entryPath));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw this.#refuse(entryPath, 'already exists in the staging folder');
      }
      throw error;
    }
    this.#seen.set(entryPath, { type: 'symlink', mode });
    this.#links.push(entryPath);
    if (this.#options.preserveTimes !== false && validDate(header.mtime)) {
      await lutimes(this.#absolute(entryPath), header.mtime, header.mtime);
    }
    this.entries.push({ path: entryPath, type: 'symlink', mode, target });
  }
}

/** Options of {@link checkSymlinksInside}. */
export interface CheckSymlinksOptions {
  /** Names the tree in error messages. Default `extract`. */
  where?: string;
  /** See {@link ExtractOptions.linkScope}. Default `top`. */
  linkScope?: LinkScope;
}

/**
 * Checks that each symlink in `links` (paths relative to `root`) resolves inside its scope when followed on disk
 * through every other link in the tree: a lexical check of one target is not enough (`a/b/l -> ..` and
 * `a/b/m -> l/../..` both look fine alone, but `m` reaches the parent of `root`). Targets that are absolute, climb
 * above the scope at any step, or go through more than 40 links are refused with `ERR_LADING_INTEGRITY`. Missing
 * components are taken lexically. Never follows a link outside `root`: only lstat and readlink are used.
 */
export async function checkSymlinksInside(
  root: string,
  links: readonly string[],
  options: CheckSymlinksOptions = {},
): Promise<void> {
  const where = options.where ?? 'extract';
  const scope = options.linkScope ?? 'top';
  for (const link of links) {
    const target = await readlink(path.join(root, ...link.split('/')));
    const why = await resolveOnDisk(root, link, target, scope === 'top' ? 1 : 0);
    if (why !== undefined) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: ${JSON.stringify(link)}: its target ${JSON.stringify(target)} ${why}`,
      );
    }
  }
}

/**
 * Walks `target` from the folder of `link` one segment at a time, replacing each symlink met with its own target.
 * `floor` is how many leading segments the walk may never leave (1: the top-level folder; 0: `root`). Returns why it
 * escapes, or undefined when it stays inside. Every path it lstats is made of real folders, so nothing is followed.
 */
async function resolveOnDisk(root: string, link: string, target: string, floor: number): Promise<string | undefined> {
  const stack = link.split('/').slice(0, -1);
  const pending = target.split('/');
  if (stack.length < floor) return 'is at the top level, where no link can stay inside its folder';
  let hops = 0;
  for (let segment = pending.shift(); segment !== undefined; segment = pending.shift()) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (stack.length <= floor) return 'resolves outside the tree through other symbolic links';
      stack.pop();
      continue;
    }
    stack.push(segment);
    const stats = await lstatOrUndefined(path.join(root, ...stack));
    if (!stats?.isSymbolicLink()) continue;
    hops++;
    if (hops > maxLinkHops) return `goes through more than ${maxLinkHops} symbolic links`;
    const next = await readlink(path.join(root, ...stack));
    if (next.startsWith('/')) return `resolves through the absolute link ${JSON.stringify(stack.join('/'))}`;
    stack.pop();
    pending.unshift(...next.split('/'));
  }
  return undefined;
}

/**
 * Lexical check of a link target: the same rule as the table of contents' `symlinkStaysInside` for the `top` scope
 * (stay inside the entry's top-level folder), or inside the extraction root for `root`. Absolute targets, NUL and
 * backslashes are refused in both.
 */
function targetStaysInside(entryPath: string, target: string, scope: LinkScope): boolean {
  if (target.startsWith('/') || target.includes('\\') || target.includes('\0')) return false;
  const floor = scope === 'top' ? 1 : 0;
  const stack = entryPath.split('/').slice(0, -1);
  if (stack.length < floor) return false;
  for (const segment of target.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment !== '..') stack.push(segment);
    else if (stack.length <= floor) return false;
    else stack.pop();
  }
  return true;
}

function scopeName(scope: LinkScope): string {
  return scope === 'top' ? 'top-level folder' : 'tree';
}

/** `.` or `./` as a folder: the archive's own root. */
function isArchiveRoot(header: TarHeader): boolean {
  return header.type === 'directory' && (header.name === '.' || header.name === './');
}

/** Permission bits only: setuid, setgid and sticky are dropped so a pulled file can never gain privileges. */
function permissions(mode: number | null | undefined, fallback: number): number {
  return (mode ?? fallback) & 0o777;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function validDate(date: Date | undefined): date is Date {
  return date !== undefined && Number.isFinite(date.getTime());
}

function depth(relative: string): number {
  return relative.split('/').length;
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Reads and drops an entry's data (skipped entries); tar-stream needs it consumed to go on. */
async function drain(entry: TarEntry, entryPath: string, where: string): Promise<void> {
  try {
    for await (const _ of entry) {
      // dropped
    }
  } catch (error) {
    throw integrityError(error, where, entryPath);
  }
}

/** `write` may write less than asked; loop until the whole chunk is on disk. */
async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

/**
 * Writes a file in batches of {@link WriteBatchBytes}: `write` gathers chunks and starts a batch's write without
 * waiting for it (waiting only for the batch before), so reading the next bytes overlaps writing the last ones. `end`
 * writes the rest; `settle` waits for a write in flight whatever its outcome (call it before closing the handle).
 */
class BatchedWriter {
  readonly #handle: FileHandle;
  #batch: Uint8Array[] = [];
  #bytes = 0;
  #inFlight: Promise<void> = Promise.resolve();

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#batch.push(chunk);
    this.#bytes += chunk.byteLength;
    if (this.#bytes < WriteBatchBytes) return;
    await this.#inFlight;
    this.#start();
  }

  async end(): Promise<void> {
    await this.#inFlight;
    if (this.#bytes > 0) this.#start();
    await this.#inFlight;
  }

  async settle(): Promise<void> {
    await this.#inFlight.catch(() => undefined);
  }

  #start(): void {
    const batch = this.#batch;
    this.#batch = [];
    this.#bytes = 0;
    this.#inFlight = writevAll(this.#handle, batch);
    // Awaited by the next write, end or settle; this only keeps a failure from being reported as unhandled first.
    this.#inFlight.catch(() => undefined);
  }
}

/** `writev` may write less than asked; write what is left until the whole batch is on disk. */
async function writevAll(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const { bytesWritten } = await handle.writev(chunks);
  if (bytesWritten < total) await writeAll(handle, Buffer.concat(chunks).subarray(bytesWritten));
}
