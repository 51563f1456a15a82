// Observation: one record per request and byte counters, so tests can assert what a client fetched.

import type { IncomingHttpHeaders } from 'node:http';

import type { FaultAction } from './faults.js';
import type { Listener, RequestInfo } from './http.js';

/** One request as the registry saw and answered it. */
export interface RequestRecord {
  readonly listener: Listener;
  readonly method: string;
  readonly path: string;
  /** Raw query string without `?` (empty when none). */
  readonly query: string;
  /** Request headers, lower case; credential values (`authorization`, `cookie`) reduced to their scheme. */
  readonly headers: Readonly<Record<string, string>>;
  /** Status sent; 0 when the socket died before a status was sent. */
  readonly status: number;
  /** Request body bytes read. */
  readonly bytesIn: number;
  /** Response body bytes written to the socket (partial when a fault dropped the connection). */
  readonly bytesOut: number;
  /** The fault rule that fired on this request, if any. */
  readonly fault?: { readonly id: number; readonly kind: FaultAction['kind'] };
  /** True when strict mode refused the request. */
  readonly unexpected: boolean;
  /** Requests of this registry begun and not yet answered when this one began, itself included (1 = alone). */
  readonly inFlight: number;
}

/** The writable form the server fills in. */
export type MutableRecord = { -readonly [K in keyof RequestRecord]: RequestRecord[K] };

const SECRET_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie']);

/** Copies headers with secrets replaced by `<scheme> <redacted>`. */
function redactHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    out[name] = SECRET_HEADERS.has(name) ? `${text.split(' ')[0] ?? ''} <redacted>` : text;
  }
  return out;
}

/** The request log and byte counters of one registry. */
export class RequestLog {
  private readonly records: MutableRecord[] = [];
  private total = 0;
  private readonly perBlob = new Map<string, number>();
  private open = 0;

  /** Starts a record for a request (status 0 until answered). */
  begin(request: RequestInfo): MutableRecord {
    const record: MutableRecord = {
      listener: request.listener,
      method: request.method,
      path: request.path,
      query: request.query.toString(),
      headers: redactHeaders(request.headers),
      status: 0,
      bytesIn: 0,
      bytesOut: 0,
      unexpected: false,
      inFlight: ++this.open,
    };
    this.records.push(record);
    return record;
  }

  /** Marks a request begun with {@link begin} as answered (or abandoned), for {@link RequestRecord.inFlight}. */
  end(): void {
    this.open--;
  }

  /** Counts body bytes written for a record, and for a blob when the body is one. */
  served(record: MutableRecord, bytes: number, blob: string | undefined): void {
    record.bytesOut += bytes;
    this.total += bytes;
    if (blob !== undefined) this.perBlob.set(blob, (this.perBlob.get(blob) ?? 0) + bytes);
  }

  /** A snapshot of the records, oldest first. */
  list(): RequestRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** Body bytes written for every request since the last {@link clear}. */
  get bytesServed(): number {
    return this.total;
  }

  /** Body bytes of `digest` written by blob GETs (registry and storage listeners) since the last {@link clear}. */
  blobBytesServed(digest: string): number {
    return this.perBlob.get(digest) ?? 0;
  }

  /** Forgets records and counters. */
  clear(): void {
    this.records.length = 0;
    this.total = 0;
    this.perBlob.clear();
  }
}
