import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// Replies too large to be read whole, streamed with backpressure, so a test can tell how much a client read before
// it hung up: a client that reads under a bound stops early and closes; one that buffers the reply takes it all.

/** What went out of an oversized reply; updated live while it streams. */
export interface OversizedReplyRecord {
  /** Size of the whole reply. */
  bytes: number;
  /** Bytes the socket accepted so far (the client read at most this, minus what sat in socket buffers). */
  sent: number;
  /** True once the whole reply was sent. */
  complete: boolean;
  /** True once the connection closed before the whole reply was sent. */
  clientClosed: boolean;
}

/** A new record for a reply of `bytes` bytes. */
export function oversizedRecord(bytes: number): OversizedReplyRecord {
  return { bytes, sent: 0, complete: false, clientClosed: false };
}

/**
 * Answers 200 `application/json` with `record.bytes` bytes: `head` (default `{"token": "`), then spaces, in 64 KiB
 * chunks, no `Content-Length`; waits for the socket to drain between chunks and stops when the client closes.
 * Resolves when the reply is sent or abandoned.
 */
export async function sendOversized(
  res: ServerResponse,
  record: OversizedReplyRecord,
  head = '{"token": "',
): Promise<void> {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.once('close', () => {
    if (!record.complete) record.clientClosed = true;
  });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let next = Buffer.from(head);
  let left = record.bytes - next.length;
  while (!res.destroyed) {
    const accepted = res.write(next);
    record.sent += next.length;
    if (left <= 0) break;
    next = left >= chunk.length ? chunk : chunk.subarray(0, left);
    left -= next.length;
    if (!accepted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
    }
  }
  if (res.destroyed) return;
  await new Promise<void>((resolve) => {
    res.end(() => {
      record.complete = true;
      resolve();
    });
  });
}

/** A loopback server answering one path with an oversized reply. */
export interface OversizedServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** One record per request of the oversized path, oldest first. */
  readonly replies: readonly OversizedReplyRecord[];
  /** Paths requested, in order (with the query). */
  readonly paths: readonly string[];
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1 (a free port) answering any method on `path` (without query) with a
 * {@link sendOversized} reply of `bytes` bytes starting with `head`; every other path gets 404.
 */
export async function startOversizedServer(options: {
  path: string;
  bytes: number;
  head?: string;
}): Promise<OversizedServer> {
  const replies: OversizedReplyRecord[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    paths.push(req.url ?? '');
    if (new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== options.path) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    const record = oversizedRecord(options.bytes);
    replies.push(record);
    void sendOversized(res, record, options.head);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    replies,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
