/**
 * Registry authentication: `WWW-Authenticate` challenges, Basic, Bearer tokens with scopes (cached per host and
 * scope set until they expire), the OAuth2 refresh-token grant for identity tokens, and realm checks so credentials
 * only go where the registry's own domain sends them.
 * https://distribution.github.io/distribution/spec/auth/token/
 */
import { isIP } from 'node:net';

import type { ByteStream, CallOptions } from '../content.js';
import type { CredentialSearch } from '../credentials.js';
import { readAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';

/** One parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  /** Lower-cased scheme, e.g. `basic` or `bearer`. */
  scheme: string;
  /** Parameters with lower-cased names (`realm`, `service`, `scope`, `error`). */
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header into its challenges (RFC 9110 §11.6.1), tolerating quoted commas and the
 * unquoted values some registries send.
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  const tchar = /[\w!#$%&'*+.^`|~-]/;
  let i = 0;
  const skip = (chars: string): void => {
    while (i < header.length && chars.includes(header.charAt(i))) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < header.length && tchar.test(header.charAt(i))) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < header.length) {
    skip(' ,\t');
    const name = token();
    if (!name) {
      i++; // a stray character: step over it
      continue;
    }
    skip(' \t');
    if (header.charAt(i) !== '=') {
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
      continue;
    }
    i++;
    skip(' \t');
    let value = '';
    if (header.charAt(i) === '"') {
      i++;
      while (i < header.length && header.charAt(i) !== '"') {
        if (header.charAt(i) === '\\') i++;
        value += header.charAt(i);
        i++;
      }
      i++;
    } else {
      const start = i;
      while (i < header.length && header.charAt(i) !== ',') i++;
      value = header.slice(start, i).trim();
    }
    if (current) current.params[name.toLowerCase()] = value;
  }
  return challenges;
}

/**
 * Looks up the credential for a registry (`host[:port]`, or `docker.io` for Docker Hub); `credentialProvider()` from
 * the credentials module gives the docker/podman lookup.
 */
export type CredentialProvider = (registry: string, options?: CallOptions) => Promise<CredentialSearch>;

/**
 * A minimal HTTP exchange the authenticator uses to reach token realms (given by the registry client). It answers the
 * status and the reply body as a stream, unread: the authenticator reads at most {@link MaxTokenReplyBytes} of it
 * and stops (leaving the stream to be closed) on the first byte past that, so the requester must not buffer it.
 */
export type TokenRequester = (
  url: URL,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<{ status: number; body: ByteStream }>;

/**
 * Largest token-server reply read, in bytes: 1 MiB. Real replies are a few KiB (a JWT and a few fields); a larger
 * one is refused with `ERR_LADING_PROTOCOL` as soon as it passes the limit, without reading the rest.
 */
export const MaxTokenReplyBytes = 1024 * 1024;

/** Options of {@link Authenticator}. */
export interface AuthenticatorOptions {
  /** Where credentials come from. Default: anonymous only. */
  credentials?: CredentialProvider;
  /** Sends token requests (the registry client's transport). */
  requestToken: TokenRequester;
  /**
   * Extra realm hosts trusted to receive credentials, beyond the registry's own host and domain. Default none.
   */
  trustedRealmHosts?: readonly string[];
  /** OAuth2 `client_id` for refresh-token grants. Default `lading`. */
  clientId?: string;
  /** Clock, for tests. */
  now?: () => number;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

/** Merges scope strings (`repository:name:pull,push`), uniting actions per resource; sorted for cache keys. */
export function mergeScopes(scopes: Iterable<string>): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    for (const one of scope.split(' ')) {
      if (!one) continue;
      const cut = one.lastIndexOf(':');
      if (cut < 0) continue;
      const resource = one.slice(0, cut);
      const actions = byResource.get(resource) ?? new Set<string>();
      for (const a of one.slice(cut + 1).split(',')) if (a) actions.add(a);
      byResource.set(resource, actions);
    }
  }
  return [...byResource.entries()].map(([r, a]) => `${r}:${[...a].sort().join(',')}`).sort();
}

/** The registrable part of a DNS name, by a heuristic (no public suffix list): the last two labels, three for `co.uk`-style names. */
function registrableDomain(host: string): string {
  const labels = host.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length <= 2) return labels.join('.');
  const tld = labels.at(-1) ?? '';
  const second = labels.at(-2) ?? '';
  const take = tld.length === 2 && second.length <= 3 ? 3 : 2;
  return labels.slice(-take).join('.');
}

function bareHost(hostname: string): string {
  return hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/**
 * Checks that a token realm may receive credentials meant for `registry`: an `https` URL on the registry's own
 * host or on its registrable domain (Docker Hub's `auth.docker.io` for `registry-1.docker.io`, GitLab's
 * `gitlab.com` for `registry.gitlab.com`), or a host the caller trusts. Plain `http` realms are accepted only when
 * the registry itself is plain HTTP on the same host (local test registries). IP hosts must match exactly.
 * Throws `ERR_LADING_AUTH` otherwise, so a registry cannot redirect credentials to an arbitrary host.
 */
export function checkRealm(registry: URL, realm: string, trusted: readonly string[] = []): URL {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new LadingError(
      ErrorCodes.auth,
      `authenticate ${registry.host}: token realm ${JSON.stringify(realm)} is not a URL`,
    );
  }
  const realmHost = bareHost(url.hostname);
  const regHost = bareHost(registry.hostname);
  const trustedHost = trusted.map((h) => bareHost(h)).includes(realmHost);
  const refuse = (why: string): never => {
    throw new LadingError(
      ErrorCodes.auth,
      `authenticate ${registry.host}: refusing token realm ${url.origin}: ${why}; if this is intended, trust the realm host explicitly`,
    );
  };
  if (url.protocol !== 'https:' && url.protocol !== 'http:') refuse('not an http(s) URL');
  if (trustedHost) return url;
  if (url.protocol === 'http:' && !(registry.protocol === 'http:' && realmHost === regHost)) {
    refuse('plain http realm for a registry on another host or on https');
  }
  if (realmHost === regHost) return url;
  if (isIP(realmHost) || isIP(regHost)) refuse('realm on another host');
  if (registrableDomain(realmHost) !== registrableDomain(regHost)) refuse(`realm on another domain than ${regHost}`);
  return url;
}

function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * Answers registry challenges and remembers the result: which scheme each host uses, and Bearer tokens per host
 * and scope set until they expire (`expires_in`, default 60 s per the spec, renewed 10% early).
 */
export class Authenticator {
  private readonly options: AuthenticatorOptions;
  private readonly schemes = new Map<string, 'basic' | 'bearer'>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly basic = new Map<string, string>();
  private readonly lookups = new Map<string, Promise<CredentialSearch>>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(options: AuthenticatorOptions) {
    this.options = options;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * The `Authorization` header already known for `host` and `scopes`, without any network call; undefined when a
   * challenge must be answered first.
   */
  cached(host: string, scopes: readonly string[]): string | undefined {
    const scheme = this.schemes.get(host);
    if (scheme === 'basic') return this.basic.get(host);
    if (scheme === 'bearer') {
      const entry = this.tokens.get(`${host} ${mergeScopes(scopes).join(' ')}`);
      if (entry && entry.expiresAt > this.now()) return entry.header;
    }
    return undefined;
  }

  /**
   * What to tell a user the registry refused: where the credential for `credentialKey` came from (so they know
   * which login to fix), or where lading looked when it found none. Never contains a secret.
   */
  async describe(credentialKey: string): Promise<string> {
    const found = this.lookups.get(credentialKey);
    const search = found ? await found.catch(() => undefined) : undefined;
    if (search?.credential) {
      const from = search.source === 'explicit' ? ' given' : search.source ? ` from ${search.source}` : '';
      return `the credentials${from} were refused or lack permission for this repository and action`;
    }
    const where = search?.searched.length ? ` (looked in ${search.searched.join(', ')})` : '';
    return `no credentials were found${where}; log in with docker/oras login, or pass --username with --password-stdin`;
  }

  /** Forgets cached tokens and Basic headers for `host` (after a 401 with a cached header). */
  invalidate(host: string): void {
    this.basic.delete(host);
    for (const key of this.tokens.keys()) if (key.startsWith(`${host} `)) this.tokens.delete(key);
  }

  private lookup(registry: string, signal?: AbortSignal): Promise<CredentialSearch> {
    let found = this.lookups.get(registry);
    if (!found) {
      const provider = this.options.credentials;
      found = provider ? provider(registry, signal ? { signal } : {}) : Promise.resolve({ registry, searched: [] });
      this.lookups.set(registry, found);
      found.catch(() => this.lookups.delete(registry));
    }
    return found;
  }

  /**
   * Answers a 401 from `registry` (its base URL; `credentialKey` names it for the credential provider) whose
   * `WWW-Authenticate` header is `header`, for a request needing `scopes`. Returns the `Authorization` header to
   * retry with. Throws `ERR_LADING_AUTH` naming the registry and where credentials were looked for, never a secret.
   */
  async answer(
    registry: URL,
    credentialKey: string,
    header: string,
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<string> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const host = registry.host;
    if (bearer) {
      const all = mergeScopes([...scopes, ...(bearer.params.scope ? [bearer.params.scope] : [])]);
      const key = `${host} ${mergeScopes(scopes).join(' ')}`;
      let inflight = this.pending.get(key);
      if (!inflight) {
        inflight = this.fetchToken(registry, credentialKey, bearer, all, signal).then((t) => {
          this.tokens.set(key, t);
          this.schemes.set(host, 'bearer');
          return t.header;
        });
        this.pending.set(key, inflight);
        void inflight.finally(() => this.pending.delete(key)).catch(() => undefined);
      }
      return inflight;
    }
    if (basic) {
      const { credential, searched } = await this.lookup(credentialKey, signal);
      if (credential?.kind !== 'basic') throw noCredentials(host, searched);
      const value = basicHeader(credential.username, credential.password);
      this.basic.set(host, value);
      this.schemes.set(host, 'basic');
      return value;
    }
    throw new LadingError(
      ErrorCodes.auth,
      `authenticate ${host}: unsupported challenge ${JSON.stringify(header.split(' ')[0] ?? '')}`,
    );
  }

  private async fetchToken(
    registry: URL,
    credentialKey: string,
    challenge: Challenge,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<CachedToken> {
    const host = registry.host;
    const realm = challenge.params.realm;
    if (!realm) throw new LadingError(ErrorCodes.auth, `authenticate ${host}: Bearer challenge without a realm`);
    const realmURL = checkRealm(registry, realm, this.options.trustedRealmHosts);
    const { credential, searched } = await this.lookup(credentialKey, signal);
    if (credential?.kind === 'registryToken') {
      return { header: `Bearer ${credential.registryToken}`, expiresAt: Number.POSITIVE_INFINITY };
    }
    const service = challenge.params.service;
    const init: Parameters<TokenRequester>[1] = { method: 'GET', headers: { accept: 'application/json' } };
    if (signal) init.signal = signal;
    const url = new URL(realmURL);
    if (credential?.kind === 'identityToken') {
      // OAuth2 refresh-token grant (docker config `identitytoken`).
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: credential.identityToken,
        client_id: this.options.clientId ?? 'lading',
      });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      init.method = 'POST';
      init.headers['content-type'] = 'application/x-www-form-urlencoded';
      init.body = form.toString();
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (credential?.kind === 'basic') {
        url.searchParams.set('account', credential.username);
        init.headers.authorization = basicHeader(credential.username, credential.password);
      }
    }
    let response: Awaited<ReturnType<TokenRequester>>;
    try {
      response = await this.options.requestToken(url, init);
    } catch (cause) {
      throw new LadingError(ErrorCodes.network, `authenticate ${host}: token request to ${realmURL.origin} failed`, {
        cause,
      });
    }
    if (response.status !== 200) {
      // The reply is not read: close it rather than leave the connection holding it (a failure to close changes
      // nothing about the answer).
      await Promise.resolve(response.body[Symbol.asyncIterator]().return?.()).catch(() => undefined);
      if (response.status === 401 || response.status === 403) {
        throw credential ? refusedCredentials(host, realmURL, searched) : noCredentials(host, searched);
      }
      throw new LadingError(
        ErrorCodes.auth,
        `authenticate ${host}: token server ${realmURL.origin} answered ${response.status}`,
        { status: response.status },
      );
    }
    const body = await readTokenReply(response.body, host, realmURL);
    const token = typeof body?.token === 'string' && body.token ? body.token : body?.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new LadingError(ErrorCodes.auth, `authenticate ${host}: token server ${realmURL.origin} sent no token`);
    }
    const expiresIn = typeof body?.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { header: `Bearer ${token}`, expiresAt: this.now() + expiresIn * 900 };
  }
}

interface TokenReply {
  token?: unknown;
  access_token?: unknown;
  expires_in?: unknown;
}

/**
 * Reads a token server's 200 reply, at most {@link MaxTokenReplyBytes}: past that the read stops at once and the
 * reply is refused as too large (`ERR_LADING_PROTOCOL`, naming the limit and the realm without its query), never
 * buffered whole first. A reply that is not a JSON object gives undefined (the caller reports "sent no token").
 */
async function readTokenReply(body: ByteStream, host: string, realm: URL): Promise<TokenReply | undefined> {
  const bytes = await readAll(
    body,
    MaxTokenReplyBytes,
    `authenticate ${host}: token server reply from ${realm.origin}${realm.pathname}`,
  );
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function noCredentials(host: string, searched: readonly string[]): LadingError {
  const where = searched.length ? ` (looked in ${searched.join(', ')})` : '';
  return new LadingError(
    ErrorCodes.auth,
    `authenticate ${host}: the registry needs credentials and none were found${where}; log in with docker/oras login, or pass --username with --password-stdin`,
  );
}

function refusedCredentials(host: string, realm: URL, searched: readonly string[]): LadingError {
  const where = searched.length ? ` from ${searched.join(', ')}` : '';
  return new LadingError(
    ErrorCodes.auth,
    `authenticate ${host}: ${realm.origin} refused the credentials${where}; check the username and password or token`,
  );
}
