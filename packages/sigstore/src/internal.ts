/**
 * @lading/sigstore/internal: the building blocks of the signers and the verifier (statements, bundles, keys, signing
 * configs, trusted roots, the browser login's pieces), for lading's own packages and tests. Not part of the API:
 * names here may change or go in any release. Library users import `@lading/sigstore`.
 * @packageDocumentation
 */
export {
  AnnotationBundleContent,
  AnnotationCreated,
  BundleContentDSSE,
  BundleContentMessageSignature,
  MediaTypeSigningConfig,
  MediaTypeSigstoreBundleV03,
  MediaTypeTrustedRoot,
  PayloadTypeInToto,
  PEMTypeCosignPrivateKey,
  PEMTypeSigstorePrivateKey,
  SigstoreAudience,
  StatementTypeV01,
  StatementTypeV1,
} from './media-types.js';
export { buildStatement, parseStatement, serializeStatement, statementHasSubject } from './statement.js';
export type { Statement, StatementSubject } from './statement.js';
export { formatCreated, signStatement, toSignedReferrer } from './referrer.js';
export type { Clock, SignStatementOptions } from './referrer.js';
export { DefaultBuildkiteAgentEndpoint } from './identity-token.js';
export { authorizationURL, createPKCE, DefaultOIDCClientID, OIDCLoginScope, pkceChallenge } from './oidc-login.js';
export { loopbackRedirectURI, OIDCCallbackPath } from './oidc-loopback.js';
export { browserCommand } from './oidc-browser.js';
export { parseSigningConfig, selectServices } from './signing-config.js';
export type { SigstoreServices } from './signing-config.js';
export { pemEncode } from './key-pair.js';
export { loadPrivateKey, publicKeyHint, publicKeyPEM, toPublicKey } from './keys.js';
export { decryptSigstoreKey, encryptSigstoreKey } from './encrypted-key.js';
export { DefaultKeylessThresholds, DefaultKeyThresholds, SigstoreVerifierName } from './verifier.js';
export { anchoredRegExp } from './identity-policy.js';
export { checkTrustedRoot, emptyTrustedRoot, parseTrustedRoot } from './trusted-root.js';
