// Writing a reply to the socket, with the body faults (drop, corrupt, slow) applied on the way.

import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';

import { Header } from './constants.js';
import { type FaultAction, corrupt } from './faults.js';
import type { Reply } from './http.js';

const EMPTY = new Uint8Array(0);

function write(res: ServerResponse, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(chunk, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

/** Sends the headers and `afterBytes` of the body, waits until they left, then destroys the socket. */
async function sendThenDrop(res: ServerResponse, body: Uint8Array, afterBytes: number, count: Counter): Promise<void> {
  const part = body.subarray(0, afterBytes);
  res.flushHeaders();
  if (part.length > 0) {
    await write(res, part);
    count(part.length);
  }
  // An empty write on the raw socket resolves once everything queued before it (the headers) was handed over.
  const socket = res.socket;
  if (socket)
    await new Promise<void>((resolve) =>
      socket.write(EMPTY, () => {
        resolve();
      }),
    );
  (socket ?? res).destroy();
}

/** Sends the body in small pieces with bounded delays in between. */
async function sendSlowly(
  res: ServerResponse,
  body: Uint8Array,
  action: Extract<FaultAction, { kind: 'slow' }>,
  count: Counter,
): Promise<void> {
  const size = action.chunkBytes ?? 1024;
  const pieces = Math.max(1, Math.ceil(body.length / size));
  const pause = Math.min(action.delayMs ?? 20, Math.floor((action.maxTotalMs ?? 2000) / pieces));
  res.flushHeaders();
  for (let offset = 0; offset < body.length && !res.destroyed; offset += size) {
    if (offset > 0) await delay(pause);
    const piece = body.subarray(offset, offset + size);
    await write(res, piece);
    count(piece.length);
  }
  res.end();
  await finished(res);
}

/** Called with the number of body bytes each write handed to the socket. */
export type Counter = (bytes: number) => void;

/**
 * Writes `reply` (no body for HEAD; Content-Length from the body unless the reply set one; none on 204/304) and
 * applies a body fault: `drop` (headers and `afterBytes` of the body, then the socket is destroyed; when the body is
 * not longer than `afterBytes`, the socket is destroyed before anything is sent), `corrupt` or `slow`. Resolves when
 * the response ended or the socket was destroyed, with the status sent (0 when none was).
 */
export async function sendReply(
  res: ServerResponse,
  method: string,
  reply: Reply,
  fault: FaultAction | undefined,
  count: Counter,
): Promise<number> {
  const headers = { ...reply.headers };
  const body = reply.body ?? EMPTY;
  const bodyless = reply.status === 204 || reply.status === 304;
  if (!bodyless && headers[Header.contentLength] === undefined) headers[Header.contentLength] = String(body.length);
  const payload = method === 'HEAD' || bodyless ? EMPTY : body;
  if (fault?.kind === 'drop' && fault.afterBytes >= payload.length) {
    // Cutting after the whole body would be no fault at all: lose the answer instead (the request took effect).
    (res.socket ?? res).destroy();
    return 0;
  }
  if (fault?.kind === 'late') await delay(fault.delayMs);
  res.writeHead(reply.status, headers);
  if (fault?.kind === 'drop') await sendThenDrop(res, payload, fault.afterBytes, count);
  else if (fault?.kind === 'slow') await sendSlowly(res, payload, fault, count);
  else {
    const served = fault?.kind === 'corrupt' ? corrupt(payload) : payload;
    res.end(served);
    // Resolves on finish, rejects when the client went away first (the caller records what made it).
    await finished(res);
    count(served.length);
  }
  return reply.status;
}
