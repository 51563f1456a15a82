// A fake OpenID Connect provider for the interactive login: discovery, an authorization endpoint that signs the
// "user" in at once (no login page) and redirects with a code, and a token endpoint that checks PKCE and answers an
// RS256 ID token the harness Fulcio accepts. Served by node:http on 127.0.0.1; its URL is its issuer.
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { LoopbackService, RequestRecord } from './http.js';
import { DefaultTokenAudience, DefaultTokenLifetimeSeconds } from './token.js';

/** Who signs in at the fake provider. */
export interface FakeOIDCIdentity {
  /** `sub` claim. */
  subject: string;
  /** `email` claim (with `email_verified: true`); the certificate's identity when given. */
  email?: string;
}

/** Options of {@link startFakeOIDCProvider}. */
export interface FakeOIDCProviderOptions {
  /** The signed-in user. Default {@link DefaultBrowserIdentity}. */
  identity?: FakeOIDCIdentity;
  /** The one client ID accepted; also the ID token's `aud`. Default `sigstore`. */
  clientID?: string;
  /** Where requests are recorded (service `oidc`, path without the query). Default: not recorded. */
  requests?: RequestRecord[];
}

/** A running fake provider. */
export interface FakeOIDCProvider extends LoopbackService {
  /** The issuer: `http://127.0.0.1:<port>`, the `iss` of its tokens and the certificate's issuer. */
  readonly url: string;
  /** The signed-in user. */
  readonly identity: FakeOIDCIdentity;
  /** The client ID it accepts. */
  readonly clientID: string;
}

/** Default user of the fake provider. */
export const DefaultBrowserIdentity: FakeOIDCIdentity = {
  subject: 'browser-user@example.com',
  email: 'browser-user@example.com',
};

/**
 * The query parameter a test's "browser" adds to the authorization URL to play a user who clicks "deny": with
 * `consent=deny` the provider redirects with `error=access_denied`. Not an OIDC parameter.
 */
export const ConsentParameter = 'consent';

/** Paths the provider serves. */
export const FakeOIDCPaths = {
  discovery: '/.well-known/openid-configuration',
  authorization: '/auth',
  token: '/token',
  keys: '/keys',
} as const;

interface Grant {
  clientID: string;
  redirectURI: string;
  challenge: string;
  nonce: string | undefined;
}

/**
 * Starts the provider. `GET /auth` checks `response_type=code`, the client ID, a loopback `redirect_uri` (any port,
 * RFC 8252), `scope` with `openid`, and an S256 `code_challenge`; a bad client or redirect URI gets 400 (never a
 * redirect), anything else wrong a redirect with `error=invalid_request`. `POST /token` takes each code once and
 * answers `invalid_grant` unless the client, redirect URI and PKCE verifier match. ID tokens carry the request's
 * `nonce` and the identity, audience the client ID, valid ten minutes, RS256 with a key published at `/keys`.
 */
export async function startFakeOIDCProvider(options: FakeOIDCProviderOptions = {}): Promise<FakeOIDCProvider> {
  const identity = options.identity ?? DefaultBrowserIdentity;
  const clientID = options.clientID ?? DefaultTokenAudience;
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyID = randomUUID();
  const grants = new Map<string, Grant>();
  let issuer = '';
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      res.destroy(e instanceof Error ? e : undefined);
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer);
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const answer = route(method, url, body);
    options.requests?.push({
      service: 'oidc',
      method,
      path: url.pathname,
      contentType: req.headers['content-type'] ?? '',
      status: answer.status,
    });
    res.writeHead(answer.status, answer.headers).end(answer.body);
  }
  function route(method: string, url: URL, body: string): Answer {
    if (method === 'GET' && url.pathname === FakeOIDCPaths.discovery) return json(200, discovery(issuer));
    if (method === 'GET' && url.pathname === FakeOIDCPaths.keys) {
      return json(200, {
        keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid: keyID, use: 'sig', alg: 'RS256' }],
      });
    }
    if (method === 'GET' && url.pathname === FakeOIDCPaths.authorization) {
      return authorize(url.searchParams, clientID, grants);
    }
    if (method === 'POST' && url.pathname === FakeOIDCPaths.token) {
      const grant = redeem(new URLSearchParams(body), grants);
      if ('error' in grant) return json(400, grant);
      const idToken = issueIDToken(key.privateKey, keyID, {
        iss: issuer,
        aud: grant.clientID,
        nonce: grant.nonce,
        identity,
      });
      return json(200, {
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: DefaultTokenLifetimeSeconds,
        id_token: idToken,
      });
    }
    return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: `no route for ${method} ${url.pathname}` };
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closing: Promise<void> | undefined;
  return { url: issuer, identity, clientID, close: () => (closing ??= closeServer(server)) };
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function json(status: number, value: unknown): Answer {
  return {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
    body: JSON.stringify(value),
  };
}

function discovery(issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}${FakeOIDCPaths.authorization}`,
    token_endpoint: `${issuer}${FakeOIDCPaths.token}`,
    jwks_uri: `${issuer}${FakeOIDCPaths.keys}`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email'],
    grant_types_supported: ['authorization_code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
  };
}

function authorize(query: URLSearchParams, clientID: string, grants: Map<string, Grant>): Answer {
  const redirectURI = query.get('redirect_uri') ?? '';
  if (query.get('client_id') !== clientID) return text(400, `unknown client_id ${String(query.get('client_id'))}`);
  if (!isLoopbackRedirect(redirectURI)) return text(400, `redirect_uri ${redirectURI} is not a loopback URL`);
  const back = new URL(redirectURI);
  const state = query.get('state');
  if (state !== null) back.searchParams.set('state', state);
  const challenge = query.get('code_challenge');
  const problem =
    query.get('response_type') !== 'code'
      ? 'response_type must be code'
      : !(query.get('scope') ?? '').split(' ').includes('openid')
        ? 'scope must include openid'
        : query.get('code_challenge_method') !== 'S256' || !challenge
          ? 'an S256 code_challenge is required'
          : undefined;
  if (problem !== undefined) {
    back.searchParams.set('error', 'invalid_request');
    back.searchParams.set('error_description', problem);
  } else if (query.get(ConsentParameter) === 'deny') {
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('error_description', 'the user denied access');
  } else {
    const code = randomBytes(16).toString('base64url');
    grants.set(code, { clientID, redirectURI, challenge: challenge ?? '', nonce: query.get('nonce') ?? undefined });
    back.searchParams.set('code', code);
  }
  return { status: 302, headers: { Location: back.href, 'Content-Type': 'text/plain' }, body: '' };
}

function redeem(
  form: URLSearchParams,
  grants: Map<string, Grant>,
): Grant | { error: string; error_description: string } {
  const invalid = (description: string) => ({ error: 'invalid_grant', error_description: description });
  if (form.get('grant_type') !== 'authorization_code') {
    return { error: 'unsupported_grant_type', error_description: 'only authorization_code' };
  }
  const code = form.get('code') ?? '';
  const grant = grants.get(code);
  // A code is good once, whatever the outcome (RFC 6749 section 4.1.2).
  grants.delete(code);
  if (grant === undefined) return invalid('unknown or used code');
  if (form.get('client_id') !== grant.clientID) return invalid('client_id does not match the code');
  if (form.get('redirect_uri') !== grant.redirectURI) return invalid('redirect_uri does not match the code');
  const verifier = form.get('code_verifier') ?? '';
  if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) {
    return invalid('PKCE verification failed');
  }
  return grant;
}

function isLoopbackRedirect(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}

function issueIDToken(
  key: KeyObject,
  keyID: string,
  claims: { iss: string; aud: string; nonce: string | undefined; identity: FakeOIDCIdentity },
): string {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: claims.iss,
    sub: claims.identity.subject,
    aud: claims.aud,
    iat: now,
    nbf: now,
    exp: now + DefaultTokenLifetimeSeconds,
    jti: randomUUID(),
  };
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  if (claims.identity.email !== undefined) {
    payload.email = claims.identity.email;
    payload.email_verified = true;
  }
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ alg: 'RS256', typ: 'JWT', kid: keyID })}.${encode(payload)}`;
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key).toString('base64url')}`;
}

function text(status: number, body: string): Answer {
  return { status, headers: { 'Content-Type': 'text/plain' }, body };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}
