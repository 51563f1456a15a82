/**
 * @lading/core: move artifacts through OCI registries with no signing dependency. This barrel exports what a user
 * composes: targets (registry, OCI layout, memory) and the capabilities they implement, the artifact operations
 * (push, pull, list, cat, copy, sign, attest, verify, tag, delete), the trust interfaces a signing plugin implements,
 * errors and media types. The helpers those are built from are not part of the API; the sibling packages reach them
 * through `@lading/core/internal`, which makes no promise to anyone else.
 * @packageDocumentation
 */
export { ErrorCodes, LadingError, isLadingError } from './errors.js';
export type { LadingErrorCode, LadingErrorOptions, RegistryErrorDetail } from './errors.js';
export * from './media-types.js';
export { parseManifest } from './descriptor.js';
export type { Descriptor, ImageIndex, ImageManifest, Platform } from './descriptor.js';
export { descriptorFor, readAll } from './digest.js';
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
export type { CredentialProvider } from './registry/auth.js';
export { DiagnosticsChannels } from './registry/http.js';
export type { RegistryHTTPOptions, TransportOptions } from './registry/http.js';
export { DefaultRetryPolicy } from './registry/retry.js';
export type { RetryPolicy } from './registry/retry.js';
export { RemoteRepository } from './registry/repository.js';
export type { RemoteReferrersOptions } from './registry/referrers.js';
export type { FetchedManifest, RangeResult, RemoteRepositoryOptions } from './registry/repository.js';
export { RegistryClient } from './registry/client.js';
export type { RegistryClientOptions } from './registry/client.js';
export { formatReference, formatTarget, parseReference, parseTarget } from './reference.js';
export type { LayoutReference, Reference, TargetReference } from './reference.js';
export { credentialProvider, eraseCredentials, findCredentials, storeCredentials } from './credentials.js';
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
export { DefaultCopyConcurrency, MaxReferrerSubjectsPerIndex, copy, copyGraph } from './copy.js';
export type { CopiedReferrer, CopyEvent, CopyGraphOptions, CopyOptions, CopyResult } from './copy.js';
export { ArtifactTypeLading, MediaTypeFileLayer, MediaTypeTOC } from './artifact/toc.js';
export type { EntryType, TOC, TOCEntry } from './artifact/toc.js';
export { openTarget } from './artifact/target.js';
export type { OpenTargetOptions, OpenedTarget } from './artifact/target.js';
export { formatPlatform, hostPlatform, parsePlatform } from './artifact/platform.js';
export { pushArtifact, tagArtifact } from './artifact/push.js';
export type { PushEvent, PushOptions, PushResult, TagOptions } from './artifact/push.js';
export { deleteArtifact } from './artifact/delete.js';
export type { DeleteResult, DeleteTarget } from './artifact/delete.js';
export { DefaultPullLimits, pullArtifact } from './artifact/pull.js';
export type { PullEvent, PullLimits, PullOptions, PullResult, PulledEntry } from './artifact/pull.js';
export { listArtifact } from './artifact/list.js';
export type { ListOptions, ListResult, ListedEntry } from './artifact/list.js';
export { catArtifact } from './artifact/cat.js';
export type { CatOptions, CatResult } from './artifact/cat.js';
export { packArtifact, packManifest } from './artifact/pack.js';
export type { ManifestFields, PackInput, PackOptions, PackedArtifact } from './artifact/pack.js';
export { attestArtifact, MaxRecursiveManifests, signArtifact } from './artifact/sign.js';
export type { AttestOptions, SignEvent, SignOptions, SignResult, SignedManifest } from './artifact/sign.js';
export { verifyArtifact } from './artifact/verify.js';
export { DefaultDiscoverDepth, discoverReferrers, MaxDiscoveredReferrers } from './artifact/discover.js';
export type { DiscoveredReferrer, DiscoverOptions, DiscoverResult } from './artifact/discover.js';
export type { VerifyOptions, VerifyResult } from './artifact/verify.js';
export type {
  GateResult,
  GateSubject,
  ReferrerLayer,
  SignRequest,
  SignatureCandidate,
  SignedReferrer,
  Signer,
  VerificationGate,
  VerifiedSignature,
  Verifier,
} from './trust.js';
export { allOf, anyOf } from './authorities.js';
export type { AllOf, Authority } from './authorities.js';
export { attachSignature, signatureGate } from './signatures.js';
export type { GivenSignature, SignatureGateOptions } from './signatures.js';

// CLI completeness (issue 13): referrers repair, inspect.
export { repairReferrers } from './registry/referrers-repair.js';
export type { ReferrersRepairer, RepairReferrersReport } from './registry/referrers-repair.js';
export type {
  FallbackRemoval,
  RemoveReferrerOptions,
  RepairReferrersOptions,
  RepairReferrersResult,
  RepairedReferrer,
} from './registry/referrers.js';
export { inspectArtifact } from './artifact/inspect.js';
export type { InspectOptions, InspectResult, TOCSummary } from './artifact/inspect.js';
export { readManifest } from './artifact/manifest.js';
export type { ReadManifestOptions, ReadManifestResult } from './artifact/manifest.js';
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
