import {
  createHash,
  createPrivateKey,
  type KeyObject,
  randomBytes,
  randomUUID,
  sign,
  timingSafeEqual,
} from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { oversizedRecord, sendOversized, type OversizedReplyRecord } from './oversized.js';
import type { TokenSigner } from './pki.js';

// A Docker registry v2 token server (https://distribution.github.io/distribution/spec/auth/token/ and
// .../spec/auth/oauth/) for distribution's `auth.token`. Tokens are what distribution 2.8 verifies
// (registry/auth/token/token.go): ES256 JWS, raw r‖s signature, header `x5c` whose leaf chains to
// `rootcertbundle`; `iss` must equal `auth.token.issuer`, `aud` must equal `auth.token.service`.
// No `kid`: 2.8 tries `x5c` first and never needs one, and distribution 3 prefers `kid` over `x5c` when both
// are present and then requires the key in a JWKS we do not configure.

/** A permission: on resources of `type` whose name matches `name`, the listed actions are allowed. */
export interface AccessRule {
  /** Resource type. Default `repository`. */
  type?: string;
  /** Name pattern; `*` matches any run of characters, `/` included (`alice/*` covers `alice/a/b`). */
  name: string;
  /** Allowed actions (`pull`, `push`, `delete`, ...); `*` allows every action. */
  actions: readonly string[];
}

/** One entry of a token's `access` claim (and of a parsed scope). */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** A user of the token server. */
export interface TokenUser {
  password: string;
  rules: readonly AccessRule[];
}

/** Options of {@link startTokenServer}. */
export interface TokenServerOptions {
  /** The only `service` accepted; becomes the tokens' `aud`. */
  service: string;
  /** The tokens' `iss`. */
  issuer: string;
  signer: Pick<TokenSigner, 'keyPem' | 'certDerBase64'>;
  /** Users by name. */
  users: Readonly<Record<string, TokenUser>>;
  /** What a request without credentials may do. Default: nothing (its tokens carry an empty `access`). */
  anonymous?: readonly AccessRule[];
  /** Token lifetime in seconds. Default 300. */
  expiresIn?: number;
}

/** How a token request authenticated. */
export type TokenGrant = 'anonymous' | 'basic' | 'password' | 'refresh_token';

/** What the token server recorded about one request. Holds no password, token or refresh token. */
export interface TokenRequestRecord {
  /** ISO 8601 time of the request. */
  at: string;
  method: string;
  grant: TokenGrant | null;
  /** User name the request authenticated as (or claimed, when it failed); null when anonymous. */
  account: string | null;
  service: string | null;
  /** Requested scopes, as sent (`repository:alice/app:pull,push`). */
  scopes: string[];
  /** What the token grants (empty when refused). */
  granted: Access[];
  /** HTTP status of the answer. */
  status: number;
  /** Whether a refresh token was asked for (`offline_token=true` or `access_type=offline`). */
  offline: boolean;
  /** The client's `User-Agent` (`oras/1.3.3`, `go-containerregistry/...`), null when absent. */
  userAgent: string | null;
  /** Set when an {@link OversizedReplyFault} answered: how much of the reply went out, live while it streams. */
  oversized?: OversizedReplyRecord;
}

/**
 * A fault of the token server: requests whose scopes name `repository` are answered 200 with a JSON reply of
 * `bytes` bytes (`{"token": "` then spaces, chunked, no `Content-Length`), streamed with backpressure, so that how
 * much the client read before hanging up shows in {@link OversizedReplyRecord}. Registered by `POST /_faults` with
 * this object as JSON; it applies to that repository only, so tests sharing the server are not affected.
 */
export interface OversizedReplyFault {
  repository: string;
  bytes: number;
}

/** A running token server. */
export interface TokenServer {
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The token endpoint (`<url>/token`): distribution's `auth.token.realm`. GET (Basic) and POST (OAuth2). */
  readonly realm: string;
  /** `GET` on this URL answers the request records as a JSON array (for test workers in other processes). */
  readonly requestsURL: string;
  /** `POST` an {@link OversizedReplyFault} as JSON to this URL to register it (answers 204). */
  readonly faultsURL: string;
  /** Request records, oldest first. */
  readonly requests: readonly TokenRequestRecord[];
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** The subset of JWT claims distribution reads. */
export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  nbf: number;
  iat: number;
  jti: string;
  access: Access[];
}

/** Seconds `nbf` lies before `iat`: distribution 2.8 compares `nbf` to its clock with no leeway. */
const NOT_BEFORE_SLACK = 5;

/** Largest POST body read, in bytes. */
const MAX_BODY = 64 * 1024;

/**
 * Starts the token server on 127.0.0.1 (a free port). `GET /token?service=&scope=...` authenticates with Basic
 * credentials or none; `POST /token` takes OAuth2 `grant_type=password|refresh_token` forms (`client_id`
 * required). Each requested scope is granted the intersection of its actions with what the caller's rules allow.
 * Wrong credentials answer 401, a missing or foreign `service` 400.
 */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const state = newState(options);
  const server = createServer((req, res) => {
    handle(state, req, res).catch((e: unknown) => {
      sendJSON(res, 500, errorBody('INTERNAL', (e as Error).message));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    realm: `${url}/token`,
    requestsURL: `${url}/_requests`,
    faultsURL: `${url}/_faults`,
    requests: state.records,
    close: () => closeServer(server),
  };
}

interface State {
  options: TokenServerOptions;
  key: KeyObject;
  records: TokenRequestRecord[];
  /** Refresh token → account. */
  refreshTokens: Map<string, string>;
  /** Oversized-reply faults by repository name. */
  oversized: Map<string, number>;
}

function newState(options: TokenServerOptions): State {
  return {
    options,
    key: createPrivateKey(options.signer.keyPem),
    records: [],
    refreshTokens: new Map(),
    oversized: new Map(),
  };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

/** A parsed request, whatever its form. */
interface TokenRequest {
  method: string;
  service: string | null;
  scopes: string[];
  offline: boolean;
  grant: TokenGrant | null;
  /** Account asserted by credentials (null: anonymous), or an error status and message when they fail. */
  auth: { account: string | null } | { status: number; message: string; claimed?: string };
  /** OAuth2 form (POST) rather than the Docker GET flow. */
  oauth: boolean;
  userAgent: string | null;
}

async function handle(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (url.pathname === '/_requests' && req.method === 'GET') {
    sendJSON(res, 200, state.records);
    return;
  }
  if (url.pathname === '/_faults' && req.method === 'POST') {
    const fault = JSON.parse(await readBody(req)) as Partial<OversizedReplyFault>;
    if (typeof fault.repository !== 'string' || typeof fault.bytes !== 'number' || !(fault.bytes > 0)) {
      sendJSON(res, 400, errorBody('INVALID_REQUEST', 'a fault is {"repository": name, "bytes": count}'));
      return;
    }
    state.oversized.set(fault.repository, fault.bytes);
    res.writeHead(204).end();
    return;
  }
  if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'POST')) {
    sendJSON(res, 404, errorBody('NOT_FOUND', `${req.method ?? ''} ${url.pathname}`));
    return;
  }
  const parsed = req.method === 'GET' ? parseGet(state, req, url) : await parsePost(state, req);
  answer(state, parsed, res);
}

function answer(state: State, r: TokenRequest, res: ServerResponse): void {
  const record: TokenRequestRecord = {
    at: new Date().toISOString(),
    ...{ method: r.method, grant: r.grant, service: r.service, scopes: r.scopes, offline: r.offline },
    account: 'account' in r.auth ? r.auth.account : (r.auth.claimed ?? null),
    userAgent: r.userAgent,
    granted: [],
    status: 200,
  };
  state.records.push(record);
  const failure = validate(state, r);
  if (failure) {
    record.status = failure.status;
    if (failure.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="lading test token server"');
    sendJSON(
      res,
      failure.status,
      errorBody(failure.status === 401 ? 'UNAUTHORIZED' : 'INVALID_REQUEST', failure.message),
    );
    return;
  }
  const requested = r.scopes.flatMap((s) => parseScope(s) ?? []);
  const oversized = requested.map((a) => state.oversized.get(a.name)).find((n) => n !== undefined);
  if (oversized !== undefined) {
    record.oversized = oversizedRecord(oversized);
    void sendOversized(res, record.oversized);
    return;
  }
  record.granted = grant(rulesOf(state.options, record.account), requested);
  sendJSON(res, 200, tokenResponse(state, r, record));
}

/** Why a request is refused, or undefined when it may have a token. */
function validate(state: State, r: TokenRequest): { status: number; message: string } | undefined {
  if ('status' in r.auth) return { status: r.auth.status, message: r.auth.message };
  if (r.service === null) return { status: 400, message: 'missing service' };
  if (r.service !== state.options.service) return { status: 400, message: `unknown service ${r.service}` };
  const bad = r.scopes.find((s) => parseScope(s) === undefined);
  if (bad !== undefined) return { status: 400, message: `invalid scope ${bad}` };
  return undefined;
}

function tokenResponse(state: State, r: TokenRequest, record: TokenRequestRecord): Record<string, unknown> {
  const expiresIn = state.options.expiresIn ?? 300;
  const now = Math.floor(Date.now() / 1000);
  const token = signJWT(claimsFor(state.options, record, now, expiresIn), state.options.signer, state.key);
  const body: Record<string, unknown> = r.oauth
    ? { access_token: token, scope: record.granted.map(formatScope).join(' ') }
    : { token, access_token: token };
  body.expires_in = expiresIn;
  body.issued_at = new Date(now * 1000).toISOString();
  if (r.offline && record.account !== null) body.refresh_token = refreshTokenFor(state, record.account);
  return body;
}

function claimsFor(options: TokenServerOptions, record: TokenRequestRecord, now: number, ttl: number): TokenClaims {
  return {
    iss: options.issuer,
    sub: record.account ?? '',
    aud: options.service,
    exp: now + ttl,
    nbf: now - NOT_BEFORE_SLACK,
    iat: now,
    jti: randomUUID(),
    access: record.granted,
  };
}

function refreshTokenFor(state: State, account: string): string {
  const token = randomBytes(24).toString('base64url');
  state.refreshTokens.set(token, account);
  return token;
}

function parseGet(state: State, req: IncomingMessage, url: URL): TokenRequest {
  const header = req.headers.authorization;
  return {
    method: 'GET',
    service: url.searchParams.get('service'),
    scopes: url.searchParams.getAll('scope').flatMap(splitScopes),
    offline: url.searchParams.get('offline_token') === 'true',
    grant: header === undefined ? 'anonymous' : 'basic',
    auth: header === undefined ? { account: null } : checkBasic(state.options, header),
    oauth: false,
    userAgent: req.headers['user-agent'] ?? null,
  };
}

async function parsePost(state: State, req: IncomingMessage): Promise<TokenRequest> {
  const form = new URLSearchParams(await readBody(req));
  const grantType = form.get('grant_type');
  const base = {
    method: 'POST',
    service: form.get('service'),
    scopes: form.getAll('scope').flatMap(splitScopes),
    offline: form.get('access_type') === 'offline',
    oauth: true,
    userAgent: req.headers['user-agent'] ?? null,
  };
  if (form.get('client_id') === null)
    return { ...base, grant: null, auth: { status: 400, message: 'missing client_id' } };
  if (grantType === 'password') {
    const auth = checkPassword(state.options, form.get('username') ?? '', form.get('password') ?? '');
    return { ...base, grant: 'password', auth };
  }
  if (grantType === 'refresh_token') {
    const account = state.refreshTokens.get(form.get('refresh_token') ?? '');
    const auth = account === undefined ? { status: 401, message: 'unknown refresh token' } : { account };
    return { ...base, grant: 'refresh_token', auth };
  }
  return { ...base, grant: null, auth: { status: 400, message: `unsupported grant_type ${grantType ?? '(none)'}` } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error(`request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function checkBasic(options: TokenServerOptions, header: string): TokenRequest['auth'] {
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m?.[1]) return { status: 401, message: 'unsupported authorization scheme' };
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { status: 401, message: 'malformed basic credentials' };
  return checkPassword(options, decoded.slice(0, colon), decoded.slice(colon + 1));
}

function checkPassword(options: TokenServerOptions, account: string, password: string): TokenRequest['auth'] {
  const user = Object.hasOwn(options.users, account) ? options.users[account] : undefined;
  if (user === undefined || !sameSecret(user.password, password)) {
    return { status: 401, message: 'invalid username or password', claimed: account };
  }
  return { account };
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b));
}

function rulesOf(options: TokenServerOptions, account: string | null): readonly AccessRule[] {
  if (account === null) return options.anonymous ?? [];
  return options.users[account]?.rules ?? [];
}

/** Scope parameters may each carry several space-separated scopes (OAuth2 style). */
function splitScopes(param: string): string[] {
  return param.split(' ').filter((s) => s !== '');
}

/**
 * Parses `type:name:action,action` (the name may itself hold colons, e.g. a registry host with a port).
 * Undefined when the scope has fewer than three parts or an empty type or name.
 */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first + 1) return undefined;
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions };
}

/** `type:name:actions`, the inverse of {@link parseScope}. */
export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

/**
 * What a caller with `rules` gets for `requested`: per resource, the requested actions its matching rules allow
 * (duplicate resources merged, actions in request order). Resources with nothing granted are left out.
 */
export function grant(rules: readonly AccessRule[], requested: readonly Access[]): Access[] {
  const out = new Map<string, Access>();
  for (const want of requested) {
    const allowed = allowedActions(rules, want);
    const actions = want.actions.filter((a) => allowed.has('*') || allowed.has(a));
    if (actions.length === 0) continue;
    const key = `${want.type}:${want.name}`;
    const entry = out.get(key) ?? { type: want.type, name: want.name, actions: [] };
    for (const a of actions) if (!entry.actions.includes(a)) entry.actions.push(a);
    out.set(key, entry);
  }
  return [...out.values()];
}

function allowedActions(rules: readonly AccessRule[], want: Access): Set<string> {
  const allowed = new Set<string>();
  for (const rule of rules) {
    if ((rule.type ?? 'repository') !== want.type || !matchName(rule.name, want.name)) continue;
    for (const a of rule.actions) allowed.add(a);
  }
  return allowed;
}

/** Whether `name` matches `pattern`, where `*` matches any run of characters (`/` included). */
export function matchName(pattern: string, name: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`).test(name);
}

/**
 * Signs `claims` as a compact JWS: ES256 with the raw r‖s signature (`dsaEncoding: 'ieee-p1363'`, what JWS and
 * distribution expect, not DER), header `{alg: 'ES256', typ: 'JWT', x5c: [signer certificate]}`.
 */
export function signJWT(
  claims: object,
  signer: Pick<TokenSigner, 'keyPem' | 'certDerBase64'>,
  key: KeyObject = createPrivateKey(signer.keyPem),
): string {
  const header = { alg: 'ES256', typ: 'JWT', x5c: [signer.certDerBase64] };
  const input = `${base64url(header)}.${base64url(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** Header and claims of a compact JWS, unverified (for tests that inspect what was granted). */
export function decodeJWT(token: string): { header: Record<string, unknown>; claims: TokenClaims } {
  const [header, claims] = token.split('.');
  if (header === undefined || claims === undefined) throw new Error('decodeJWT: not a compact JWS');
  const part = (s: string): unknown => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: part(header) as Record<string, unknown>, claims: part(claims) as TokenClaims };
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function errorBody(code: string, message: string): { errors: { code: string; message: string }[] } {
  return { errors: [{ code, message }] };
}

function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}
