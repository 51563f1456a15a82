import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { describe, expect, it } from 'vitest';

import { browserCommand } from './oidc-browser.js';
import { authorizationURL, browserIdentityToken, createPKCE, pkceChallenge } from './oidc-login.js';
import { loopbackRedirectURI } from './oidc-loopback.js';

describe('PKCE', () => {
  it('computes the S256 challenge of RFC 7636 appendix B', () => {
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes fresh 43-character base64url verifiers with their challenge', () => {
    const first = createPKCE();
    const second = createPKCE();
    expect(first.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.challenge).toBe(pkceChallenge(first.verifier));
    expect(first.method).toBe('S256');
    expect(second.verifier).not.toBe(first.verifier);
  });
});

describe('authorizationURL', () => {
  it('adds the code-flow parameters and keeps the endpoint’s own query', () => {
    const url = new URL(
      authorizationURL('https://issuer.example/auth?connector_id=github', {
        clientID: 'sigstore',
        redirectURI: loopbackRedirectURI(43123),
        state: 'st',
        nonce: 'no',
        codeChallenge: 'ch',
      }),
    );
    expect(url.origin + url.pathname).toBe('https://issuer.example/auth');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      connector_id: 'github',
      response_type: 'code',
      client_id: 'sigstore',
      redirect_uri: 'http://localhost:43123/auth/callback',
      scope: 'openid email',
      state: 'st',
      nonce: 'no',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
    });
  });
});

describe('browserCommand', () => {
  const url = 'https://issuer.example/auth?a=1&b=2';

  it('runs BROWSER with the URL last, or in place of %s', () => {
    expect(browserCommand(url, { BROWSER: ' firefox  --new-window ' }, 'linux')).toEqual({
      command: 'firefox',
      args: ['--new-window', url],
    });
    expect(browserCommand(url, { BROWSER: 'w3m -o %s' }, 'darwin')).toEqual({ command: 'w3m', args: ['-o', url] });
  });

  it('uses the platform opener without BROWSER', () => {
    expect(browserCommand(url, {}, 'linux')).toEqual({ command: 'xdg-open', args: [url] });
    expect(browserCommand(url, { BROWSER: '' }, 'freebsd')).toEqual({ command: 'xdg-open', args: [url] });
    expect(browserCommand(url, {}, 'darwin')).toEqual({ command: 'open', args: [url] });
  });

  it('escapes the URL for cmd on Windows, so that & does not end the command', () => {
    expect(browserCommand(url, {}, 'win32')).toEqual({
      command: 'cmd',
      args: ['/c', 'start', '""', 'https://issuer.example/auth?a=1^&b=2'],
      windowsVerbatimArguments: true,
    });
  });
});

describe('browserIdentityToken', () => {
  it('refuses an issuer over plain http to another machine before any request', async () => {
    await expect(browserIdentityToken({ issuer: 'http://issuer.example/auth' })).rejects.toMatchObject({
      code: 'ERR_LADING_USAGE',
      message:
        'identity token login http://issuer.example/auth: the issuer http://issuer.example/auth must be an https URL (plain http only on this machine)',
    });
    await expect(browserIdentityToken({ issuer: 'not a url' })).rejects.toMatchObject({
      code: 'ERR_LADING_USAGE',
      message: 'identity token login not a url: the issuer not a url is not a URL',
    });
  });

  it('says why an issuer cannot be reached (ERR_LADING_NETWORK)', async () => {
    // A port that was just free: nothing listens there any more.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
    const issuer = `http://127.0.0.1:${port}/auth`;
    await expect(browserIdentityToken({ issuer, openBrowser: false })).rejects.toMatchObject({
      code: 'ERR_LADING_NETWORK',
      message: `identity token login ${issuer}: 127.0.0.1:${port}: fetch failed (ECONNREFUSED); check the issuer URL and the network`,
    });
  });

  it('rejects at once with the reason of an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(browserIdentityToken({ signal: controller.signal })).rejects.toThrow('stop');
  });
});
