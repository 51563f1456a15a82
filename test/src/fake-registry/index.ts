// The fake OCI registry of the test bed: see README.md in this folder.

export { startFakeRegistry } from './server.js';
export type { BlobStorage, FakeRegistry, FakeRegistryOptions, PutManifestOptions } from './types.js';
export type { BasicCredentials } from './auth.js';
export type { SubjectHeaderMode } from './context.js';
export type { FaultAction, FaultHandle, FaultRule } from './faults.js';
export type { Expectation, UnexpectedRequest } from './strict.js';
export type { RequestMatcher } from './matcher.js';
export type { RequestRecord } from './log.js';
export type { Listener, RequestInfo } from './http.js';
export type { Descriptor, ManifestFields } from './manifest.js';
export type { StoredManifest } from './store.js';
export type { ErrorCode } from './errors.js';
export { Header, MediaType } from './constants.js';
export { sha256Digest } from './digest.js';
