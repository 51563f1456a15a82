/**
 * Blob uploads to a remote repository, in three strategies:
 * - monolithic: `POST` a session, then one `PUT ?digest=` with the whole blob (blobs up to the chunk size);
 * - chunked: `PATCH` chunks of the chunk size (raised to the registry's `OCI-Chunk-Min-Length`), each resumed after
 *   a dropped connection from the offset the registry reports, then an empty `PUT ?digest=`;
 * - streaming from a file: one `PATCH` for the whole file, resumed by reopening the file at the reported offset.
 * Plus cross-repository mount. A failed upload cancels its session (best effort).
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
 */
import { createReadStream } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';

import type { ByteStream, CallOptions } from '../content.js';
import type { Descriptor } from '../descriptor.js';
import { parseDigest, readAll, verifyContent } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { toByteStream } from '../memory-store.js';
import { HeaderContentDigest, HeaderOCIChunkMinLength } from '../media-types.js';
import { statusError } from './errors.js';
import { drainBody, responseHeader, type RegistryResponse } from './http.js';
import { signalOf, type RepositoryContext, type RepositoryRequest } from './repository-context.js';
import { backoffDelay, wait } from './retry.js';

/** Options of {@link BlobUploads}. */
export interface BlobUploadsOptions {
  /** Blobs larger than this go in chunks of this size (see `RemoteRepositoryOptions.chunkSize`). Default 16 MiB. */
  chunkSize?: number;
  /** Whether the repository holds a blob (a replayed final PUT may find the blob already stored). */
  exists: (desc: Descriptor, options?: CallOptions) => Promise<boolean>;
}

/** The blob-upload step of one repository: every upload strategy, and mount. */
export class BlobUploads {
  private readonly ctx: RepositoryContext;
  private readonly options: BlobUploadsOptions;

  constructor(ctx: RepositoryContext, options: BlobUploadsOptions) {
    this.ctx = ctx;
    this.options = options;
  }

  /**
   * Uploads `content` as the blob `desc`: monolithic when at most the chunk size, else chunked. The bytes sent are
   * hashed; a size or digest mismatch with `desc` cancels the upload with `ERR_LADING_INTEGRITY`.
   */
  async upload(desc: Descriptor, content: ByteStream | Uint8Array, options?: CallOptions): Promise<void> {
    const where = `push blob ${this.ctx.name}@${desc.digest}`;
    parseDigest(desc.digest);
    const session = await this.startUpload(where, options);
    const chunkSize = Math.max(this.options.chunkSize ?? 16 * 1024 * 1024, session.minChunk);
    let location = session.location;
    // Checked as it is read (digest.ts `verifyContent`): a chunk past the size fails at once, a mismatch at the end,
    // before the closing PUT.
    const verified = verifyContent(desc, toByteStream(content), where);
    try {
      if (desc.size <= chunkSize) {
        const body = await readAll(verified, chunkSize, where);
        await this.finishUpload(location, desc, body, where, options);
        return;
      }
      let offset = 0;
      for await (const chunk of rechunk(verified, chunkSize)) {
        location = await this.sendChunk(location, chunk, offset, where, options);
        offset += chunk.byteLength;
      }
      await this.finishUpload(location, desc, undefined, where, options);
    } catch (error) {
      await this.cancelUpload(location);
      throw error;
    }
  }

  /**
   * Uploads a blob straight from a file: one streaming PATCH for the whole file (no chunk buffering, no second
   * hash: the registry checks the digest on the final PUT), resumed after a dropped connection from the offset the
   * registry reports by reopening the file there. `onProgress` receives the bytes sent so far.
   */
  async uploadFile(
    desc: Descriptor,
    file: string,
    options?: CallOptions & { onProgress?: (bytes: number) => void },
  ): Promise<void> {
    const where = `push blob ${this.ctx.name}@${desc.digest}`;
    parseDigest(desc.digest);
    const session = await this.startUpload(where, options);
    let location = session.location;
    try {
      let offset = 0;
      for (let attempt = 0; offset < desc.size; attempt++) {
        const start = offset;
        try {
          const res = await this.patch(
            location,
            start,
            desc.size - start,
            () => fileBody(file, start, options?.onProgress),
            options,
          );
          if (res.status !== 202 && res.status !== 204) throw await statusError(`${where}: upload from ${start}`, res);
          await drainBody(res);
          const next = responseHeader(res, 'location');
          if (next) location = new URL(next, location);
          offset = desc.size;
        } catch (error) {
          await this.beforeRetry(error, attempt, options);
          offset = await this.uploadedBytes(location, where, options);
          if (offset > desc.size)
            throw new LadingError(ErrorCodes.protocol, `${where}: the registry reports more bytes than the blob has`);
        }
      }
      await this.finishUpload(location, desc, undefined, where, options);
    } catch (error) {
      await this.cancelUpload(location);
      throw error;
    }
  }

  /**
   * Mounts a blob from another repository of the same registry (no bytes move). Returns false when the registry
   * declined (then upload it); the upload session it opened instead is cancelled.
   */
  async mount(desc: Descriptor, fromRepository: string, options?: CallOptions): Promise<boolean> {
    const url = this.ctx.url('blobs/uploads/');
    url.searchParams.set('mount', desc.digest);
    url.searchParams.set('from', fromRepository);
    const res = await this.ctx.send({
      method: 'POST',
      url,
      idempotent: true,
      scopes: this.ctx.scopes(true, [`repository:${fromRepository}:pull`]),
      ...signalOf(options),
    });
    if (res.status === 201) {
      await drainBody(res);
      return true;
    }
    if (res.status === 202) {
      await drainBody(res);
      const location = responseHeader(res, 'location');
      if (location) await this.cancelUpload(new URL(location, this.ctx.base));
      return false;
    }
    throw await statusError(`mount blob ${desc.digest} from ${fromRepository} into ${this.ctx.name}`, res);
  }

  /**
   * Rethrows `error` unless a retry may cure it (an `ERR_LADING_NETWORK` failure, attempts left, not aborted);
   * otherwise waits the retry policy's backoff for `attempt`.
   */
  private async beforeRetry(error: unknown, attempt: number, options?: CallOptions): Promise<void> {
    const retryable = error instanceof LadingError && error.code === ErrorCodes.network;
    if (!retryable || attempt >= this.ctx.retry.retries || options?.signal?.aborted) throw error;
    await wait(backoffDelay(this.ctx.retry, attempt), options?.signal);
  }

  /** PATCHes `length` bytes at `start` of the upload session at `location` (`body`: bytes, or a stream factory). */
  private patch(
    location: URL,
    start: number,
    length: number,
    body: Uint8Array | (() => Readable),
    options?: CallOptions,
  ): Promise<RegistryResponse> {
    const req: RepositoryRequest = {
      method: 'PATCH',
      url: location,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + length - 1}` },
      body,
      scopes: this.ctx.scopes(true),
      ...signalOf(options),
    };
    if (typeof body === 'function') req.contentLength = length;
    return this.ctx.send(req);
  }

  private async startUpload(where: string, options?: CallOptions): Promise<{ location: URL; minChunk: number }> {
    const res = await this.ctx.send({
      method: 'POST',
      url: this.ctx.url('blobs/uploads/'),
      idempotent: true, // opening a session twice only leaves an unused session behind
      scopes: this.ctx.scopes(true),
      ...signalOf(options),
    });
    if (res.status !== 202) throw await statusError(where, res);
    await drainBody(res);
    const location = responseHeader(res, 'location');
    if (!location) throw new LadingError(ErrorCodes.protocol, `${where}: upload started without a Location`);
    const minChunk = Number(responseHeader(res, HeaderOCIChunkMinLength) ?? 0);
    return { location: new URL(location, this.ctx.base), minChunk: Number.isSafeInteger(minChunk) ? minChunk : 0 };
  }

  private async cancelUpload(location: URL): Promise<void> {
    try {
      const res = await this.ctx.send({ method: 'DELETE', url: location, scopes: this.ctx.scopes(true) });
      await drainBody(res);
    } catch {
      // Best effort: an abandoned session expires on the registry.
    }
  }

  /** PATCHes one chunk at `offset`; after a dropped connection asks the registry how much arrived and sends the rest. */
  private async sendChunk(
    location: URL,
    chunk: Buffer,
    offset: number,
    where: string,
    options?: CallOptions,
  ): Promise<URL> {
    let sent = 0;
    for (let attempt = 0; ; attempt++) {
      const part = chunk.subarray(sent);
      const start = offset + sent;
      try {
        const res = await this.patch(location, start, part.byteLength, part, options);
        // The spec says 202; go-containerregistry's registry answers 204.
        if (res.status !== 202 && res.status !== 204)
          throw await statusError(`${where}: upload chunk at ${start}`, res);
        await drainBody(res);
        const next = responseHeader(res, 'location');
        return next ? new URL(next, location) : location;
      } catch (error) {
        await this.beforeRetry(error, attempt, options);
        const received = await this.uploadedBytes(location, where, options);
        if (received < offset || received > offset + chunk.byteLength) {
          throw new LadingError(
            ErrorCodes.protocol,
            `${where}: the registry reports ${received} bytes received, cannot resume at ${offset}`,
            { cause: error },
          );
        }
        sent = received - offset;
        if (sent === chunk.byteLength) return location;
      }
    }
  }

  /** How many bytes an upload session holds, from `GET <location>` (204 with `Range: 0-<last>`). */
  private async uploadedBytes(location: URL, where: string, options?: CallOptions): Promise<number> {
    const res = await this.ctx.send({
      method: 'GET',
      url: location,
      scopes: this.ctx.scopes(true),
      followRedirects: false,
      ...signalOf(options),
    });
    if (res.status !== 204 && res.status !== 202) throw await statusError(`${where}: upload status`, res);
    await drainBody(res);
    const m = /^(?:bytes=)?0-(\d+)$/.exec(responseHeader(res, 'range') ?? '');
    return m ? Number(m[1]) + 1 : 0;
  }

  private async finishUpload(
    location: URL,
    desc: Descriptor,
    body: Uint8Array | undefined,
    where: string,
    options?: CallOptions,
  ): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', desc.digest);
    const req: RepositoryRequest = {
      method: 'PUT',
      url,
      headers: { 'content-type': 'application/octet-stream' },
      scopes: this.ctx.scopes(true),
      ...signalOf(options),
    };
    if (body) req.body = body;
    const res: RegistryResponse = await this.ctx.send(req);
    if (res.status === 201 || res.status === 204) {
      await drainBody(res);
      const stored = responseHeader(res, HeaderContentDigest);
      if (stored && stored !== desc.digest) {
        throw new LadingError(ErrorCodes.integrity, `${where}: the registry stored ${stored}`);
      }
      return;
    }
    // A replayed PUT after a lost response finds the session closed: the blob may be there already.
    if (res.status === 404 && (await this.options.exists(desc, options))) {
      await drainBody(res);
      return;
    }
    throw await statusError(where, res);
  }
}

/** The body of a streaming file upload from `start`, reporting the bytes read so far to `report` when given. */
function fileBody(file: string, start: number, report?: (bytes: number) => void): Readable {
  const stream = createReadStream(file, { start, highWaterMark: 1024 * 1024 });
  if (!report) return stream;
  let sent = start;
  const counter = stream.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done: TransformCallback) {
        sent += chunk.length;
        report(sent);
        done(null, chunk);
      },
    }),
  );
  stream.on('error', (error) => counter.destroy(error));
  return counter;
}

/** `source` cut into `size`-byte pieces (the last may be shorter); one piece is held in memory at a time. */
async function* rechunk(source: ByteStream | Uint8Array, size: number): AsyncGenerator<Buffer> {
  if (source instanceof Uint8Array) {
    for (let i = 0; i < source.byteLength; i += size) {
      yield Buffer.from(source.buffer, source.byteOffset + i, Math.min(size, source.byteLength - i));
    }
    return;
  }
  let buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.byteLength) {
      const n = Math.min(size - filled, piece.byteLength - offset);
      buffer.set(piece.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) {
        yield buffer;
        buffer = Buffer.allocUnsafe(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}
