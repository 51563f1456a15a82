import type { BasicCredentials } from './auth.js';
import type { SubjectHeaderMode } from './context.js';
import type { FaultHandle, FaultRule } from './faults.js';
import type { RequestRecord } from './log.js';
import type { Descriptor } from './manifest.js';
import type { StoredManifest } from './store.js';
import type { Expectation, UnexpectedRequest } from './strict.js';

/** Options of `startFakeRegistry`. Every option has a default that behaves like a spec-complete OCI 1.1 registry. */
export interface FakeRegistryOptions {
  /** Serve `GET /v2/<name>/referrers/<digest>`. When false, answer it with distribution 2.8's plain 404. Default true. */
  referrersAPI?: boolean;
  /** Referrers per page (Link pagination) even when the client sends no `n`. Default 0: one page. */
  referrersPageSize?: number;
  /** Tags per page when the client sends no `n`. Default 0: one page. */
  tagsPageSize?: number;
  /**
   * Honour `If-Match`/`If-None-Match` on manifest PUT (412 on mismatch). False ignores them, like registries that
   * lose concurrent updates. Default true.
   */
  conditionalPut?: boolean;
  /**
   * When a PUT manifest with a `subject` gets `OCI-Subject`: `when-referrers` (only while the API is on),
   * `always` (like ECR and Docker Hub did without serving the API) or `never`. Default `when-referrers`.
   */
  ociSubjectHeader?: SubjectHeaderMode;
  /** Require HTTP Basic credentials on every registry request (401 + `WWW-Authenticate: Basic`). Default none. */
  auth?: BasicCredentials;
  /**
   * Answer blob GETs with 307 to a second listener on another port (another origin) that serves the bytes and
   * records the `Authorization` headers it receives. Default false.
   */
  redirectBlobs?: boolean;
  /** Send `OCI-Chunk-Min-Length: <n>` when an upload starts. Default: not sent. */
  chunkMinLength?: number;
  /** Largest manifest accepted, in bytes (larger: 413). Default 4 MiB. */
  maxManifestBytes?: number;
  /** Accept DELETE of blobs and manifests; false answers 405 UNSUPPORTED. Default true. */
  deleteEnabled?: boolean;
  /** Honour `Range` on blob GETs; false answers 200 with the whole blob. Default true. */
  rangeRequests?: boolean;
}

/** The second listener of `redirectBlobs`. */
export interface BlobStorage {
  /** `http://127.0.0.1:PORT` of the storage listener. */
  readonly url: string;
  /** Every `Authorization` header value it received, in order (a correct client sends none). */
  readonly authorizations: readonly string[];
}

/** Options of {@link FakeRegistry.putManifest}. */
export interface PutManifestOptions {
  /** Tag to point at the manifest. Default: none (reachable by digest only). */
  tag?: string;
  /** Content type to store. Default: the manifest's `mediaType`, else the OCI image manifest type. */
  mediaType?: string;
}

/** A running fake registry. Everything lives in memory and is lost on {@link close}. */
export interface FakeRegistry {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `127.0.0.1:PORT`, for references (`${host}/repo:tag`). */
  readonly host: string;
  /** The redirect target when `redirectBlobs` is on, else undefined. */
  readonly storage: BlobStorage | undefined;
  /** Closes both listeners and every open connection. */
  close(): Promise<void>;

  /** Turns the referrers API on or off at run time (see {@link FakeRegistryOptions.referrersAPI}). */
  setReferrersAPI(enabled: boolean): void;
  /** Turns conditional manifest PUT on or off at run time (see {@link FakeRegistryOptions.conditionalPut}). */
  setConditionalPut(enabled: boolean): void;
  /** Turns `Range` support on blob GETs on or off at run time (see {@link FakeRegistryOptions.rangeRequests}). */
  setRangeRequests(enabled: boolean): void;

  /** Adds a fault rule (checked first to last; the first due rule fires). Throws TypeError on a malformed rule. */
  inject(rule: FaultRule): FaultHandle;
  /** Removes every fault rule. */
  clearFaults(): void;

  /**
   * Enters strict mode (until {@link clearExpectations}) and allows the given requests. Any other request is
   * answered 500 and recorded.
   */
  expect(...expectations: Expectation[]): void;
  /** Throws an Error listing the requests strict mode refused, if any. */
  assertNoUnexpected(): void;
  /** Leaves strict mode, forgetting expectations and refused requests. */
  clearExpectations(): void;
  /** Requests strict mode refused so far. */
  readonly unexpected: readonly UnexpectedRequest[];

  /** A snapshot of the request log, oldest first (both listeners). */
  readonly requests: readonly RequestRecord[];
  /** Response body bytes written since the last {@link clearLog}. */
  readonly bytesServed: number;
  /** Body bytes of one blob served by GETs (including partial and redirected ones) since the last {@link clearLog}. */
  blobBytesServed(digest: string): number;
  /** Forgets the request log and byte counters. */
  clearLog(): void;

  /** Stores a blob in a repository without HTTP and returns its descriptor (media type default octet-stream). */
  putBlob(repository: string, content: Uint8Array | string, mediaType?: string): Descriptor;
  /**
   * Stores a manifest without HTTP and without validation (broken content is allowed on purpose) and returns its
   * descriptor. Objects are serialised with `JSON.stringify`.
   */
  putManifest(repository: string, manifest: object | Uint8Array | string, options?: PutManifestOptions): Descriptor;
  /** The bytes of a blob the repository holds. */
  getBlob(repository: string, digest: string): Uint8Array | undefined;
  /** The manifest a tag or digest names. */
  getManifest(repository: string, reference: string): StoredManifest | undefined;
  /** The repository's tags, sorted. */
  tags(repository: string): string[];
  /** What the referrers API would list for `digest` (whatever the switch says), unfiltered. */
  referrers(repository: string, digest: string): Descriptor[];
}
