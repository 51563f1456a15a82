// The registry client against the in-process fake registry: every protocol path, every fault, strict mode.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

import { ErrorCodes, LadingError, isLadingError, type Descriptor } from '@lading/core';
import { referrersTag } from '@lading/core/internal';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import {
  collect,
  emptyConfig,
  imageManifest,
  isolatedClient,
  jsonBlob,
  pushSmallArtifact,
  randomBlob,
} from './helpers.js';

async function errorOf(p: Promise<unknown>): Promise<LadingError> {
  const e: unknown = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof LadingError)) throw new Error(`expected a LadingError, got ${String(e)}`);
  return e;
}

describe('registry client on the fake registry', () => {
  let reg: FakeRegistry;
  const client = isolatedClient({ chunkSize: 64 * 1024 });

  beforeAll(async () => {
    reg = await startFakeRegistry();
  });
  afterEach(() => {
    reg.clearFaults();
    reg.clearExpectations();
    reg.clearLog();
    reg.setReferrersAPI(true);
  });
  afterAll(async () => {
    await client.close();
    await reg.close();
  });

  it('pushes a blob in one PUT, finds it, and streams it back verified', async () => {
    const repo = client.repository(`${reg.host}/a/blob`);
    const { bytes, desc } = randomBlob(10_000);
    expect(await repo.exists(desc)).toBe(false);
    await repo.push(desc, bytes);
    expect(await repo.exists(desc)).toBe(true);
    expect(Buffer.from(reg.getBlob('a/blob', desc.digest) ?? [])).toEqual(bytes);
    expect(await collect(await repo.fetch(desc))).toEqual(bytes);
    expect(reg.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0);
  });

  it('uploads a large blob in chunks, raised to OCI-Chunk-Min-Length', async () => {
    const min = await startFakeRegistry({ chunkMinLength: 100 * 1024 });
    try {
      const repo = client.repository(`${min.host}/a/chunked`);
      const { bytes, desc } = randomBlob(300 * 1024 + 17);
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += 7000) pieces.push(bytes.subarray(i, i + 7000));
      await repo.push(desc, Readable.from(pieces));
      const patches = min.requests.filter((r) => r.method === 'PATCH');
      expect(patches.map((p) => p.bytesIn)).toEqual([102400, 102400, 102400, 17]);
      expect(Buffer.from(min.getBlob('a/chunked', desc.digest) ?? [])).toEqual(bytes);
    } finally {
      await min.close();
    }
  });

  it('resumes a chunked upload from the upload status after a dropped connection', async () => {
    const repo = client.repository(`${reg.host}/a/resume`);
    const { bytes, desc } = randomBlob(200 * 1024);
    const fault = reg.inject({ method: 'PATCH', skip: 1, times: 1, action: { kind: 'drop', afterBytes: 0 } });
    await repo.push(desc, bytes);
    expect(fault.fired).toBe(1);
    const methods = reg.requests.map((r) => r.method);
    // POST, PATCH, PATCH (dropped), GET status, PATCH..., PUT: the upload went on, it did not start over.
    expect(methods.filter((m) => m === 'POST')).toHaveLength(1);
    expect(reg.requests.some((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/'))).toBe(true);
    expect(Buffer.from(reg.getBlob('a/resume', desc.digest) ?? [])).toEqual(bytes);
  });

  it('uploads a file in one streaming request, and resumes it from the upload status after a drop', async () => {
    const repo = client.repository(`${reg.host}/a/file`);
    const { bytes, desc } = randomBlob(500 * 1024);
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-pushfile-'));
    const file = path.join(dir, 'blob');
    await writeFile(file, bytes);
    const progress: number[] = [];
    await repo.pushFile(desc, file, { onProgress: (n) => progress.push(n) });
    expect(Buffer.from(reg.getBlob('a/file', desc.digest) ?? [])).toEqual(bytes);
    expect(reg.requests.filter((r) => r.method === 'PATCH').map((r) => r.bytesIn)).toEqual([500 * 1024]);
    expect(progress.at(-1)).toBe(500 * 1024);

    const other = randomBlob(300 * 1024);
    await writeFile(file, other.bytes);
    reg.clearLog();
    reg.inject({ method: 'PATCH', times: 1, action: { kind: 'drop', afterBytes: 0 } });
    await repo.pushFile(other.desc, file);
    expect(reg.requests.some((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/'))).toBe(true);
    expect(reg.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(Buffer.from(reg.getBlob('a/file', other.desc.digest) ?? [])).toEqual(other.bytes);
  });

  it('refuses a file whose bytes do not match the descriptor: the registry checks the digest', async () => {
    const repo = client.repository(`${reg.host}/a/file-mismatch`);
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-pushfile-'));
    const file = path.join(dir, 'blob');
    const { desc } = randomBlob(1000);
    await writeFile(file, randomBlob(1000).bytes);
    const err = await errorOf(repo.pushFile(desc, file));
    expect(err.code).toBe(ErrorCodes.protocol);
    expect(err.message).toMatch(/DIGEST_INVALID/);
    expect(reg.getBlob('a/file-mismatch', desc.digest)).toBeUndefined();
  });

  it('refuses to upload content that does not match its descriptor and stores nothing', async () => {
    const repo = client.repository(`${reg.host}/a/mismatch`);
    const { desc } = randomBlob(1000);
    const other = randomBlob(1000).bytes;
    const err = await errorOf(repo.push(desc, other));
    expect(err.code).toBe(ErrorCodes.integrity);
    expect(err.message).toContain(`expected ${desc.digest}`);
    expect(reg.getBlob('a/mismatch', desc.digest)).toBeUndefined();
  });

  it('pushes a manifest under several tags, resolves and fetches it by tag and digest, lists tags over pages', async () => {
    const paged = await startFakeRegistry({ tagsPageSize: 2 });
    const c = isolatedClient({ tagPageSize: 2 });
    try {
      const { manifest } = await pushSmallArtifact(c, `${paged.host}/a/tags`, 'v1');
      const repo = c.repository(`${paged.host}/a/tags`);
      const bytes = (await repo.fetchManifest('v1')).bytes;
      await repo.pushManifest(manifest, bytes, ['v2', 'v3', 'latest', 'stable']);
      expect((await repo.resolve('stable')).digest).toBe(manifest.digest);
      expect(await repo.resolve(manifest.digest)).toMatchObject({ digest: manifest.digest, size: manifest.size });
      expect((await repo.tags()).sort()).toEqual(['latest', 'stable', 'v1', 'v2', 'v3']);
      expect(paged.requests.filter((r) => r.path.endsWith('/tags/list')).length).toBeGreaterThanOrEqual(3);
      const err = await errorOf(repo.resolve('nope'));
      expect(err.code).toBe(ErrorCodes.notFound);
      expect(err.message).toContain(`${paged.host}/a/tags:nope`);
    } finally {
      await c.close();
      await paged.close();
    }
  });

  it('reads a byte range with one request and counts only those bytes', async () => {
    const repo = client.repository(`${reg.host}/a/range`);
    const { bytes, desc } = randomBlob(1024 * 1024);
    await repo.push(desc, bytes);
    reg.clearLog();
    const { partial, stream } = await repo.fetchRange(desc, 5000, 1234);
    expect(partial).toBe(true);
    expect(await collect(stream)).toEqual(bytes.subarray(5000, 6234));
    expect(reg.blobBytesServed(desc.digest)).toBe(1234);
  });

  it('retries transient 503 and 429 (Retry-After) and succeeds', async () => {
    const { manifest } = await pushSmallArtifact(client, `${reg.host}/a/retry`, 'v1');
    const repo = client.repository(`${reg.host}/a/retry`);
    const f503 = reg.inject({
      method: 'GET',
      path: /\/manifests\//,
      times: 2,
      action: { kind: 'status', status: 503 },
    });
    const f429 = reg.inject({
      method: 'GET',
      path: /\/manifests\//,
      times: 1,
      action: { kind: 'status', status: 429, retryAfter: 1 },
    });
    expect((await repo.fetchManifest('v1')).descriptor.digest).toBe(manifest.digest);
    expect(f503.fired).toBe(2);
    expect(f429.fired).toBe(1);
  });

  it('fails with a clear network error on a persistent 500, after the retries', async () => {
    const repo = client.repository(`${reg.host}/a/persistent`);
    const f = reg.inject({ method: 'HEAD', action: { kind: 'status', status: 500 } });
    const err = await errorOf(repo.resolve('v1'));
    expect(err.code).toBe(ErrorCodes.network);
    expect(err.message).toMatch(/HTTP 500.*try again later/);
    expect(f.fired).toBe(client.http.retry.retries + 1);
  });

  it('does not wait for a Retry-After beyond the budget and says the registry is rate limiting', async () => {
    const repo = client.repository(`${reg.host}/a/ratelimit`);
    reg.inject({ method: 'HEAD', action: { kind: 'status', status: 429, retryAfter: 120 } });
    const err = await errorOf(repo.resolve('v1'));
    expect(err.message).toMatch(/HTTP 429.*rate limiting \(Retry-After: 120\)/);
    expect(reg.requests).toHaveLength(1);
  });

  it('resumes a download whose connection dropped mid-body, with a range request for the rest', async () => {
    const repo = client.repository(`${reg.host}/a/drop`);
    const { bytes, desc } = randomBlob(100_000);
    await repo.push(desc, bytes);
    reg.clearLog();
    reg.inject({ method: 'GET', path: /\/blobs\/sha256:/, times: 1, action: { kind: 'drop', afterBytes: 30_000 } });
    expect(await collect(await repo.fetch(desc))).toEqual(bytes);
    const gets = reg.requests.filter((r) => r.method === 'GET');
    expect(gets).toHaveLength(2);
    expect(gets[1]?.headers.range).toMatch(/^bytes=\d+-$/);
    // A connection that keeps dropping fails with a network error saying how far it got.
    reg.inject({ method: 'GET', path: /\/blobs\/sha256:/, action: { kind: 'drop', afterBytes: 1000 } });
    const err = await errorOf(collect(await repo.fetch(desc)));
    expect(err.code).toBe(ErrorCodes.network);
    expect(err.message).toMatch(/connection lost after \d+ of 100000 bytes/);
  });

  it('refuses a blob whose bytes do not match its digest, naming both digests', async () => {
    const repo = client.repository(`${reg.host}/a/corrupt`);
    const { bytes, desc } = randomBlob(5000);
    await repo.push(desc, bytes);
    reg.inject({ method: 'GET', path: /\/blobs\//, action: { kind: 'corrupt' } });
    const err = await errorOf(collect(await repo.fetch(desc)));
    expect(err.code).toBe(ErrorCodes.integrity);
    expect(err.message).toMatch(new RegExp(`digest mismatch: expected ${desc.digest}, got sha256:[0-9a-f]{64}`));
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    const { manifest } = await pushSmallArtifact(client, `${reg.host}/a/badmanifest`, 'v1');
    const repo = client.repository(`${reg.host}/a/badmanifest`);
    reg.inject({ method: 'GET', path: /\/manifests\//, action: { kind: 'corrupt' } });
    const err = await errorOf(repo.fetchManifest(manifest.digest));
    expect(err.code).toBe(ErrorCodes.integrity);
    expect(err.message).toContain(`expected ${manifest.digest}`);
    const byTag = await errorOf(repo.fetchManifest('v1'));
    expect(byTag.code).toBe(ErrorCodes.integrity);
  });

  it('refuses manifests over the 4 MiB cap', async () => {
    const big = imageManifest([], { annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } });
    reg.putManifest('a/big', big.bytes, { tag: 'big' });
    const err = await errorOf(client.repository(`${reg.host}/a/big`).fetchManifest('big'));
    expect(err.code).toBe(ErrorCodes.protocol);
    expect(err.message).toMatch(/over the 4194304-byte manifest limit/);
  });

  it('reports HTML and invalid JSON from the registry as protocol errors', async () => {
    const repo = client.repository(`${reg.host}/a/garbage`);
    reg.inject({
      method: 'GET',
      path: /\/manifests\//,
      times: 1,
      action: {
        kind: 'garbage',
        status: 200,
        contentType: 'application/vnd.oci.image.manifest.v1+json',
        body: '<html><body>Sign in to the Wi-Fi</body></html>',
      },
    });
    const html = await errorOf(repo.fetchManifest('v1'));
    expect(html.code).toBe(ErrorCodes.protocol);
    expect(html.message).toContain('not JSON');
    reg.inject({
      method: 'GET',
      path: /\/tags\/list$/,
      times: 1,
      action: { kind: 'garbage', status: 502, contentType: 'text/html', body: '<!DOCTYPE html><h1>Bad gateway</h1>' },
    });
    const fivehundred = await errorOf(
      isolatedClient({ retry: { retries: 0 } })
        .repository(`${reg.host}/a/garbage`)
        .tags(),
    );
    expect(fivehundred.message).toContain('HTML page');
  });

  it('mounts a blob across repositories and declines a missing one', async () => {
    const src = client.repository(`${reg.host}/a/mountsrc`);
    const dst = client.repository(`${reg.host}/a/mountdst`);
    const { bytes, desc } = randomBlob(3000);
    await src.push(desc, bytes);
    expect(await dst.mount(desc, 'a/mountsrc')).toBe(true);
    expect(await dst.exists(desc)).toBe(true);
    expect(await dst.mount(randomBlob(10).desc, 'a/mountsrc')).toBe(false);
  });

  it('deletes a manifest', async () => {
    const { manifest } = await pushSmallArtifact(client, `${reg.host}/a/delete`, 'v1');
    const repo = client.repository(`${reg.host}/a/delete`);
    await repo.delete(manifest);
    expect(await repo.exists(manifest)).toBe(false);
    expect((await errorOf(repo.delete(manifest))).code).toBe(ErrorCodes.notFound);
  });

  it('resolves with nothing but one HEAD (strict mode)', async () => {
    const { manifest } = await pushSmallArtifact(client, `${reg.host}/a/strict`, 'v1');
    reg.clearLog();
    reg.expect({ method: 'HEAD', path: '/v2/a/strict/manifests/v1', times: 1 });
    expect((await client.repository(`${reg.host}/a/strict`).resolve('v1')).digest).toBe(manifest.digest);
    reg.assertNoUnexpected();
    expect(reg.requests).toHaveLength(1);
  });
});

describe('referrers on the fake registry', () => {
  let reg: FakeRegistry;
  beforeAll(async () => {
    reg = await startFakeRegistry();
  });
  afterAll(async () => {
    await reg.close();
  });

  async function attach(
    client: ReturnType<typeof isolatedClient>,
    repoName: string,
    subject: Descriptor,
    artifactType: string,
    note: string,
  ): Promise<Descriptor> {
    const repo = client.repository(`${reg.host}/${repoName}`);
    const layer = jsonBlob({ note }, 'application/json');
    await repo.push(emptyConfig.desc, emptyConfig.bytes);
    await repo.push(layer.desc, layer.bytes);
    const m = imageManifest([layer.desc], { subject, artifactType, annotations: { note } });
    await repo.pushManifest(m.desc, m.bytes);
    return m.desc;
  }

  it('lists referrers through the API, filtered by artifact type', async () => {
    reg.setReferrersAPI(true);
    const client = isolatedClient();
    const { manifest } = await pushSmallArtifact(client, `${reg.host}/r/api`, 'v1');
    const sig = await attach(client, 'r/api', manifest, 'application/vnd.example.sig', 's');
    const sbom = await attach(client, 'r/api', manifest, 'application/vnd.example.sbom', 'b');
    const repo = client.repository(`${reg.host}/r/api`);
    expect(await repo.supportsReferrersAPI(manifest)).toBe(true);
    const all = await repo.referrers(manifest);
    expect(all.map((d) => d.digest).sort()).toEqual([sig.digest, sbom.digest].sort());
    expect(all.find((d) => d.digest === sig.digest)).toMatchObject({
      artifactType: 'application/vnd.example.sig',
      annotations: { note: 's' },
    });
    expect(
      (await repo.referrers(manifest, { artifactType: 'application/vnd.example.sbom' })).map((d) => d.digest),
    ).toEqual([sbom.digest]);
    // No fallback tag was written: the API indexes the referrers itself.
    expect(reg.tags('r/api')).toEqual(['v1']);
    await client.close();
  });

  it('writes and reads the tag-schema fallback when the API is off', async () => {
    reg.setReferrersAPI(false);
    const client = isolatedClient();
    const { manifest } = await pushSmallArtifact(client, `${reg.host}/r/fallback`, 'v1');
    const sig = await attach(client, 'r/fallback', manifest, 'application/vnd.example.sig', 's');
    const tag = referrersTag(manifest.digest);
    expect(reg.tags('r/fallback')).toContain(tag);
    const index = JSON.parse(Buffer.from(reg.getManifest('r/fallback', tag)?.bytes ?? []).toString()) as {
      manifests: Descriptor[];
    };
    expect(index.manifests).toEqual([
      {
        mediaType: sig.mediaType,
        digest: sig.digest,
        size: sig.size,
        artifactType: 'application/vnd.example.sig',
        annotations: { note: 's' },
      },
    ]);
    const listed = await client.repository(`${reg.host}/r/fallback`).referrers(manifest);
    expect(listed.map((d) => d.digest)).toEqual([sig.digest]);
    await client.close();
  });

  it('resolves cosign-style fallback entries with an empty artifact type by opening the manifest', async () => {
    reg.setReferrersAPI(false);
    const client = isolatedClient();
    const { manifest } = await pushSmallArtifact(client, `${reg.host}/r/cosign`, 'v1');
    const layer = reg.putBlob('r/cosign', '{"bundle":1}', 'application/vnd.dev.sigstore.bundle.v0.3+json');
    reg.putBlob('r/cosign', '{}', 'application/vnd.oci.empty.v1+json');
    const bundle = imageManifest([layer], {
      subject: manifest,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    });
    const stored = reg.putManifest('r/cosign', bundle.bytes);
    reg.putManifest(
      'r/cosign',
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: stored.mediaType,
            digest: stored.digest,
            size: stored.size,
            artifactType: 'application/vnd.oci.empty.v1+json',
          },
        ],
      },
      { tag: referrersTag(manifest.digest) },
    );
    const listed = await client
      .repository(`${reg.host}/r/cosign`)
      .referrers(manifest, { artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      digest: stored.digest,
      artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    });
    await client.close();
  });

  it('keeps all 20 concurrent referrer writes from separate clients with If-Match', async () => {
    reg.setReferrersAPI(false);
    reg.setConditionalPut(true);
    const setup = isolatedClient();
    const { manifest } = await pushSmallArtifact(setup, `${reg.host}/r/concurrent`, 'v1');
    const clients = Array.from({ length: 20 }, () => isolatedClient());
    const written = await Promise.all(
      clients.map((c, i) => attach(c, 'r/concurrent', manifest, 'application/vnd.example.sig', `writer-${i}`)),
    );
    const listed = await setup.repository(`${reg.host}/r/concurrent`).referrers(manifest);
    expect(listed.map((d) => d.digest).sort()).toEqual(written.map((d) => d.digest).sort());
    expect(reg.requests.some((r) => r.status === 412)).toBe(true);
    await Promise.all([setup, ...clients].map((c) => c.close()));
  });

  it('recovers concurrent referrer writes by read-back when the registry ignores If-Match', async () => {
    reg.setReferrersAPI(false);
    reg.setConditionalPut(false);
    const setup = isolatedClient();
    const { manifest } = await pushSmallArtifact(setup, `${reg.host}/r/unconditional`, 'v1');
    const clients = Array.from({ length: 20 }, () => isolatedClient());
    const written = await Promise.all(
      clients.map((c, i) => attach(c, 'r/unconditional', manifest, 'application/vnd.example.sig', `writer-${i}`)),
    );
    const listed = await setup.repository(`${reg.host}/r/unconditional`).referrers(manifest);
    const survived = written.filter((w) => listed.some((l) => l.digest === w.digest)).length;
    console.info(`fake registry without conditional PUT: ${survived}/20 concurrent referrer writes survived`);
    expect(survived).toBe(20);
    reg.setConditionalPut(true);
    await Promise.all([setup, ...clients].map((c) => c.close()));
  });
});

describe('auth and redirects on the fake registry', () => {
  it('never sends Authorization to the blob storage origin a redirect points at', async () => {
    const reg = await startFakeRegistry({ auth: { username: 'u', password: 's3cret-pw' }, redirectBlobs: true });
    const client = isolatedClient({ credential: { kind: 'basic', username: 'u', password: 's3cret-pw' } });
    try {
      const repo = client.repository(`${reg.host}/x/redirect`);
      const { bytes, desc } = randomBlob(4000);
      await repo.push(desc, bytes);
      expect(await collect(await repo.fetch(desc))).toEqual(bytes);
      expect(reg.storage?.authorizations).toEqual([]);
      expect(reg.requests.some((r) => r.listener === 'storage')).toBe(true);
      expect(
        reg.requests
          .filter((r) => r.listener === 'registry' && r.path.includes('/blobs/sha256'))
          .every((r) => r.headers.authorization?.startsWith('Basic') === true),
      ).toBe(true);
    } finally {
      await client.close();
      await reg.close();
    }
  });

  it('names the registry and where credentials were looked for on wrong credentials, never the secret', async () => {
    const reg = await startFakeRegistry({ auth: { username: 'u', password: 'right' } });
    const wrong = isolatedClient({ credential: { kind: 'basic', username: 'u', password: 'wrong-secret-value' } });
    const none = isolatedClient({
      credentials: () => Promise.resolve({ registry: reg.host, searched: ['~/.docker/config.json'] }),
    });
    try {
      const err = await errorOf(wrong.repository(`${reg.host}/x/auth`).resolve('v1'));
      expect(err.code).toBe(ErrorCodes.auth);
      expect(err.message).toContain(reg.host);
      expect(err.message).not.toContain('wrong-secret-value');
      const missing = await errorOf(none.repository(`${reg.host}/x/auth`).resolve('v1'));
      expect(isLadingError(missing, ErrorCodes.auth)).toBe(true);
      expect(missing.message).toContain('looked in ~/.docker/config.json');
    } finally {
      await wrong.close();
      await none.close();
      await reg.close();
    }
  });
});

describe('token realms', () => {
  it('refuses a Bearer realm on another host and sends it nothing', async () => {
    let realmHits = 0;
    const realm = createServer((_req, res) => {
      realmHits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
    });
    // The registry is 127.0.0.1; its challenge points at "localhost", another host as far as credentials go.
    const registry = createServer((_req, res) => {
      const port = (realm.address() as AddressInfo).port;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://localhost:${port}/token",service="x"` }).end();
    });
    await new Promise<void>((r) => realm.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
    const client = isolatedClient({ credential: { kind: 'basic', username: 'u', password: 'secret-for-realm' } });
    try {
      const host = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
      const err = await errorOf(client.repository(`${host}/x/y`).resolve('v1'));
      expect(err.code).toBe(ErrorCodes.auth);
      expect(err.message).toMatch(
        /refusing token realm http:\/\/localhost:\d+: (plain http realm for a registry on another host|realm on another host)/,
      );
      expect(err.message).not.toContain('secret-for-realm');
      expect(realmHits).toBe(0);
    } finally {
      await client.close();
      registry.close();
      realm.close();
    }
  });
});
