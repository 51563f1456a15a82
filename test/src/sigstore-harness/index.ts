/**
 * Offline loopback Sigstore for tests: Fulcio (with CT log), Rekor v1 and a TSA built on `@sigstore/mock`, with
 * the trusted root and signing config that point cosign and sigstore-js at them. See README.md.
 */
export { DefaultOIDCIssuer, SigningConfigFileName, TrustedRootFileName, startSigstoreHarness } from './harness.js';
export type { IdentityTokenClaims, SigstoreHarness, SigstoreHarnessOptions } from './harness.js';
export type { RequestRecord } from './http.js';
export { MediaTypeSigningConfig, MediaTypeTrustedRoot } from './media-types.js';
