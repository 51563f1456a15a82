/**
 * Media types, annotation keys and header names lading reads and writes, in one place.
 * See interop.md for the peer behaviour behind each.
 */

/** OCI image manifest. */
export const MediaTypeImageManifest = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index. */
export const MediaTypeImageIndex = 'application/vnd.oci.image.index.v1+json';
/** Docker v2 schema 2 manifest (read). */
export const MediaTypeDockerManifest = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker v2 manifest list (read). */
export const MediaTypeDockerManifestList = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** OCI 1.1 empty descriptor media type; its content is `{}`. */
export const MediaTypeEmptyJSON = 'application/vnd.oci.empty.v1+json';
/** Gzipped tar layer. */
export const MediaTypeImageLayerGzip = 'application/vnd.oci.image.layer.v1.tar+gzip';
/** Uncompressed tar layer. */
export const MediaTypeImageLayer = 'application/vnd.oci.image.layer.v1.tar';
/** OCI image config. */
export const MediaTypeImageConfig = 'application/vnd.oci.image.config.v1+json';
/** Docker image config. */
export const MediaTypeDockerConfig = 'application/vnd.docker.container.image.v1+json';
/** The OCI image layout's `oci-layout` file version marker. */
export const OCILayoutVersion = '1.0.0';

/** Every manifest media type lading can read, in preference order for `Accept`. */
export const ManifestMediaTypes: readonly string[] = [
  MediaTypeImageManifest,
  MediaTypeImageIndex,
  MediaTypeDockerManifest,
  MediaTypeDockerManifestList,
];

/** Manifest media types that list other manifests (indexes). */
export const IndexMediaTypes: readonly string[] = [MediaTypeImageIndex, MediaTypeDockerManifestList];

/** The OCI 1.1 empty JSON blob `{}`. */
export const EmptyJSON = {
  mediaType: MediaTypeEmptyJSON,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
} as const;

/** Annotation: the file name of a layer (ORAS convention), also a general title. */
export const AnnotationTitle = 'org.opencontainers.image.title';
/**
 * Layer media type of cosign's legacy ("simple signing") signatures, stored under the tag `sha256-<hex>.sig`
 * (read only; lading never writes them).
 */
export const MediaTypeCosignSimpleSigning = 'application/vnd.dev.cosign.simplesigning.v1+json';

/** Annotation: creation time, RFC 3339. */
export const AnnotationCreated = 'org.opencontainers.image.created';
/** Annotation: the tag a manifest was stored under in an OCI layout's `index.json`. */
export const AnnotationRefName = 'org.opencontainers.image.ref.name';
/** Annotation (ORAS): `"true"` when a layer is a folder to unpack. */
export const AnnotationUnpack = 'io.deis.oras.content.unpack';
/** Annotation (ORAS): sha256 digest of a folder layer's uncompressed tar. */
export const AnnotationContentDigest = 'io.deis.oras.content.digest';

/** Header: the digest of the content a registry served or stored. */
export const HeaderContentDigest = 'docker-content-digest';
/** Header: set by a registry that processed a manifest's `subject` (not proof of referrers API support). */
export const HeaderOCISubject = 'oci-subject';
/** Header: filters the registry applied to a referrers listing. */
export const HeaderOCIFiltersApplied = 'oci-filters-applied';
/** Header: the smallest chunk a registry accepts in a chunked upload. */
export const HeaderOCIChunkMinLength = 'oci-chunk-min-length';

/** Default cap on manifests, indexes, tag and referrer listings read into memory: 4 MiB. */
export const DefaultManifestSizeLimit = 4 * 1024 * 1024;
