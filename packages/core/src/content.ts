/**
 * The small capability interfaces every place that holds content implements (remote repository, in-memory store,
 * OCI layout folder), in the style of oras-go's `content` package. Push and pull are both a copy between them.
 */
import type { Descriptor } from './descriptor.js';

/** Options every I/O call takes. */
export interface CallOptions {
  /** Aborts the operation; the promise or stream rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A stream of bytes. Node `Readable`s and web `ReadableStream`s are both `AsyncIterable<Uint8Array>`. */
export type ByteStream = AsyncIterable<Uint8Array>;

/** Reads content by descriptor. */
export interface Fetcher {
  /**
   * Streams the content `desc` points at. Implementations verify size and digest as the stream is read: the
   * stream errors with `ERR_LADING_INTEGRITY` as soon as more than `desc.size` bytes arrive, and at its end when the
   * size or digest differ. The caller must drain it (or abort) and treat the bytes as unverified until it ends
   * cleanly. Missing content: `ERR_LADING_NOT_FOUND`.
   *
   * The rule: the fetcher is the one owner of this check. Every fetcher lading ships (`RemoteRepository`,
   * `MemoryStore`, `OCILayout`) wraps its bytes in `verifyContent`, and no consumer (pull, ls, cat, copy, `fetchAll`)
   * hashes them a second time; a consumer only adds checks of its own (a size bound before reading, the table of
   * contents' per-file digests). A custom `Fetcher` must keep this contract, or what it returns is trusted unchecked.
   */
  fetch(desc: Descriptor, options?: CallOptions): Promise<ByteStream>;
}

/** Writes content by descriptor. */
export interface Pusher {
  /**
   * Stores `content`, which must match `desc` (size and digest are verified; on mismatch nothing is stored and the
   * call rejects with `ERR_LADING_INTEGRITY`). Pushing content that already exists succeeds.
   */
  push(desc: Descriptor, content: ByteStream | Uint8Array, options?: CallOptions): Promise<void>;
}

/** Answers whether content exists. */
export interface Exister {
  /** True when the content `desc` points at is present. */
  exists(desc: Descriptor, options?: CallOptions): Promise<boolean>;
}

/** Turns a tag (or digest) into a descriptor. */
export interface Resolver {
  /** The descriptor of the manifest `reference` (a tag or a digest) names; `ERR_LADING_NOT_FOUND` when none. */
  resolve(reference: string, options?: CallOptions): Promise<Descriptor>;
}

/** Points tags at manifests. */
export interface Tagger {
  /** Points `reference` (a tag) at the manifest `desc`, which must already be stored. */
  tag(desc: Descriptor, reference: string, options?: CallOptions): Promise<void>;
}

/** Options of {@link ReferrerLister.referrers}. */
export interface ReferrersOptions extends CallOptions {
  /** Only referrers of this artifact type. */
  artifactType?: string;
}

/** Lists the manifests whose `subject` is a given manifest. */
export interface ReferrerLister {
  /**
   * Descriptors of the manifests that refer to `subject`, each with `artifactType` and annotations where known.
   */
  referrers(subject: Descriptor, options?: ReferrersOptions): Promise<Descriptor[]>;
}

/** Removes content. */
export interface Deleter {
  /** Deletes the content `desc` points at; `ERR_LADING_NOT_FOUND` when absent. */
  delete(desc: Descriptor, options?: CallOptions): Promise<void>;
}

/** Makes a blob present by pointing at a copy another repository of the same registry holds (no bytes move). */
export interface Mounter {
  /** True when the blob is now present; false when the registry declined (then push it). */
  mount(desc: Descriptor, fromRepository: string, options?: CallOptions): Promise<boolean>;
}

/** Content-addressed storage. */
export interface Storage extends Fetcher, Pusher, Exister {}

/** A place artifacts can be copied from and to. */
export interface Target extends Storage, Resolver, Tagger {}

/** A target that can also list referrers (needed for extended copy and signature discovery). */
export interface GraphTarget extends Target, ReferrerLister {}
