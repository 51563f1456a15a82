/**
 * An in-memory {@link GraphTarget}: content-addressed blobs and manifests, tags, and referrers found through the
 * `subject` of the stored manifests. The model is oras-go's `content/memory` store. Meant for tests, for staging an
 * artifact before a copy, and for small graphs: everything pushed is held in memory.
 */
import { Readable } from 'node:stream';

import type { ByteStream, CallOptions, Deleter, GraphTarget, ReferrersOptions } from './content.js';
import { parseManifest, type Descriptor } from './descriptor.js';
import { isDigest, parseDigest, verifyContent } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';
import { ManifestMediaTypes } from './media-types.js';

/** What lading learns from a manifest when it is stored: how to describe it, and what it refers to. @internal */
export interface ManifestFacts {
  /** The manifest's own `artifactType`, when it sets one. */
  artifactType?: string;
  /** The manifest's own annotations, when it has any. */
  annotations?: Record<string, string>;
  /** The type a referrers listing reports: `artifactType`, else the config's media type (images only). */
  referrerType?: string;
  /** Digest of the manifest's `subject`, when it has one. */
  subject?: string;
  /** The descriptors it points at (config and layers, or the listed manifests), subject excluded. */
  children: Descriptor[];
}

/**
 * True when `mediaType` is a manifest or index lading can parse (OCI or Docker v2). Only these are parsed on push
 * and walked by copy; anything else is an opaque blob. @internal
 */
export function isManifestMediaType(mediaType: string): boolean {
  return ManifestMediaTypes.includes(mediaType);
}

/**
 * Parses manifest `bytes` (already verified against their descriptor) and extracts the {@link ManifestFacts}.
 * Throws `ERR_LADING_PROTOCOL` naming `where` when the document is not a well-formed manifest or index.
 * @internal Shared by the stores in this package; not for the public barrel.
 */
export function manifestFacts(bytes: Uint8Array, mediaType: string, where: string): ManifestFacts {
  const parsed = parseManifest(bytes, mediaType, where);
  const doc = parsed.kind === 'index' ? parsed.index : parsed.manifest;
  const referrerType = doc.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
  return {
    ...(doc.artifactType !== undefined && { artifactType: doc.artifactType }),
    ...(doc.annotations !== undefined && Object.keys(doc.annotations).length > 0 && { annotations: doc.annotations }),
    ...(referrerType !== undefined && { referrerType }),
    ...(doc.subject !== undefined && { subject: doc.subject.digest }),
    children:
      parsed.kind === 'index' ? [...parsed.index.manifests] : [parsed.manifest.config, ...parsed.manifest.layers],
  };
}

/**
 * The descriptor a referrers listing reports for a stored manifest, as the referrers API does: media type, digest,
 * size, `artifactType` (the manifest's, else its config media type) and all of the manifest's annotations.
 * @internal
 */
export function referrerDescriptor(desc: Descriptor, facts: ManifestFacts): Descriptor {
  return {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: desc.size,
    ...(facts.referrerType !== undefined && { artifactType: facts.referrerType }),
    ...(facts.annotations !== undefined && { annotations: { ...facts.annotations } }),
  };
}

/**
 * Checks a descriptor handed to a store by its caller: a digest lading can compute and a non-negative safe integer
 * size. Throws `ERR_LADING_USAGE` naming `where`. @internal
 */
export function checkCallerDescriptor(desc: Descriptor, where: string): void {
  parseDigest(desc.digest, `${where}: descriptor digest`);
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new LadingError(ErrorCodes.usage, `${where}: descriptor size must be a non-negative integer`);
  }
}

/** Content given as bytes or as a stream, always as a stream. @internal */
export function toByteStream(content: ByteStream | Uint8Array): ByteStream {
  return content instanceof Uint8Array ? oneChunk(content) : content;
}

/** A one-chunk stream of `bytes`; fresh on every call, since streams are read once. */
function oneChunk(bytes: Uint8Array): ByteStream {
  return Readable.from([bytes]);
}

/**
 * True when `reference` follows Docker's tag grammar `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`: what registries accept
 * and what copy passes on as a destination reference. @internal
 */
export function isTag(reference: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(reference);
}

function checkTag(reference: string, where: string): void {
  if (!isTag(reference)) {
    throw new LadingError(
      ErrorCodes.usage,
      `${where}: invalid tag ${JSON.stringify(reference)} (use up to 128 of A-Z a-z 0-9 _ . -, not starting with . or -)`,
    );
  }
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Runs `task` so that a synchronous throw becomes a rejection: callers of a Promise-returning method expect every
 * failure as a rejection.
 */
function attempt<T>(task: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(task());
  });
}

function notFound(message: string): LadingError {
  return new LadingError(ErrorCodes.notFound, message);
}

interface StoredContent {
  /** Plain descriptor of the content (media type, digest, size; artifact type and annotations of manifests). */
  descriptor: Descriptor;
  bytes: Uint8Array;
  /** Set for manifests. */
  facts?: ManifestFacts;
}

/**
 * Content, tags and referrers in memory.
 *
 * - `push` verifies size and digest before storing anything, and parses manifests (media types in
 *   `ManifestMediaTypes`): a malformed manifest is refused with `ERR_LADING_PROTOCOL` and not stored. Pushing a
 *   digest that is already stored succeeds without reading `content`.
 * - `fetch` streams a copy of the stored bytes, checked against the descriptor asked for.
 * - `resolve` takes a tag or the digest of a stored manifest and returns the manifest's descriptor (media type,
 *   digest, size, and its own `artifactType` and annotations when it has them).
 * - `tag` takes a Docker-style tag; it points the tag at a stored manifest, replacing any previous target.
 * - `referrers` scans the stored manifests for a `subject` with the given digest, in push order.
 * - `delete` removes the content and every tag that points at it.
 */
export class MemoryStore implements GraphTarget, Deleter {
  readonly #content = new Map<string, StoredContent>();
  readonly #tags = new Map<string, string>();

  /** Stores `content` after checking it against `desc`; see the class notes. */
  async push(desc: Descriptor, content: ByteStream | Uint8Array, options: CallOptions = {}): Promise<void> {
    const where = `push ${desc.digest}`;
    checkCallerDescriptor(desc, where);
    options.signal?.throwIfAborted();
    if (this.#content.has(desc.digest)) return;
    const bytes = await collect(verifyContent(desc, toByteStream(content), where));
    options.signal?.throwIfAborted();
    const plain: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
    if (!isManifestMediaType(desc.mediaType)) {
      this.#content.set(desc.digest, { descriptor: plain, bytes });
      return;
    }
    const facts = manifestFacts(bytes, desc.mediaType, where);
    const descriptor: Descriptor = {
      ...plain,
      ...(facts.artifactType !== undefined && { artifactType: facts.artifactType }),
      ...(facts.annotations !== undefined && { annotations: { ...facts.annotations } }),
    };
    this.#content.set(desc.digest, { descriptor, bytes, facts });
  }

  /** Streams the stored content `desc` names, verified against `desc`; `ERR_LADING_NOT_FOUND` when absent. */
  fetch(desc: Descriptor, options: CallOptions = {}): Promise<ByteStream> {
    return attempt(() => {
      const where = `fetch ${desc.digest}`;
      checkCallerDescriptor(desc, where);
      options.signal?.throwIfAborted();
      const stored = this.#content.get(desc.digest);
      if (stored === undefined) throw notFound(`${where}: not in the memory store`);
      return verifyContent(desc, oneChunk(Uint8Array.from(stored.bytes)), where);
    });
  }

  /** True when content with `desc.digest` is stored. */
  exists(desc: Descriptor, options: CallOptions = {}): Promise<boolean> {
    return attempt(() => {
      checkCallerDescriptor(desc, `exists ${desc.digest}`);
      options.signal?.throwIfAborted();
      return this.#content.has(desc.digest);
    });
  }

  /** The descriptor of the manifest a tag or digest names; `ERR_LADING_NOT_FOUND` when there is none. */
  resolve(reference: string, options: CallOptions = {}): Promise<Descriptor> {
    return attempt(() => {
      options.signal?.throwIfAborted();
      const digest = isDigest(reference) ? reference : this.#tags.get(reference);
      const stored = digest === undefined ? undefined : this.#content.get(digest);
      if (stored?.facts === undefined) {
        const what = isDigest(reference) ? 'no manifest with this digest' : 'no such tag';
        throw notFound(`resolve ${reference}: ${what}`);
      }
      return structuredClone(stored.descriptor);
    });
  }

  /** Points the tag `reference` at the stored manifest `desc`, replacing its previous target. */
  tag(desc: Descriptor, reference: string, options: CallOptions = {}): Promise<void> {
    return attempt(() => {
      const where = `tag ${reference}`;
      checkTag(reference, where);
      checkCallerDescriptor(desc, where);
      options.signal?.throwIfAborted();
      if (this.#content.get(desc.digest)?.facts === undefined) {
        throw notFound(`${where}: manifest ${desc.digest} is not in the memory store`);
      }
      this.#tags.set(reference, desc.digest);
    });
  }

  /** Descriptors of the stored manifests whose `subject` is `subject.digest`, optionally of one artifact type. */
  referrers(subject: Descriptor, options: ReferrersOptions = {}): Promise<Descriptor[]> {
    return attempt(() => {
      options.signal?.throwIfAborted();
      const found: Descriptor[] = [];
      for (const { descriptor, facts } of this.#content.values()) {
        if (facts?.subject !== subject.digest) continue;
        if (options.artifactType !== undefined && facts.referrerType !== options.artifactType) continue;
        found.push(referrerDescriptor(descriptor, facts));
      }
      return found;
    });
  }

  /** Removes the content `desc` names and the tags pointing at it; `ERR_LADING_NOT_FOUND` when absent. */
  delete(desc: Descriptor, options: CallOptions = {}): Promise<void> {
    return attempt(() => {
      const where = `delete ${desc.digest}`;
      checkCallerDescriptor(desc, where);
      options.signal?.throwIfAborted();
      if (!this.#content.delete(desc.digest)) throw notFound(`${where}: not in the memory store`);
      for (const [tag, digest] of this.#tags) if (digest === desc.digest) this.#tags.delete(tag);
    });
  }

  /** The tags in the store, sorted. */
  tags(options: CallOptions = {}): Promise<string[]> {
    return attempt(() => {
      options.signal?.throwIfAborted();
      return [...this.#tags.keys()].sort();
    });
  }
}
