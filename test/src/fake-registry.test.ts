// Protocol behaviour of the fake registry, checked over HTTP with Node's fetch (undici).
// Real-client conformance (oras, crane) is in fake-registry-clients.test.ts; faults and strict mode in
// fake-registry-faults.test.ts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type Descriptor,
  type FakeRegistry,
  Header,
  MediaType,
  sha256Digest,
  startFakeRegistry,
} from './fake-registry/index.js';

interface ErrorBody {
  errors: { code: string; message: string; detail?: unknown }[];
}

async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as ErrorBody;
  return body.errors[0]?.code;
}

/** Uploads a blob with a monolithic POST and returns its descriptor. */
async function pushBlob(registry: FakeRegistry, repo: string, content: string | Uint8Array): Promise<Descriptor> {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const digest = sha256Digest(bytes);
  const res = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    headers: { 'content-type': MediaType.octetStream },
    body: bytes,
  });
  expect(res.status).toBe(201);
  return { mediaType: MediaType.octetStream, digest, size: bytes.length };
}

const emptyConfig = { mediaType: MediaType.ociEmpty, digest: sha256Digest('{}'), size: 2 };

/** An OCI image manifest over the given layers with the empty config. */
function imageManifest(layers: Descriptor[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: emptyConfig, layers, ...extra });
}

async function putManifest(
  registry: FakeRegistry,
  repo: string,
  reference: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'content-type': MediaType.ociManifest, ...headers },
    body,
  });
}

describe('fake registry: base and blobs', () => {
  let registry: FakeRegistry;
  beforeAll(async () => {
    registry = await startFakeRegistry();
  });
  afterAll(async () => {
    await registry.close();
  });

  it('answers GET /v2/ with the API version header on 127.0.0.1', async () => {
    expect(registry.url).toBe(`http://${registry.host}`);
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    const res = await fetch(`${registry.url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get(Header.apiVersion)).toBe('registry/2.0');
  });

  it('stores a monolithic upload in a nested repository and serves it with HEAD and GET', async () => {
    const blob = await pushBlob(registry, 'a/b/c', 'hello blob');
    const head = await fetch(`${registry.url}/v2/a/b/c/blobs/${blob.digest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('10');
    expect(head.headers.get(Header.contentDigest)).toBe(blob.digest);
    const get = await fetch(`${registry.url}/v2/a/b/c/blobs/${blob.digest}`);
    expect(await get.text()).toBe('hello blob');
    expect(Buffer.from(registry.getBlob('a/b/c', blob.digest) ?? []).toString()).toBe('hello blob');
  });

  it('keeps blobs per repository: another repository answers 404 BLOB_UNKNOWN', async () => {
    const blob = await pushBlob(registry, 'owner/one', 'only in one');
    const res = await fetch(`${registry.url}/v2/owner/two/blobs/${blob.digest}`);
    expect(res.status).toBe(404);
    expect(await errorCode(res)).toBe('BLOB_UNKNOWN');
  });

  it('serves byte ranges with 206 and Content-Range, and 416 past the end', async () => {
    const blob = await pushBlob(registry, 'ranges', '0123456789');
    const url = `${registry.url}/v2/ranges/blobs/${blob.digest}`;
    const middle = await fetch(url, { headers: { range: 'bytes=2-5' } });
    expect(middle.status).toBe(206);
    expect(middle.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(await middle.text()).toBe('2345');
    const open = await fetch(url, { headers: { range: 'bytes=7-' } });
    expect(await open.text()).toBe('789');
    const suffix = await fetch(url, { headers: { range: 'bytes=-3' } });
    expect(suffix.headers.get('content-range')).toBe('bytes 7-9/10');
    expect(await suffix.text()).toBe('789');
    const beyond = await fetch(url, { headers: { range: 'bytes=10-20' } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */10');
  });

  it('rejects malformed digests with 400 DIGEST_INVALID and bad names with 400 NAME_INVALID', async () => {
    const bad = await fetch(`${registry.url}/v2/repo/blobs/sha256:xyz`);
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe('DIGEST_INVALID');
    const name = await fetch(`${registry.url}/v2/Upper/Case/blobs/${sha256Digest('x')}`);
    expect(name.status).toBe(400);
    expect(await errorCode(name)).toBe('NAME_INVALID');
  });

  it('deletes a blob from a repository (202), after which it is unknown', async () => {
    const blob = await pushBlob(registry, 'deletes', 'to delete');
    const del = await fetch(`${registry.url}/v2/deletes/blobs/${blob.digest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const after = await fetch(`${registry.url}/v2/deletes/blobs/${blob.digest}`, { method: 'HEAD' });
    expect(after.status).toBe(404);
  });
});

describe('fake registry: uploads', () => {
  let registry: FakeRegistry;
  beforeAll(async () => {
    registry = await startFakeRegistry({ chunkMinLength: 5 });
  });
  afterAll(async () => {
    await registry.close();
  });

  async function startUpload(repo: string): Promise<string> {
    const res = await fetch(`${registry.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(res.status).toBe(202);
    expect(res.headers.get(Header.range)).toBe('0-0');
    expect(res.headers.get(Header.uploadUUID)).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get(Header.chunkMinLength)).toBe('5');
    return new URL(res.headers.get('location') ?? '', registry.url).href;
  }

  function withDigest(location: string, digest: string): string {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    return url.href;
  }

  async function patch(location: string, chunk: string, range?: string): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': MediaType.octetStream };
    if (range !== undefined) headers['content-range'] = range;
    return fetch(location, { method: 'PATCH', headers, body: chunk });
  }

  it('accepts in-order chunks, refuses an out-of-order chunk with 416, reports progress and finishes', async () => {
    let location = await startUpload('chunked/repo');
    const first = await patch(location, 'abcde', '0-4');
    expect(first.status).toBe(202);
    expect(first.headers.get(Header.range)).toBe('0-4');
    location = new URL(first.headers.get('location') ?? '', registry.url).href;

    const gap = await patch(location, 'klmno', '10-14');
    expect(gap.status).toBe(416);
    expect(gap.headers.get(Header.range)).toBe('0-4');

    const status = await fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get(Header.range)).toBe('0-4');

    const second = await patch(location, 'fghij', '5-9');
    expect(second.headers.get(Header.range)).toBe('0-9');
    location = new URL(second.headers.get('location') ?? '', registry.url).href;

    const digest = sha256Digest('abcdefghijklmno');
    const done = await fetch(withDigest(location, digest), { method: 'PUT', body: 'klmno' });
    expect(done.status).toBe(201);
    expect(done.headers.get(Header.contentDigest)).toBe(digest);
    expect(done.headers.get('location')).toBe(`/v2/chunked/repo/blobs/${digest}`);
    expect(Buffer.from(registry.getBlob('chunked/repo', digest) ?? []).toString()).toBe('abcdefghijklmno');
  });

  it('appends streamed PATCHes without Content-Range', async () => {
    const location = await startUpload('streamed');
    const one = await patch(location, 'stream-');
    const next = new URL(one.headers.get('location') ?? '', registry.url).href;
    const two = await patch(next, 'data');
    expect(two.headers.get(Header.range)).toBe('0-10');
    const digest = sha256Digest('stream-data');
    const finish = await fetch(withDigest(new URL(two.headers.get('location') ?? '', registry.url).href, digest), {
      method: 'PUT',
    });
    expect(finish.status).toBe(201);
    expect(Buffer.from(registry.getBlob('streamed', digest) ?? []).toString()).toBe('stream-data');
  });

  it('refuses a PUT whose digest does not match with 400 DIGEST_INVALID and discards the upload', async () => {
    const location = await startUpload('mismatch');
    const res = await fetch(withDigest(location, sha256Digest('something else')), { method: 'PUT', body: 'actual' });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('DIGEST_INVALID');
    const status = await fetch(location);
    expect(status.status).toBe(404);
    expect(await errorCode(status)).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('cancels an upload with DELETE', async () => {
    const location = await startUpload('cancel');
    const del = await fetch(location, { method: 'DELETE' });
    expect(del.status).toBe(204);
    const again = await fetch(location, { method: 'DELETE' });
    expect(again.status).toBe(404);
  });

  it('mounts a blob from a repository that holds it (201) and starts an upload otherwise (202)', async () => {
    const blob = await pushBlob(registry, 'mount/source', 'shared layer');
    const mounted = await fetch(
      `${registry.url}/v2/mount/target/blobs/uploads/?mount=${blob.digest}&from=mount/source`,
      { method: 'POST' },
    );
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get(Header.contentDigest)).toBe(blob.digest);
    expect(registry.getBlob('mount/target', blob.digest)).toBeDefined();
    const fallback = await fetch(
      `${registry.url}/v2/mount/other/blobs/uploads/?mount=${blob.digest}&from=mount/elsewhere`,
      { method: 'POST' },
    );
    expect(fallback.status).toBe(202);
    expect(fallback.headers.get('location')).toMatch(/^\/v2\/mount\/other\/blobs\/uploads\//);
    expect(registry.getBlob('mount/other', blob.digest)).toBeUndefined();
  });
});

describe('fake registry: manifests', () => {
  let registry: FakeRegistry;
  let layer: Descriptor;
  beforeAll(async () => {
    registry = await startFakeRegistry({ maxManifestBytes: 64 * 1024 });
    layer = await pushBlob(registry, 'app', 'layer bytes');
    await pushBlob(registry, 'app', '{}');
  });
  afterAll(async () => {
    await registry.close();
  });

  it('stores a manifest by tag and serves it with its content type, digest and ETag', async () => {
    const body = imageManifest([layer]);
    const put = await putManifest(registry, 'app', 'v1', body);
    expect(put.status).toBe(201);
    const digest = sha256Digest(body);
    expect(put.headers.get(Header.contentDigest)).toBe(digest);
    expect(put.headers.get('location')).toBe(`/v2/app/manifests/${digest}`);
    expect(put.headers.get(Header.subject)).toBeNull();
    for (const reference of ['v1', digest]) {
      const get = await fetch(`${registry.url}/v2/app/manifests/${reference}`);
      expect(get.headers.get('content-type')).toBe(MediaType.ociManifest);
      expect(get.headers.get(Header.contentDigest)).toBe(digest);
      expect(get.headers.get('etag')).toBe(`"${digest}"`);
      expect(await get.text()).toBe(body);
    }
    const head = await fetch(`${registry.url}/v2/app/manifests/v1`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
  });

  it('keeps the content type exactly as pushed', async () => {
    const body = JSON.stringify({ schemaVersion: 2, custom: true });
    const put = await putManifest(registry, 'app', 'custom', body, { 'content-type': 'application/vnd.example+json' });
    expect(put.status).toBe(201);
    const get = await fetch(`${registry.url}/v2/app/manifests/custom`);
    expect(get.headers.get('content-type')).toBe('application/vnd.example+json');
  });

  it('refuses manifests referencing unknown blobs or manifests with 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const missing = { mediaType: MediaType.octetStream, digest: sha256Digest('nope'), size: 4 };
    const image = await putManifest(registry, 'app', 'broken', imageManifest([missing]));
    expect(image.status).toBe(400);
    expect(await errorCode(image)).toBe('MANIFEST_BLOB_UNKNOWN');
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [{ ...missing, mediaType: MediaType.ociManifest }],
    });
    const res = await putManifest(registry, 'app', 'broken-index', index, { 'content-type': MediaType.ociIndex });
    expect(res.status).toBe(400);
    expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN');
    expect(registry.tags('app')).not.toContain('broken');
  });

  it('refuses invalid JSON and a mediaType contradicting Content-Type with 400 MANIFEST_INVALID', async () => {
    const notJSON = await putManifest(registry, 'app', 'bad', '{not json');
    expect(notJSON.status).toBe(400);
    expect(await errorCode(notJSON)).toBe('MANIFEST_INVALID');
    const contradicting = await putManifest(registry, 'app', 'bad', imageManifest([layer]), {
      'content-type': MediaType.dockerManifest,
    });
    expect(contradicting.status).toBe(400);
    expect(await errorCode(contradicting)).toBe('MANIFEST_INVALID');
  });

  it('checks the digest of a PUT by digest: 400 DIGEST_INVALID on mismatch', async () => {
    const body = imageManifest([layer], { annotations: { a: 'b' } });
    const wrong = await putManifest(registry, 'app', sha256Digest('other'), body);
    expect(wrong.status).toBe(400);
    expect(await errorCode(wrong)).toBe('DIGEST_INVALID');
    const right = await putManifest(registry, 'app', sha256Digest(body), body);
    expect(right.status).toBe(201);
  });

  it('caps manifest size (413)', async () => {
    const big = imageManifest([layer], { annotations: { pad: 'x'.repeat(70 * 1024) } });
    const res = await putManifest(registry, 'app', 'big', big);
    expect(res.status).toBe(413);
    expect(registry.getManifest('app', 'big')).toBeUndefined();
  });

  it('honours If-Match: 412 on a stale ETag or a missing tag, 201 on the current one', async () => {
    const first = imageManifest([layer], { annotations: { n: '1' } });
    const second = imageManifest([layer], { annotations: { n: '2' } });
    expect((await putManifest(registry, 'app', 'cond', first)).status).toBe(201);
    const etag = (await fetch(`${registry.url}/v2/app/manifests/cond`, { method: 'HEAD' })).headers.get('etag') ?? '';
    expect(etag).toBe(`"${sha256Digest(first)}"`);

    const stale = await putManifest(registry, 'app', 'cond', second, { 'if-match': `"${sha256Digest('stale')}"` });
    expect(stale.status).toBe(412);
    expect(registry.getManifest('app', 'cond')?.digest).toBe(sha256Digest(first));

    const absent = await putManifest(registry, 'app', 'no-such-tag', second, { 'if-match': etag });
    expect(absent.status).toBe(412);

    const fresh = await putManifest(registry, 'app', 'cond', second, { 'if-match': etag });
    expect(fresh.status).toBe(201);
    expect(registry.getManifest('app', 'cond')?.digest).toBe(sha256Digest(second));

    const created = await putManifest(registry, 'app', 'cond', first, { 'if-none-match': '*' });
    expect(created.status).toBe(412);
  });

  it('ignores If-Match when conditional PUT is switched off', async () => {
    registry.setConditionalPut(false);
    try {
      const body = imageManifest([layer], { annotations: { n: '3' } });
      const res = await putManifest(registry, 'app', 'cond', body, { 'if-match': '"sha256:stale"' });
      expect(res.status).toBe(201);
      expect(registry.getManifest('app', 'cond')?.digest).toBe(sha256Digest(body));
    } finally {
      registry.setConditionalPut(true);
    }
  });

  it('answers unknown manifests with MANIFEST_UNKNOWN and unknown repositories with NAME_UNKNOWN', async () => {
    const tag = await fetch(`${registry.url}/v2/app/manifests/missing`);
    expect(tag.status).toBe(404);
    expect(await errorCode(tag)).toBe('MANIFEST_UNKNOWN');
    const repo = await fetch(`${registry.url}/v2/nowhere/manifests/latest`);
    expect(repo.status).toBe(404);
    expect(await errorCode(repo)).toBe('NAME_UNKNOWN');
  });

  it('deletes a manifest by digest together with its tags, and a tag alone', async () => {
    const body = imageManifest([layer], { annotations: { n: 'del' } });
    await putManifest(registry, 'app', 'del-1', body);
    await putManifest(registry, 'app', 'del-2', body);
    const untag = await fetch(`${registry.url}/v2/app/manifests/del-1`, { method: 'DELETE' });
    expect(untag.status).toBe(202);
    expect(registry.tags('app')).not.toContain('del-1');
    expect(registry.getManifest('app', sha256Digest(body))).toBeDefined();
    const del = await fetch(`${registry.url}/v2/app/manifests/${sha256Digest(body)}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    expect(registry.tags('app')).not.toContain('del-2');
    expect(registry.getManifest('app', sha256Digest(body))).toBeUndefined();
  });

  it('serves seeded content (putBlob/putManifest) over HTTP', async () => {
    const blob = registry.putBlob('seeded/repo', 'seeded bytes');
    const config = registry.putBlob('seeded/repo', '{}', MediaType.ociEmpty);
    const manifest = registry.putManifest(
      'seeded/repo',
      { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [blob] },
      { tag: 'seed' },
    );
    const get = await fetch(`${registry.url}/v2/seeded/repo/manifests/seed`);
    expect(get.headers.get(Header.contentDigest)).toBe(manifest.digest);
    expect(manifest.mediaType).toBe(MediaType.ociManifest);
    const bytes = await fetch(`${registry.url}/v2/seeded/repo/blobs/${blob.digest}`);
    expect(await bytes.text()).toBe('seeded bytes');
  });
});

describe('fake registry: deletes disabled', () => {
  let registry: FakeRegistry;
  beforeAll(async () => {
    registry = await startFakeRegistry({ deleteEnabled: false });
  });
  afterAll(async () => {
    await registry.close();
  });

  it('answers DELETE with 405 UNSUPPORTED and keeps the content', async () => {
    const blob = registry.putBlob('keep', 'kept');
    const res = await fetch(`${registry.url}/v2/keep/blobs/${blob.digest}`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(await errorCode(res)).toBe('UNSUPPORTED');
    expect(registry.getBlob('keep', blob.digest)).toBeDefined();
  });
});

describe('fake registry: tags', () => {
  let registry: FakeRegistry;
  const tags = ['alpha', 'beta', 'delta', 'epsilon', 'gamma'];
  beforeAll(async () => {
    registry = await startFakeRegistry({ tagsPageSize: 3 });
    for (const tag of tags) {
      registry.putManifest('tagged', { schemaVersion: 2, mediaType: MediaType.ociManifest, tag }, { tag });
    }
  });
  afterAll(async () => {
    await registry.close();
  });

  async function walk(first: string): Promise<{ pages: string[][]; links: string[] }> {
    const pages: string[][] = [];
    const links: string[] = [];
    let next: string | undefined = first;
    while (next !== undefined) {
      const res: Response = await fetch(new URL(next, registry.url));
      const body = (await res.json()) as { name: string; tags: string[] };
      expect(body.name).toBe('tagged');
      pages.push(body.tags);
      const link = res.headers.get('link');
      if (link !== null) links.push(link);
      next = link === null ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)?.[1];
    }
    return { pages, links };
  }

  it('pages with n and a Link rel="next" carrying n and last', async () => {
    const { pages, links } = await walk('/v2/tagged/tags/list?n=2');
    expect(pages).toEqual([['alpha', 'beta'], ['delta', 'epsilon'], ['gamma']]);
    expect(links[0]).toBe('</v2/tagged/tags/list?n=2&last=beta>; rel="next"');
  });

  it('pages by the tagsPageSize option when the client sends no n', async () => {
    const { pages } = await walk('/v2/tagged/tags/list');
    expect(pages).toEqual([
      ['alpha', 'beta', 'delta'],
      ['epsilon', 'gamma'],
    ]);
  });

  it('starts after last, and answers NAME_UNKNOWN for an unknown repository', async () => {
    const res = await fetch(`${registry.url}/v2/tagged/tags/list?last=delta&n=10`);
    expect(((await res.json()) as { tags: string[] }).tags).toEqual(['epsilon', 'gamma']);
    const unknown = await fetch(`${registry.url}/v2/unknown/tags/list`);
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe('NAME_UNKNOWN');
  });
});

describe('fake registry: referrers API', () => {
  let registry: FakeRegistry;
  let subject: Descriptor;
  const referrers: Descriptor[] = [];
  beforeAll(async () => {
    registry = await startFakeRegistry({ referrersPageSize: 2 });
    const layer = await pushBlob(registry, 'refs', 'payload');
    await pushBlob(registry, 'refs', '{}');
    const subjectBody = imageManifest([layer]);
    await putManifest(registry, 'refs', 'v1', subjectBody);
    subject = {
      mediaType: MediaType.ociManifest,
      digest: sha256Digest(subjectBody),
      size: Buffer.byteLength(subjectBody),
    };
    const kinds: Record<string, unknown>[] = [
      { artifactType: 'application/vnd.example.sig', annotations: { who: 'signer' } },
      { artifactType: 'application/vnd.example.sbom' },
      { artifactType: 'application/vnd.example.sig', annotations: { who: 'second' } },
    ];
    for (const extra of kinds) {
      const body = imageManifest([layer], { ...extra, subject });
      const res = await putManifest(registry, 'refs', sha256Digest(body), body);
      expect(res.status).toBe(201);
      expect(res.headers.get(Header.subject)).toBe(subject.digest);
      referrers.push({ mediaType: MediaType.ociManifest, digest: sha256Digest(body), size: Buffer.byteLength(body) });
    }
    // No artifactType: the listing falls back to config.mediaType.
    const config = registry.putBlob('refs', '{"kind":"legacy"}', 'application/vnd.example.legacy.config');
    const legacy = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config,
      layers: [layer],
      subject,
    });
    expect((await putManifest(registry, 'refs', sha256Digest(legacy), legacy)).status).toBe(201);
    referrers.push({ mediaType: MediaType.ociManifest, digest: sha256Digest(legacy), size: Buffer.byteLength(legacy) });
  });
  afterAll(async () => {
    await registry.close();
  });

  async function allPages(path: string): Promise<{ entries: Descriptor[]; responses: Response[] }> {
    const entries: Descriptor[] = [];
    const responses: Response[] = [];
    let next: string | undefined = path;
    while (next !== undefined) {
      const res: Response = await fetch(new URL(next, registry.url));
      expect(res.status).toBe(200);
      responses.push(res);
      const index = (await res.json()) as { schemaVersion: number; mediaType: string; manifests: Descriptor[] };
      expect(index.schemaVersion).toBe(2);
      expect(index.mediaType).toBe(MediaType.ociIndex);
      entries.push(...index.manifests);
      next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1];
    }
    return { entries, responses };
  }

  it('lists every referrer as an image index, paginated with Link', async () => {
    const { entries, responses } = await allPages(`/v2/refs/referrers/${subject.digest}`);
    expect(responses).toHaveLength(2);
    expect(responses[0]?.headers.get('content-type')).toBe(MediaType.ociIndex);
    expect(responses[0]?.headers.get(Header.filtersApplied)).toBeNull();
    expect(entries.map((e) => e.digest)).toEqual(referrers.map((r) => r.digest));
    expect(entries[0]).toEqual({
      ...referrers[0],
      artifactType: 'application/vnd.example.sig',
      annotations: { who: 'signer' },
    });
    expect(entries[1]).toEqual({ ...referrers[1], artifactType: 'application/vnd.example.sbom' });
    expect(entries[3]?.artifactType).toBe('application/vnd.example.legacy.config');
    expect(registry.referrers('refs', subject.digest)).toEqual(entries);
  });

  it('filters by artifactType and says so with OCI-Filters-Applied', async () => {
    const { entries, responses } = await allPages(
      `/v2/refs/referrers/${subject.digest}?artifactType=${encodeURIComponent('application/vnd.example.sig')}`,
    );
    expect(responses[0]?.headers.get(Header.filtersApplied)).toBe('artifactType');
    expect(entries.map((e) => e.annotations?.who)).toEqual(['signer', 'second']);
  });

  it('answers 200 with an empty index for a digest nobody refers to', async () => {
    const { entries } = await allPages(`/v2/refs/referrers/${sha256Digest('lonely')}`);
    expect(entries).toEqual([]);
  });

  it('when switched off, answers a plain-text 404 without NAME_UNKNOWN and stops sending OCI-Subject', async () => {
    registry.setReferrersAPI(false);
    try {
      const res = await fetch(`${registry.url}/v2/refs/referrers/${subject.digest}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).not.toContain('json');
      expect(await res.text()).not.toContain('NAME_UNKNOWN');
      const body = imageManifest([], { artifactType: 'application/vnd.example.off', subject });
      const put = await putManifest(registry, 'refs', 'off', body);
      expect(put.status).toBe(201);
      expect(put.headers.get(Header.subject)).toBeNull();
    } finally {
      registry.setReferrersAPI(true);
    }
  });
});

describe('fake registry: OCI-Subject without the API', () => {
  let registry: FakeRegistry;
  beforeAll(async () => {
    registry = await startFakeRegistry({ referrersAPI: false, ociSubjectHeader: 'always' });
  });
  afterAll(async () => {
    await registry.close();
  });

  it('sends OCI-Subject while the referrers API answers 404, like ECR and Docker Hub did', async () => {
    registry.putBlob('liar', '{}');
    const subject = registry.putManifest('liar', imageManifest([]), { tag: 'v1' });
    const body = imageManifest([], { subject });
    const put = await putManifest(registry, 'liar', 'ref', body);
    expect(put.headers.get(Header.subject)).toBe(subject.digest);
    const probe = await fetch(`${registry.url}/v2/liar/referrers/${subject.digest}`);
    expect(probe.status).toBe(404);
  });
});
