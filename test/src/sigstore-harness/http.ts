import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as a route sees it: the whole body is read first (bounded by {@link MaxRequestBodyBytes}). */
export interface ServiceRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What a route answers. */
export interface ServiceResponse {
  status: number;
  body: string | Uint8Array;
  /** Extra headers; `Content-Type` defaults to `text/plain`. */
  headers?: Record<string, string>;
}

/** One endpoint of a loopback service: exact `method`, and a `path` that is either exact or a prefix ending in `/`. */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handle: (request: ServiceRequest) => Promise<ServiceResponse>;
}

/** One request a harness service received, as recorded for tests. */
export interface RequestRecord {
  /** The service's name (`fulcio`, `rekor`, `tsa`). */
  service: string;
  method: string;
  path: string;
  /** `Content-Type` the client sent, `''` when none. */
  contentType: string;
  /** Status the service answered. */
  status: number;
}

/** A started loopback service. */
export interface LoopbackService {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** Stops listening and drops open connections; resolves when the server is closed. Idempotent. */
  close: () => Promise<void>;
}

/** Largest request body a harness service reads: 1 MiB (bundles and certificates are a few KiB). */
export const MaxRequestBodyBytes = 1024 * 1024;

/**
 * Starts an HTTP server on 127.0.0.1 (port 0, so the OS picks a free one) serving `routes`.
 * Every request is appended to `log`; a request matching no route gets 404 (recorded, so a test can see a client
 * asking for something the harness does not serve), a body above {@link MaxRequestBodyBytes} gets 413, and a route
 * that throws gets 500 with the error message.
 */
export async function startLoopbackService(
  name: string,
  routes: readonly Route[],
  log: RequestRecord[],
): Promise<LoopbackService> {
  const server = createServer((req, res) => {
    // A client that hangs up mid-body makes reading fail: drop the connection, nothing to answer.
    serve(name, routes, log, req, res).catch(() => res.destroy());
  });
  await listen(server);
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => (closing ??= closeServer(server)),
  };
}

async function serve(
  name: string,
  routes: readonly Route[],
  log: RequestRecord[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET';
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  const response = await answer(routes, method, path, req);
  log.push({ service: name, method, path, contentType: req.headers['content-type'] ?? '', status: response.status });
  const headers = { 'Content-Type': 'text/plain', ...response.headers };
  res.writeHead(response.status, headers).end(response.body);
}

async function answer(
  routes: readonly Route[],
  method: string,
  path: string,
  req: IncomingMessage,
): Promise<ServiceResponse> {
  const route = routes.find((r) => r.method === method && matches(r.path, path));
  if (!route) {
    req.resume();
    return { status: 404, body: `no route for ${method} ${path}` };
  }
  const body = await readBody(req);
  if (body === undefined) return { status: 413, body: `request body above ${MaxRequestBodyBytes} bytes` };
  try {
    return await route.handle({ method, path, headers: req.headers, body });
  } catch (e) {
    return { status: 500, body: e instanceof Error ? e.message : String(e) };
  }
}

function matches(routePath: string, path: string): boolean {
  return routePath.endsWith('/') ? path.startsWith(routePath) && path.length > routePath.length : path === routePath;
}

/** Reads the whole body; past the cap it keeps draining (so the answer can still be sent) and returns undefined. */
async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MaxRequestBodyBytes) chunks.push(chunk);
  }
  return size > MaxRequestBodyBytes ? undefined : Buffer.concat(chunks);
}

async function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => {
      if (err) reject(err);
      else resolve();
    });
    server.closeAllConnections();
  });
}

/** A mock handler's answer body as a Buffer over the same bytes (strings are UTF-8 encoded). */
export function bodyBytes(body: string | ArrayBufferView): Buffer {
  return typeof body === 'string'
    ? Buffer.from(body, 'utf8')
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
