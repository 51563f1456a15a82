// In-memory content: blob bytes are shared by digest, each repository links the blobs it holds (so a cross-repo
// mount only succeeds from a repository that really has the blob), manifests and tags are per repository.

import { randomUUID } from 'node:crypto';

import { type ManifestFields, tryParseManifest } from './manifest.js';

/** A manifest as stored: the exact bytes, the content type it was pushed with, and its parsed fields. */
export interface StoredManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
  /** Parsed fields, or undefined when seeded content is not a JSON object. */
  readonly fields: ManifestFields | undefined;
}

/** An upload session started by `POST /v2/<name>/blobs/uploads/`. */
export interface UploadSession {
  readonly id: string;
  readonly repository: string;
  readonly chunks: Buffer[];
  size: number;
}

interface Repository {
  readonly blobs: Set<string>;
  readonly manifests: Map<string, StoredManifest>;
  readonly tags: Map<string, string>;
}

/** The registry's whole state. Methods never throw for missing content: they return undefined or false. */
export class MemoryStore {
  private readonly blobBytes = new Map<string, Uint8Array>();
  private readonly repositories = new Map<string, Repository>();
  private readonly uploads = new Map<string, UploadSession>();

  /** True when the repository holds anything (a blob, a manifest or a tag). */
  hasRepository(name: string): boolean {
    return this.repositories.has(name);
  }

  private repository(name: string): Repository {
    let repo = this.repositories.get(name);
    if (!repo) {
      repo = { blobs: new Set(), manifests: new Map(), tags: new Map() };
      this.repositories.set(name, repo);
    }
    return repo;
  }

  /** Stores `bytes` under `digest` (the caller verified it) and links it into the repository. */
  putBlob(name: string, digest: string, bytes: Uint8Array): void {
    this.blobBytes.set(digest, bytes);
    this.repository(name).blobs.add(digest);
  }

  /** The blob's bytes when the repository links it. */
  getBlob(name: string, digest: string): Uint8Array | undefined {
    return this.repositories.get(name)?.blobs.has(digest) ? this.blobBytes.get(digest) : undefined;
  }

  /** The blob's bytes whichever repository links it (the redirect storage serves by digest alone). */
  getBlobAnywhere(digest: string): Uint8Array | undefined {
    return this.blobBytes.get(digest);
  }

  /** Links an existing blob of `from` into `name`; false when `from` does not hold it. */
  mountBlob(name: string, digest: string, from: string): boolean {
    if (!this.repositories.get(from)?.blobs.has(digest)) return false;
    this.repository(name).blobs.add(digest);
    return true;
  }

  /** Unlinks the blob from the repository (the bytes stay for other repositories); false when it was not linked. */
  deleteBlob(name: string, digest: string): boolean {
    return this.repositories.get(name)?.blobs.delete(digest) ?? false;
  }

  /** Stores a manifest (replacing one with the same digest) and points `tag` at it when given. */
  putManifest(name: string, manifest: Omit<StoredManifest, 'fields'>, tag?: string): StoredManifest {
    const stored: StoredManifest = { ...manifest, fields: tryParseManifest(manifest.bytes) };
    const repo = this.repository(name);
    repo.manifests.set(stored.digest, stored);
    if (tag !== undefined) repo.tags.set(tag, stored.digest);
    return stored;
  }

  /** The manifest a tag or digest names in the repository. */
  getManifest(name: string, reference: string): StoredManifest | undefined {
    const repo = this.repositories.get(name);
    if (!repo) return undefined;
    const digest = repo.tags.get(reference) ?? reference;
    return repo.manifests.get(digest);
  }

  /** The digest a tag points at. */
  resolveTag(name: string, tag: string): string | undefined {
    return this.repositories.get(name)?.tags.get(tag);
  }

  /** Removes a manifest by digest with every tag pointing at it; false when absent. */
  deleteManifest(name: string, digest: string): boolean {
    const repo = this.repositories.get(name);
    if (!repo?.manifests.delete(digest)) return false;
    for (const [tag, target] of repo.tags) if (target === digest) repo.tags.delete(tag);
    return true;
  }

  /** Removes a tag only (OCI 1.1 tag deletion); false when absent. */
  deleteTag(name: string, tag: string): boolean {
    return this.repositories.get(name)?.tags.delete(tag) ?? false;
  }

  /** The repository's tags in lexical (code point) order. */
  listTags(name: string): string[] {
    return [...(this.repositories.get(name)?.tags.keys() ?? [])].sort();
  }

  /** Every manifest of the repository, in push order. */
  listManifests(name: string): StoredManifest[] {
    return [...(this.repositories.get(name)?.manifests.values() ?? [])];
  }

  /** Starts an upload session for the repository. */
  startUpload(name: string): UploadSession {
    const session: UploadSession = { id: randomUUID(), repository: name, chunks: [], size: 0 };
    this.uploads.set(session.id, session);
    return session;
  }

  /** The upload session when it exists and belongs to the repository. */
  getUpload(name: string, id: string): UploadSession | undefined {
    const session = this.uploads.get(id);
    return session?.repository === name ? session : undefined;
  }

  /** Ends an upload session (finished or cancelled). */
  endUpload(id: string): void {
    this.uploads.delete(id);
  }
}
