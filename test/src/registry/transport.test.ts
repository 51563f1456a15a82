// The transport options of the registry client against real servers: proxies from the environment (a forwarding
// proxy written here), TLS trust (missing CA, explicit skip-verify, a private CA), mutual TLS (an extra distribution
// with `http.tls.clientcas`), the User-Agent, `node:diagnostics_channel` events, and aborts.
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { DiagnosticsChannels, ErrorCodes, LadingError, isLadingError, type RegistryClient } from '@lading/core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FakeRegistry, startFakeRegistry } from '../fake-registry/index.js';
import { distributionConfig, toYAML, type RunningDistribution } from '../testbed/distribution.js';
import { makeToolHome, run, testbed, toolPath, type TestBed } from '../testbed/index.js';
import { createPKI, type TestPKI } from '../testbed/pki.js';
import { startServer, withFreePort } from '../testbed/process.js';
import { collect, isolatedClient, pushSmallArtifact, randomBlob } from './helpers.js';

const bed: TestBed = testbed();
const unique = (): string => randomBytes(4).toString('hex');

/** Runs `fn` with a client and closes the client afterwards. */
async function using<T>(client: RegistryClient, fn: (client: RegistryClient) => Promise<T>): Promise<T> {
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** The rejection of `promise` (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
}

/** The `code` properties along an error's cause chain. */
function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

// ---------------------------------------------------------------------------------------------------- proxy

/** A forwarding HTTP proxy on 127.0.0.1 that records what it was asked to do. */
interface TestProxy {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** `GET http://host/path` (absolute-form requests it forwarded) and `CONNECT host:port` (tunnels it opened). */
  seen: string[];
  close(): Promise<void>;
}

/**
 * The name tests give the registries when they go through the proxy. It resolves nowhere: only the proxy knows it
 * means 127.0.0.1, so a request that reaches a registry by that name went through the proxy. (Loopback names are
 * never proxied, as in Go's net/http.)
 */
const proxiedName = 'registry.lading.test';

/** True for `registry.lading.test:<port>`: the proxy forwards to loopback only, never to the outside world. */
function isLoopbackTarget(host: string): boolean {
  return new RegExp(`^${proxiedName.replace(/\./g, '\\.')}:\\d+$`).test(host);
}

/** The registry's `host:port` with the proxied name instead of 127.0.0.1. */
function viaProxy(host: string): string {
  return host.replace('127.0.0.1', proxiedName);
}

async function startProxy(): Promise<TestProxy> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen.push(`${req.method ?? '?'} ${req.url ?? ''}`);
    let target: URL;
    try {
      target = new URL(req.url ?? ''); // absolute-form: the request line names the whole URL
    } catch {
      res.writeHead(400).end('origin-form request to a proxy');
      return;
    }
    if (target.protocol !== 'http:' || !isLoopbackTarget(target.host)) {
      res.writeHead(403).end('this proxy forwards to http://127.0.0.1 only');
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = http.request(
      target,
      { method: req.method, headers, agent: false, hostname: '127.0.0.1' },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url ?? ''}`);
    const target = req.url ?? '';
    if (!isLoopbackTarget(target)) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(target.split(':')[1]), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}

describe('proxies from the environment', () => {
  let proxy: TestProxy;
  beforeAll(async () => {
    proxy = await startProxy();
  });
  afterAll(async () => {
    await proxy.close();
  });

  it('sends plain-HTTP registry requests through HTTP_PROXY as absolute-form requests', async () => {
    const host = viaProxy(bed.registries.anonymous.host);
    const name = `${host}/proxy/via-${unique()}`;
    const before = proxy.seen.length;
    await using(isolatedClient({ env: { HTTP_PROXY: proxy.url }, plainHTTP: true }), async (client) => {
      const { manifest, layer } = await pushSmallArtifact(client, name, 'v1', 'through the proxy');
      const repo = client.repository(name);
      expect((await repo.resolve('v1')).digest).toBe(manifest.digest);
      expect((await collect(await repo.fetch(layer))).toString()).toBe('through the proxy');
    });
    const seen = proxy.seen.slice(before);
    // Every request of the operation went through the proxy, none tunnelled, all aimed at the registry.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((line) => line.includes(` http://${host}/v2/`))).toBe(true);
    expect(seen).toContain(`HEAD http://${host}/v2/${name.slice(host.length + 1)}/manifests/v1`);
    expect(seen.some((line) => line.startsWith('PUT '))).toBe(true);
  });

  it('honours the lower-case http_proxy too', async () => {
    const host = viaProxy(bed.registries.anonymous.host);
    const before = proxy.seen.length;
    await using(isolatedClient({ env: { http_proxy: proxy.url }, plainHTTP: true }), async (client) => {
      await pushSmallArtifact(client, `${host}/proxy/lower-${unique()}`, 'v1');
    });
    expect(proxy.seen.length).toBeGreaterThan(before);
  });

  it('never proxies loopback registries, like Go tools', async () => {
    const r = bed.registries.anonymous;
    const before = proxy.seen.length;
    await using(isolatedClient({ env: { HTTP_PROXY: proxy.url } }), async (client) => {
      const name = `${r.host}/proxy/loopback-${unique()}`;
      const { manifest } = await pushSmallArtifact(client, name, 'v1');
      expect((await client.repository(name).resolve('v1')).digest).toBe(manifest.digest);
    });
    expect(proxy.seen.length).toBe(before);
  });

  it.each([
    ['the host', (host: string) => host.split(':')[0] ?? ''],
    ['host:port', (host: string) => host],
    ['a list holding the host', (host: string) => `example.com, ${host.split(':')[0] ?? ''}`],
    ['a domain suffix', () => '.lading.test'],
  ])('bypasses the proxy when NO_PROXY names %s', async (_what, noProxy) => {
    const host = viaProxy(bed.registries.anonymous.host);
    const before = proxy.seen.length;
    await using(
      isolatedClient({
        env: { HTTP_PROXY: proxy.url, NO_PROXY: noProxy(host) },
        plainHTTP: true,
        retry: { retries: 0 },
      }),
      async (client) => {
        // Bypassing the proxy means dialling the name directly, which resolves nowhere.
        const err = await rejection(client.repository(`${host}/proxy/bypass`).resolve('v1'));
        expect(isLadingError(err, ErrorCodes.network)).toBe(true);
        expect(causeCodes(err).some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN')).toBe(true);
      },
    );
    expect(proxy.seen.length).toBe(before);
  });

  it('does not send https requests to HTTP_PROXY', async () => {
    const host = viaProxy(bed.registries.tls.host);
    const before = proxy.seen.length;
    await using(
      isolatedClient({
        env: { HTTP_PROXY: proxy.url },
        plainHTTP: false,
        insecureSkipTLSVerify: true,
        retry: { retries: 0 },
      }),
      async (client) => {
        const err = await rejection(client.repository(`${host}/proxy/https`).resolve('v1'));
        expect(causeCodes(err).some((c) => c === 'ENOTFOUND' || c === 'EAI_AGAIN')).toBe(true);
      },
    );
    expect(proxy.seen.length).toBe(before);
  });

  it('tunnels HTTPS registry requests through HTTPS_PROXY with CONNECT, still verifying the registry', async () => {
    const host = viaProxy(bed.registries.tls.host);
    const name = `${host}/proxy/tunnel-${unique()}`;
    const before = proxy.seen.length;
    // The test CA's certificate names 127.0.0.1 and localhost, not the proxied name: skip verification to show the
    // tunnel works, then show that without skipping, the certificate is still checked through the tunnel.
    await using(
      isolatedClient({ env: { HTTPS_PROXY: proxy.url }, insecureSkipTLSVerify: true, plainHTTP: false }),
      async (client) => {
        const { manifest } = await pushSmallArtifact(client, name, 'v1');
        expect((await client.repository(name).resolve('v1')).digest).toBe(manifest.digest);
      },
    );
    const seen = proxy.seen.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((line) => line === `CONNECT ${host}`)).toBe(true);
    await using(
      isolatedClient({ env: { HTTPS_PROXY: proxy.url }, ca: bed.ca.pem, plainHTTP: false, retry: { retries: 0 } }),
      async (client) => {
        const err = await rejection(client.repository(name).resolve('v1'));
        expect(isLadingError(err, ErrorCodes.network)).toBe(true);
        expect(causeCodes(err)).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------------- TLS trust

describe('TLS trust against the HTTPS distribution', () => {
  // 127.0.0.1 defaults to plain HTTP (as in oras), so every client here asks for HTTPS with `plainHTTP: false`.

  it('refuses a registry whose certificate chains to an unknown CA, with ERR_LADING_NETWORK and no retries', async () => {
    const r = bed.registries.tls;
    const events: unknown[] = [];
    const onRetry = (e: unknown): void => {
      events.push(e);
    };
    diagnostics.subscribe(DiagnosticsChannels.retry, onRetry);
    try {
      await using(isolatedClient({ plainHTTP: false }), async (client) => {
        const err = await rejection(client.repository(`${r.host}/tls/untrusted-${unique()}`).resolve('v1'));
        expect(err).toBeInstanceOf(LadingError);
        expect((err as LadingError).code).toBe(ErrorCodes.network);
        expect((err as LadingError).message).toContain(`https://${r.host}/v2/`);
        // Node's verdict: the server sent its leaf, whose issuer (the test CA) is in no trust store.
        expect(causeCodes(err)).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
        expect((err as LadingError).message).toMatch(/unable to verify the first certificate/);
      });
    } finally {
      diagnostics.unsubscribe(DiagnosticsChannels.retry, onRetry);
    }
    // A certificate failure is not transient: retrying cannot cure it.
    expect(events).toEqual([]);
  });

  it('accepts the registry with insecureSkipTLSVerify', async () => {
    const r = bed.registries.tls;
    const name = `${r.host}/tls/skip-${unique()}`;
    await using(isolatedClient({ plainHTTP: false, insecureSkipTLSVerify: true }), async (client) => {
      const { manifest, layer } = await pushSmallArtifact(client, name, 'v1', 'unverified');
      const repo = client.repository(name);
      expect((await repo.resolve('v1')).digest).toBe(manifest.digest);
      expect((await collect(await repo.fetch(layer))).toString()).toBe('unverified');
    });
  });

  it('accepts the registry with its CA as `ca`', async () => {
    const r = bed.registries.tls;
    const name = `${r.host}/tls/ca-${unique()}`;
    await using(isolatedClient({ plainHTTP: false, ca: bed.ca.pem }), async (client) => {
      const { manifest, layer } = await pushSmallArtifact(client, name, 'v1', 'verified');
      const repo = client.repository(name);
      expect((await repo.resolve('v1')).digest).toBe(manifest.digest);
      expect((await collect(await repo.fetch(layer))).toString()).toBe('verified');
    });
  });
});

// ---------------------------------------------------------------------------------------------------- mTLS

/** Issues a client certificate (EC P-256, `extendedKeyUsage = clientAuth`) from `ca` into `dir`. */
async function issueClientCert(dir: string, ca: TestPKI['ca'], name: string): Promise<{ cert: string; key: string }> {
  const cnf = path.join(dir, `${name}.cnf`);
  await writeFile(
    cnf,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      '[client_ext]',
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = clientAuth',
      '',
    ].join('\n'),
  );
  const keyFile = path.join(dir, `${name}.key`);
  const csrFile = path.join(dir, `${name}.csr`);
  const certFile = path.join(dir, `${name}.crt`);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  await run('openssl', ['req', '-new', '-config', cnf, '-key', keyFile, '-subj', `/CN=${name}`, '-out', csrFile]);
  await run('openssl', [
    ...['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-out', certFile],
    ...['-extfile', cnf, '-extensions', 'client_ext', '-days', '1', '-sha256', '-set_serial', `0x01${unique()}`],
  ]);
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
}

/** True once `url` answers over TLS with the given client certificate. */
async function answersWithClientCert(url: string, tls: { ca: string; cert: string; key: string }): Promise<boolean> {
  const dispatcher = new Agent({ connect: tls });
  try {
    const res = await request(url, { dispatcher, signal: AbortSignal.timeout(2000) });
    await res.body.dump();
    return res.statusCode < 500;
  } finally {
    await dispatcher.close();
  }
}

describe('mutual TLS against a distribution with http.tls.clientcas', () => {
  let dir: string;
  let pki: TestPKI;
  let client: { cert: string; key: string };
  let stranger: { cert: string; key: string };
  let registry: RunningDistribution | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(bed.dir, 'mtls-'));
    // Its own PKI: a CA issuing both the server certificate (127.0.0.1) and the client certificate the registry
    // asks for; a second, unrelated CA issues a client certificate the registry must refuse.
    pki = await createPKI(path.join(dir, 'pki'));
    const other = await createPKI(path.join(dir, 'other-pki'));
    client = await issueClientCert(pki.dir, pki.ca, 'lading-client');
    stranger = await issueClientCert(other.dir, other.ca, 'stranger');
    const storageDir = path.join(dir, 'storage');
    await mkdir(storageDir);
    registry = await withFreePort(async (port) => {
      const config = distributionConfig({
        port,
        storageDir,
        auth: { kind: 'anonymous' },
        tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile },
      });
      // distribution 2.8 turns a non-empty `clientcas` into tls.RequireAndVerifyClientCert with this pool.
      (config.http as { tls: Record<string, unknown> }).tls.clientcas = [pki.ca.certFile];
      const configFile = path.join(dir, 'config.yml');
      await writeFile(configFile, toYAML(config));
      const host = `127.0.0.1:${port}`;
      const url = `https://${host}`;
      const server = await startServer({
        name: 'distribution (mtls)',
        command: toolPath('docker-registry'),
        args: ['serve', configFile],
        logFile: path.join(dir, 'registry.log'),
        cwd: dir,
        ready: () => answersWithClientCert(`${url}/v2/`, { ca: pki.ca.certPem, ...client }),
      });
      return Object.assign(server, { name: 'mtls', host, url, configFile, storageDir });
    });
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('is refused without a client certificate', async () => {
    const host = registry?.host ?? '';
    await using(isolatedClient({ plainHTTP: false, ca: pki.ca.certPem, retry: { retries: 0 } }), async (c) => {
      const err = await rejection(c.repository(`${host}/mtls/anonymous`).resolve('v1'));
      expect(isLadingError(err, ErrorCodes.network)).toBe(true);
      // TLS 1.3: the server's "certificate required" alert (116) reaches the client on its first read. Should the
      // server's close overtake the alert (a reset), the socket error is what the client sees instead.
      expect(causeCodes(err).join(' ')).toMatch(/ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ECONNRESET|UND_ERR_SOCKET/);
    });
  });

  it('is refused with a client certificate from a CA it does not trust', async () => {
    const host = registry?.host ?? '';
    const options = { plainHTTP: false, ca: pki.ca.certPem, ...stranger, retry: { retries: 0 } };
    await using(isolatedClient(options), async (c) => {
      const err = await rejection(c.repository(`${host}/mtls/stranger`).resolve('v1'));
      expect(isLadingError(err, ErrorCodes.network)).toBe(true);
      expect(causeCodes(err).join(' ')).toMatch(/ERR_SSL_TLSV1_ALERT_UNKNOWN_CA|ECONNRESET|UND_ERR_SOCKET/);
    });
  });

  it('works with cert + key + ca, and oras reads what was pushed with the same certificate', async () => {
    const host = registry?.host ?? '';
    const name = `${host}/mtls/app-${unique()}`;
    await using(isolatedClient({ plainHTTP: false, ca: pki.ca.certPem, ...client }), async (c) => {
      const { manifest, layer } = await pushSmallArtifact(c, name, 'v1', 'mutual');
      const repo = c.repository(name);
      expect((await repo.resolve('v1')).digest).toBe(manifest.digest);
      expect((await collect(await repo.fetch(layer))).toString()).toBe('mutual');
      const { env } = await makeToolHome(bed.dir);
      const tls = [
        '--ca-file',
        pki.ca.certFile,
        '--cert-file',
        path.join(pki.dir, 'lading-client.crt'),
        '--key-file',
        path.join(pki.dir, 'lading-client.key'),
      ];
      const resolved = await run('oras', ['resolve', ...tls, `${name}:v1`], { env });
      expect(resolved.stdout.trim()).toBe(manifest.digest);
    });
  });
});

// ---------------------------------------------------------------------------------------------------- diagnostics

interface RequestEvent {
  method: string;
  url: string;
  status: number;
  attempt: number;
  durationMs: number;
}

interface RetryEvent {
  method: string;
  url: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

/** Collects what lading publishes on its channels while `fn` runs. */
async function recordEvents<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; requests: RequestEvent[]; retries: RetryEvent[] }> {
  const requests: RequestEvent[] = [];
  const retries: RetryEvent[] = [];
  const onRequest = (e: unknown): void => {
    requests.push(e as RequestEvent);
  };
  const onRetry = (e: unknown): void => {
    retries.push(e as RetryEvent);
  };
  diagnostics.subscribe(DiagnosticsChannels.request, onRequest);
  diagnostics.subscribe(DiagnosticsChannels.retry, onRetry);
  try {
    return { result: await fn(), requests, retries };
  } finally {
    diagnostics.unsubscribe(DiagnosticsChannels.request, onRequest);
    diagnostics.unsubscribe(DiagnosticsChannels.retry, onRetry);
  }
}

describe('User-Agent and diagnostics events', () => {
  let fake: FakeRegistry;
  beforeAll(async () => {
    fake = await startFakeRegistry();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('publishes a request event per exchange of a push, with no password or Authorization value', async () => {
    const r = bed.registries.htpasswd;
    const { username, password } = r.credentials;
    const repository = `basic/diagnostics-${unique()}`;
    const name = `${r.host}/${repository}`;
    const { requests, retries } = await recordEvents(() =>
      using(isolatedClient({ credential: { kind: 'basic', username, password } }), (client) =>
        pushSmallArtifact(client, name, 'v1'),
      ),
    );
    const mine = requests.filter((e) => e.url.includes(`/v2/${repository}/`));
    for (const e of mine) {
      expect(e).toEqual({
        method: expect.stringMatching(/^(HEAD|GET|POST|PUT|PATCH|DELETE)$/) as unknown,
        url: expect.stringContaining(`http://${r.host}/v2/${repository}/`) as unknown,
        status: expect.any(Number) as unknown,
        attempt: 0,
        durationMs: expect.any(Number) as unknown,
      });
    }
    // One event per HTTP exchange, the 401 challenge included: two monolithic blob uploads (POST then PUT), the
    // manifest by digest, then under its tag.
    const calls = mine.map((e) => `${e.method} ${e.status} ${new URL(e.url).pathname.split('/').slice(-2).join('/')}`);
    expect(calls).toEqual([
      'POST 401 uploads/', // the Basic challenge, answered once for the whole client
      'POST 202 uploads/',
      expect.stringMatching(/^PUT 201 uploads\/[\w-]+$/),
      'POST 202 uploads/',
      expect.stringMatching(/^PUT 201 uploads\/[\w-]+$/),
      expect.stringMatching(/^PUT 201 manifests\/sha256:[0-9a-f]{64}$/),
      'PUT 201 manifests/v1',
    ]);
    // Upload URLs carry distribution's `_state` token: redacted, while the digest stays readable.
    expect(mine[2]?.url).toMatch(/_state=REDACTED&digest=sha256%3A[0-9a-f]{64}$/);
    expect(retries).toEqual([]);
    const text = JSON.stringify({ requests, retries });
    const basic = Buffer.from(`${username}:${password}`).toString('base64');
    expect(text).not.toContain(password);
    expect(text).not.toContain(basic);
    expect(text).not.toMatch(/authorization|basic |bearer /i);
  });

  it('sends the configured User-Agent, and lading/<version> by default', async () => {
    const blob = fake.putBlob('agent/app', 'who is asking');
    fake.clearLog();
    await using(isolatedClient({ userAgent: 'acme-deployer/2.0 lading' }), async (client) => {
      await collect(await client.repository(`${fake.host}/agent/app`).fetch(blob));
    });
    await using(isolatedClient(), async (client) => {
      await collect(await client.repository(`${fake.host}/agent/app`).fetch(blob));
    });
    expect(fake.requests.map((r) => r.headers['user-agent'])).toEqual([
      'acme-deployer/2.0 lading',
      expect.stringMatching(/^lading\/\d+\.\d+\.\d+/),
    ]);
  });

  it('sends the User-Agent to the token server as well', async () => {
    const r = bed.registries.token;
    const alice = bed.tokenServer.users.alice;
    const repository = `alice/agent-${unique()}`;
    const agent = `lading-transport-test/${unique()}`;
    const credential = { kind: 'basic' as const, username: alice.username, password: alice.password };
    await using(isolatedClient({ credential, userAgent: agent }), (client) =>
      pushSmallArtifact(client, `${r.host}/${repository}`, 'v1'),
    );
    const res = await fetch(bed.tokenServer.requestsURL);
    const records = (await res.json()) as { scopes: string[]; userAgent: string | null }[];
    const mine = records.filter((t) => t.scopes.some((s) => s.includes(repository)));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((t) => t.userAgent === agent)).toBe(true);
  });

  it('publishes a retry event for a 503, then the successful attempt', async () => {
    const blob = fake.putBlob('retry/app', 'second time lucky');
    fake.clearLog();
    const path = `/v2/retry/app/blobs/${blob.digest}`;
    fake.inject({ method: 'GET', path, times: 1, action: { kind: 'status', status: 503 } });
    const { result, requests, retries } = await recordEvents(() =>
      using(isolatedClient(), async (client) => collect(await client.repository(`${fake.host}/retry/app`).fetch(blob))),
    );
    expect(result.toString()).toBe('second time lucky');
    expect(retries).toEqual([
      {
        method: 'GET',
        url: `${fake.url}${path}`,
        attempt: 0,
        delayMs: expect.any(Number) as unknown,
        reason: 'HTTP 503',
      },
    ]);
    expect(requests.map((e) => [e.method, e.status, e.attempt])).toEqual([
      ['GET', 503, 0],
      ['GET', 200, 1],
    ]);
    expect(fake.requests.map((r) => [r.method, r.status])).toEqual([
      ['GET', 503],
      ['GET', 200],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------- abort

describe('aborting', () => {
  let fake: FakeRegistry;
  beforeAll(async () => {
    fake = await startFakeRegistry();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('rejects a slow blob download as soon as the signal aborts, with no retry after it', async () => {
    const { bytes } = randomBlob(256 * 1024);
    const blob = fake.putBlob('abort/app', bytes);
    fake.clearLog();
    // 1 KiB every 50 ms: the whole blob would take over 12 s, so the abort lands mid-body.
    fake.inject({
      method: 'GET',
      path: `/v2/abort/app/blobs/${blob.digest}`,
      action: { kind: 'slow', chunkBytes: 1024, delayMs: 50, maxTotalMs: 60_000 },
    });
    const controller = new AbortController();
    let received = 0;
    const { retries } = await recordEvents(() =>
      using(isolatedClient({ retry: { minDelayMs: 1, maxDelayMs: 5 } }), async (client) => {
        const stream = await client.repository(`${fake.host}/abort/app`).fetch(blob, { signal: controller.signal });
        const err = await rejection(
          (async () => {
            for await (const chunk of stream) {
              received += chunk.byteLength;
              controller.abort();
            }
          })(),
        );
        expect((err as Error).name).toBe('AbortError');
      }),
    );
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(bytes.byteLength);
    // Any retry would come within a few milliseconds (the backoff is 1-5 ms): give it ample time to show up.
    await delay(200);
    expect(retries).toEqual([]);
    const gets = fake.requests.filter((r) => r.path.endsWith(blob.digest));
    expect(gets).toHaveLength(1);
    expect(gets[0]?.bytesOut).toBeLessThan(bytes.byteLength);
  });

  it('rejects while waiting to retry after a 503, sending nothing more', async () => {
    const blob = fake.putBlob('abort/backoff', 'never fetched');
    fake.clearLog();
    const path = `/v2/abort/backoff/blobs/${blob.digest}`;
    // Retry-After: 20 s keeps the client waiting; the abort fires as soon as the retry is announced.
    fake.inject({ method: 'GET', path, action: { kind: 'status', status: 503, retryAfter: 20 } });
    const controller = new AbortController();
    const onRetry = (): void => {
      controller.abort();
    };
    diagnostics.subscribe(DiagnosticsChannels.retry, onRetry);
    try {
      await using(isolatedClient({ retry: { maxRetryAfterMs: 60_000 } }), async (client) => {
        const err = await rejection(
          client.repository(`${fake.host}/abort/backoff`).fetch(blob, { signal: controller.signal }),
        );
        expect((err as Error).name).toBe('AbortError');
      });
    } finally {
      diagnostics.unsubscribe(DiagnosticsChannels.retry, onRetry);
    }
    expect(fake.requests.map((r) => [r.method, r.path, r.status])).toEqual([['GET', path, 503]]);
  });
});
