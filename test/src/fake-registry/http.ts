// The request and reply shapes handlers work with, and the HTTP helpers they share.

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

import { Header, MediaType } from './constants.js';
import { RegistryError, errorBody } from './errors.js';

/** Which listener received a request: the registry API or the blob storage that redirects point to. */
export type Listener = 'registry' | 'storage';

/** What matchers (faults, strict mode) and handlers see of a request. */
export interface RequestInfo {
  readonly listener: Listener;
  /** Upper-case method. */
  readonly method: string;
  /** Decoded-as-sent pathname, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names, as node:http gives them. */
  readonly headers: IncomingHttpHeaders;
}

/** A request handed to a route handler: the info plus a way to read the body once. */
export interface RegistryRequest extends RequestInfo {
  /**
   * Reads the whole body. Beyond `limit` bytes the rest is drained and discarded and a 413 `SIZE_INVALID` (or
   * `tooLarge`) error is thrown. Default limit: none.
   */
  body(limit?: number, tooLarge?: () => RegistryError): Promise<Buffer>;
}

/** A handler's answer. The server writes it, applying body faults; HEAD answers never carry the body. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Set when the body is (part of) this blob, for the per-blob byte counters. */
  blob?: string;
}

/** Reads a request body up to `limit` bytes; see {@link RegistryRequest.body}. Calls `onBytes` per chunk. */
export async function readBody(
  req: IncomingMessage,
  onBytes: (n: number) => void,
  limit = Number.POSITIVE_INFINITY,
  tooLarge?: () => RegistryError,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    onBytes(chunk.length);
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) {
    throw tooLarge?.() ?? new RegistryError(413, 'SIZE_INVALID', `request body exceeds ${limit} bytes`);
  }
  return Buffer.concat(chunks);
}

/** A JSON reply. */
export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { [Header.contentType]: MediaType.json, ...headers },
    body: Buffer.from(JSON.stringify(value)),
  };
}

/** The spec-shaped JSON reply of a {@link RegistryError}. */
export function errorReply(error: RegistryError): Reply {
  return {
    status: error.status,
    headers: { [Header.contentType]: MediaType.json, ...error.headers },
    body: errorBody(error.code, error.message, error.detail),
  };
}

/** The plain-text 404 Go's router answers for unknown routes (what distribution 2.8 says to `/referrers/`). */
export function notFoundReply(): Reply {
  return { status: 404, headers: { [Header.contentType]: MediaType.text }, body: Buffer.from('404 page not found\n') };
}

/** An inclusive byte range within a body. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Interprets a `Range` header against a body of `size` bytes (RFC 9110 §14.1.2, single range only):
 * `bytes=a-b`, `bytes=a-` and `bytes=-n`. Returns undefined when there is no usable range (absent, malformed or
 * multiple ranges: the whole body is served), `'unsatisfiable'` when the range starts past the end.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * Serves blob bytes honouring `Range`: 200 with the whole body, 206 with `Content-Range: bytes a-b/size`, or 416
 * with `Content-Range: bytes *\/size`. Always sends `Accept-Ranges`, `Docker-Content-Digest` and an `ETag`.
 */
export function blobReply(bytes: Uint8Array, digest: string, range: string | undefined): Reply {
  const headers: Record<string, string> = {
    [Header.contentType]: MediaType.octetStream,
    [Header.contentDigest]: digest,
    [Header.etag]: `"${digest}"`,
    [Header.acceptRanges]: 'bytes',
  };
  const wanted = parseRange(range, bytes.length);
  if (wanted === 'unsatisfiable') {
    return {
      status: 416,
      headers: { ...headers, [Header.contentRange]: `bytes */${bytes.length}`, [Header.contentType]: MediaType.json },
      body: errorBody('RANGE_INVALID', `range ${range ?? ''} not satisfiable for ${bytes.length} bytes`),
    };
  }
  if (!wanted) return { status: 200, headers, body: bytes, blob: digest };
  return {
    status: 206,
    headers: { ...headers, [Header.contentRange]: `bytes ${wanted.start}-${wanted.end}/${bytes.length}` },
    body: bytes.subarray(wanted.start, wanted.end + 1),
    blob: digest,
  };
}

/** The first value of a header that node:http may give as a string or a list. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses a non-negative integer query parameter; undefined when absent. Throws 400 with `code` when malformed. */
export function integerParam(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  if (!/^\d+$/.test(text)) {
    throw new RegistryError(400, 'PAGINATION_NUMBER_INVALID', `query parameter ${name} must be a non-negative integer`);
  }
  return Number(text);
}

/** A `Link` header value pointing to the next page: `<url>; rel="next"`. */
export function nextLink(path: string, params: Record<string, string>): string {
  return `<${path}?${new URLSearchParams(params).toString()}>; rel="next"`;
}
