// Registry errors in the distribution spec's JSON form:
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#error-codes

/** Error codes the fake registry emits: the spec's list plus the ones distribution adds (TAG_INVALID, ...). */
export type ErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'PAGINATION_NUMBER_INVALID'
  | 'RANGE_INVALID'
  | 'PRECONDITION_FAILED'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNAVAILABLE'
  | 'UNKNOWN';

/** One entry of the `errors` array of an error body. */
export interface ErrorEntry {
  code: ErrorCode;
  message: string;
  detail?: unknown;
}

/**
 * An error a handler throws to answer with `status` and a spec-shaped JSON body
 * `{"errors":[{"code","message","detail"}]}`. `headers` are added to the response (e.g. `Range` on 416).
 */
export class RegistryError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly detail: unknown;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    options: { detail?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'RegistryError';
    this.status = status;
    this.code = code;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }
}

/** The JSON body of an error response, as bytes. */
export function errorBody(code: ErrorCode, message: string, detail?: unknown): Uint8Array {
  const entry: ErrorEntry = detail === undefined ? { code, message } : { code, message, detail };
  return Buffer.from(JSON.stringify({ errors: [entry] }));
}

/** The error code a bare status maps to when a fault or strict mode answers without a handler. */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'DENIED';
    case 404:
      return 'NAME_UNKNOWN';
    case 429:
      return 'TOOMANYREQUESTS';
    case 503:
      return 'UNAVAILABLE';
    default:
      return 'UNKNOWN';
  }
}
