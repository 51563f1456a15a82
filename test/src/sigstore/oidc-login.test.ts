// The interactive browser login (browserIdentityToken, `lading sign --oidc-browser`) against the harness's fake OIDC
// provider. The "browser" is a small Node script named in BROWSER: it requests the authorization URL as a browser
// would, follows the provider's 302 to the loopback callback, and reports what it saw (status, page) to a server
// of this test. Modes play a user who denies access, a forged redirect (another state), and an attacker who swaps
// the PKCE challenge or the nonce. The signature the CLI makes with the browser token is checked by `lading verify`
// and cosign.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import type { ErrorJSON, SignCommandResult, VerifyCommandResult } from '@lading/cli';
import { browserIdentityToken, type BrowserIdentityTokenOptions } from '@lading/sigstore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, json, ladingIn, runLadingAtTerminal } from '../cli-runner.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { decodeClaims } from '../sigstore-harness/token.js';
import { makeToolHome, testbed } from '../testbed/index.js';
import { cosign, cosignIdentityFlags, ladingIdentityFlags, workFolder } from './fixtures.js';

/** What the browser script saw: the callback's answer, or why it could not get there. */
interface BrowserReport {
  /** Status of the provider's authorization endpoint. */
  authorizationStatus?: number;
  /** The callback URL requested (after the mode's tampering). */
  callback?: string;
  /** Status and page the loopback server answered. */
  status?: number;
  page?: string;
  error?: string;
}

// The stand-in browser: `node browser.mjs <mode> <report URL> <authorization URL>`.
const browserScript = `
const [mode, reportURL, url] = process.argv.slice(2);
const report = (value) =>
  fetch(reportURL, { method: 'POST', body: JSON.stringify(value), headers: { 'Content-Type': 'application/json' } });
try {
  const authorization = new URL(url);
  if (mode === 'deny') authorization.searchParams.set('consent', 'deny');
  // The challenge of another verifier: the code is then bound to a verifier lading does not have.
  if (mode === 'swap-challenge') {
    authorization.searchParams.set('code_challenge', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  }
  // Another login's nonce: the provider then issues a token lading must not take for this login's.
  if (mode === 'swap-nonce') authorization.searchParams.set('nonce', 'another-login');
  const first = await fetch(authorization, { redirect: 'manual' });
  const location = first.headers.get('location');
  if (first.status !== 302 || location === null) {
    await report({ authorizationStatus: first.status, error: await first.text() });
  } else {
    const callback = new URL(location);
    if (mode === 'wrong-state') callback.searchParams.set('state', 'forged-state');
    const answer = await fetch(callback);
    await report({ authorizationStatus: first.status, callback: callback.href, status: answer.status, page: await answer.text() });
  }
} catch (e) {
  await report({ error: String(e) });
}
`;

let harness: SigstoreHarness;
let work: { dir: string; cleanup: () => Promise<void> };
let script: string;
let reporter: Server;
let reportURL: string;
const reports: BrowserReport[] = [];
const waiting: ((report: BrowserReport) => void)[] = [];

/** The next report of a browser script (each login in this file starts exactly one). */
function nextReport(): Promise<BrowserReport> {
  const ready = reports.shift();
  if (ready !== undefined) return Promise.resolve(ready);
  return new Promise((resolve) => waiting.push(resolve));
}

/** `BROWSER` running the script in `mode`. Its parts are split on spaces, so none may hold one. */
function browserFor(mode: string): string {
  const parts = [process.execPath, script, mode, reportURL];
  for (const part of parts) expect(part).not.toMatch(/\s/);
  return parts.join(' ');
}

/** Logs in at the harness's provider with the script in `mode`; returns the outcome and the browser's report. */
async function login(
  mode: string,
  extra: BrowserIdentityTokenOptions = {},
): Promise<{ token?: string; error?: unknown; report: BrowserReport; url: URL }> {
  const urls: string[] = [];
  const report = nextReport();
  const outcome = await browserIdentityToken({
    issuer: harness.oidcProvider.url,
    env: { PATH: process.env.PATH, BROWSER: browserFor(mode) },
    onAuthorizationURL: (u) => urls.push(u),
    ...extra,
  }).then(
    (token) => ({ token }),
    (error: unknown) => ({ error }),
  );
  expect(urls).toHaveLength(1);
  return { ...outcome, report: await report, url: new URL(urls[0] ?? '') };
}

/** Whether something still listens on the port of an authorization URL's redirect (asked for `/`, not the callback). */
function callbackListening(authorization: URL): Promise<boolean> {
  const port = Number(new URL(authorization.searchParams.get('redirect_uri') ?? '').port);
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/' }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => {
      resolve(false);
    });
    req.end();
  });
}

/** The oidc service's requests made since `from` (an index into the harness log). */
function oidcRequestsSince(from: number): string[] {
  return harness.requests
    .slice(from)
    .filter((r) => r.service === 'oidc')
    .map((r) => `${r.method} ${r.path} ${r.status}`);
}

beforeAll(async () => {
  harness = await startSigstoreHarness();
  work = await workFolder('oidc-login');
  script = path.join(work.dir, 'browser.mjs');
  await writeFile(script, browserScript);
  reporter = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const report = JSON.parse(Buffer.concat(chunks).toString('utf8')) as BrowserReport;
      const waiter = waiting.shift();
      if (waiter) waiter(report);
      else reports.push(report);
      res.end();
    });
  });
  await new Promise<void>((resolve) => reporter.listen(0, '127.0.0.1', resolve));
  reportURL = `http://127.0.0.1:${(reporter.address() as AddressInfo).port}/report`;
});

afterAll(async () => {
  await new Promise<void>((resolve) =>
    reporter.close(() => {
      resolve();
    }),
  );
  await harness.close();
  await work.cleanup();
});

describe('browserIdentityToken against the fake provider', () => {
  it('signs in: PKCE code flow through the loopback callback, ID token with this login’s nonce', async () => {
    const from = harness.requests.length;
    const { token, error, report, url } = await login('sign-in');
    expect(error).toBeUndefined();
    expect(url.origin + url.pathname).toBe(`${harness.oidcProvider.url}/auth`);
    expect(url.searchParams.get('client_id')).toBe('sigstore');
    expect(url.searchParams.get('scope')).toBe('openid email');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/localhost:\d+\/auth\/callback$/);
    const claims = decodeClaims(token ?? '');
    expect(claims).toMatchObject({
      iss: harness.oidcProvider.url,
      aud: 'sigstore',
      email: harness.oidcProvider.identity.email,
      nonce: url.searchParams.get('nonce'),
    });
    expect(report).toMatchObject({ authorizationStatus: 302, status: 200 });
    expect(report.page).toContain('<h1>Signed in</h1>');
    expect(oidcRequestsSince(from)).toEqual([
      'GET /.well-known/openid-configuration 200',
      'GET /auth 302',
      'POST /token 200',
    ]);
    expect(await callbackListening(url)).toBe(false);
  });

  it('refuses a redirect with another state, before any code exchange', async () => {
    const from = harness.requests.length;
    const { error, report, url } = await login('wrong-state');
    expect(error).toMatchObject({
      code: 'ERR_LADING_AUTH',
      message: `identity token login ${harness.oidcProvider.url}: the redirect's state is not this login's (a stale tab or a forged redirect); sign in again`,
    });
    expect(report.callback).toContain('state=forged-state');
    expect(report.status).toBe(400);
    expect(report.page).toContain('Sign-in failed');
    expect(report.page).toContain('the redirect&#39;s state is not this login&#39;s');
    expect(oidcRequestsSince(from).some((r) => r.startsWith('POST /token'))).toBe(false);
    expect(await callbackListening(url)).toBe(false);
  });

  it('refuses error=access_denied with the provider’s reason', async () => {
    const { error, report } = await login('deny');
    expect(error).toMatchObject({
      code: 'ERR_LADING_AUTH',
      message: `identity token login ${harness.oidcProvider.url}: the provider refused the sign-in: access_denied (the user denied access); sign in again and allow access`,
    });
    expect(report.callback).toContain('error=access_denied');
    expect(report.status).toBe(400);
  });

  it('fails when the provider refuses the PKCE verifier (a swapped challenge)', async () => {
    const from = harness.requests.length;
    const { error, report } = await login('swap-challenge');
    expect(error).toMatchObject({
      code: 'ERR_LADING_AUTH',
      message: `identity token login ${harness.oidcProvider.url}: the token endpoint refused the code: invalid_grant (PKCE verification failed); sign in again`,
    });
    expect(oidcRequestsSince(from)).toContain('POST /token 400');
    expect(report.status).toBe(400);
    expect(report.page).toContain('PKCE verification failed');
  });

  it('refuses an ID token whose nonce is not this login’s', async () => {
    const from = harness.requests.length;
    const { error, report } = await login('swap-nonce');
    expect(error).toMatchObject({
      code: 'ERR_LADING_AUTH',
      message: `identity token login ${harness.oidcProvider.url}: the id_token's nonce is not this login's (a replayed or substituted token); sign in again`,
    });
    expect(oidcRequestsSince(from)).toContain('POST /token 200');
    expect(report.status).toBe(400);
  });

  it('stops waiting when aborted, and closes the loopback server', async () => {
    const controller = new AbortController();
    let announced: (url: string) => void = () => undefined;
    const announcement = new Promise<string>((resolve) => {
      announced = resolve;
    });
    const outcome = browserIdentityToken({
      issuer: harness.oidcProvider.url,
      openBrowser: false,
      signal: controller.signal,
      onAuthorizationURL: (u) => {
        announced(u);
      },
    }).then(
      () => 'signed in',
      (e: unknown) => (e as Error).message,
    );
    // The URL is announced once the server listens: it must answer then, and no longer after the abort.
    const url = new URL(await announcement);
    expect(await callbackListening(url)).toBe(true);
    controller.abort(new Error('user gave up'));
    expect(await outcome).toBe('user gave up');
    expect(await callbackListening(url)).toBe(false);
  });

  it('refuses a discovery document naming another issuer', async () => {
    const other = `${harness.oidcProvider.url}/`.replace('127.0.0.1', 'localhost');
    await expect(browserIdentityToken({ issuer: other, openBrowser: false })).rejects.toMatchObject({
      code: 'ERR_LADING_AUTH',
      message: `identity token login ${other}: the discovery document names issuer ${harness.oidcProvider.url}; give that URL as the issuer if it is the one meant`,
    });
  });
});

describe('lading sign with the browser login', () => {
  let env: NodeJS.ProcessEnv;
  let name: string;
  let digest: string;

  const lading = ladingIn(() => ({ cwd: work.dir, env }), { inProcess: true });
  /** `lading sign`'s flags for the browser login at the harness's provider, and its Fulcio and Rekor, then `ref`. */
  const browserSignArgs = (ref: string): string[] => [
    '--oidc-issuer',
    harness.oidcProvider.url,
    '--fulcio-url',
    harness.fulcioURL,
    '--rekor-url',
    harness.rekorURL,
    ref,
  ];

  beforeAll(async () => {
    ({ env } = await makeToolHome(work.dir));
    await writeFile(path.join(work.dir, 'notes.txt'), 'release notes\n');
    name = `${testbed().registries.anonymous.host}/oidc/browser-${randomBytes(4).toString('hex')}`;
    const pushed = await lading(['push', `${name}:v1`, 'notes.txt']);
    expectOK(pushed);
    digest = pushed.stdout.trim();
  });

  it('--oidc-browser signs with the browser’s identity; lading verify and cosign verify accept it', async () => {
    const report = nextReport();
    const signed = await lading(['sign', '--json', '--oidc-browser', ...browserSignArgs(`${name}:v1`)], {
      BROWSER: browserFor('sign-in'),
    });
    expectOK(signed);
    expect((await report).status).toBe(200);
    expect(signed.stderr).toMatch(
      /^Sign in with your browser to get a signing identity\. If it does not open, visit:\nhttp:\/\/127\.0\.0\.1:\d+\/auth\?/m,
    );
    expect(json<SignCommandResult>(signed)).toMatchObject({ digest } satisfies Partial<SignCommandResult>);

    const subject = harness.oidcProvider.identity.email ?? '';
    const trust = (who: string): string[] => ladingIdentityFlags(harness, who, harness.oidcProvider.url);
    const verified = await lading(['verify', '--json', ...trust(subject), `${name}:v1`]);
    expectOK(verified);
    expect(json<VerifyCommandResult>(verified).verified[0]).toMatchObject({
      identity: subject,
      issuer: harness.oidcProvider.url,
    });
    const other = await lading(['verify', '--json', ...trust('alice@example.com'), `${name}:v1`]);
    expect(other.code).toBe(5);

    const oracle = await cosign(harness, work.dir, [
      'verify',
      ...cosignIdentityFlags(harness, subject, harness.oidcProvider.url),
      '--allow-http-registry',
      `${name}@${digest}`,
    ]);
    expectOK(oracle);
  });

  it('the provider’s refusal is exit 4 with its reason', async () => {
    const report = nextReport();
    const denied = await lading(
      ['sign', '--json', '--oidc-browser', '--oidc-issuer', harness.oidcProvider.url, `${name}:v1`],
      { BROWSER: browserFor('deny') },
    );
    await report;
    expect(denied.code).toBe(4);
    expect(json<ErrorJSON>(denied).error).toMatchObject({
      code: 'ERR_LADING_AUTH',
      message: expect.stringContaining('the provider refused the sign-in: access_denied') as unknown,
    });
  });

  it('at a terminal, with no token in the environment, the browser login starts without --oidc-browser', async () => {
    const report = nextReport();
    const run = await runLadingAtTerminal(['sign', ...browserSignArgs(`${name}:v1`)], {
      cwd: work.dir,
      env: { ...env, BROWSER: browserFor('sign-in') },
    });
    expect(run.code, run.screen).toBe(0);
    expect((await report).status).toBe(200);
    expect(run.screen).toContain('Sign in with your browser to get a signing identity.');
    const identity = ladingIdentityFlags(harness, harness.oidcProvider.identity.email ?? '', harness.oidcProvider.url);
    expectOK(await lading(['verify', ...identity, `${name}:v1`]));
  });

  it('without a terminal or --oidc-browser, no token is exit 4 naming the browser login', async () => {
    const result = await lading(['sign', `${name}:v1`], { BROWSER: browserFor('never-started') });
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/^Error: identity token: none in the environment .* pass --oidc-browser/m);
    expect(result.stderr).not.toContain('docker login');
  });

  it('--oidc-browser with --key or --identity-token is a usage error', async () => {
    const withKey = await lading(['sign', '--oidc-browser', '--key', 'cosign.key', `${name}:v1`]);
    expect(withKey.code).toBe(2);
    expect(withKey.stderr).toContain('--oidc-browser');
    const withToken = await lading([
      'sign',
      '--oidc-issuer',
      'https://issuer.example',
      '--identity-token',
      'x',
      `${name}:v1`,
    ]);
    expect(withToken.code).toBe(2);
    expect(withToken.stderr).toContain('--oidc-issuer');
  });
});
