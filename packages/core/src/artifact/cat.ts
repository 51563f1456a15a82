/**
 * cat: one file of an artifact, fetched with a single range request for its gzip member when the registry honours
 * ranges, and checked against the table of contents before a byte is handed out.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import tar from 'tar-stream';

import type { ByteStream, CallOptions, GraphTarget } from '../content.js';
import type { Descriptor, Platform } from '../descriptor.js';
import { ErrorCodes, LadingError } from '../errors.js';
import type { RangeResult } from '../registry/repository.js';
import type { VerificationGate, VerifiedSignature } from '../trust.js';
import {
  DefaultContentLimits,
  gunzip,
  integrityError,
  isGzipError,
  WriteBudget,
  type ContentLimits,
} from './extract.js';
import { layerKind, loadArtifact } from './load.js';
import type { TOCEntry } from './toc.js';

/** Options of {@link catArtifact}. */
export interface CatOptions extends CallOptions {
  /** Signature check before any content is read. Default none. */
  gate?: VerificationGate;
  /** The reference as the user wrote it, for messages. Default `reference`. */
  display?: string;
  /** For an image index: the platform manifest to read, `os/arch[/variant]`. Default as `loadArtifact`. */
  platform?: string;
  /** Content up to this size is held in memory before it is handed out; larger content in a temporary file. Default 8 MiB. */
  memoryLimit?: number;
  /** Called when the registry ignored the range request and the whole layer had to be streamed. */
  onRangeIgnored?: (layer: Descriptor) => void;
  /**
   * Bounds on reading an artifact without a table of contents, where a folder layer is searched for the file:
   * `maxFiles` tar headers, `maxFileBytes` in the file (a file layer larger is refused before it is fetched), and
   * `maxTotalBytes + maxFiles × 16 KiB` of uncompressed tar (a gzip bomb stops there); `ERR_LADING_INTEGRITY` beyond.
   * Missing fields take `DefaultContentLimits` (100,000; 8 GiB; 16 GiB). With a table of contents its sizes are the
   * bounds.
   */
  limits?: Partial<ContentLimits>;
}

/** What {@link catArtifact} returns. */
export interface CatResult {
  /** The manifest the file was read from (for an image index, the chosen platform manifest). */
  descriptor: Descriptor;
  /** When the reference resolved to an image index: the index. */
  index?: Descriptor;
  /** When the reference resolved to an image index: the platform of the manifest read, when the index gives one. */
  platform?: Platform;
  /** The file's size. */
  size: number;
  /** `sha256:<hex>` of the content, verified. */
  digest: string;
  /** True when only the file's own gzip member was transferred. */
  ranged: boolean;
  /** The verified content; read it to the end (it removes its temporary file, if any). */
  content: ByteStream;
  /** The signatures the gate vouched for, each with the digest it is about; empty without a gate. */
  verified: VerifiedSignature[];
  /** The gate's warnings; empty without a gate. */
  warnings: string[];
}

interface RangeReader {
  fetchRange(desc: Descriptor, offset: number, length: number, options?: CallOptions): Promise<RangeResult>;
}

function canRange(t: unknown): t is RangeReader {
  return typeof (t as Partial<RangeReader>).fetchRange === 'function';
}

/** Holds verified content: in memory up to a limit, else in a temporary file. */
class Spool {
  private chunks: Buffer[] = [];
  private size = 0;
  private file: { dir: string; handle: Awaited<ReturnType<typeof open>>; path: string } | undefined;
  private readonly hash = createHash('sha256');
  constructor(private readonly limit: number) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.size += chunk.byteLength;
    this.hash.update(chunk);
    if (!this.file && this.size > this.limit) {
      const dir = await mkdtemp(path.join(tmpdir(), 'lading-cat-'));
      const file = path.join(dir, 'content');
      const handle = await open(file, 'wx', 0o600);
      for (const c of this.chunks) await handle.write(c);
      this.chunks = [];
      this.file = { dir, handle, path: file };
    }
    if (this.file) await this.file.handle.write(chunk);
    else this.chunks.push(Buffer.from(chunk));
  }

  /** Closes the spool; returns size, digest and a stream of the content. */
  async finish(): Promise<{ size: number; digest: string; content: ByteStream }> {
    const digest = `sha256:${this.hash.digest('hex')}`;
    if (!this.file) return { size: this.size, digest, content: Readable.from(this.chunks) };
    await this.file.handle.close();
    const { dir, path: file } = this.file;
    const content = (async function* () {
      try {
        for await (const chunk of createReadStream(file)) yield chunk as Buffer;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })();
    return { size: this.size, digest, content };
  }

  async discard(): Promise<void> {
    if (this.file) {
      await this.file.handle.close().catch(() => undefined);
      await rm(this.file.dir, { recursive: true, force: true });
    }
  }
}

/** Yields nothing but consumes `source` fully, passing bytes in [offset, offset+length) to the returned stream. */
async function* slice(source: AsyncIterable<Uint8Array>, offset: number, length: number): AsyncGenerator<Uint8Array> {
  let position = 0;
  for await (const chunk of source) {
    const start = Math.max(0, offset - position);
    const end = Math.min(chunk.byteLength, offset + length - position);
    if (end > start) yield chunk.subarray(start, end);
    position += chunk.byteLength;
  }
}

/**
 * Room for what a gzip member holds besides the file's bytes: its tar header (PAX or GNU long-name headers
 * included), padding, and the end-of-archive blocks of the last member.
 */
const memberAllowance = 64 * 1024;

/** Passes `source` on, refusing (`ERR_LADING_INTEGRITY`) before the first byte past `limit`. */
async function* bounded(
  source: AsyncIterable<Uint8Array>,
  limit: number,
  where: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > limit) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: the gzip member inflates to more than ${limit} bytes, more than the table of contents allows`,
      );
    }
    yield chunk;
  }
}

/** Spools `source`, refusing (`ERR_LADING_INTEGRITY`) before the first byte past `expected`, when given. */
async function spoolAll(
  source: AsyncIterable<Uint8Array>,
  spool: Spool,
  expected: number | undefined,
  where: string,
): Promise<void> {
  let size = 0;
  for await (const chunk of source) {
    size += chunk.byteLength;
    if (expected !== undefined && size > expected) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: content is larger than the ${expected} bytes the table of contents says`,
      );
    }
    await spool.write(chunk);
  }
}

/** Passes the uncompressed tar on, counting it against the budget's archive bytes (a gzip bomb stops there). */
async function* archiveBounded(
  source: AsyncIterable<Uint8Array>,
  budget: WriteBudget,
  where: string,
): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const chunk of source) {
    const over = budget.addArchiveBytes(chunk.byteLength);
    if (over !== undefined) throw new LadingError(ErrorCodes.integrity, `${where}: ${over} (raise options.limits)`);
    yield chunk;
  }
}

/**
 * Reads the entry `wanted` out of a tar stream into `spool`. With `first`, the entry must be the stream's first
 * (a single gzip member holds exactly one entry); otherwise the stream is searched. With `expected` (the table of
 * contents' size), a header announcing more is refused before its data is read, and nothing past it is spooled.
 * With `budget` (a search without a table of contents), every header counts against `maxFiles` and a file larger
 * than `maxFileBytes` is refused before its data is read.
 */
async function readTarEntry(
  tarStream: AsyncIterable<Uint8Array>,
  wanted: string,
  spool: Spool,
  where: string,
  first: boolean,
  expected?: number,
  budget?: WriteBudget,
): Promise<void> {
  const extract = tar.extract();
  let found = false as boolean;
  let seen = 0;
  const done = (async () => {
    for await (const entry of extract) {
      seen++;
      const full = budget?.addEntry();
      if (full !== undefined) throw new LadingError(ErrorCodes.integrity, `${where}: the layer ${full}`);
      const name = entry.header.name.replace(/^\.\//, '').replace(/\/+$/, '');
      if (name === wanted && !found) {
        if (entry.header.type !== 'file')
          throw new LadingError(ErrorCodes.integrity, `${where}: ${wanted} is a ${entry.header.type} in the layer`);
        found = true;
        const declared = entry.header.size;
        if (expected !== undefined && declared > expected) {
          throw new LadingError(
            ErrorCodes.integrity,
            `${where}: the layer's header gives ${wanted} ${declared} bytes, the table of contents says ${expected}`,
          );
        }
        const over = budget?.checkDeclared(declared);
        if (over !== undefined) throw new LadingError(ErrorCodes.integrity, `${where}: ${wanted} ${over}`);
        await spoolAll(entry as AsyncIterable<Uint8Array>, spool, expected, where);
      } else {
        if (first && seen === 1)
          throw new LadingError(
            ErrorCodes.integrity,
            `${where}: the member at the listed offset holds ${JSON.stringify(name)}, not ${wanted}`,
          );
        entry.resume();
      }
    }
  })();
  const feeding = pipeline(Readable.from(tarStream), extract as unknown as NodeJS.WritableStream);
  const [fed, read] = await Promise.allSettled([feeding, done]);
  // The input's own failure (a digest mismatch, broken gzip data) is the cause, whatever the reader made of it; the
  // parser's complaints about an input cut short by the reader's refusal are not.
  const inputFailed = fed.status === 'rejected' && (fed.reason instanceof LadingError || isGzipError(fed.reason));
  if (read.status === 'rejected') throw integrityError(inputFailed ? fed.reason : read.reason, where);
  if (fed.status === 'rejected') throw integrityError(fed.reason, where);
  if (!found) throw new LadingError(ErrorCodes.notFound, `${where}: ${wanted} is not in the layer`);
}

/**
 * Reads one file of the artifact `reference` names. With a table of contents, a file inside a folder layer costs
 * one range request for its gzip member (falling back to streaming the layer, with `onRangeIgnored`, when the
 * registry ignores ranges); its path, size and sha256 are checked against the TOC before the content is returned.
 * Without a TOC, titled file layers are fetched whole and folder layers are streamed to find the file.
 */
export async function catArtifact(
  target: GraphTarget,
  reference: string,
  file: string,
  options: CatOptions = {},
): Promise<CatResult> {
  const { gate, display: shown, memoryLimit, onRangeIgnored, platform, limits, ...call } = options;
  const display = shown ?? reference;
  const artifact = await loadArtifact(target, reference, display, {
    ...call,
    ...(gate && { gate }),
    ...(platform !== undefined && { platform }),
  });
  const where = `cat ${display} ${file}`;
  const budget = new WriteBudget({ ...DefaultContentLimits, ...limits }, 'cat options.limits');
  const wanted = file.replace(/^\.\//, '').replace(/\/+$/, '');
  const spool = new Spool(memoryLimit ?? 8 * 1024 * 1024);
  let ranged = false;
  try {
    let entry: TOCEntry | undefined;
    if (artifact.toc) {
      entry = artifact.toc.entries.find((e) => e.path === wanted);
      if (!entry) throw new LadingError(ErrorCodes.notFound, `${where}: no such file in the artifact (see lading ls)`);
      if (entry.type !== 'file')
        throw new LadingError(
          ErrorCodes.usage,
          `${where}: it is a ${entry.type === 'dir' ? 'folder' : `symlink to ${String(entry.target)}`}, not a file`,
        );
      const layer = artifact.manifest.layers[entry.layer];
      if (!layer) throw new LadingError(ErrorCodes.integrity, `${where}: layer ${entry.layer} is missing`);
      const kind = layerKind(layer);
      if (kind.kind === 'file') {
        // A file layer is the file: a size that differs from the TOC's is refused before anything is fetched.
        if (layer.size !== entry.size) {
          throw new LadingError(
            ErrorCodes.integrity,
            `${where}: the table of contents says ${String(entry.size)} bytes, its layer ${entry.layer} has ${layer.size}`,
          );
        }
        await spoolAll(await target.fetch(layer, call), spool, entry.size, where);
      } else if (kind.kind === 'tar') {
        let member: AsyncIterable<Uint8Array> | undefined;
        if (canRange(target)) {
          const r = await target.fetchRange(layer, entry.offset, entry.length, call);
          if (r.partial) {
            member = r.stream;
            ranged = true;
          } else {
            onRangeIgnored?.(layer);
            member = slice(r.stream, entry.offset, entry.length);
          }
        } else {
          member = slice(await target.fetch(layer, call), entry.offset, entry.length);
        }
        // The member holds one entry of the TOC's size: bound what it may inflate to, and what is spooled.
        const inflated = bounded(kind.gzip ? gunzip(member) : member, (entry.size ?? 0) + memberAllowance, where);
        await readTarEntry(inflated, wanted, spool, where, true, entry.size);
      } else {
        throw new LadingError(
          ErrorCodes.integrity,
          `${where}: the table of contents points at a layer that holds no files`,
        );
      }
    } else {
      const layers = artifact.manifest.layers;
      const fileLayer = layers.find((l) => {
        const k = layerKind(l);
        return k.kind === 'file' && k.path === wanted;
      });
      if (fileLayer) {
        const over = budget.checkDeclared(fileLayer.size);
        if (over !== undefined) throw new LadingError(ErrorCodes.integrity, `${where}: the file layer ${over}`);
        await spoolAll(await target.fetch(fileLayer, call), spool, undefined, where);
      } else {
        const tarLayer = layers.find((l) => {
          const k = layerKind(l);
          return k.kind === 'tar' && (k.title === undefined || wanted === k.title || wanted.startsWith(`${k.title}/`));
        });
        if (!tarLayer) throw new LadingError(ErrorCodes.notFound, `${where}: no such file in the artifact`);
        const kind = layerKind(tarLayer);
        const stream = await target.fetch(tarLayer, call);
        const tarStream = archiveBounded(kind.kind === 'tar' && kind.gzip ? gunzip(stream) : stream, budget, where);
        await readTarEntry(tarStream, wanted, spool, where, false, undefined, budget);
      }
    }
    const out = await spool.finish();
    if (entry && (out.size !== entry.size || out.digest !== `sha256:${String(entry.sha256)}`)) {
      await drain(out.content);
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: content does not match the table of contents (expected sha256:${String(entry.sha256)} and ${String(entry.size)} bytes, got ${out.digest} and ${out.size})`,
      );
    }
    return {
      descriptor: artifact.descriptor,
      ...(artifact.index && { index: artifact.index }),
      ...(artifact.platform && { platform: artifact.platform }),
      size: out.size,
      digest: out.digest,
      ranged,
      content: out.content,
      verified: artifact.verified,
      warnings: artifact.warnings,
    };
  } catch (error) {
    await spool.discard();
    throw error;
  }
}

async function drain(stream: ByteStream): Promise<void> {
  for await (const _ of stream) {
    // drop: removes the spool file
  }
}
