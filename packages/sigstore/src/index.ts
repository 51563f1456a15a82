/**
 * @lading/sigstore: Sigstore signer and verifier plugin for lading, keyless and key-based, cosign 3 compatible.
 * Signers return bundles (DSSE over an in-toto statement about the manifest) ready to attach as referrers; the
 * verifier checks them, and cosign's, against a policy of identities or keys.
 * @packageDocumentation
 */
export {
  AnnotationBundleContent,
  AnnotationBundlePredicateType,
  AnnotationCreated,
  BundleContentDSSE,
  BundleContentMessageSignature,
  MediaTypeSigningConfig,
  MediaTypeSigstoreBundleV03,
  MediaTypeTrustedRoot,
  PayloadTypeInToto,
  PEMTypeCosignPrivateKey,
  PEMTypeSigstorePrivateKey,
  PredicateTypeCosignSign,
  PredicateTypeSLSAProvenanceV1,
  PublicGoodFulcioURL,
  PublicGoodRekorURL,
  SigstoreAudience,
  SigstoreBundleMediaTypes,
  StatementTypeV01,
  StatementTypeV1,
} from './media-types.js';
export { buildStatement, parseStatement, serializeStatement, statementHasSubject } from './statement.js';
export type { Statement, StatementSubject } from './statement.js';
export { formatCreated, signStatement, toSignedReferrer } from './referrer.js';
export type { Clock, SignStatementOptions } from './referrer.js';
export { createKeySigner } from './key-signer.js';
export type { KeySigner, KeySignerOptions } from './key-signer.js';
export { createKeylessSigner } from './keyless-signer.js';
export type { KeylessSignerOptions } from './keyless-signer.js';
export {
  ambientIdentityToken,
  DefaultBuildkiteAgentEndpoint,
  hasAmbientIdentityToken,
  IdentityProviderService,
} from './identity-token.js';
export type { AmbientIdentityTokenOptions, IdentityTokenProvider } from './identity-token.js';
export {
  browserIdentityToken,
  DefaultOIDCClientID,
  PublicGoodOIDCIssuer,
  type BrowserIdentityTokenOptions,
} from './oidc-login.js';
export { loadSigningConfig, parseSigningConfig, selectRekor, selectServices } from './signing-config.js';
export type { SigstoreServices } from './signing-config.js';
export { generateKeyPair, pemEncode } from './key-pair.js';
export type { GenerateKeyPairOptions, GeneratedKeyPair, KeyAlgorithm } from './key-pair.js';
export { loadPrivateKey, publicKeyHint, publicKeyPEM, toPublicKey } from './keys.js';
export { decryptSigstoreKey, encryptSigstoreKey } from './encrypted-key.js';
export {
  createSigstoreVerifier,
  DefaultKeylessThresholds,
  DefaultKeyThresholds,
  SigstoreVerifierName,
} from './verifier.js';
export type { SigstoreVerifierPolicy } from './verifier.js';
export type { Thresholds } from './signed-entity.js';
export { anchoredRegExp } from './identity-policy.js';
export type { CertificateIdentity } from './identity-policy.js';
export {
  checkTrustedRoot,
  emptyTrustedRoot,
  fetchTrustedRoot,
  loadTrustedRoot,
  parseTrustedRoot,
} from './trusted-root.js';
export type { TUFOptions } from './trusted-root.js';
// GitHub artifact attestations: `createSigstoreVerifier({ github })`; compileGitHubPolicy checks a policy up front.
export { compileGitHubPolicy, GitHubActionsIssuer } from './github.js';
export type { GitHubAttestationPolicy } from './github.js';
export {
  BuildTypeGitHubActionsWorkflow,
  BuildTypeSLSAGitHubActionsWorkflow,
  checkProvenanceAgainstCertificate,
} from './slsa.js';
