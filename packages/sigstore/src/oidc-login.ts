/**
 * Interactive OIDC login for keyless signing, for people at a terminal: the OAuth 2.0 authorization code flow with
 * PKCE (RFC 7636) and a loopback redirect (RFC 8252), as cosign does it. A one-shot HTTP server on 127.0.0.1 takes
 * the browser's redirect; the code is exchanged for an ID token whose nonce must be this login's. This module is the
 * flow; the loopback server (and the pages it shows) is oidc-loopback.ts, starting a browser oidc-browser.ts.
 */
import { createHash, randomBytes } from 'node:crypto';

import { ErrorCodes, LadingError } from '@lading/core';
import { attributeError } from '@lading/core/internal';

import { IdentityProviderService } from './identity-token.js';
import { openBrowser } from './oidc-browser.js';
import { listenForCallback, loopbackRedirectURI } from './oidc-loopback.js';
import { readJSONReply } from './service-reply.js';

/** The public-good Sigstore OIDC issuer (Dex federating GitHub, Google and Microsoft accounts). */
export const PublicGoodOIDCIssuer = 'https://oauth2.sigstore.dev/auth';
/** Client ID registered for Sigstore clients at the public-good issuer, and the audience Fulcio expects. */
export const DefaultOIDCClientID = 'sigstore';
/** Scopes asked for: `openid` for an ID token, `email` so that the certificate names the signer's email. */
export const OIDCLoginScope = 'openid email';

/** Options of {@link browserIdentityToken}. */
export interface BrowserIdentityTokenOptions {
  /** OIDC issuer; its `/.well-known/openid-configuration` is read. Default {@link PublicGoodOIDCIssuer}. */
  issuer?: string;
  /** OAuth client ID. Default {@link DefaultOIDCClientID} (`sigstore`). */
  clientID?: string;
  /** OAuth client secret, sent with HTTP Basic to the token endpoint. Default none (a public client, PKCE only). */
  clientSecret?: string;
  /**
   * Receives the authorization URL before the browser is opened, so that it can be shown to the user (who may
   * paste it in a browser elsewhere on this machine). The library prints nothing.
   */
  onAuthorizationURL?: (url: string) => void;
  /** Receives the reason when the browser command cannot be started or fails; the login keeps waiting. */
  onBrowserError?: (error: Error) => void;
  /** Start a browser. Default true; with false only {@link BrowserIdentityTokenOptions.onAuthorizationURL} runs. */
  openBrowser?: boolean;
  /** Where `BROWSER` is read, and the browser's environment. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Aborts the wait and the HTTP calls; the loopback server is closed either way. No timeout otherwise. */
  signal?: AbortSignal;
}

/**
 * Signs the user in with a browser and returns the OIDC ID token for Fulcio. Reads the issuer's discovery
 * document, listens on `127.0.0.1:<ephemeral port>`, and sends the browser to the authorization endpoint with
 * `redirect_uri=http://localhost:<port>/auth/callback`, `scope=openid email`, a random `state` and `nonce`, and a
 * PKCE S256 challenge. The browser is started with the command in `BROWSER` when set (split on spaces; `%s`
 * becomes the URL, else the URL is added last), else `xdg-open`, `open` (macOS) or `cmd /c start` (Windows). The
 * redirect must carry this login's `state`; an `error` answer, a wrong state, a refused code exchange, or an ID
 * token whose `nonce`, `iss` or `aud` is not this login's fail with `ERR_LADING_AUTH`, and the browser is shown a
 * short page saying what happened. A bad issuer URL is `ERR_LADING_USAGE`, an unreachable issuer
 * `ERR_LADING_NETWORK`. The ID token's signature is not checked here (it came straight from the token endpoint;
 * Fulcio verifies it).
 */
export async function browserIdentityToken(options: BrowserIdentityTokenOptions = {}): Promise<string> {
  return login(options).catch((e: unknown) => {
    throw attributeError(e, IdentityProviderService);
  });
}

async function login(options: BrowserIdentityTokenOptions): Promise<string> {
  const issuer = options.issuer ?? PublicGoodOIDCIssuer;
  const clientID = options.clientID ?? DefaultOIDCClientID;
  const what = `identity token login ${issuer}`;
  const { signal } = options;
  signal?.throwIfAborted();
  const provider = await discover(issuer, what, signal);
  const pkce = createPKCE();
  const state = randomToken();
  const nonce = randomToken();
  const listener = await listenForCallback();
  try {
    const redirectURI = loopbackRedirectURI(listener.port);
    const url = authorizationURL(provider.authorizationEndpoint, {
      clientID,
      redirectURI,
      state,
      nonce,
      codeChallenge: pkce.challenge,
    });
    options.onAuthorizationURL?.(url);
    if (options.openBrowser !== false) {
      openBrowser(url, options.env ?? process.env, process.platform, (e) => {
        if (!listener.received) options.onBrowserError?.(e);
      });
    }
    const callback = await untilAborted(listener.callback, signal);
    try {
      const code = codeFromCallback(callback.query, state, what);
      const token = await exchangeCode(
        provider,
        { code, redirectURI, clientID, verifier: pkce.verifier },
        options,
        what,
      );
      checkIDToken(token, { nonce, issuer: provider.issuer, clientID }, what);
      await callback.answer(200, 'Signed in', 'lading has your identity token. You can close this tab.');
      return token;
    } catch (e) {
      const reason = e instanceof LadingError ? e.message : 'the sign-in was interrupted';
      await callback.answer(400, 'Sign-in failed', `${reason}. Return to the terminal.`).catch(() => undefined);
      throw e;
    }
  } finally {
    await listener.close();
  }
}

/** A PKCE pair: the secret `verifier` and the `challenge` sent in the authorization request (RFC 7636). */
export interface PKCEPair {
  verifier: string;
  challenge: string;
  method: 'S256';
}

/** A fresh PKCE pair: 32 random bytes as base64url (43 characters) and its S256 challenge. */
export function createPKCE(): PKCEPair {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier), method: 'S256' };
}

/** The S256 challenge of a PKCE verifier: base64url (no padding) of its SHA-256 (RFC 7636 section 4.2). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** The parameters of an authorization request. */
export interface AuthorizationRequest {
  clientID: string;
  redirectURI: string;
  state: string;
  nonce: string;
  /** S256 PKCE challenge. */
  codeChallenge: string;
  /** Default {@link OIDCLoginScope}. */
  scope?: string;
}

/**
 * The URL to send the browser to: `endpoint` (its own query parameters kept) with `response_type=code`,
 * `client_id`, `redirect_uri`, `scope`, `state`, `nonce`, `code_challenge` and `code_challenge_method=S256`.
 */
export function authorizationURL(endpoint: string, request: AuthorizationRequest): string {
  const url = new URL(endpoint);
  const params = {
    response_type: 'code',
    client_id: request.clientID,
    redirect_uri: request.redirectURI,
    scope: request.scope ?? OIDCLoginScope,
    state: request.state,
    nonce: request.nonce,
    code_challenge: request.codeChallenge,
    code_challenge_method: 'S256',
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

interface ProviderMetadata {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
}

/** Reads and checks the issuer's discovery document (OpenID Connect Discovery 1.0, section 4). */
async function discover(issuer: string, what: string, signal: AbortSignal | undefined): Promise<ProviderMetadata> {
  checkEndpointURL(issuer, 'the issuer', what, ErrorCodes.usage);
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const response = await request(url, { headers: { Accept: 'application/json' } }, what, signal);
  if (!response.ok) {
    throw new LadingError(
      ErrorCodes.auth,
      `${what}: ${url} answered HTTP ${response.status}; check that the issuer URL is an OpenID Connect provider`,
    );
  }
  const body = await jsonObject(response, what);
  const field = (name: string): string => {
    const value = body?.[name];
    if (typeof value !== 'string' || value === '') {
      throw new LadingError(ErrorCodes.auth, `${what}: the discovery document at ${url} has no "${name}"`);
    }
    return value;
  };
  const metadata = {
    issuer: field('issuer'),
    authorizationEndpoint: field('authorization_endpoint'),
    tokenEndpoint: field('token_endpoint'),
  };
  // A document naming another issuer is someone else's provider (or a misconfigured URL): its tokens would not be
  // for the issuer the user asked for.
  if (metadata.issuer.replace(/\/+$/, '') !== issuer.replace(/\/+$/, '')) {
    throw new LadingError(
      ErrorCodes.auth,
      `${what}: the discovery document names issuer ${metadata.issuer}; give that URL as the issuer if it is the one meant`,
    );
  }
  const methods = body?.code_challenge_methods_supported;
  if (Array.isArray(methods) && !methods.includes('S256')) {
    throw new LadingError(ErrorCodes.auth, `${what}: the provider does not support PKCE S256, which lading requires`);
  }
  checkEndpointURL(metadata.authorizationEndpoint, 'authorization_endpoint', what, ErrorCodes.auth);
  checkEndpointURL(metadata.tokenEndpoint, 'token_endpoint', what, ErrorCodes.auth);
  return metadata;
}

/** Only https, or plain http to this machine: a token endpoint over plain http elsewhere would leak the token. */
function checkEndpointURL(
  value: string,
  name: string,
  what: string,
  code: typeof ErrorCodes.usage | typeof ErrorCodes.auth,
) {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new LadingError(code, `${what}: ${name} ${value} is not a URL`, { cause });
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new LadingError(code, `${what}: ${name} ${value} must be an https URL (plain http only on this machine)`);
  }
}

interface CodeExchange {
  code: string;
  redirectURI: string;
  clientID: string;
  verifier: string;
}

/** POSTs the code with its PKCE verifier to the token endpoint (RFC 6749 section 4.1.3) and returns the ID token. */
async function exchangeCode(
  provider: ProviderMetadata,
  exchange: CodeExchange,
  options: BrowserIdentityTokenOptions,
  what: string,
): Promise<string> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: exchange.code,
    redirect_uri: exchange.redirectURI,
    client_id: exchange.clientID,
    code_verifier: exchange.verifier,
  });
  const headers: Record<string, string> = {
    Accept: 'application/json',
    'Content-Type': 'application/x-www-form-urlencoded',
  };
  if (options.clientSecret !== undefined) {
    // RFC 6749 section 2.3.1: both parts form-encoded, then Basic.
    const pair = `${encodeURIComponent(exchange.clientID)}:${encodeURIComponent(options.clientSecret)}`;
    headers.Authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  }
  const response = await request(
    provider.tokenEndpoint,
    { method: 'POST', headers, body: form.toString() },
    what,
    options.signal,
  );
  const body = await jsonObject(response, what);
  if (!response.ok) {
    const error = typeof body?.error === 'string' ? body.error : `HTTP ${response.status}`;
    const description = typeof body?.error_description === 'string' ? ` (${body.error_description})` : '';
    throw new LadingError(
      ErrorCodes.auth,
      `${what}: the token endpoint refused the code: ${error}${description}; sign in again`,
    );
  }
  const token = body?.id_token;
  if (typeof token !== 'string' || token === '') {
    throw new LadingError(ErrorCodes.auth, `${what}: the token endpoint answered without an id_token (scope openid)`);
  }
  return token;
}

/** The ID token must be this login's (nonce), from this issuer, for this client (OpenID Connect Core 3.1.3.7). */
function checkIDToken(token: string, expected: { nonce: string; issuer: string; clientID: string }, what: string) {
  const claims = decodeClaims(token);
  if (claims === undefined) throw new LadingError(ErrorCodes.auth, `${what}: the id_token is not a JWT`);
  if (claims.nonce !== expected.nonce) {
    throw new LadingError(
      ErrorCodes.auth,
      `${what}: the id_token's nonce is not this login's (a replayed or substituted token); sign in again`,
    );
  }
  if (claims.iss !== expected.issuer) {
    throw new LadingError(ErrorCodes.auth, `${what}: the id_token was issued by ${String(claims.iss)}, not the issuer`);
  }
  const audiences = Array.isArray(claims.aud) ? (claims.aud as unknown[]) : [claims.aud];
  if (!audiences.includes(expected.clientID)) {
    throw new LadingError(ErrorCodes.auth, `${what}: the id_token is not for client ${expected.clientID}`);
  }
}

function decodeClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The code of a redirect carrying this login's state; refuses other states and `error` answers (RFC 6749 4.1.2). */
function codeFromCallback(query: URLSearchParams, state: string, what: string): string {
  // The state is checked first: an error answer with another state may be forged by any page the browser opens.
  if (query.get('state') !== state) {
    throw new LadingError(
      ErrorCodes.auth,
      `${what}: the redirect's state is not this login's (a stale tab or a forged redirect); sign in again`,
    );
  }
  const error = query.get('error');
  if (error !== null) {
    const description = query.get('error_description');
    throw new LadingError(
      ErrorCodes.auth,
      `${what}: the provider refused the sign-in: ${error}${description ? ` (${description})` : ''}; ` +
        'sign in again and allow access',
    );
  }
  const code = query.get('code');
  if (!code) throw new LadingError(ErrorCodes.auth, `${what}: the redirect has no code; sign in again`);
  return code;
}

/** `promise`, or the signal's reason once it aborts. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  signal.throwIfAborted();
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function request(url: string, init: RequestInit, what: string, signal: AbortSignal | undefined) {
  try {
    return await fetch(url, { ...init, ...(signal ? { signal } : {}) });
  } catch (e) {
    signal?.throwIfAborted();
    // undici says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is in its cause.
    const cause = (e as Error).cause;
    const code = (cause as { code?: unknown } | undefined)?.code;
    const detail = typeof code === 'string' ? code : cause instanceof Error ? cause.message : undefined;
    const reason = `${(e as Error).message}${detail === undefined ? '' : ` (${detail})`}`;
    throw new LadingError(
      ErrorCodes.network,
      `${what}: ${new URL(url).host}: ${reason}; check the issuer URL and the network`,
      { cause: e },
    );
  }
}

async function jsonObject(response: Response, what: string): Promise<Record<string, unknown> | undefined> {
  const body = await readJSONReply(response, what);
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

function randomToken(): string {
  return randomBytes(24).toString('base64url');
}
