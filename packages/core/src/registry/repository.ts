/**
 * One repository on a remote registry, as a {@link GraphTarget}: blobs (exists, streamed and verified download,
 * range reads, monolithic and resumable chunked upload, cross-repository mount), manifests (Accept negotiation,
 * digest checked on every read, size cap, several tags), tags (paginated), deletion, and referrers (the OCI 1.1
 * API when the registry serves it, the tag-schema fallback otherwise).
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md
 */
import { createReadStream } from 'node:fs';
import { Readable, Transform, type TransformCallback } from 'node:stream';

import type { ByteStream, CallOptions, Deleter, GraphTarget, ReferrersOptions } from '../content.js';
import { checkDescriptor, parseManifest, type Descriptor, type ImageIndex } from '../descriptor.js';
import { Digester, digestOf, parseDigest, readAll, verifyContent } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import {
  DefaultManifestSizeLimit,
  HeaderContentDigest,
  HeaderOCIChunkMinLength,
  HeaderOCIFiltersApplied,
  ManifestMediaTypes,
  MediaTypeEmptyJSON,
  MediaTypeImageIndex,
} from '../media-types.js';
import { dialHost } from '../reference.js';
import { statusError } from './errors.js';
import { discardBody, responseHeader, type RegistryHTTP, type RegistryRequest, type RegistryResponse } from './http.js';
import { backoffDelay, isTransientError, wait } from './retry.js';

/** Options of {@link RemoteRepository}. */
export interface RemoteRepositoryOptions {
  /** The shared HTTP layer (connection pool, auth, retries). */
  http: RegistryHTTP;
  /** Registry as in the reference: `host[:port]`, or `docker.io` for Docker Hub (dialled as `registry-1.docker.io`). */
  registry: string;
  /** Repository path, e.g. `acme/config`. */
  repository: string;
  /** Largest manifest or listing read into memory. Default 4 MiB. */
  manifestSizeLimit?: number;
  /**
   * Blobs larger than this are uploaded in chunks of this size (raised to the registry's `OCI-Chunk-Min-Length`),
   * each resumable after a dropped connection; smaller ones in one PUT. One chunk is held in memory per upload.
   * Default 16 MiB.
   */
  chunkSize?: number;
  /**
   * Referrers API use: `auto` probes the registry once (a 200 with an image index means supported; 404, 400, 405
   * or 406 means use the tag-schema fallback), `api` and `fallback` force one. Default `auto`.
   */
  referrers?: 'auto' | 'api' | 'fallback';
  /** After updating a fallback referrers index, delete the index it replaced (notation does; oras does not). Default false. */
  deleteSupersededReferrersIndex?: boolean;
  /** Tags per page when listing. Default 1000. */
  tagPageSize?: number;
  /** Pages followed at most when listing tags or referrers. Default 100. */
  maxPages?: number;
}

/** Result of {@link RemoteRepository.fetchRange}. */
export interface RangeResult {
  /** True when the registry honoured the range (206); false when it sent the whole blob (200). */
  partial: boolean;
  /** The bytes: the range when `partial`, else the whole blob. Not digest-checked (a range cannot be). */
  stream: ByteStream;
}

/** Result of {@link RemoteRepository.fetchManifest}. */
export interface FetchedManifest {
  descriptor: Descriptor;
  /** The exact bytes, verified against `descriptor.digest`. */
  bytes: Uint8Array;
}

/** The fallback referrers tag for a digest: `<alg>-<hex>`, alg cut to 32 and hex to 64 characters (OCI 1.1). */
export function referrersTag(digest: string): string {
  const [alg = '', hex = ''] = digest.split(':');
  return `${alg.slice(0, 32)}-${hex.slice(0, 64)}`;
}

function isManifestType(mediaType: string): boolean {
  return ManifestMediaTypes.includes(mediaType);
}

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

/**
 * A repository on a remote registry. Every read is verified: blobs stream through a size+digest check, manifests
 * are hashed before they are parsed. Create one per repository; they may share one {@link RegistryHTTP}.
 */
export class RemoteRepository implements GraphTarget, Deleter {
  readonly registry: string;
  readonly repository: string;
  private readonly http: RegistryHTTP;
  private readonly base: URL;
  private readonly options: RemoteRepositoryOptions;
  private referrersAPI: boolean | undefined;

  constructor(options: RemoteRepositoryOptions) {
    this.options = options;
    this.http = options.http;
    this.registry = options.registry;
    this.repository = options.repository;
    this.base = this.http.baseURL(dialHost(options.registry));
    if (options.referrers === 'api') this.referrersAPI = true;
    if (options.referrers === 'fallback') this.referrersAPI = false;
  }

  /** `registry/repository`, for messages. */
  get name(): string {
    return `${this.registry}/${this.repository}`;
  }

  private get limit(): number {
    return this.options.manifestSizeLimit ?? DefaultManifestSizeLimit;
  }

  private url(path: string): URL {
    return new URL(`/v2/${this.repository}/${path}`, this.base);
  }

  private scopes(push: boolean, extra: readonly string[] = []): string[] {
    return [`repository:${this.repository}:${push ? 'pull,push' : 'pull'}`, ...extra];
  }

  private send(req: Omit<RegistryRequest, 'scopes'> & { scopes?: readonly string[] }): Promise<RegistryResponse> {
    return this.http.send(this.base, this.registry, { ...req, scopes: req.scopes ?? this.scopes(false) });
  }

  private signalOf(options?: CallOptions): { signal?: AbortSignal } {
    return options?.signal ? { signal: options.signal } : {};
  }

  // ---------------------------------------------------------------- existence and reads

  /** True when the blob or manifest `desc` points at exists here (HEAD). */
  async exists(desc: Descriptor, options?: CallOptions): Promise<boolean> {
    const kind = isManifestType(desc.mediaType) ? 'manifests' : 'blobs';
    // distribution answers 404 for an OCI manifest when Accept does not list its type.
    const headers: Record<string, string> = kind === 'manifests' ? { accept: ManifestMediaTypes.join(', ') } : {};
    const res = await this.send({
      method: 'HEAD',
      url: this.url(`${kind}/${desc.digest}`),
      headers,
      ...this.signalOf(options),
    });
    await res.body.dump().catch(() => undefined);
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await statusError(`check ${kind.slice(0, -1)} ${this.name}@${desc.digest}`, res);
  }

  /**
   * Streams a blob (or manifest) verified for size and digest: the stream errors with `ERR_LADING_INTEGRITY` at the
   * first byte past the size or at the end on a digest mismatch. Redirects to blob storage are followed without
   * credentials.
   */
  async fetch(desc: Descriptor, options?: CallOptions): Promise<ByteStream> {
    parseDigest(desc.digest);
    if (isManifestType(desc.mediaType)) {
      const { bytes } = await this.fetchManifest(desc.digest, { ...options, mediaType: desc.mediaType });
      if (bytes.byteLength !== desc.size) {
        throw new LadingError(
          ErrorCodes.integrity,
          `fetch manifest ${this.name}@${desc.digest}: size mismatch: expected ${desc.size} bytes, got ${bytes.byteLength}`,
        );
      }
      return Readable.from([bytes], { objectMode: false });
    }
    const where = `fetch blob ${this.name}@${desc.digest}`;
    const res = await this.send({ method: 'GET', url: this.url(`blobs/${desc.digest}`), ...this.signalOf(options) });
    if (res.status !== 200) throw await statusError(where, res);
    const length = responseHeader(res, 'content-length');
    if (length !== undefined && Number(length) !== desc.size) {
      discardBody(res);
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: size mismatch: expected ${desc.size} bytes, the registry announced ${length}`,
      );
    }
    return verifyContent(desc, this.resumingBody(desc, res, where, options), where);
  }

  /**
   * The body of a blob download that survives dropped connections: after a transient failure mid-body it asks for
   * the rest with `Range: bytes=<received>-` (within the retry policy) and carries on, so a flaky link does not
   * restart a large download. The caller's digest check covers the joined stream.
   */
  private async *resumingBody(
    desc: Descriptor,
    first: RegistryResponse,
    where: string,
    options?: CallOptions,
  ): AsyncGenerator<Uint8Array> {
    let res = first;
    let received = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          received += chunk.byteLength;
          yield chunk;
        }
        return;
      } catch (error) {
        if (error instanceof LadingError || options?.signal?.aborted) throw error;
        const lost = `${where}: connection lost after ${received} of ${desc.size} bytes`;
        if (!isTransientError(error) || attempt >= this.http.retry.retries || received >= desc.size) {
          throw new LadingError(ErrorCodes.network, lost, { cause: error });
        }
        await wait(backoffDelay(this.http.retry, attempt), options?.signal);
        res = await this.send({
          method: 'GET',
          url: this.url(`blobs/${desc.digest}`),
          headers: { range: `bytes=${received}-` },
          ...this.signalOf(options),
        });
        const range = /^bytes (\d+)-/.exec(responseHeader(res, 'content-range') ?? '');
        if (res.status !== 206 || Number(range?.[1]) !== received) {
          discardBody(res);
          throw new LadingError(ErrorCodes.network, `${lost}; the registry cannot resume it (HTTP ${res.status})`, {
            cause: error,
          });
        }
      }
    }
  }

  /**
   * Reads `length` bytes of a blob from `offset` with one HTTP range request. When the registry ignores ranges
   * the result has `partial: false` and streams the whole blob, so the caller can fall back (and say so).
   */
  async fetchRange(desc: Descriptor, offset: number, length: number, options?: CallOptions): Promise<RangeResult> {
    const where = `fetch blob range ${this.name}@${desc.digest}`;
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length <= 0 ||
      offset + length > desc.size
    ) {
      throw new LadingError(
        ErrorCodes.usage,
        `${where}: range ${offset}+${length} is outside the ${desc.size}-byte blob`,
      );
    }
    const res = await this.send({
      method: 'GET',
      url: this.url(`blobs/${desc.digest}`),
      headers: { range: `bytes=${offset}-${offset + length - 1}` },
      ...this.signalOf(options),
    });
    if (res.status === 206) {
      const range = responseHeader(res, 'content-range') ?? '';
      const m = /^bytes (\d+)-(\d+)\//.exec(range);
      if (!m || Number(m[1]) !== offset || Number(m[2]) !== offset + length - 1) {
        discardBody(res);
        throw new LadingError(
          ErrorCodes.protocol,
          `${where}: the registry sent range ${JSON.stringify(range)}, not ${offset}-${offset + length - 1}`,
        );
      }
      return { partial: true, stream: limitStream(res.body, length, where) };
    }
    if (res.status === 200) return { partial: false, stream: verifyContent(desc, res.body, where) };
    throw await statusError(where, res);
  }

  /**
   * Resolves a tag or digest to the manifest's descriptor with HEAD (falling back to GET when the registry omits
   * `Docker-Content-Digest`, as ECR does). `ERR_LADING_NOT_FOUND` when absent.
   */
  async resolve(reference: string, options?: CallOptions): Promise<Descriptor> {
    const where = `resolve ${this.name}${reference.includes(':') ? '@' : ':'}${reference}`;
    const res = await this.send({
      method: 'HEAD',
      url: this.url(`manifests/${reference}`),
      headers: { accept: ManifestMediaTypes.join(', ') },
      ...this.signalOf(options),
    });
    await res.body.dump().catch(() => undefined);
    if (res.status === 404) throw new LadingError(ErrorCodes.notFound, `${where}: not found`);
    if (res.status !== 200) throw await statusError(where, res);
    const digest = responseHeader(res, HeaderContentDigest);
    const size = Number(responseHeader(res, 'content-length'));
    const mediaType = (responseHeader(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    const byDigest = reference.includes(':');
    if (!digest || !Number.isSafeInteger(size) || !isManifestType(mediaType) || (byDigest && digest !== reference)) {
      return (await this.fetchManifest(reference, this.signalOf(options))).descriptor;
    }
    return { mediaType, digest, size };
  }

  /**
   * Fetches a manifest by tag or digest, capped at the size limit, and verifies it: by digest, the body must hash
   * to it; by tag, the body must hash to `Docker-Content-Digest` when the registry sends one. The body's digest is
   * what counts (HEAD and GET lengths differ on some registries).
   */
  async fetchManifest(reference: string, options?: CallOptions & { mediaType?: string }): Promise<FetchedManifest> {
    const byDigest = reference.includes(':');
    const where = `fetch manifest ${this.name}${byDigest ? '@' : ':'}${reference}`;
    if (byDigest) parseDigest(reference);
    const accept = options?.mediaType
      ? [options.mediaType, ...ManifestMediaTypes.filter((t) => t !== options.mediaType)]
      : ManifestMediaTypes;
    const res = await this.send({
      method: 'GET',
      url: this.url(`manifests/${reference}`),
      headers: { accept: accept.join(', ') },
      ...this.signalOf(options),
    });
    if (res.status === 404) {
      discardBody(res);
      throw new LadingError(ErrorCodes.notFound, `${where}: not found`);
    }
    if (res.status !== 200) throw await statusError(where, res);
    const announced = Number(responseHeader(res, 'content-length'));
    if (Number.isFinite(announced) && announced > this.limit) {
      discardBody(res);
      throw new LadingError(
        ErrorCodes.protocol,
        `${where}: ${announced} bytes is over the ${this.limit}-byte manifest limit`,
      );
    }
    const bytes = await readAll(res.body, this.limit, where);
    const header = responseHeader(res, HeaderContentDigest);
    const expected = byDigest ? reference : header;
    const algorithm = expected ? parseDigest(expected, `${where}: digest`).algorithm : 'sha256';
    const actual = digestOf(bytes, algorithm);
    if (expected && actual !== expected) {
      throw new LadingError(ErrorCodes.integrity, `${where}: digest mismatch: expected ${expected}, got ${actual}`);
    }
    const declared = (responseHeader(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    const parsed = parseManifest(bytes, declared, where);
    const own = parsed.kind === 'index' ? parsed.index.mediaType : parsed.manifest.mediaType;
    const mediaType =
      own ?? (isManifestType(declared) ? declared : parsed.kind === 'index' ? MediaTypeImageIndex : declared);
    if (!isManifestType(mediaType)) {
      throw new LadingError(
        ErrorCodes.protocol,
        `${where}: unsupported manifest media type ${JSON.stringify(mediaType)}`,
      );
    }
    const descriptor: Descriptor = { mediaType, digest: digestOf(bytes, 'sha256'), size: bytes.byteLength };
    if (algorithm !== 'sha256') descriptor.digest = actual;
    const artifactType = parsed.kind === 'index' ? parsed.index.artifactType : parsed.manifest.artifactType;
    if (artifactType) descriptor.artifactType = artifactType;
    return { descriptor, bytes };
  }

  // ---------------------------------------------------------------- writes

  /**
   * Stores a blob or manifest. Blobs: one POST + PUT when at most `chunkSize`, else chunked PATCHes that resume from
   * the registry's upload status after a dropped connection; the bytes sent are hashed, and a mismatch with `desc`
   * cancels the upload with `ERR_LADING_INTEGRITY`. Manifests: see {@link pushManifest}.
   */
  async push(desc: Descriptor, content: ByteStream | Uint8Array, options?: CallOptions): Promise<void> {
    parseDigest(desc.digest);
    if (isManifestType(desc.mediaType)) {
      const bytes =
        content instanceof Uint8Array
          ? content
          : await readAll(content, this.limit, `push manifest ${this.name}@${desc.digest}`);
      await this.pushManifest(desc, bytes, [], options);
      return;
    }
    await this.uploadBlob(desc, content, options);
  }

  /**
   * Mounts a blob from another repository of the same registry (no bytes move). Returns false when the registry
   * declined (then upload it); the upload session it opened instead is cancelled.
   */
  async mount(desc: Descriptor, fromRepository: string, options?: CallOptions): Promise<boolean> {
    const url = this.url('blobs/uploads/');
    url.searchParams.set('mount', desc.digest);
    url.searchParams.set('from', fromRepository);
    const res = await this.send({
      method: 'POST',
      url,
      idempotent: true,
      scopes: this.scopes(true, [`repository:${fromRepository}:pull`]),
      ...this.signalOf(options),
    });
    if (res.status === 201) {
      await res.body.dump().catch(() => undefined);
      return true;
    }
    if (res.status === 202) {
      await res.body.dump().catch(() => undefined);
      const location = responseHeader(res, 'location');
      if (location) await this.cancelUpload(new URL(location, this.base));
      return false;
    }
    throw await statusError(`mount blob ${desc.digest} from ${fromRepository} into ${this.name}`, res);
  }

  private async startUpload(where: string, options?: CallOptions): Promise<{ location: URL; minChunk: number }> {
    const res = await this.send({
      method: 'POST',
      url: this.url('blobs/uploads/'),
      idempotent: true, // opening a session twice only leaves an unused session behind
      scopes: this.scopes(true),
      ...this.signalOf(options),
    });
    if (res.status !== 202) throw await statusError(where, res);
    await res.body.dump().catch(() => undefined);
    const location = responseHeader(res, 'location');
    if (!location) throw new LadingError(ErrorCodes.protocol, `${where}: upload started without a Location`);
    const minChunk = Number(responseHeader(res, HeaderOCIChunkMinLength) ?? 0);
    return { location: new URL(location, this.base), minChunk: Number.isSafeInteger(minChunk) ? minChunk : 0 };
  }

  private async cancelUpload(location: URL): Promise<void> {
    try {
      const res = await this.send({ method: 'DELETE', url: location, scopes: this.scopes(true) });
      await res.body.dump().catch(() => undefined);
    } catch {
      // Best effort: an abandoned session expires on the registry.
    }
  }

  private async uploadBlob(desc: Descriptor, content: ByteStream | Uint8Array, options?: CallOptions): Promise<void> {
    const where = `push blob ${this.name}@${desc.digest}`;
    const { algorithm } = parseDigest(desc.digest);
    const session = await this.startUpload(where, options);
    const chunkSize = Math.max(this.options.chunkSize ?? 16 * 1024 * 1024, session.minChunk);
    let location = session.location;
    const digester = new Digester(algorithm);
    try {
      if (desc.size <= chunkSize) {
        const body = content instanceof Uint8Array ? content : await readAll(content, chunkSize, where);
        digester.update(body);
        this.checkSent(desc, digester, where);
        await this.finishUpload(location, desc, body, where, options);
        return;
      }
      let offset = 0;
      for await (const chunk of rechunk(content, chunkSize)) {
        digester.update(chunk);
        if (digester.size > desc.size)
          throw new LadingError(ErrorCodes.integrity, `${where}: more than the expected ${desc.size} bytes`);
        location = await this.sendChunk(location, chunk, offset, where, options);
        offset += chunk.byteLength;
      }
      this.checkSent(desc, digester, where);
      await this.finishUpload(location, desc, undefined, where, options);
    } catch (error) {
      await this.cancelUpload(location);
      throw error;
    }
  }

  /**
   * Uploads a blob straight from a file: one streaming PATCH for the whole file (no chunk buffering, no second
   * hash: the registry checks the digest on the final PUT), resumed after a dropped connection from the offset the
   * registry reports by reopening the file there. Fastest for large blobs; memory stays flat.
   */
  async pushFile(
    desc: Descriptor,
    file: string,
    options?: CallOptions & { onProgress?: (bytes: number) => void },
  ): Promise<void> {
    const where = `push blob ${this.name}@${desc.digest}`;
    parseDigest(desc.digest);
    const session = await this.startUpload(where, options);
    let location = session.location;
    try {
      let offset = 0;
      for (let attempt = 0; offset < desc.size; attempt++) {
        const start = offset;
        try {
          const res = await this.send({
            method: 'PATCH',
            url: location,
            headers: {
              'content-type': 'application/octet-stream',
              'content-range': `${start}-${desc.size - 1}`,
            },
            body: () => {
              const stream = createReadStream(file, { start, highWaterMark: 1024 * 1024 });
              const report = options?.onProgress;
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
            },
            contentLength: desc.size - start,
            scopes: this.scopes(true),
            ...this.signalOf(options),
          });
          if (res.status !== 202 && res.status !== 204) throw await statusError(`${where}: upload from ${start}`, res);
          await res.body.dump().catch(() => undefined);
          const next = responseHeader(res, 'location');
          if (next) location = new URL(next, location);
          offset = desc.size;
        } catch (error) {
          const retryable = error instanceof LadingError && error.code === ErrorCodes.network;
          if (!retryable || attempt >= this.http.retry.retries || options?.signal?.aborted) throw error;
          await wait(backoffDelay(this.http.retry, attempt), options?.signal);
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

  private checkSent(desc: Descriptor, digester: Digester, where: string): void {
    if (digester.size !== desc.size) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: size mismatch: expected ${desc.size} bytes, got ${digester.size}`,
      );
    }
    const actual = digester.digest();
    if (actual !== desc.digest) {
      throw new LadingError(ErrorCodes.integrity, `${where}: digest mismatch: expected ${desc.digest}, got ${actual}`);
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
        const res = await this.send({
          method: 'PATCH',
          url: location,
          headers: {
            'content-type': 'application/octet-stream',
            'content-range': `${start}-${start + part.byteLength - 1}`,
          },
          body: part,
          scopes: this.scopes(true),
          ...this.signalOf(options),
        });
        // The spec says 202; go-containerregistry's registry answers 204.
        if (res.status !== 202 && res.status !== 204)
          throw await statusError(`${where}: upload chunk at ${start}`, res);
        await res.body.dump().catch(() => undefined);
        const next = responseHeader(res, 'location');
        return next ? new URL(next, location) : location;
      } catch (error) {
        const retryable = error instanceof LadingError && error.code === ErrorCodes.network;
        if (!retryable || attempt >= this.http.retry.retries || options?.signal?.aborted) throw error;
        await wait(200 * 2 ** attempt, options?.signal);
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
    const res = await this.send({
      method: 'GET',
      url: location,
      scopes: this.scopes(true),
      followRedirects: false,
      ...this.signalOf(options),
    });
    if (res.status !== 204 && res.status !== 202) throw await statusError(`${where}: upload status`, res);
    await res.body.dump().catch(() => undefined);
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
    const req: Omit<RegistryRequest, 'scopes'> & { scopes: readonly string[] } = {
      method: 'PUT',
      url,
      headers: { 'content-type': 'application/octet-stream' },
      scopes: this.scopes(true),
      ...this.signalOf(options),
    };
    if (body) req.body = body;
    const res = await this.send(req);
    if (res.status === 201 || res.status === 204) {
      await res.body.dump().catch(() => undefined);
      const stored = responseHeader(res, HeaderContentDigest);
      if (stored && stored !== desc.digest) {
        throw new LadingError(ErrorCodes.integrity, `${where}: the registry stored ${stored}`);
      }
      return;
    }
    // A replayed PUT after a lost response finds the session closed: the blob may be there already.
    if (res.status === 404 && (await this.exists(desc, options))) {
      await res.body.dump().catch(() => undefined);
      return;
    }
    throw await statusError(where, res);
  }

  /**
   * Stores a manifest by digest, then under each tag in `tags` (several tags at once). When it has a `subject`, it
   * is also made discoverable: through the referrers API if the registry serves it, else by adding it to the
   * fallback index tagged `<alg>-<hex>` of the subject.
   */
  async pushManifest(
    desc: Descriptor,
    bytes: Uint8Array,
    tags: readonly string[] = [],
    options?: CallOptions,
  ): Promise<void> {
    const where = `push manifest ${this.name}@${desc.digest}`;
    const actual = digestOf(bytes, parseDigest(desc.digest).algorithm);
    if (actual !== desc.digest || bytes.byteLength !== desc.size) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: content does not match the descriptor (got ${actual}, ${bytes.byteLength} bytes)`,
      );
    }
    if (bytes.byteLength > this.limit) {
      throw new LadingError(
        ErrorCodes.usage,
        `${where}: ${bytes.byteLength} bytes is over the ${this.limit}-byte manifest limit`,
      );
    }
    const parsed = parseManifest(bytes, desc.mediaType, where);
    for (const reference of [desc.digest, ...tags]) {
      await this.putManifest(reference, desc, bytes, where, {}, options);
    }
    const subject = parsed.kind === 'index' ? parsed.index.subject : parsed.manifest.subject;
    if (subject && !(await this.supportsReferrersAPI(subject, options))) {
      const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
      const doc = parsed.kind === 'index' ? parsed.index : parsed.manifest;
      const artifactType =
        doc.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
      if (artifactType) entry.artifactType = artifactType;
      if (doc.annotations) entry.annotations = doc.annotations;
      await this.addFallbackReferrer(subject, entry, options);
    }
  }

  private async putManifest(
    reference: string,
    desc: Descriptor,
    bytes: Uint8Array,
    where: string,
    headers: Record<string, string>,
    options?: CallOptions,
  ): Promise<RegistryResponse> {
    const res = await this.send({
      method: 'PUT',
      url: this.url(`manifests/${reference}`),
      headers: { 'content-type': desc.mediaType, ...headers },
      body: bytes,
      scopes: this.scopes(true),
      ...this.signalOf(options),
    });
    if (res.status === 412) return res;
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) {
      throw await statusError(`${where}${reference === desc.digest ? '' : ` as ${reference}`}`, res);
    }
    await res.body.dump().catch(() => undefined);
    const stored = responseHeader(res, HeaderContentDigest);
    if (stored && stored !== desc.digest && parseDigest(stored).algorithm === parseDigest(desc.digest).algorithm) {
      throw new LadingError(ErrorCodes.integrity, `${where}: the registry stored ${stored}`);
    }
    return res;
  }

  /**
   * Points `reference` (a tag) at a manifest whose bytes the caller holds: one PUT under the tag, no fetch. The bytes
   * must match `desc`; nothing else is written (no PUT by digest, no referrer index: {@link pushManifest} does those).
   */
  async tagManifest(desc: Descriptor, bytes: Uint8Array, reference: string, options?: CallOptions): Promise<void> {
    const where = `tag ${this.name}@${desc.digest}`;
    const actual = digestOf(bytes, parseDigest(desc.digest).algorithm);
    if (actual !== desc.digest || bytes.byteLength !== desc.size) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: content does not match the descriptor (got ${actual}, ${bytes.byteLength} bytes)`,
      );
    }
    await this.putManifest(reference, desc, bytes, where, {}, options);
  }

  /** Points `reference` (a tag) at a stored manifest: fetches its bytes and PUTs them under the tag. */
  async tag(desc: Descriptor, reference: string, options?: CallOptions): Promise<void> {
    const { bytes } = await this.fetchManifest(desc.digest, { ...this.signalOf(options), mediaType: desc.mediaType });
    await this.putManifest(reference, desc, bytes, `tag ${this.name}@${desc.digest}`, {}, options);
  }

  /** Deletes a manifest or blob by digest (registries may refuse: distribution needs `storage.delete.enabled`). */
  async delete(desc: Descriptor, options?: CallOptions): Promise<void> {
    const kind = isManifestType(desc.mediaType) ? 'manifests' : 'blobs';
    const where = `delete ${kind.slice(0, -1)} ${this.name}@${desc.digest}`;
    const res = await this.send({
      method: 'DELETE',
      url: this.url(`${kind}/${desc.digest}`),
      scopes: this.scopes(true, [`repository:${this.repository}:delete`]),
      ...this.signalOf(options),
    });
    if (res.status === 202 || res.status === 200 || res.status === 204) {
      await res.body.dump().catch(() => undefined);
      return;
    }
    if (res.status === 404) {
      await res.body.dump().catch(() => undefined);
      throw new LadingError(ErrorCodes.notFound, `${where}: not found`);
    }
    throw await statusError(where, res);
  }

  // ---------------------------------------------------------------- listings

  private async *pages(
    first: URL,
    where: string,
    options?: CallOptions,
  ): AsyncGenerator<{ res: RegistryResponse; bytes: Uint8Array }> {
    let url: URL | undefined = first;
    const maxPages = this.options.maxPages ?? 100;
    for (let page = 0; url; page++) {
      if (page >= maxPages)
        throw new LadingError(ErrorCodes.protocol, `${where}: more than ${maxPages} pages; narrow the listing`);
      const res = await this.send({
        method: 'GET',
        url,
        headers: { accept: `${MediaTypeImageIndex}, application/json` },
        ...this.signalOf(options),
      });
      if (res.status !== 200) {
        yield { res, bytes: new Uint8Array() };
        return;
      }
      const bytes = await readAll(res.body, this.limit, where);
      yield { res, bytes };
      const next = nextLink(responseHeader(res, 'link'));
      url = next ? new URL(next, url) : undefined;
      if (url && url.origin !== this.base.origin) {
        throw new LadingError(ErrorCodes.protocol, `${where}: pagination link to another origin ${url.origin}`);
      }
    }
  }

  /** All tags, following `Link` pagination (bounded by `maxPages`). */
  async tags(options?: CallOptions & { last?: string }): Promise<string[]> {
    const where = `list tags ${this.name}`;
    const url = this.url('tags/list');
    url.searchParams.set('n', String(this.options.tagPageSize ?? 1000));
    if (options?.last) url.searchParams.set('last', options.last);
    const tags: string[] = [];
    for await (const { res, bytes } of this.pages(url, where, options)) {
      if (res.status === 404) {
        discardBody(res);
        throw new LadingError(ErrorCodes.notFound, `${where}: repository not found`);
      }
      if (res.status !== 200) throw await statusError(where, res);
      const doc = parseJSON(bytes, where) as { tags?: unknown };
      if (doc.tags === null || doc.tags === undefined) continue;
      if (!Array.isArray(doc.tags) || !doc.tags.every((t) => typeof t === 'string')) {
        throw new LadingError(ErrorCodes.protocol, `${where}: "tags" is not a list of strings`);
      }
      tags.push(...doc.tags);
    }
    return tags;
  }

  /**
   * Whether the registry serves the referrers API for this repository, probed once with
   * `GET /v2/<name>/referrers/<digest>`: a 200 with an image index means yes; 404 (other than NAME_UNKNOWN),
   * 400, 405 and 406 mean no. An `OCI-Subject` header on a manifest PUT is not trusted as proof (ECR and Docker
   * Hub sent it without serving the API).
   */
  async supportsReferrersAPI(subject: Descriptor, options?: CallOptions): Promise<boolean> {
    if (this.referrersAPI !== undefined) return this.referrersAPI;
    const res = await this.send({
      method: 'GET',
      url: this.url(`referrers/${subject.digest}`),
      headers: { accept: MediaTypeImageIndex },
      ...this.signalOf(options),
    });
    const type = responseHeader(res, 'content-type') ?? '';
    if (res.status === 200 && type.startsWith(MediaTypeImageIndex)) {
      await res.body.dump().catch(() => undefined);
      this.referrersAPI = true;
      return true;
    }
    if ([400, 404, 405, 406].includes(res.status) || res.status === 200) {
      await res.body.dump().catch(() => undefined);
      this.referrersAPI = false;
      return false;
    }
    throw await statusError(`probe referrers API ${this.name}`, res);
  }

  /**
   * The manifests referring to `subject`: through the referrers API (paginated; filtered on the client when the
   * registry did not apply the `artifactType` filter), or the tag-schema fallback index. Fallback entries without a
   * usable `artifactType` (cosign writes `application/vnd.oci.empty.v1+json` and no annotations) are resolved by
   * opening the referrer manifest.
   */
  async referrers(subject: Descriptor, options?: ReferrersOptions): Promise<Descriptor[]> {
    const where = `list referrers ${this.name}@${subject.digest}`;
    parseDigest(subject.digest);
    let found: Descriptor[] | undefined;
    if (await this.supportsReferrersAPI(subject, options)) found = await this.referrersFromAPI(subject, where, options);
    found ??= await this.referrersFromFallback(subject, where, options);
    const type = options?.artifactType;
    return type ? found.filter((d) => d.artifactType === type) : found;
  }

  private async referrersFromAPI(
    subject: Descriptor,
    where: string,
    options?: ReferrersOptions,
  ): Promise<Descriptor[] | undefined> {
    const url = this.url(`referrers/${subject.digest}`);
    if (options?.artifactType) url.searchParams.set('artifactType', options.artifactType);
    const out: Descriptor[] = [];
    for await (const { res, bytes } of this.pages(url, where, options)) {
      if (res.status === 404) {
        await res.body.dump().catch(() => undefined);
        return out;
      }
      if (res.status !== 200) throw await statusError(where, res);
      const index = parseIndexListing(bytes, where);
      const filtered = (responseHeader(res, HeaderOCIFiltersApplied) ?? '')
        .split(',')
        .map((s) => s.trim())
        .includes('artifactType');
      for (const d of index.manifests) {
        if (options?.artifactType && !filtered && d.artifactType !== options.artifactType) continue;
        out.push(d);
      }
    }
    return out;
  }

  private async fallbackIndex(
    subject: Descriptor,
    where: string,
    options?: CallOptions,
  ): Promise<{ index: ImageIndex; etag?: string; digest?: string }> {
    const tag = referrersTag(subject.digest);
    const res = await this.send({
      method: 'GET',
      url: this.url(`manifests/${tag}`),
      headers: { accept: MediaTypeImageIndex },
      ...this.signalOf(options),
    });
    if (res.status === 404) {
      await res.body.dump().catch(() => undefined);
      return { index: { schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests: [] } };
    }
    if (res.status !== 200) throw await statusError(`${where}: fallback tag ${tag}`, res);
    const bytes = await readAll(res.body, this.limit, `${where}: fallback tag ${tag}`);
    const header = responseHeader(res, HeaderContentDigest);
    const actual = digestOf(bytes);
    if (header && parseDigest(header).algorithm === 'sha256' && header !== actual) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: fallback index digest mismatch: expected ${header}, got ${actual}`,
      );
    }
    const result: { index: ImageIndex; etag?: string; digest?: string } = {
      index: parseIndexListing(bytes, `${where}: fallback tag ${tag}`),
      digest: actual,
    };
    const etag = responseHeader(res, 'etag');
    if (etag) result.etag = etag;
    return result;
  }

  private async referrersFromFallback(
    subject: Descriptor,
    where: string,
    options?: ReferrersOptions,
  ): Promise<Descriptor[]> {
    const { index } = await this.fallbackIndex(subject, where, options);
    const out: Descriptor[] = [];
    for (const entry of index.manifests) {
      if (!entry.artifactType || entry.artifactType === MediaTypeEmptyJSON) {
        // cosign (go-containerregistry) writes empty-typed entries with no annotations: ask the manifest itself.
        try {
          const { bytes } = await this.fetchManifest(entry.digest, {
            ...this.signalOf(options),
            mediaType: entry.mediaType,
          });
          const parsed = parseManifest(bytes, entry.mediaType, where);
          const doc = parsed.kind === 'index' ? parsed.index : parsed.manifest;
          const resolved: Descriptor = { ...entry };
          const type = doc.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
          if (type) resolved.artifactType = type;
          if (!entry.annotations && doc.annotations) resolved.annotations = doc.annotations;
          out.push(resolved);
        } catch (error) {
          if (error instanceof LadingError && error.code === ErrorCodes.notFound) continue; // stale entry
          throw error;
        }
      } else {
        out.push(entry);
      }
    }
    return out;
  }

  /**
   * Adds `entry` to the fallback referrers index of `subject`: read (404 = empty), add or replace by digest, PUT
   * with `If-Match` when the registry gave an ETag (retrying on 412), then read back to confirm the entry survived.
   * A registry may send an ETag and still ignore `If-Match` (distribution, crane), losing concurrent updates; so the
   * entry must be seen in two reads 100-200 ms apart, and is written again whenever a read misses it. Up to 12 rounds.
   */
  private async addFallbackReferrer(subject: Descriptor, entry: Descriptor, options?: CallOptions): Promise<void> {
    const tag = referrersTag(subject.digest);
    const where = `add referrer ${entry.digest} to ${this.name}:${tag}`;
    let wrote = false;
    let confirmations = 0;
    for (let round = 0; round < 12; round++) {
      const current = await this.fallbackIndex(subject, where, options);
      if (current.index.manifests.some((d) => d.digest === entry.digest)) {
        if (!wrote || ++confirmations >= 2) return;
        await wait(100 + Math.round(Math.random() * 100), options?.signal);
        continue;
      }
      confirmations = 0;
      const manifests = [...current.index.manifests.filter((d) => d.digest !== entry.digest), entry];
      const doc: ImageIndex = { schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests };
      const bytes = Buffer.from(JSON.stringify(doc));
      const desc: Descriptor = { mediaType: MediaTypeImageIndex, digest: digestOf(bytes), size: bytes.byteLength };
      const headers: Record<string, string> = current.etag ? { 'if-match': current.etag } : {};
      const res = await this.putManifest(tag, desc, bytes, where, headers, options);
      if (res.status === 412) {
        await res.body.dump().catch(() => undefined);
      } else {
        wrote = true;
        if (this.options.deleteSupersededReferrersIndex && current.digest && current.digest !== desc.digest) {
          await this.delete({ mediaType: MediaTypeImageIndex, digest: current.digest, size: 0 }, options).catch(
            () => undefined,
          );
        }
      }
      // Jittered pause so racing writers interleave instead of colliding again.
      await wait(Math.round(Math.random() * 30 * (round + 1)), options?.signal);
    }
    throw new LadingError(ErrorCodes.network, `${where}: concurrent writers kept replacing the index; try again`);
  }
}

function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

function parseJSON(bytes: Uint8Array, where: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new LadingError(ErrorCodes.protocol, `${where}: response is not JSON`, { cause });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new LadingError(ErrorCodes.protocol, `${where}: response is not a JSON object`);
  return doc as Record<string, unknown>;
}

function parseIndexListing(bytes: Uint8Array, where: string): ImageIndex {
  const doc = parseJSON(bytes, where);
  if (!Array.isArray(doc.manifests)) throw new LadingError(ErrorCodes.protocol, `${where}: not an image index`);
  doc.manifests.forEach((d, i) => checkDescriptor(d, `${where} manifests[${i}]`));
  return doc as unknown as ImageIndex;
}

async function* limitStream(
  source: AsyncIterable<Uint8Array>,
  length: number,
  where: string,
): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.byteLength;
    if (seen > length) throw new LadingError(ErrorCodes.protocol, `${where}: more bytes than the ${length} asked for`);
    yield chunk;
  }
  if (seen !== length) throw new LadingError(ErrorCodes.integrity, `${where}: got ${seen} of ${length} bytes`);
}
