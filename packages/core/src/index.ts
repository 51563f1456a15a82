/**
 * @lading/core: move artifacts through OCI registries with no signing dependency.
 * @packageDocumentation
 */
export { ErrorCodes, LadingError, isLadingError } from './errors.js';
export type { LadingErrorCode, LadingErrorOptions } from './errors.js';
export * from './media-types.js';
export { checkDescriptor, parseManifest, successors } from './descriptor.js';
export type { Descriptor, ImageIndex, ImageManifest, Platform } from './descriptor.js';
export { Digester, descriptorFor, digestOf, isDigest, parseDigest, readAll, sha256, verifyContent } from './digest.js';
export type { DigestAlgorithm, ParsedDigest } from './digest.js';
export type {
  ByteStream,
  CallOptions,
  Deleter,
  Exister,
  Fetcher,
  GraphTarget,
  Pusher,
  ReferrerLister,
  ReferrersOptions,
  Resolver,
  Storage,
  Tagger,
  Target,
} from './content.js';
