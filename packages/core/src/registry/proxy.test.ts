import { describe, expect, it } from 'vitest';

import { bypassesProxy, proxySettingsFromEnv } from './proxy.js';

describe('proxy selection', () => {
  it('reads upper case first, then lower case, ignoring empty values', () => {
    expect(
      proxySettingsFromEnv({ HTTP_PROXY: 'http://a', http_proxy: 'http://b', https_proxy: 'http://c', NO_PROXY: '' }),
    ).toEqual({
      httpProxy: 'http://a',
      httpsProxy: 'http://c',
    });
  });

  it('never proxies loopback', () => {
    for (const u of ['http://localhost:5000/', 'http://127.0.0.1/', 'http://127.9.9.9:1/', 'http://[::1]:5000/']) {
      expect(bypassesProxy(new URL(u)), u).toBe(true);
    }
    expect(bypassesProxy(new URL('http://10.0.0.1/'))).toBe(false);
  });

  it.each([
    ['*', 'https://ghcr.io/', true],
    ['ghcr.io', 'https://ghcr.io/', true],
    ['ghcr.io', 'https://pkg.ghcr.io/', true],
    ['ghcr.io', 'https://notghcr.io/', false],
    ['.example.com', 'https://a.example.com/', true],
    ['.example.com', 'https://example.com/', true],
    ['*.example.com', 'https://a.b.example.com/', true],
    ['reg.local:5000', 'http://reg.local:5000/', true],
    ['reg.local:5000', 'http://reg.local:5001/', false],
    ['10.0.0.0/8', 'http://10.1.2.3/', true],
    ['10.0.0.0/8', 'http://11.1.2.3/', false],
    ['a.com, b.com', 'https://b.com/', true],
    ['a.com b.com', 'https://b.com/', true],
  ])('NO_PROXY %s for %s → %s', (rule, url, expected) => {
    expect(bypassesProxy(new URL(url), rule)).toBe(expected);
  });
});
