/**
 * Turning a registry's error answers into lading errors that say what failed, where, and what to do, and that keep
 * the HTTP status and the registry's error codes as fields.
 */
import { ErrorCodes, LadingError, type LadingErrorCode, type RegistryErrorDetail } from '../errors.js';
import { discardBody, responseHeader, type RegistryResponse } from './http.js';

/** What an error body said: a one-line summary for messages, and the spec's `errors[]` entries when present. */
export interface ErrorBody {
  /** `code: message; …` of the spec's `errors[]`, a note about an HTML page, or the text; '' when empty. */
  summary: string;
  /** The `errors[]` entries with a string `code` (at most 20), or undefined when the body had none. */
  errors?: RegistryErrorDetail[];
}

/**
 * Reads at most 64 KiB of an error body (and releases the rest) and summarises it: the spec's `errors[]`, an HTML
 * page, or text.
 */
export async function readErrorBody(res: RegistryResponse): Promise<ErrorBody> {
  let text: string;
  try {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size > 64 * 1024) break;
    }
    text = Buffer.concat(chunks)
      .toString('utf8')
      .slice(0, 64 * 1024);
  } catch {
    return { summary: '' };
  } finally {
    discardBody(res);
  }
  const trimmed = text.trim();
  if (!trimmed) return { summary: '' };
  try {
    const doc = JSON.parse(trimmed) as { errors?: unknown[] };
    if (Array.isArray(doc.errors) && doc.errors.length) {
      const entries = doc.errors.filter(
        (e): e is { code?: unknown; message?: unknown } => typeof e === 'object' && e !== null,
      );
      const summary = entries
        .map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x).join(': '))
        .filter(Boolean)
        .join('; ')
        .slice(0, 500);
      const errors: RegistryErrorDetail[] = [];
      for (const e of entries) {
        if (typeof e.code !== 'string' || e.code === '' || errors.length >= 20) continue;
        const detail: RegistryErrorDetail = { code: e.code.slice(0, 100) };
        if (typeof e.message === 'string' && e.message !== '') detail.message = e.message.slice(0, 500);
        errors.push(detail);
      }
      return errors.length ? { summary, errors } : { summary };
    }
  } catch {
    // not JSON: fall through
  }
  const type = responseHeader(res, 'content-type') ?? '';
  if (type.includes('html') || /^<(!doctype|html)/i.test(trimmed)) {
    return { summary: 'the registry answered with an HTML page' };
  }
  return { summary: trimmed.replace(/\s+/g, ' ').slice(0, 200) };
}

/** Reads at most 64 KiB of an error body and summarises it: the spec's `errors[]`, an HTML page, or text. */
export async function describeErrorBody(res: RegistryResponse): Promise<string> {
  return (await readErrorBody(res)).summary;
}

/** The error code a status maps to. */
export function codeForStatus(status: number): LadingErrorCode {
  if (status === 401 || status === 403) return ErrorCodes.auth;
  if (status === 404) return ErrorCodes.notFound;
  if (status === 408 || status === 429 || status >= 500) return ErrorCodes.network;
  return ErrorCodes.protocol;
}

/**
 * Builds the error for an unexpected status: "operation target: HTTP status: registry detail; hint", with `status`
 * and the registry's `errors[]` as fields of the error. Consumes the response body.
 */
export async function statusError(operation: string, res: RegistryResponse): Promise<LadingError> {
  const { summary: detail, errors } = await readErrorBody(res);
  const status = res.status;
  let hint = '';
  if (status === 401 || status === 403) hint = `; ${res.authHint ?? 'access denied: check the credentials'}`;
  else if (status === 429) {
    const after = responseHeader(res, 'retry-after');
    hint = `; the registry is rate limiting${after ? ` (Retry-After: ${after})` : ''}, try again later`;
  } else if (status >= 500) hint = '; the registry failed, try again later';
  else if (status === 400 && detail.includes('HTTP request to an HTTPS server')) {
    hint = '; the registry speaks HTTPS: do not ask for plain HTTP (loopback hosts default to plain HTTP)';
  }
  return new LadingError(codeForStatus(status), `${operation}: HTTP ${status}${detail ? `: ${detail}` : ''}${hint}`, {
    status,
    ...(errors ? { registryErrors: errors } : {}),
  });
}

/**
 * The `ERR_LADING_NOT_FOUND` error for a 404 the caller expected: "operation target: not found", with status 404 and
 * the registry's `errors[]` (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, …) as fields. Consumes the response body.
 */
export async function notFoundError(
  operation: string,
  res: RegistryResponse,
  what = 'not found',
): Promise<LadingError> {
  const { errors } = await readErrorBody(res);
  return new LadingError(ErrorCodes.notFound, `${operation}: ${what}`, {
    status: res.status,
    ...(errors ? { registryErrors: errors } : {}),
  });
}
