/**
 * The HTTP layer under every registry operation: undici with pooled connections, proxies from the environment,
 * custom CA / mTLS / explicit skip-verify, authentication on challenge, manual redirects that never carry
 * credentials to another origin, and retries with backoff for transient failures. It publishes request and retry
 * events on `node:diagnostics_channel` (secrets scrubbed) and never prints.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Readable } from 'node:stream';

import tlsModule from 'node:tls';

import { type Dispatcher, request } from 'undici';

import { ErrorCodes, LadingError } from '../errors.js';
import { plainHTTPByDefault } from '../reference.js';
import { Authenticator, type CredentialProvider } from './auth.js';
import { proxyDispatcher, proxySettingsFromEnv } from './proxy.js';
import {
  DefaultRetryPolicy,
  backoffDelay,
  isRetryableStatus,
  isTransientError,
  parseRetryAfter,
  type RetryPolicy,
  wait,
} from './retry.js';

/** Channel names lading publishes on; subscribe with `diagnostics_channel.subscribe`. */
export const DiagnosticsChannels = {
  /** Every HTTP exchange: `{ method, url, status, attempt, durationMs }` (URL query secrets redacted). */
  request: 'lading:registry:request',
  /** Every retry: `{ method, url, attempt, delayMs, reason }`. */
  retry: 'lading:registry:retry',
} as const;

const requestChannel = diagnostics.channel(DiagnosticsChannels.request);
const retryChannel = diagnostics.channel(DiagnosticsChannels.retry);

/** TLS and proxy settings of the transport. */
export interface TransportOptions {
  /**
   * Talk plain HTTP. Default: true only for `localhost`, `127.0.0.1` (any 127.x) and `[::1]`, like oras; every
   * other host uses HTTPS unless this is set.
   */
  plainHTTP?: boolean;
  /** Extra CA certificates (PEM) to trust besides Node's defaults, e.g. a private registry's CA. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate (PEM) for mutual TLS. */
  cert?: string | Buffer;
  /** Client private key (PEM) for mutual TLS. */
  key?: string | Buffer;
  /** Accept any server certificate. Explicit and dangerous: the CLI warns when it is set. Default false. */
  insecureSkipTLSVerify?: boolean;
  /**
   * Environment for `HTTPS_PROXY` (https), `HTTP_PROXY` (http), `NO_PROXY` (either case, upper first); loopback
   * hosts are never proxied (Go's rules, so lading behaves like oras and docker). Default `process.env`.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Use this undici dispatcher instead of building one (then TLS and proxy options are ignored). */
  dispatcher?: Dispatcher;
}

/** Options of {@link RegistryHTTP}. */
export interface RegistryHTTPOptions extends TransportOptions {
  /** Credentials for registries that ask. Default: anonymous. */
  credentials?: CredentialProvider;
  /** Realm hosts trusted with credentials besides each registry's own domain. Default none. */
  trustedRealmHosts?: readonly string[];
  /** Retry policy; missing fields take {@link DefaultRetryPolicy}'s values. */
  retry?: Partial<RetryPolicy>;
  /** `User-Agent` header. Default `lading/<version>`. */
  userAgent?: string;
  /** Redirects followed per request. Default 10. */
  maxRedirects?: number;
}

/** One request to a registry. */
export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  /**
   * Bytes in memory, or a function opening a fresh stream each time the request is sent (so a challenge or a retry
   * can send it again); a stream needs `contentLength`.
   */
  body?: Uint8Array | (() => Readable);
  /** Length of a streamed body. */
  contentLength?: number;
  /** Auth scopes the request needs, e.g. `repository:acme/app:pull`. */
  scopes: readonly string[];
  /**
   * May this request be sent again after a connection failure or a retryable status? Default: true for GET, HEAD,
   * PUT and DELETE; false for POST and PATCH (never replay a non-idempotent request blindly).
   */
  idempotent?: boolean;
  /** Follow redirects (dropping credentials on other origins). Default true for GET and HEAD. */
  followRedirects?: boolean;
  signal?: AbortSignal;
}

/** A registry's answer. The caller must consume or dump `body`. */
export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { dump(opts?: { limit: number }): Promise<void>; json(): Promise<unknown>; text(): Promise<string> };
  /** The URL that answered (after redirects). */
  url: URL;
  /** For 401/403: what the user can do about it (see `Authenticator.describe`). */
  authHint?: string;
}

/**
 * Drops a response body that will not be read, without leaving an error to crash the process: undici's body emits
 * `RequestAbortedError` when destroyed before its end, and with no listener that is an uncaught exception (after
 * the caller has already thrown its own, meaningful error). Closes the connection rather than reading the rest.
 */
export function discardBody(res: Pick<RegistryResponse, 'body'>): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

/**
 * Reads a small response body to its end and drops it, so the connection goes back to the pool: up to `limit`
 * bytes (default undici's `dump` limit, 128 KiB), past which the connection is closed instead. For the short bodies
 * of HEAD, 201, 202, 204 and redirect answers; a failure while reading is ignored (the status was all the caller
 * needed). Use {@link discardBody} for a large body the caller abandons.
 */
export async function drainBody(res: Pick<RegistryResponse, 'body'>, limit?: number): Promise<void> {
  await res.body.dump(limit === undefined ? undefined : { limit }).catch(() => undefined);
}

/** Query parameters safe to show in logs; every other value is redacted (presigned storage URLs carry secrets). */
const safeQuery = new Set(['digest', 'n', 'last', 'artifactType', 'mount', 'from', 'service', 'scope']);

/** The URL as it may appear in logs and errors: no userinfo, query values redacted except known-safe ones. */
export function redactURL(url: URL): string {
  const copy = new URL(url);
  copy.username = '';
  copy.password = '';
  for (const key of [...copy.searchParams.keys()]) {
    if (!safeQuery.has(key)) copy.searchParams.set(key, 'REDACTED');
  }
  return copy.toString();
}

function header(headers: RegistryResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Reads a header from a response, joining repeated values. */
export function responseHeader(res: RegistryResponse, name: string): string | undefined {
  return header(res.headers, name.toLowerCase());
}

function buildDispatcher(options: TransportOptions): { dispatcher: Dispatcher; close: () => Promise<void> } {
  if (options.dispatcher) return { dispatcher: options.dispatcher, close: () => Promise.resolve() };
  const tls: Record<string, unknown> = {};
  if (options.ca !== undefined) {
    // Node's `ca` replaces the trusted roots; a private CA must add to them (public blob storage and token realms
    // still need the defaults), as oras does with the system pool.
    const extra: readonly (string | Buffer)[] =
      typeof options.ca === 'string' || Buffer.isBuffer(options.ca) ? [options.ca] : options.ca;
    tls.ca = [...defaultCACertificates(), ...extra];
  }
  if (options.cert !== undefined) tls.cert = options.cert;
  if (options.key !== undefined) tls.key = options.key;
  if (options.insecureSkipTLSVerify) tls.rejectUnauthorized = false;
  return proxyDispatcher(proxySettingsFromEnv(options.env ?? process.env), tls, { keepAliveTimeout: 10_000 });
}

/** The roots Node trusts by default, `NODE_EXTRA_CA_CERTS` included where Node can say (22.15+). */
function defaultCACertificates(): string[] {
  const get = (tlsModule as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  return get ? get('default') : [...tlsModule.rootCertificates];
}

/**
 * Sends registry requests for one or more registries, sharing one connection pool and one authenticator.
 * Close it with {@link RegistryHTTP.close} when done.
 */
export class RegistryHTTP {
  readonly retry: RetryPolicy;
  private readonly options: RegistryHTTPOptions;
  private readonly dispatcher: Dispatcher;
  private readonly closeDispatcher: () => Promise<void>;
  /** Response bodies handed out and not yet read to their end or destroyed (see {@link close}). */
  private readonly openBodies = new Set<RegistryResponse['body']>();
  readonly authenticator: Authenticator;

  constructor(options: RegistryHTTPOptions = {}) {
    this.options = options;
    this.retry = { ...DefaultRetryPolicy, ...options.retry };
    const built = buildDispatcher(options);
    this.dispatcher = built.dispatcher;
    this.closeDispatcher = built.close;
    const authOptions: ConstructorParameters<typeof Authenticator>[0] = {
      requestToken: async (url, init) => {
        const started = performance.now();
        const res = await request(url, {
          method: init.method,
          headers: { ...init.headers, 'user-agent': this.userAgent },
          body: init.body ?? null,
          dispatcher: this.dispatcher,
          signal: init.signal ?? null,
        });
        requestChannel.publish({
          method: init.method,
          url: redactURL(url),
          status: res.statusCode,
          attempt: 0,
          durationMs: Math.round(performance.now() - started),
        });
        // The body goes back unread: the authenticator reads it under its own bound and stops early.
        return { status: res.statusCode, body: res.body };
      },
    };
    if (options.credentials) authOptions.credentials = options.credentials;
    if (options.trustedRealmHosts) authOptions.trustedRealmHosts = options.trustedRealmHosts;
    this.authenticator = new Authenticator(authOptions);
  }

  /** The `User-Agent` header sent. */
  get userAgent(): string {
    return this.options.userAgent ?? 'lading/0.1.0';
  }

  /** The base URL (`http(s)://host/`) for a registry host, honouring `plainHTTP` and the loopback default. */
  baseURL(host: string): URL {
    const plain = this.options.plainHTTP ?? plainHTTPByDefault(host);
    return new URL(`${plain ? 'http' : 'https'}://${host}/`);
  }

  /**
   * Releases every response body still open (a fetched blob nobody read: its stream then fails with
   * `ERR_LADING_NETWORK`), then closes pooled connections (only when this instance built the dispatcher). Without
   * the release, undici's close would wait for the unread response forever.
   */
  async close(): Promise<void> {
    for (const body of this.openBodies) discardBody({ body });
    this.openBodies.clear();
    await this.closeDispatcher();
  }

  /**
   * Sends `req` to the registry at `registry` (its base URL; `credentialKey` names it to the credential provider),
   * answering auth challenges, following redirects (GET/HEAD) and retrying transient failures per the policy.
   * Returns any final status; callers interpret 4xx. Throws `ERR_LADING_NETWORK` when the registry cannot be reached
   * after the retries, with the last failure as `cause`.
   */
  async send(registry: URL, credentialKey: string, req: RegistryRequest): Promise<RegistryResponse> {
    const replayable = req.idempotent ?? ['GET', 'HEAD', 'PUT', 'DELETE'].includes(req.method);
    for (let attempt = 0; ; attempt++) {
      let res: RegistryResponse;
      try {
        res = await this.exchange(registry, credentialKey, req, attempt);
      } catch (error) {
        if (error instanceof LadingError) throw error;
        if (req.signal?.aborted) throw error;
        if (replayable && attempt < this.retry.retries && isTransientError(error)) {
          const delayMs = backoffDelay(this.retry, attempt);
          retryChannel.publish({
            method: req.method,
            url: redactURL(req.url),
            attempt,
            delayMs,
            reason: errorCode(error),
          });
          await wait(delayMs, req.signal);
          continue;
        }
        throw new LadingError(
          ErrorCodes.network,
          `${req.method} ${redactURL(req.url)}: ${errorCode(error)}${attempt ? ` after ${attempt + 1} attempts` : ''}`,
          { cause: error },
        );
      }
      if (res.status === 401 || res.status === 403) res.authHint = await this.authenticator.describe(credentialKey);
      if (!isRetryableStatus(res.status) || !replayable || attempt >= this.retry.retries) return res;
      const asked = parseRetryAfter(responseHeader(res, 'retry-after'));
      if (asked !== undefined && asked > this.retry.maxRetryAfterMs) return res; // the caller reports the status
      const delayMs = asked ?? backoffDelay(this.retry, attempt);
      await drainBody(res, 64 * 1024);
      retryChannel.publish({
        method: req.method,
        url: redactURL(req.url),
        attempt,
        delayMs,
        reason: `HTTP ${res.status}`,
      });
      await wait(delayMs, req.signal);
    }
  }

  /** One logical exchange: auth challenge answered once, redirects followed. */
  private async exchange(
    registry: URL,
    credentialKey: string,
    req: RegistryRequest,
    attempt: number,
  ): Promise<RegistryResponse> {
    let url = req.url;
    let method = req.method;
    let body = req.body;
    let challenged = false;
    const follow = req.followRedirects ?? (req.method === 'GET' || req.method === 'HEAD');
    const maxRedirects = this.options.maxRedirects ?? 10;
    for (let hops = 0; ;) {
      const sameOrigin = url.origin === registry.origin;
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
      // Credentials go only to the registry's own origin: never to blob storage a redirect points at.
      const auth = sameOrigin ? this.authenticator.cached(registry.host, req.scopes) : undefined;
      if (auth) headers.authorization = auth;
      const payload = typeof body === 'function' ? body() : body;
      if (payload instanceof Uint8Array) headers['content-length'] = String(payload.byteLength);
      else if (payload && req.contentLength !== undefined) headers['content-length'] = String(req.contentLength);
      const started = performance.now();
      const res = await request(url, {
        method,
        headers,
        body: payload ?? null,
        dispatcher: this.dispatcher,
        signal: req.signal ?? null,
      });
      // One event per HTTP exchange, challenges and redirect hops included; never headers, query values redacted.
      requestChannel.publish({
        method,
        url: redactURL(url),
        status: res.statusCode,
        attempt,
        durationMs: Math.round(performance.now() - started),
      });
      const response: RegistryResponse = { status: res.statusCode, headers: res.headers, body: res.body, url };
      this.openBodies.add(res.body);
      res.body.once('close', () => this.openBodies.delete(res.body));
      if (res.statusCode === 401 && sameOrigin && !challenged) {
        const www = responseHeader(response, 'www-authenticate');
        await drainBody(res, 64 * 1024);
        if (!www) {
          throw new LadingError(
            ErrorCodes.auth,
            `${method} ${redactURL(url)}: 401 without a WWW-Authenticate challenge`,
            { status: 401 },
          );
        }
        if (auth) this.authenticator.invalidate(registry.host);
        await this.authenticator.answer(registry, credentialKey, www, req.scopes, req.signal);
        challenged = true;
        continue;
      }
      const location = responseHeader(response, 'location');
      if (follow && [301, 302, 303, 307, 308].includes(res.statusCode) && location) {
        await drainBody(res, 64 * 1024);
        if (++hops > maxRedirects) {
          throw new LadingError(
            ErrorCodes.protocol,
            `${req.method} ${redactURL(req.url)}: more than ${maxRedirects} redirects`,
          );
        }
        const next = new URL(location, url);
        if (url.protocol === 'https:' && next.protocol !== 'https:') {
          throw new LadingError(
            ErrorCodes.protocol,
            `${req.method} ${redactURL(req.url)}: refusing redirect from https to ${next.protocol}`,
          );
        }
        if (res.statusCode === 303) {
          method = 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      return response;
    }
  }
}

function errorCode(error: unknown): string {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return `${code}${e instanceof Error && e.message ? ` (${e.message})` : ''}`;
    e = (e as { cause?: unknown }).cause;
  }
  return error instanceof Error ? error.message : String(error);
}
