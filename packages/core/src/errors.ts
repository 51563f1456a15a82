/**
 * The one error hierarchy of lading. Every error a library function throws on purpose is a {@link LadingError}
 * with a stable literal `code`, a message of the form "operation target: reason", and the underlying error as
 * `cause`. Messages never contain credentials.
 */

/** Stable error codes, grouped by what the user can do about them. The CLI maps each group to an exit code. */
export const ErrorCodes = {
  /** The caller passed something malformed (a reference, a flag, an option). */
  usage: 'ERR_LADING_USAGE',
  /** A reference (`host/repo:tag@digest`) could not be parsed. */
  invalidReference: 'ERR_LADING_INVALID_REFERENCE',
  /** The registry or layout has no such repository, tag, manifest or blob. */
  notFound: 'ERR_LADING_NOT_FOUND',
  /** Credentials were missing, wrong, or did not grant the needed scope. */
  auth: 'ERR_LADING_AUTH',
  /** Content did not match its digest or size, or an archive was hostile. */
  integrity: 'ERR_LADING_INTEGRITY',
  /** No acceptable signature or attestation: verification failed closed. */
  verification: 'ERR_LADING_VERIFICATION',
  /** The registry could not be reached or kept failing after retries. */
  network: 'ERR_LADING_NETWORK',
  /** The registry answered with something the protocol does not allow. */
  protocol: 'ERR_LADING_PROTOCOL',
  /**
   * The local file system refused what the user asked for: no permission, a file where a folder is needed, a
   * read-only or full disk, a name too long (see {@link fileSystemError}). The message names the path.
   */
  fileSystem: 'ERR_LADING_FILESYSTEM',
} as const;

/** One of the literal codes in {@link ErrorCodes}. */
export type LadingErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * One entry of a registry's error document (`{"errors": [{"code", "message", "detail"}]}`, distribution spec
 * "Error Codes"), as the registry sent it: `code` is the registry's (`MANIFEST_UNKNOWN`, `DENIED`, …), not lading's.
 */
export interface RegistryErrorDetail {
  code: string;
  /** The registry's message, cut to 500 characters; absent when it sent none. */
  message?: string;
}

/** Options of {@link LadingError}. */
export interface LadingErrorOptions {
  /** The error that caused this one; kept as the standard `cause`. */
  cause?: unknown;
  /**
   * The service that failed when it is not the registry, e.g. `identity provider`, `sigstore`, `tuf`. Front ends
   * use it to avoid registry advice (log in, --plain-http) for a failure elsewhere. Default: none (the registry or
   * local).
   */
  service?: string;
  /** The HTTP status of the failed response, when the error is about one. Default: none. */
  status?: number;
  /** The registry's `errors[]` entries (at most 20), when its error body had any. Default: none. */
  registryErrors?: readonly RegistryErrorDetail[];
}

/**
 * Base class of every deliberate lading error. `code` is one of {@link ErrorCodes}; `message` says what failed,
 * where, and (when there is one) what to do.
 */
export class LadingError<Code extends LadingErrorCode = LadingErrorCode> extends Error {
  /** Stable, documented code; match on this, never on the message. */
  readonly code: Code;
  /** The failing service when it is not the registry (see {@link LadingErrorOptions.service}). */
  readonly service: string | undefined;
  /**
   * The HTTP status of the response that failed (as oras-go's `ErrorResponse.StatusCode`), or undefined when the
   * failure was not an HTTP answer (a dropped connection, a bad digest, a local error).
   */
  readonly status: number | undefined;
  /**
   * The registry's own error entries (`errors[].code` and `message`, as oras-go's `ErrorResponse.Errors`), or
   * undefined when the response had no error document. Match on `code` (`MANIFEST_UNKNOWN`, `DENIED`,
   * `TOOMANYREQUESTS`…) rather than on the message.
   */
  readonly registryErrors: readonly RegistryErrorDetail[] | undefined;

  constructor(code: Code, message: string, options: LadingErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'LadingError';
    this.code = code;
    this.service = options.service;
    this.status = options.status;
    this.registryErrors = options.registryErrors;
  }
}

/**
 * `error` attributed to `service` (see {@link LadingErrorOptions.service}): the same code, message, cause, status
 * and registry errors. Errors that already name a service, and values that are not lading errors, are returned as they are.
 */
export function attributeError(error: unknown, service: string): unknown {
  if (!(error instanceof LadingError) || error.service !== undefined) return error;
  const attributed = new LadingError(error.code, error.message, {
    ...('cause' in error ? { cause: error.cause } : {}),
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.registryErrors === undefined ? {} : { registryErrors: error.registryErrors }),
    service,
  });
  if (error.stack !== undefined) attributed.stack = error.stack;
  return attributed;
}

/** True when `value` is a {@link LadingError}, optionally with the given code. */
export function isLadingError<Code extends LadingErrorCode>(value: unknown, code?: Code): value is LadingError<Code> {
  return value instanceof LadingError && (code === undefined || value.code === code);
}

/**
 * The operating-system errors a user can cause and fix, each with what it means and what to do; `device` marks
 * those about the whole disk or process, where the path of the failed call (often a temporary one) says nothing.
 */
const fileSystemFailures: Readonly<Record<string, { reason: string; advice: string; device?: true }>> = {
  EACCES: { reason: 'permission denied', advice: 'check its permissions, or choose a path this user may use' },
  EPERM: { reason: 'operation not permitted', advice: 'check its permissions, or choose a path this user may use' },
  EROFS: { reason: 'read-only file system', advice: 'choose a path on a writable file system' },
  ENOTDIR: { reason: 'a file stands where a folder is needed', advice: 'give a path made of folders' },
  EISDIR: { reason: 'is a folder, not a file', advice: 'name a file' },
  ENAMETOOLONG: { reason: 'file name too long', advice: 'choose a shorter path' },
  ELOOP: { reason: 'too many levels of symbolic links', advice: 'check the links along the path' },
  ENOSPC: { reason: 'no space left on the device', advice: 'free some space, or choose another disk', device: true },
  EDQUOT: { reason: 'disk quota exceeded', advice: 'free some space, or choose another disk', device: true },
  EMFILE: { reason: 'too many open files', advice: 'raise the open-file limit (ulimit -n)', device: true },
  ENFILE: { reason: 'too many open files in the system', advice: 'try again when fewer are open', device: true },
};

/**
 * `error` as an `ERR_LADING_FILESYSTEM` {@link LadingError} when it is an operating-system error the user can cause
 * and fix (permission denied, a read-only or full disk, a file where a folder is needed, a name too long, too many
 * open files), else `error` itself: lading errors, bugs and other failures pass unchanged. The message is
 * "operation: path: reason; what to do". The path of the failed call is left out when it is `target` (which
 * `operation` already names), unknown (a failed `write` names none), or beside the point (a full disk). The original
 * error is the `cause`. `operation` defaults to nothing (the message starts with the path).
 */
export function fileSystemError(error: unknown, operation?: string, target?: string): unknown {
  if (error instanceof LadingError || !(error instanceof Error)) return error;
  const { code, path } = error as NodeJS.ErrnoException;
  const failure = code === undefined ? undefined : fileSystemFailures[code];
  if (failure === undefined) return error;
  const named = path !== undefined && path !== target && failure.device !== true ? path : undefined;
  const subject = [operation, named].filter((p) => p !== undefined).join(': ');
  const message = `${subject === '' ? '' : `${subject}: `}${failure.reason}; ${failure.advice}`;
  return new LadingError(ErrorCodes.fileSystem, message, { cause: error });
}
