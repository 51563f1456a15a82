/**
 * Media types, paths and header names the Sigstore harness reads and writes, in one place.
 */

/** Trusted root file (`trusted_root.json`), protobuf-specs `TrustedRoot` v0.1. */
export const MediaTypeTrustedRoot = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
/** Signing config file read by `cosign --signing-config`, protobuf-specs `SigningConfig` v0.2. */
export const MediaTypeSigningConfig = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';
/** Binary RFC 3161 `TimeStampReq`, what cosign (sigstore-go) posts to a TSA. */
export const MediaTypeTimestampQuery = 'application/timestamp-query';
/** Binary RFC 3161 `TimeStampResp`. */
export const MediaTypeTimestampReply = 'application/timestamp-reply';
/** JSON bodies (Fulcio, Rekor, sigstore-js's TSA requests). */
export const MediaTypeJSON = 'application/json';

/** Fulcio v2 API: create a signing certificate. */
export const PathFulcioSigningCert = '/api/v2/signingCert';
/** Rekor v1 API: create (POST) a log entry; `/<uuid>` under it names one entry. */
export const PathRekorEntries = '/api/v1/log/entries';
/** Timestamp authority API: create a timestamp. */
export const PathTimestamp = '/api/v1/timestamp';
