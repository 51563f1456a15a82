// Test controls of the fake registry: fault injection, strict mode, observation, auth and the blob redirect.

import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type FakeRegistry, Header, sha256Digest, startFakeRegistry } from './fake-registry/index.js';

const BLOB = Buffer.from(Array.from({ length: 8192 }, (_, i) => i % 251));
const BLOB_DIGEST = sha256Digest(BLOB);

describe('fake registry: fault injection', () => {
  let registry: FakeRegistry;
  let blobURL: string;
  beforeAll(async () => {
    registry = await startFakeRegistry();
    registry.putBlob('faulty', BLOB);
    blobURL = `${registry.url}/v2/faulty/blobs/${BLOB_DIGEST}`;
  });
  afterEach(() => {
    registry.clearFaults();
    registry.clearLog();
  });
  afterAll(async () => {
    await registry.close();
  });

  it('answers 429 with Retry-After the first N times, then lets requests through, counting firings', async () => {
    const rule = registry.inject({
      method: 'GET',
      path: /\/blobs\//,
      times: 2,
      action: { kind: 'status', status: 429, retryAfter: 3 },
    });
    const first = await fetch(blobURL);
    expect(first.status).toBe(429);
    expect(first.headers.get(Header.retryAfter)).toBe('3');
    expect(((await first.json()) as { errors: { code: string }[] }).errors[0]?.code).toBe('TOOMANYREQUESTS');
    expect((await fetch(blobURL)).status).toBe(429);
    const third = await fetch(blobURL);
    expect(third.status).toBe(200);
    expect(Buffer.from(await third.arrayBuffer()).equals(BLOB)).toBe(true);
    expect(rule.fired).toBe(2);
    expect(rule.seen).toBe(3);
    expect(registry.requests.map((r) => r.fault?.kind)).toEqual(['status', 'status', undefined]);
  });

  it('answers 5xx and 408 without touching state: a faulted PUT stores nothing', async () => {
    registry.inject({ method: 'POST', times: 1, action: { kind: 'status', status: 503 } });
    registry.inject({ method: 'POST', skip: 1, times: 1, action: { kind: 'status', status: 408 } });
    const url = `${registry.url}/v2/faulty/blobs/uploads/?digest=${sha256Digest('x')}`;
    expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(503);
    expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(408);
    expect(registry.getBlob('faulty', sha256Digest('x'))).toBeUndefined();
    expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(201);
  });

  it('fires only on the selected occurrence with skip, and on requests a predicate selects', async () => {
    const second = registry.inject({ method: 'HEAD', skip: 1, times: 1, action: { kind: 'status', status: 500 } });
    const byHeader = registry.inject({
      path: (req) => req.headers['x-test'] === 'boom',
      action: { kind: 'status', status: 502 },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(blobURL, { method: 'HEAD' })).status);
    expect(statuses).toEqual([200, 500, 200]);
    expect((await fetch(blobURL, { headers: { 'x-test': 'boom' } })).status).toBe(502);
    expect(second.fired).toBe(1);
    expect(byHeader.fired).toBe(1);
  });

  it('drops the connection after N body bytes: the client errors and the counters show the partial body', async () => {
    registry.inject({
      method: 'GET',
      path: `/v2/faulty/blobs/${BLOB_DIGEST}`,
      times: 1,
      action: { kind: 'drop', afterBytes: 1000 },
    });
    const res = await fetch(blobURL);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(BLOB.length));
    await expect(res.arrayBuffer()).rejects.toThrow();
    expect(registry.blobBytesServed(BLOB_DIGEST)).toBe(1000);
    expect(registry.requests[0]?.bytesOut).toBe(1000);
    const retry = await fetch(blobURL);
    expect(Buffer.from(await retry.arrayBuffer()).equals(BLOB)).toBe(true);
  });

  it('applies a dropped PATCH before cutting the answer, so the upload status shows the bytes', async () => {
    const start = await fetch(`${registry.url}/v2/faulty/blobs/uploads/`, { method: 'POST' });
    const location = new URL(start.headers.get('location') ?? '', registry.url).href;
    registry.inject({ method: 'PATCH', times: 1, action: { kind: 'drop', afterBytes: 0 } });
    await expect(
      fetch(location, { method: 'PATCH', headers: { 'content-range': '0-4' }, body: 'abcde' }).then((r) => r.text()),
    ).rejects.toThrow();
    expect(registry.requests.find((r) => r.method === 'PATCH')).toMatchObject({ status: 0, bytesIn: 5 });
    const status = await fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get(Header.range)).toBe('0-4');
  });

  it('serves wrong bytes of the right length: the body no longer matches Docker-Content-Digest', async () => {
    registry.inject({ method: 'GET', path: /\/blobs\//, times: 1, action: { kind: 'corrupt' } });
    const res = await fetch(blobURL);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(BLOB.length);
    expect(res.headers.get(Header.contentDigest)).toBe(BLOB_DIGEST);
    expect(sha256Digest(body)).not.toBe(BLOB_DIGEST);
  });

  it('sends a slow body in small chunks that still add up to the blob', async () => {
    registry.inject({ method: 'GET', times: 1, action: { kind: 'slow', chunkBytes: 1024, delayMs: 5 } });
    const res = await fetch(blobURL);
    if (!res.body) throw new Error('no body');
    const chunks: Uint8Array[] = [];
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(BLOB)).toBe(true);
    expect(chunks.length).toBeGreaterThan(1);
    expect(registry.requests[0]?.fault?.kind).toBe('slow');
  });

  it('answers with an HTML page instead of a manifest', async () => {
    registry.putManifest('faulty', { schemaVersion: 2 }, { tag: 'v1' });
    registry.inject({ path: /\/manifests\//, times: 1, action: { kind: 'garbage' } });
    const res = await fetch(`${registry.url}/v2/faulty/manifests/v1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    await expect(res.json()).rejects.toThrow();
  });

  it('validates rules eagerly, naming the bad field', () => {
    expect(() => registry.inject({ action: { kind: 'status', status: 99 } })).toThrow(/rule\.action\.status/);
    expect(() => registry.inject({ times: -1, action: { kind: 'corrupt' } })).toThrow(/rule\.times/);
  });
});

describe('fake registry: strict mode and observation', () => {
  let registry: FakeRegistry;
  beforeAll(async () => {
    registry = await startFakeRegistry();
  });
  afterEach(() => {
    registry.clearExpectations();
    registry.clearLog();
  });
  afterAll(async () => {
    await registry.close();
  });

  it('refuses unexpected requests with 500 and assertNoUnexpected lists them', async () => {
    const blob = registry.putBlob('strict', 'allowed');
    registry.expect({ method: 'GET', path: '/v2/' }, { method: 'GET', path: /^\/v2\/strict\/blobs\//, times: 1 });
    expect((await fetch(`${registry.url}/v2/`)).status).toBe(200);
    expect((await fetch(`${registry.url}/v2/strict/blobs/${blob.digest}`)).status).toBe(200);
    expect((await fetch(`${registry.url}/v2/strict/blobs/${blob.digest}`)).status).toBe(500);
    expect((await fetch(`${registry.url}/v2/strict/tags/list?n=1`)).status).toBe(500);
    expect(registry.unexpected.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v2/strict/blobs/${blob.digest}`,
      'GET /v2/strict/tags/list',
    ]);
    expect(() => {
      registry.assertNoUnexpected();
    }).toThrow(/2 unexpected request\(s\):[\s\S]*GET \/v2\/strict\/tags\/list\?n=1/);
    expect(registry.requests.filter((r) => r.unexpected)).toHaveLength(2);
  });

  it('passes assertNoUnexpected when only expected requests arrived', async () => {
    registry.expect({ method: ['GET', 'HEAD'], path: '/v2/' });
    await fetch(`${registry.url}/v2/`, { method: 'HEAD' });
    expect(registry.unexpected).toEqual([]);
    registry.assertNoUnexpected();
    expect(registry.requests.map((r) => r.status)).toEqual([200]);
  });

  it('logs method, path, status, redacted headers and body bytes, and counts bytes per blob', async () => {
    const one = registry.putBlob('observed', 'a'.repeat(100));
    const two = registry.putBlob('observed', 'b'.repeat(50));
    await (
      await fetch(`${registry.url}/v2/observed/blobs/${one.digest}`, { headers: { authorization: 'Bearer secret' } })
    ).arrayBuffer();
    await (
      await fetch(`${registry.url}/v2/observed/blobs/${two.digest}`, { headers: { range: 'bytes=0-9' } })
    ).arrayBuffer();
    await fetch(`${registry.url}/v2/observed/blobs/${one.digest}`, { method: 'HEAD' });
    expect(registry.blobBytesServed(one.digest)).toBe(100);
    expect(registry.blobBytesServed(two.digest)).toBe(10);
    expect(registry.bytesServed).toBe(110);
    const [first, second, third] = registry.requests;
    expect(first).toMatchObject({ listener: 'registry', method: 'GET', status: 200, bytesOut: 100 });
    expect(first?.headers.authorization).toBe('Bearer <redacted>');
    expect(second).toMatchObject({ status: 206, bytesOut: 10 });
    expect(third).toMatchObject({ method: 'HEAD', bytesOut: 0 });
    registry.clearLog();
    expect(registry.requests).toEqual([]);
    expect(registry.bytesServed).toBe(0);
  });
});

describe('fake registry: basic auth and blob redirect', () => {
  let registry: FakeRegistry;
  const basic = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
  beforeAll(async () => {
    registry = await startFakeRegistry({ auth: { username: 'alice', password: 's3cret' }, redirectBlobs: true });
    registry.putBlob('private', BLOB);
  });
  afterAll(async () => {
    await registry.close();
  });

  it('challenges missing or wrong credentials with 401 and WWW-Authenticate: Basic', async () => {
    const none = await fetch(`${registry.url}/v2/`);
    expect(none.status).toBe(401);
    expect(none.headers.get(Header.authenticate)).toBe('Basic realm="fake-registry"');
    const wrong = await fetch(`${registry.url}/v2/`, {
      headers: { authorization: `Basic ${Buffer.from('alice:nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    expect((await fetch(`${registry.url}/v2/`, { headers: { authorization: basic } })).status).toBe(200);
  });

  it('redirects blob GETs to another origin; fetch drops Authorization there, a leaky client is recorded', async () => {
    const storage = registry.storage;
    if (!storage) throw new Error('redirectBlobs did not start a storage listener');
    const blobURL = `${registry.url}/v2/private/blobs/${BLOB_DIGEST}`;
    const manual = await fetch(blobURL, { headers: { authorization: basic }, redirect: 'manual' });
    expect(manual.status).toBe(307);
    const location = manual.headers.get('location') ?? '';
    expect(new URL(location).origin).toBe(storage.url);
    expect(new URL(location).origin).not.toBe(registry.url);

    const followed = await fetch(blobURL, { headers: { authorization: basic } });
    expect(Buffer.from(await followed.arrayBuffer()).equals(BLOB)).toBe(true);
    expect(storage.authorizations).toEqual([]);
    expect(registry.blobBytesServed(BLOB_DIGEST)).toBe(BLOB.length);

    // What a client that copies credentials across origins would do.
    const leak = await request(location, { headers: { authorization: basic } });
    await leak.body.arrayBuffer();
    expect(storage.authorizations).toEqual([basic]);
    expect(registry.requests.filter((r) => r.listener === 'storage').map((r) => r.status)).toEqual([200, 200]);
  });

  it('answers blob HEAD on the registry itself (no redirect)', async () => {
    const head = await fetch(`${registry.url}/v2/private/blobs/${BLOB_DIGEST}`, {
      method: 'HEAD',
      headers: { authorization: basic },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(BLOB.length));
  });
});
