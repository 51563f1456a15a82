/**
 * @lading/core: move artifacts through OCI registries with no signing dependency.
 * @packageDocumentation
 */
export { ErrorCodes, LadingError, isLadingError } from './errors.js';
export type { LadingErrorCode, LadingErrorOptions } from './errors.js';
