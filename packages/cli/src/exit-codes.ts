/**
 * How the CLI turns errors into exit codes, error codes and one-line suggestions. The table is documented in
 * docs/cli.md and README.md; keep the three in step.
 */
import { ErrorCodes, isLadingError, type LadingErrorCode } from '@lading/core';
import { fileSystemError } from '@lading/core/internal';

/** Exit codes of every `lading` command. */
export const ExitCodes = {
  /** Success. */
  ok: 0,
  /** An unexpected error (a bug, or an operating-system failure lading does not classify). */
  unexpected: 1,
  /**
   * Usage: a bad flag, argument or reference, or a refusal the user can fix (e.g. pull without --overwrite, a
   * destination this user may not write, a full disk).
   */
  usage: 2,
  /** The repository, tag, manifest, blob or file does not exist. */
  notFound: 3,
  /** Authentication or authorisation failed. */
  auth: 4,
  /** Signature or attestation verification failed. */
  verification: 5,
  /** Integrity: content did not match its digest, or an archive was hostile. Nothing was written. */
  integrity: 6,
  /** The registry could not be reached, or kept failing after retries. */
  network: 7,
  /** The registry answered with something the protocol does not allow. */
  protocol: 8,
  /** Interrupted by SIGINT or SIGTERM; a pull leaves the destination as it was. */
  interrupted: 130,
} as const;

/** One of the values of {@link ExitCodes}. */
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/** Error code used for interruptions (SIGINT, SIGTERM): not a library code, the CLI's own. */
export const InterruptedCode = 'ERR_LADING_INTERRUPTED';
/** Error code used for errors that are neither lading's nor the argument parser's. */
export const UnexpectedCode = 'ERR_LADING_UNEXPECTED';

const byLadingCode: Readonly<Record<LadingErrorCode, ExitCode>> = {
  [ErrorCodes.usage]: ExitCodes.usage,
  [ErrorCodes.invalidReference]: ExitCodes.usage,
  [ErrorCodes.notFound]: ExitCodes.notFound,
  [ErrorCodes.auth]: ExitCodes.auth,
  [ErrorCodes.verification]: ExitCodes.verification,
  [ErrorCodes.integrity]: ExitCodes.integrity,
  [ErrorCodes.network]: ExitCodes.network,
  [ErrorCodes.protocol]: ExitCodes.protocol,
  [ErrorCodes.fileSystem]: ExitCodes.usage,
};

/** What the CLI reports about a failed command. */
export interface Failure {
  /** A lading error code (`ERR_LADING_*`). */
  code: string;
  message: string;
  exitCode: ExitCode;
  /** One line saying what to do, when there is something useful to say. */
  suggestion?: string;
}

/** Context that changes how an error is described. */
export interface FailureContext {
  /** The command was interrupted by this signal. */
  signal?: NodeJS.Signals;
  /** The command writes files (pull): its integrity and interruption messages say nothing was written. */
  writes?: boolean;
  /** Credentials were given on the command line (`-u`): an auth failure is about them, not about logging in. */
  explicitCredentials?: boolean;
}

function suggestionFor(code: LadingErrorCode, context: FailureContext): string | undefined {
  const writes = context.writes ?? false;
  switch (code) {
    case ErrorCodes.auth:
      return context.explicitCredentials
        ? 'check the user name and password given with -u, and that this user may access the repository'
        : 'log in with `lading login <registry>` (lading also reads what docker login and oras login store), or pass -u <user> --password-stdin';
    case ErrorCodes.network:
      return 'check the registry address and that it is up; for a plain-HTTP registry pass --plain-http, for a private CA --ca-file';
    case ErrorCodes.integrity:
      return writes
        ? 'the artifact is corrupt or was tampered with: nothing was written'
        : 'the artifact is corrupt or was tampered with';
    case ErrorCodes.protocol:
      return 'the registry broke the OCI distribution protocol; run again with --debug to see the exchange';
    case ErrorCodes.fileSystem:
      return writes ? 'nothing was written: the destination is as it was' : undefined;
    case ErrorCodes.invalidReference:
      return 'write references as host[:port]/repository[:tag][@digest], or oci:<dir>[:tag] for a local OCI layout';
    default:
      return undefined;
  }
}

/** The exit code oclif's argument parser attached to a parse error (missing argument, unknown flag…). */
function parserExit(error: unknown): number | undefined {
  const oclif = (error as { oclif?: { exit?: unknown } } | undefined)?.oclif;
  return typeof oclif?.exit === 'number' ? oclif.exit : undefined;
}

/**
 * Describes `failed` for the user: lading errors by their code (see {@link ExitCodes}), operating-system errors the
 * user can fix (permission denied, a full disk…) as `ERR_LADING_FILESYSTEM` usage errors naming the path,
 * argument-parser errors as usage, any error after a signal as an interruption, anything else as unexpected.
 */
export function describeFailure(failed: unknown, context: FailureContext = {}): Failure {
  // Libraries map the errors of their own file operations; this catches any that reach the CLI unmapped.
  const error = fileSystemError(failed);
  const writes = context.writes ?? false;
  // After a signal the operation was aborted: whatever error the abort surfaced as, the cause is the signal.
  if (context.signal !== undefined) {
    return {
      code: InterruptedCode,
      message: `interrupted by ${context.signal}${writes ? ': nothing was written' : ''}`,
      exitCode: ExitCodes.interrupted,
    };
  }
  if (isLadingError(error)) {
    const failure: Failure = { code: error.code, message: error.message, exitCode: byLadingCode[error.code] };
    // Failures of another service (identity provider, Sigstore, TUF mirror) say what to do themselves; registry
    // advice (log in, --plain-http) would mislead.
    const suggestion = error.service === undefined ? suggestionFor(error.code, context) : undefined;
    if (suggestion !== undefined) failure.suggestion = suggestion;
    return failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  const exit = parserExit(error);
  if (exit !== undefined && exit !== 0) {
    return { code: ErrorCodes.usage, message, exitCode: ExitCodes.usage, suggestion: 'see --help for the usage' };
  }
  return {
    code: UnexpectedCode,
    message,
    exitCode: ExitCodes.unexpected,
    suggestion: 'run again with --debug for the stack trace, and report it if it looks like a bug in lading',
  };
}
