/**
 * Turning a registry's error answers into lading errors that say what failed, where, and what to do.
 */
import { ErrorCodes, LadingError, type LadingErrorCode } from '../errors.js';
import { discardBody, responseHeader, type RegistryResponse } from './http.js';

/** Reads at most 64 KiB of an error body and summarises it: the spec's `errors[]`, an HTML page, or text. */
export async function describeErrorBody(res: RegistryResponse): Promise<string> {
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
    return '';
  } finally {
    discardBody(res);
  }
  const trimmed = text.trim();
  if (!trimmed) return '';
  try {
    const doc = JSON.parse(trimmed) as { errors?: { code?: unknown; message?: unknown }[] };
    if (Array.isArray(doc.errors) && doc.errors.length) {
      return doc.errors
        .map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x).join(': '))
        .filter(Boolean)
        .join('; ')
        .slice(0, 500);
    }
  } catch {
    // not JSON: fall through
  }
  const type = responseHeader(res, 'content-type') ?? '';
  if (type.includes('html') || /^<(!doctype|html)/i.test(trimmed)) return 'the registry answered with an HTML page';
  return trimmed.replace(/\s+/g, ' ').slice(0, 200);
}

/** The error code a status maps to. */
export function codeForStatus(status: number): LadingErrorCode {
  if (status === 401 || status === 403) return ErrorCodes.auth;
  if (status === 404) return ErrorCodes.notFound;
  if (status === 408 || status === 429 || status >= 500) return ErrorCodes.network;
  return ErrorCodes.protocol;
}

/**
 * Builds the error for an unexpected status: "operation target: HTTP status: registry detail; hint".
 * Consumes the response body.
 */
export async function statusError(operation: string, res: RegistryResponse): Promise<LadingError> {
  const detail = await describeErrorBody(res);
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
  return new LadingError(codeForStatus(status), `${operation}: HTTP ${status}${detail ? `: ${detail}` : ''}${hint}`);
}
