/**
 * @lading/core: move artifacts through OCI registries with no signing dependency.
 * @packageDocumentation
 */
export { attributeError, ErrorCodes, fileSystemError, LadingError, isLadingError } from './errors.js';
export type { LadingErrorCode, LadingErrorOptions, RegistryErrorDetail } from './errors.js';
export * from './media-types.js';
export { checkDescriptor, parseManifest, successors } from './descriptor.js';
export type { Descriptor, ImageIndex, ImageManifest, Platform } from './descriptor.js';
export {
  Digester,
  descriptorFor,
  digestOf,
  fetchAll,
  isDigest,
  parseDigest,
  readAll,
  sha256,
  verifyContent,
} from './digest.js';
export type { DigestAlgorithm, ParsedDigest } from './digest.js';
export type {
  ByteStream,
  CallOptions,
  Deleter,
  Exister,
  Fetcher,
  GraphTarget,
  Mounter,
  Pusher,
  ReferrerLister,
  ReferrersOptions,
  Resolver,
  Storage,
  Tagger,
  Target,
} from './content.js';
export { Authenticator, checkRealm, MaxTokenReplyBytes, mergeScopes, parseChallenges } from './registry/auth.js';
export type { AuthenticatorOptions, Challenge, CredentialProvider, TokenRequester } from './registry/auth.js';
export { DiagnosticsChannels, RegistryHTTP, redactURL, responseHeader } from './registry/http.js';
export type { RegistryHTTPOptions, RegistryRequest, RegistryResponse, TransportOptions } from './registry/http.js';
export { DefaultRetryPolicy } from './registry/retry.js';
export type { RetryPolicy } from './registry/retry.js';
export { RemoteRepository } from './registry/repository.js';
export { referrersTag } from './registry/referrers.js';
export type { RemoteReferrersOptions } from './registry/referrers.js';
export type { FetchedManifest, RangeResult, RemoteRepositoryOptions } from './registry/repository.js';
export { RegistryClient } from './registry/client.js';
export type { RegistryClientOptions } from './registry/client.js';
export {
  DockerHub,
  credentialKey,
  dialHost,
  formatReference,
  formatTarget,
  parseReference,
  parseTarget,
  plainHTTPByDefault,
} from './reference.js';
export type { LayoutReference, Reference, TargetReference } from './reference.js';
export {
  createCredential,
  credentialProvider,
  dockerConfigPath,
  eraseCredentials,
  findCredentials,
  noCredentialsMessage,
  storeCredentials,
} from './credentials.js';
export type {
  CredentialOptions,
  CredentialSearch,
  CredentialStoreOptions,
  ErasedCredential,
  RegistryCredential,
  StoredCredential,
} from './credentials.js';
export { checkCredentials, login, loginRegistry } from './login.js';
export type { LoginOptions, LoginResult } from './login.js';
export { MemoryStore } from './memory-store.js';
export { OCILayout } from './oci-layout.js';
export type { OCILayoutOptions } from './oci-layout.js';
export { DefaultCopyConcurrency, copy, copyGraph } from './copy.js';
export type { CopyEvent, CopyGraphOptions, CopyOptions } from './copy.js';
export type { GateSubject, VerificationGate } from './trust.js';
export {
  ArtifactTypeLading,
  MediaTypeFileLayer,
  MediaTypeTOC,
  checkEntryPath,
  parseTOC,
  serializeTOC,
} from './artifact/toc.js';
export type { EntryType, TOC, TOCEntry } from './artifact/toc.js';
export { openTarget } from './artifact/target.js';
export type { OpenTargetOptions, OpenedTarget } from './artifact/target.js';
export {
  formatPlatform,
  hostPlatform,
  indexEntries,
  MaxIndexDepth,
  MaxNestedIndexes,
  parsePlatform,
  resolvePlatformManifest,
} from './artifact/platform.js';
export type { IndexEntry, PlatformManifest } from './artifact/platform.js';
export { layerKind, loadArtifact } from './artifact/read.js';
export type { LayerKind, LoadOptions, LoadedArtifact } from './artifact/read.js';
export { pushArtifact, tagArtifact } from './artifact/push.js';
export { deleteArtifact } from './artifact/delete.js';
export type { DeleteResult, DeleteTarget } from './artifact/delete.js';
export type { PushEvent, PushOptions, PushResult, TagOptions } from './artifact/push.js';
export { DefaultPullLimits, pullArtifact } from './artifact/pull.js';
export type { PullEvent, PullLimits, PullOptions, PullResult, PulledEntry } from './artifact/pull.js';
export { listArtifact } from './artifact/list.js';
export type { ListOptions, ListResult, ListedEntry } from './artifact/list.js';
export { catArtifact } from './artifact/cat.js';
export type { CatOptions, CatResult } from './artifact/cat.js';
export { packArtifact } from './artifact/pack.js';
export type { PackInput, PackOptions, PackedArtifact } from './artifact/pack.js';
export type {
  ReferrerLayer,
  SignRequest,
  SignatureCandidate,
  SignedReferrer,
  Signer,
  VerifiedSignature,
  Verifier,
} from './trust.js';
export { attachSignature, legacySignatureTag, signatureGate } from './signatures.js';
export type { SignatureGateOptions } from './signatures.js';
export {
  checkCondition,
  compilePattern,
  evaluatePolicy,
  findRule,
  parsePolicy,
  PolicyCertificateExtensions,
  PolicyError,
  policyGate,
  PolicySignaturePredicateType,
  PolicyVersion,
} from './policy/index.js';
export type {
  AttestationOutcome,
  AttestationRequirement,
  AuthorityOutcome,
  ConditionOutcome,
  EvaluatePolicyOptions,
  KeyAuthority,
  KeylessAuthority,
  ParsePolicyOptions,
  Policy,
  PolicyAuthority,
  PolicyContent,
  PolicyDecision,
  PolicyEvaluation,
  PolicyGateOptions,
  PolicyMode,
  PolicyProblem,
  PolicyRule,
  PolicySource,
  PolicyVerifierFactory,
  PolicyVerifierRequest,
  PredicateCondition,
  ReferencePattern,
  SshAuthority,
  UnmatchedAction,
} from './policy/index.js';
