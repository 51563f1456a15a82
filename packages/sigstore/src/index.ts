/**
 * @lading/sigstore: Sigstore signer and verifier plugin for lading, keyless and key-based, cosign 3 compatible.
 * Signers return bundles (DSSE over an in-toto statement about the manifest) ready to attach as referrers with
 * `signArtifact`; the verifier checks them, and cosign's, against a policy of identities or keys, inside
 * `signatureGate`. This barrel exports what a user composes: signers, identity tokens, the verifier and its trust
 * material, key generation and the names of the formats. The building blocks are in `@lading/sigstore/internal`,
 * for lading's own packages only.
 * @packageDocumentation
 */
export {
  AnnotationBundlePredicateType,
  PredicateTypeCosignSign,
  PredicateTypeSLSAProvenanceV1,
  PublicGoodFulcioURL,
  PublicGoodRekorURL,
  SigstoreBundleMediaTypes,
} from './media-types.js';
export { AttestationTypes, predicateTypeFor } from './attestation-types.js';
export { createKeySigner } from './key-signer.js';
export type { KeySigner, KeySignerOptions } from './key-signer.js';
export { createKeylessSigner } from './keyless-signer.js';
export type { KeylessSignerOptions } from './keyless-signer.js';
export { ambientIdentityToken, hasAmbientIdentityToken, IdentityProviderService } from './identity-token.js';
export type { AmbientIdentityTokenOptions, IdentityTokenProvider } from './identity-token.js';
export { browserIdentityToken, PublicGoodOIDCIssuer, type BrowserIdentityTokenOptions } from './oidc-login.js';
export { loadSigningConfig, selectRekor } from './signing-config.js';
export { generateKeyPair } from './key-pair.js';
export type { GenerateKeyPairOptions, GeneratedKeyPair, KeyAlgorithm } from './key-pair.js';
export { createSigstoreVerifier } from './verifier.js';
export type { SigstoreVerifierPolicy } from './verifier.js';
export type { Thresholds } from './signed-entity.js';
export type { CertificateIdentity } from './identity-policy.js';
export { fetchTrustedRoot, fetchTrustedRootJSON, loadTrustedRoot } from './trusted-root.js';
export type { TUFOptions } from './trusted-root.js';
// GitHub artifact attestations: `createSigstoreVerifier({ github })`; compileGitHubPolicy checks a policy up front.
export { compileGitHubPolicy, GitHubActionsIssuer } from './github.js';
export type { GitHubAttestationPolicy } from './github.js';
export {
  BuildTypeGitHubActionsWorkflow,
  BuildTypeSLSAGitHubActionsWorkflow,
  checkProvenanceAgainstCertificate,
} from './slsa.js';
