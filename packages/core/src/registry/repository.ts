/**
 * One repository on a remote registry, as a {@link GraphTarget}: blobs (exists, streamed and verified download,
 * range reads), manifests (Accept negotiation, digest checked on every read, size cap, several tags), tags
 * (paginated) and deletion. Two steps have modules of their own, each owned there: blob uploads (monolithic,
 * chunked, streaming from a file; mount) in `blob-upload.ts`, and referrers (the OCI 1.1 API when the registry
 * serves it, the tag-schema fallback otherwise) in `referrers.ts`; paginated listings are in `listing.ts`.
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md
 */
import { Readable } from 'node:stream';

import type { ByteStream, CallOptions, Deleter, GraphTarget } from '../content.js';
import { parseManifest, type Descriptor } from '../descriptor.js';
import { digestOf, parseDigest, readAll, verifyContent } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import {
  DefaultManifestSizeLimit,
  HeaderContentDigest,
  ManifestMediaTypes,
  MediaTypeImageIndex,
} from '../media-types.js';
import { dialHost } from '../reference.js';
import { BlobUploads } from './blob-upload.js';
import { notFoundError, statusError } from './errors.js';
import { discardBody, drainBody, responseHeader, type RegistryHTTP, type RegistryResponse } from './http.js';
import { listingPages, parseJSONObject } from './listing.js';
import {
  Referrers,
  type FallbackRemoval,
  type RemoteReferrersOptions,
  type RemoveReferrerOptions,
  type RepairReferrersOptions,
  type RepairReferrersResult,
} from './referrers.js';
import { signalOf, type RepositoryContext } from './repository-context.js';
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
  /**
   * Manifests read at most per fallback referrers listing to learn the artifact type of index entries that state
   * none (cosign's); the rest are returned as listed. Bounds what a hostile index of many such entries costs before
   * any caller's own budget (the verification gate's) applies. Default 64.
   */
  maxFallbackReads?: number;
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

function isManifestType(mediaType: string): boolean {
  return ManifestMediaTypes.includes(mediaType);
}

/**
 * A repository on a remote registry. Every read is verified: blobs stream through a size+digest check, manifests
 * are hashed before they are parsed. Create one per repository; they may share one {@link RegistryHTTP}.
 */
export class RemoteRepository implements GraphTarget, Deleter {
  readonly registry: string;
  readonly repository: string;
  private readonly http: RegistryHTTP;
  private readonly options: RemoteRepositoryOptions;
  private readonly ctx: RepositoryContext;
  private readonly uploads: BlobUploads;
  private readonly referrerSteps: Referrers;

  constructor(options: RemoteRepositoryOptions) {
    this.options = options;
    this.http = options.http;
    this.registry = options.registry;
    this.repository = options.repository;
    const base = this.http.baseURL(dialHost(options.registry));
    const repository = options.repository;
    const scopes = (push: boolean, extra: readonly string[] = []): string[] => [
      `repository:${repository}:${push ? 'pull,push' : 'pull'}`,
      ...extra,
    ];
    this.ctx = {
      name: `${options.registry}/${repository}`,
      repository,
      base,
      retry: this.http.retry,
      manifestSizeLimit: options.manifestSizeLimit ?? DefaultManifestSizeLimit,
      maxPages: options.maxPages ?? 100,
      url: (path) => new URL(`/v2/${repository}/${path}`, base),
      scopes,
      send: (req) => this.http.send(base, options.registry, { ...req, scopes: req.scopes ?? scopes(false) }),
    };
    this.uploads = new BlobUploads(this.ctx, {
      ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
      exists: (desc, call) => this.exists(desc, call),
    });
    this.referrerSteps = new Referrers(
      this.ctx,
      {
        fetchManifest: (reference, call) => this.fetchManifest(reference, call),
        putManifest: (...args) => this.putManifest(...args),
        delete: (desc, call) => this.delete(desc, call),
      },
      {
        ...(options.referrers === undefined ? {} : { mode: options.referrers }),
        ...(options.maxFallbackReads === undefined ? {} : { maxFallbackReads: options.maxFallbackReads }),
        ...(options.deleteSupersededReferrersIndex === undefined
          ? {}
          : { deleteSupersededIndex: options.deleteSupersededReferrersIndex }),
      },
    );
  }

  /** `registry/repository`, for messages. */
  get name(): string {
    return this.ctx.name;
  }

  private get limit(): number {
    return this.ctx.manifestSizeLimit;
  }

  private url(path: string): URL {
    return this.ctx.url(path);
  }

  private send(req: Parameters<RepositoryContext['send']>[0]): Promise<RegistryResponse> {
    return this.ctx.send(req);
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
      ...signalOf(options),
    });
    await drainBody(res);
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
    const res = await this.send({ method: 'GET', url: this.url(`blobs/${desc.digest}`), ...signalOf(options) });
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
          ...signalOf(options),
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
      ...signalOf(options),
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
      ...signalOf(options),
    });
    await drainBody(res);
    if (res.status === 404) throw new LadingError(ErrorCodes.notFound, `${where}: not found`, { status: 404 });
    if (res.status !== 200) throw await statusError(where, res);
    const digest = responseHeader(res, HeaderContentDigest);
    const size = Number(responseHeader(res, 'content-length'));
    const mediaType = (responseHeader(res, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    const byDigest = reference.includes(':');
    if (!digest || !Number.isSafeInteger(size) || !isManifestType(mediaType) || (byDigest && digest !== reference)) {
      return (await this.fetchManifest(reference, signalOf(options))).descriptor;
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
      ...signalOf(options),
    });
    if (res.status === 404) throw await notFoundError(where, res);
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
    await this.uploads.upload(desc, content, options);
  }

  /**
   * Mounts a blob from another repository of the same registry (no bytes move). Returns false when the registry
   * declined (then upload it); the upload session it opened instead is cancelled.
   */
  async mount(desc: Descriptor, fromRepository: string, options?: CallOptions): Promise<boolean> {
    return this.uploads.mount(desc, fromRepository, options);
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
    await this.uploads.uploadFile(desc, file, options);
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
    if (subject && !(await this.referrerSteps.supportsAPI(subject, options))) {
      const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
      const doc = parsed.kind === 'index' ? parsed.index : parsed.manifest;
      const artifactType =
        doc.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
      if (artifactType) entry.artifactType = artifactType;
      if (doc.annotations) entry.annotations = doc.annotations;
      await this.referrerSteps.addToFallback(subject, entry, options);
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
      scopes: this.ctx.scopes(true),
      ...signalOf(options),
    });
    if (res.status === 412) return res;
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) {
      throw await statusError(`${where}${reference === desc.digest ? '' : ` as ${reference}`}`, res);
    }
    await drainBody(res);
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
    const { bytes } = await this.fetchManifest(desc.digest, { ...signalOf(options), mediaType: desc.mediaType });
    await this.putManifest(reference, desc, bytes, `tag ${this.name}@${desc.digest}`, {}, options);
  }

  /** Deletes a manifest or blob by digest (registries may refuse: distribution needs `storage.delete.enabled`). */
  async delete(desc: Descriptor, options?: CallOptions): Promise<void> {
    const kind = isManifestType(desc.mediaType) ? 'manifests' : 'blobs';
    const where = `delete ${kind.slice(0, -1)} ${this.name}@${desc.digest}`;
    const res = await this.send({
      method: 'DELETE',
      url: this.url(`${kind}/${desc.digest}`),
      scopes: this.ctx.scopes(true, [`repository:${this.repository}:delete`]),
      ...signalOf(options),
    });
    if (res.status === 202 || res.status === 200 || res.status === 204) {
      await drainBody(res);
      return;
    }
    if (res.status === 404) throw await notFoundError(where, res);
    throw await statusError(where, res);
  }

  // ---------------------------------------------------------------- listings

  /** All tags, following `Link` pagination (bounded by `maxPages`). */
  async tags(options?: CallOptions & { last?: string }): Promise<string[]> {
    const where = `list tags ${this.name}`;
    const url = this.url('tags/list');
    url.searchParams.set('n', String(this.options.tagPageSize ?? 1000));
    if (options?.last) url.searchParams.set('last', options.last);
    const tags: string[] = [];
    for await (const { res, bytes } of listingPages(this.ctx, url, where, options)) {
      if (res.status === 404) throw await notFoundError(where, res, 'repository not found');
      if (res.status !== 200) throw await statusError(where, res);
      const doc = parseJSONObject(bytes, where) as { tags?: unknown };
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
    return this.referrerSteps.supportsAPI(subject, options);
  }

  /**
   * The manifests referring to `subject`: through the referrers API (paginated; filtered on the client when the
   * registry did not apply the `artifactType` filter), or the tag-schema fallback index. Fallback entries without a
   * usable `artifactType` (cosign writes `application/vnd.oci.empty.v1+json` and no annotations) are resolved by
   * opening the referrer manifest, at most `maxFallbackReads` per listing, each digest once (see
   * {@link RemoteReferrersOptions.onUnresolved} for the rest).
   */
  async referrers(subject: Descriptor, options?: RemoteReferrersOptions): Promise<Descriptor[]> {
    return this.referrerSteps.list(subject, options);
  }

  /**
   * Fills in the entries of `subject`'s fallback referrers index that lack an `artifactType` or annotations (cosign
   * writes such entries) from the referrer manifests, and writes the index back with `If-Match`; see
   * `Referrers.repairFallback`. Nothing is done on a registry serving the referrers API (`not-used`).
   */
  async repairReferrers(subject: Descriptor, options?: RepairReferrersOptions): Promise<RepairReferrersResult> {
    return this.referrerSteps.repairFallback(subject, options);
  }

  /**
   * Removes the entry of the referrer `referrer` (a digest) from `subject`'s fallback referrers index, with
   * `If-Match` and a read after each write so that a concurrent writer's entry is kept; deletes the index when it was
   * the last entry. See `Referrers.removeFromFallback`. Nothing is done on a registry serving the referrers API
   * (`not-used`).
   */
  async removeFallbackReferrer(
    subject: Descriptor,
    referrer: string,
    options?: RemoveReferrerOptions,
  ): Promise<FallbackRemoval> {
    return this.referrerSteps.removeFromFallback(subject, referrer, options);
  }
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
