// Media types, header names and limits the fake registry speaks, in one place.
// Spec: https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md

/** Media types the fake registry recognises when validating manifests and building referrer indexes. */
export const MediaType = {
  /** OCI image manifest: `config` and `layers` must exist as blobs. */
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  /** OCI image index: `manifests` must exist as manifests. Also the referrers API response type. */
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  /** Docker v2 image manifest, validated like an OCI manifest. */
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  /** Docker manifest list, validated like an OCI index. */
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  /** OCI 1.1 empty config descriptor media type (content `{}`). */
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  /** Type of every JSON error body. */
  json: 'application/json',
  /** Type of blob bodies. */
  octetStream: 'application/octet-stream',
  /** Type of plain-text bodies (unknown routes, the disabled referrers API). */
  text: 'text/plain; charset=utf-8',
} as const;

/** HTTP header names (lower case, as node:http exposes them) that the registry reads or writes. */
export const Header = {
  apiVersion: 'docker-distribution-api-version',
  contentDigest: 'docker-content-digest',
  uploadUUID: 'docker-upload-uuid',
  chunkMinLength: 'oci-chunk-min-length',
  subject: 'oci-subject',
  filtersApplied: 'oci-filters-applied',
  authenticate: 'www-authenticate',
  authorization: 'authorization',
  retryAfter: 'retry-after',
  location: 'location',
  range: 'range',
  contentRange: 'content-range',
  contentType: 'content-type',
  contentLength: 'content-length',
  acceptRanges: 'accept-ranges',
  etag: 'etag',
  ifMatch: 'if-match',
  ifNoneMatch: 'if-none-match',
  link: 'link',
} as const;

/** Value of `Docker-Distribution-API-Version` on every registry response. */
export const API_VERSION = 'registry/2.0';

/** Default manifest size cap (4 MiB), the limit the OCI spec suggests registries enforce. */
export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Image manifest media types: their `config` and `layers` must be blobs of the repository. */
export const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.ociManifest, MediaType.dockerManifest]);

/** Index media types: their `manifests` must be manifests of the repository. */
export const INDEX_MANIFEST_TYPES: ReadonlySet<string> = new Set([MediaType.ociIndex, MediaType.dockerManifestList]);
