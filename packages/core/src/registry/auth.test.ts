import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { isLadingError } from '../errors.js';
import {
  Authenticator,
  checkRealm,
  MaxTokenReplyBytes,
  mergeScopes,
  parseChallenges,
  type TokenRequester,
} from './auth.js';

/** A reply body: `value` as JSON bytes, or nothing when undefined. */
function jsonStream(value: unknown): AsyncIterable<Uint8Array> {
  return Readable.from(value === undefined ? [] : [Buffer.from(JSON.stringify(value))]);
}

describe('parseChallenges', () => {
  it('parses a Bearer challenge with quoted values containing commas', () => {
    const header =
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push"';
    expect(parseChallenges(header)).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/alpine:pull,push',
        },
      },
    ]);
  });

  it('parses several challenges, unquoted values and escapes', () => {
    const parsed = parseChallenges('Basic realm="Registry \\"x\\"", Bearer realm=https://a/token,service=svc');
    expect(parsed).toEqual([
      { scheme: 'basic', params: { realm: 'Registry "x"' } },
      { scheme: 'bearer', params: { realm: 'https://a/token', service: 'svc' } },
    ]);
  });

  it('returns no challenge for an empty header', () => {
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('mergeScopes', () => {
  it('unites actions per resource and sorts', () => {
    expect(
      mergeScopes([
        'repository:b:pull',
        'repository:a:push',
        'repository:a:pull repository:b:pull',
        'registry:catalog:*',
      ]),
    ).toEqual(['registry:catalog:*', 'repository:a:pull,push', 'repository:b:pull']);
  });
});

describe('checkRealm', () => {
  const https = new URL('https://registry-1.docker.io/');
  it('accepts the same host and the same registrable domain', () => {
    expect(checkRealm(https, 'https://auth.docker.io/token').host).toBe('auth.docker.io');
    expect(checkRealm(new URL('https://ghcr.io/'), 'https://ghcr.io/token').host).toBe('ghcr.io');
    expect(checkRealm(new URL('https://registry.gitlab.com/'), 'https://gitlab.com/jwt/auth').host).toBe('gitlab.com');
  });

  it('refuses a realm on another domain unless trusted', () => {
    const attempt = (): URL => checkRealm(https, 'https://evil.example.net/token');
    expect(attempt).toThrow(/refusing token realm https:\/\/evil\.example\.net/);
    expect(checkRealm(https, 'https://evil.example.net/token', ['evil.example.net']).host).toBe('evil.example.net');
  });

  it('compares co.uk-style domains on three labels', () => {
    expect(() => checkRealm(new URL('https://reg.acme.co.uk/'), 'https://auth.other.co.uk/')).toThrow(/another domain/);
    expect(checkRealm(new URL('https://reg.acme.co.uk/'), 'https://auth.acme.co.uk/').host).toBe('auth.acme.co.uk');
  });

  it('refuses plain http except for a plain-http registry on the same host', () => {
    expect(() => checkRealm(https, 'http://auth.docker.io/token')).toThrow(/plain http/);
    expect(checkRealm(new URL('http://127.0.0.1:5000/'), 'http://127.0.0.1:5001/token').port).toBe('5001');
    expect(() => checkRealm(new URL('http://127.0.0.1:5000/'), 'http://localhost:5001/token')).toThrow(/another host/);
    expect(() => checkRealm(new URL('http://127.0.0.1:5000/'), 'ftp://127.0.0.1/x')).toThrow(/not an http/);
  });
});

describe('Authenticator', () => {
  function tokenServer(answers: { status: number; body?: unknown }[]): {
    requester: TokenRequester;
    calls: { url: URL; init: Parameters<TokenRequester>[1] }[];
  } {
    const calls: { url: URL; init: Parameters<TokenRequester>[1] }[] = [];
    const requester: TokenRequester = (url, init) => {
      calls.push({ url, init });
      const answer = answers.shift() ?? { status: 500 };
      return Promise.resolve({ status: answer.status, body: jsonStream(answer.body) });
    };
    return { requester, calls };
  }

  const registry = new URL('https://reg.example.com/');
  const challenge = 'Bearer realm="https://auth.example.com/token",service="reg",scope="repository:a:pull"';

  it('fetches a token with Basic credentials and the union of scopes, then caches it until expiry', async () => {
    let now = 1_000_000;
    const server = tokenServer([{ status: 200, body: { token: 'T1', expires_in: 300 } }]);
    const auth = new Authenticator({
      requestToken: server.requester,
      credentials: () =>
        Promise.resolve({
          registry: 'r',
          credential: { kind: 'basic', username: 'u', password: 'p' },
          searched: ['test'],
        }),
      now: () => now,
    });
    const header = await auth.answer(registry, 'reg.example.com', challenge, ['repository:a:pull,push']);
    expect(header).toBe('Bearer T1');
    const call = server.calls[0];
    expect(call?.url.searchParams.getAll('scope')).toEqual(['repository:a:pull,push']);
    expect(call?.url.searchParams.get('service')).toBe('reg');
    expect(call?.init.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(auth.cached('reg.example.com', ['repository:a:pull,push'])).toBe('Bearer T1');
    expect(auth.cached('reg.example.com', ['repository:other:pull'])).toBeUndefined();
    now += 300_000;
    expect(auth.cached('reg.example.com', ['repository:a:pull,push'])).toBeUndefined();
  });

  it('uses the refresh-token grant for identity tokens and accepts access_token', async () => {
    const server = tokenServer([{ status: 200, body: { access_token: 'AT' } }]);
    const auth = new Authenticator({
      requestToken: server.requester,
      credentials: () =>
        Promise.resolve({
          registry: 'r',
          credential: { kind: 'identityToken', identityToken: 'refresh-secret' },
          searched: [],
        }),
    });
    expect(await auth.answer(registry, 'reg.example.com', challenge, ['repository:a:pull'])).toBe('Bearer AT');
    const call = server.calls[0];
    expect(call?.init.method).toBe('POST');
    const form = new URLSearchParams(call?.init.body);
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(form.get('refresh_token')).toBe('refresh-secret');
    expect(form.get('scope')).toBe('repository:a:pull');
  });

  it('says where it looked and never shows the secret when the token server refuses', async () => {
    const server = tokenServer([{ status: 401 }]);
    const auth = new Authenticator({
      requestToken: server.requester,
      credentials: () =>
        Promise.resolve({
          registry: 'r',
          credential: { kind: 'basic', username: 'u', password: 'hunter2' },
          searched: ['~/.docker/config.json'],
        }),
    });
    const error: unknown = await auth.answer(registry, 'reg.example.com', challenge, []).catch((e: unknown) => e);
    expect(isLadingError(error, 'ERR_LADING_AUTH')).toBe(true);
    expect(String(error)).toMatch(/refused the credentials from ~\/\.docker\/config\.json/);
    expect(String(error)).not.toContain('hunter2');
  });

  it('answers Basic challenges and reports missing credentials with the places searched', async () => {
    const auth = new Authenticator({
      requestToken: tokenServer([]).requester,
      credentials: (host) =>
        Promise.resolve(
          host === 'good.example.com'
            ? { registry: host, credential: { kind: 'basic', username: 'u', password: 'p' }, searched: ['a'] }
            : { registry: host, searched: ['DOCKER_CONFIG/config.json', 'auth.json'] },
        ),
    });
    expect(await auth.answer(new URL('https://good.example.com/'), 'good.example.com', 'Basic realm="x"', [])).toMatch(
      /^Basic /,
    );
    expect(auth.cached('good.example.com', ['anything'])).toMatch(/^Basic /);
    await expect(auth.answer(registry, 'reg.example.com', 'Basic realm="x"', [])).rejects.toThrow(
      /none were found \(looked in DOCKER_CONFIG\/config\.json, auth\.json\)/,
    );
  });

  it('refuses to send credentials to a realm on another domain', async () => {
    const server = tokenServer([{ status: 200, body: { token: 'x' } }]);
    const auth = new Authenticator({
      requestToken: server.requester,
      credentials: () =>
        Promise.resolve({ registry: 'r', credential: { kind: 'basic', username: 'u', password: 'p' }, searched: [] }),
    });
    await expect(
      auth.answer(registry, 'reg.example.com', 'Bearer realm="https://collector.evil.test/t"', []),
    ).rejects.toThrow(/refusing token realm/);
    expect(server.calls).toHaveLength(0);
  });

  it('refuses a token reply past 1 MiB as too large, reading no further, the realm named without its query', async () => {
    let pulled = 0;
    let closed = false;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    // An endless reply, one chunk per pull: only the bound can stop the read.
    const endless = (): AsyncIterable<Uint8Array> => ({
      [Symbol.asyncIterator]: () => ({
        next: () => {
          pulled++;
          const value = pulled === 1 ? Buffer.from('{"token": "') : chunk;
          return Promise.resolve({ done: false, value });
        },
        return: () => {
          closed = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      }),
    });
    const auth = new Authenticator({
      requestToken: () => Promise.resolve({ status: 200, body: endless() }),
      credentials: () =>
        Promise.resolve({
          registry: 'r',
          credential: { kind: 'basic', username: 'u', password: 's3cret' },
          searched: [],
        }),
    });
    const error: unknown = await auth
      .answer(registry, 'reg.example.com', 'Bearer realm="https://auth.example.com/token?k=v",service="reg"', [])
      .catch((e: unknown) => e);
    expect(isLadingError(error, 'ERR_LADING_PROTOCOL')).toBe(true);
    expect((error as Error).message).toBe(
      `authenticate reg.example.com: token server reply from https://auth.example.com/token: too large: more than the ${MaxTokenReplyBytes}-byte limit`,
    );
    expect(pulled).toBe(1 + MaxTokenReplyBytes / chunk.length);
    expect(closed).toBe(true);
  });
});
