/**
 * The loopback end of the browser login (RFC 8252): a one-shot HTTP server on 127.0.0.1 that takes the issuer's
 * redirect to `http://localhost:<port>/auth/callback` and answers the browser with a small page.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Path of the loopback redirect, as cosign registers it (`http://localhost:<port>/auth/callback`). */
export const OIDCCallbackPath = '/auth/callback';

/**
 * The redirect URI for a loopback server on `port`: `http://localhost:<port>/auth/callback`. cosign uses this form,
 * and the public-good issuer accepts any port for it (RFC 8252 section 7.3).
 */
export function loopbackRedirectURI(port: number): string {
  return `http://localhost:${port}${OIDCCallbackPath}`;
}

/** The browser's request to the callback, and how to answer it. */
export interface Callback {
  query: URLSearchParams;
  /** Sends a small HTML page; resolves once it is written. */
  answer: (status: number, title: string, message: string) => Promise<void>;
}

/** The server waiting for the redirect. */
export interface CallbackListener {
  port: number;
  /** Resolves with the first request to {@link OIDCCallbackPath}. */
  callback: Promise<Callback>;
  /** Whether the callback came. */
  readonly received: boolean;
  close: () => Promise<void>;
}

/** A one-shot server on 127.0.0.1 and an ephemeral port; only `GET /auth/callback` is served, once. */
export async function listenForCallback(): Promise<CallbackListener> {
  let received = false;
  let resolve: (callback: Callback) => void = () => undefined;
  const callback = new Promise<Callback>((r) => {
    resolve = r;
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' || url.pathname !== OIDCCallbackPath) {
      page(res, 404, 'Not found', 'This server only takes the sign-in redirect.');
      return;
    }
    if (received) {
      page(res, 409, 'Already handled', 'This sign-in has already been answered. Return to the terminal.');
      return;
    }
    received = true;
    resolve({ query: url.searchParams, answer: (status, title, message) => answer(res, status, title, message) });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    callback,
    get received() {
      return received;
    },
    close: () => (closing ??= closeServer(server)),
  };
}

function answer(res: ServerResponse, status: number, title: string, message: string) {
  return new Promise<void>((resolve) => {
    res.once('close', resolve);
    page(res, status, title, message);
  });
}

function page(res: ServerResponse, status: number, title: string, message: string): void {
  const html =
    `<!doctype html><html><head><meta charset="utf-8"><title>lading: ${escapeHTML(title)}</title></head>` +
    `<body><h1>${escapeHTML(title)}</h1><p>${escapeHTML(message)}</p></body></html>\n`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    Connection: 'close',
  });
  res.end(html);
}

function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}
