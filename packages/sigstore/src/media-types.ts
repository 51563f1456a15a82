/**
 * Media types, URIs and annotation keys of Sigstore bundles, in-toto statements and cosign, in one place.
 * Facts checked against cosign 3.1.1 and sigstore-js (see docs/interop.md, "Sigstore bundle referrers").
 */

/** Sigstore bundle v0.3, what cosign 3 and lading write (layer media type and referrer `artifactType`). */
export const MediaTypeSigstoreBundleV03 = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/**
 * Every bundle media type lading reads: v0.3 and the older `+json;version=` spellings (v0.1, v0.2 from
 * sigstore-js' message-signature builder and older cosign, and the legacy spelling of v0.3).
 */
export const SigstoreBundleMediaTypes: readonly string[] = [
  MediaTypeSigstoreBundleV03,
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
];

/** DSSE `payloadType` of an in-toto statement. */
export const PayloadTypeInToto = 'application/vnd.in-toto+json';

/** in-toto Statement v1 `_type`, what lading writes. */
export const StatementTypeV1 = 'https://in-toto.io/Statement/v1';

/** in-toto Statement v0.1 `_type`, what `cosign attest` and `attest-blob` still write; read only. */
export const StatementTypeV01 = 'https://in-toto.io/Statement/v0.1';

/** cosign's predicate type for a plain image signature (predicate `{}`); lading's default. */
export const PredicateTypeCosignSign = 'https://sigstore.dev/cosign/sign/v1';

/** The in-toto predicate type of SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance). */
export const PredicateTypeSLSAProvenanceV1 = 'https://slsa.dev/provenance/v1';

/** Referrer annotation saying what the bundle holds: `dsse-envelope` or `message-signature`. */
export const AnnotationBundleContent = 'dev.sigstore.bundle.content';

/** Referrer annotation naming the in-toto predicate type of the bundle. */
export const AnnotationBundlePredicateType = 'dev.sigstore.bundle.predicateType';

/** Referrer annotation with the creation time (RFC 3339), as the OCI spec names it. */
export const AnnotationCreated = 'org.opencontainers.image.created';

/** Value of {@link AnnotationBundleContent} for a DSSE bundle. */
export const BundleContentDSSE = 'dsse-envelope';

/** Value of {@link AnnotationBundleContent} for a message-signature bundle. */
export const BundleContentMessageSignature = 'message-signature';

/** cosign signing config (`--signing-config`): where Fulcio, Rekor and TSAs are. */
export const MediaTypeSigningConfig = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';

/** Sigstore trusted root (`--trusted-root`). */
export const MediaTypeTrustedRoot = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';

/** PEM type of cosign's encrypted private keys (scrypt + NaCl secretbox around PKCS#8). */
export const PEMTypeSigstorePrivateKey = 'ENCRYPTED SIGSTORE PRIVATE KEY';

/** Older PEM type of the same format, written by cosign before 2.0; read only. */
export const PEMTypeCosignPrivateKey = 'ENCRYPTED COSIGN PRIVATE KEY';

/** The public-good Fulcio. */
export const PublicGoodFulcioURL = 'https://fulcio.sigstore.dev';

/** The public-good Rekor (API v1). */
export const PublicGoodRekorURL = 'https://rekor.sigstore.dev';

/** The OIDC audience Fulcio requires in identity tokens. */
export const SigstoreAudience = 'sigstore';

/** `critical.type` of a cosign simple-signing payload. */
export const SimpleSigningTypeCosign = 'cosign container image signature';

/** Legacy layer annotation: base64 of the signature over the payload bytes. */
export const AnnotationCosignSignature = 'dev.cosignproject.cosign/signature';

/** Legacy layer annotation: PEM of the signing certificate (keyless). */
export const AnnotationCosignCertificate = 'dev.sigstore.cosign/certificate';

/** Legacy layer annotation: PEM of the certificate's chain, possibly empty. */
export const AnnotationCosignChain = 'dev.sigstore.cosign/chain';

/** Legacy layer annotation: the Rekor bundle, `{"SignedEntryTimestamp", "Payload": {body, integratedTime, …}}`. */
export const AnnotationCosignBundle = 'dev.sigstore.cosign/bundle';

/** Legacy layer annotation: an RFC 3161 timestamp over the signature, `{"SignedRFC3161Timestamp": "<base64>"}`. */
export const AnnotationCosignRFC3161Timestamp = 'dev.sigstore.cosign/rfc3161timestamp';
