/**
 * @lading/core/internal: the helpers the public operations are built from, for lading's own packages (the CLI, the
 * signing plugins, the tests). Not part of the API: names here may change or go in any release. Library users
 * import `@lading/core`.
 * @packageDocumentation
 */
export { attributeError, fileSystemError } from './errors.js';
export { checkDescriptor, successors } from './descriptor.js';
export { Digester, digestOf, fetchAll, isDigest, parseDigest, sha256, verifyContent } from './digest.js';
export type { DigestAlgorithm, ParsedDigest } from './digest.js';
export { Authenticator, checkRealm, MaxTokenReplyBytes, mergeScopes, parseChallenges } from './registry/auth.js';
export type { AuthenticatorOptions, Challenge, TokenRequester } from './registry/auth.js';
export { RegistryHTTP, redactURL, responseHeader } from './registry/http.js';
export type { RegistryRequest, RegistryResponse } from './registry/http.js';
export { referrersTag } from './registry/referrers.js';
export { DockerHub, credentialKey, dialHost, plainHTTPByDefault } from './reference.js';
export { createCredential, dockerConfigPath, noCredentialsMessage } from './credentials.js';
export { checkEntryPath, parseTOC, serializeTOC } from './artifact/toc.js';
export { indexEntries, MaxIndexDepth, MaxNestedIndexes, resolvePlatformManifest } from './artifact/platform.js';
export type { IndexEntry, PlatformManifest } from './artifact/platform.js';
export { layerKind, loadArtifact } from './artifact/load.js';
export type { LayerKind, LoadOptions, LoadedArtifact } from './artifact/load.js';
export { legacySignatureTag } from './signatures.js';
export { requiredVerifiers } from './authorities.js';
export {
  buildStatement,
  parseStatement,
  serializeStatement,
  StatementTypeV01,
  StatementTypeV1,
  statementDigests,
  statementHasSubject,
} from './statement.js';
export type { ParseStatementOptions, Statement, StatementSubject } from './statement.js';
