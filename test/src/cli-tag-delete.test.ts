// `lading tag` and `lading delete` as the built binary: on distribution (deletes enabled, fallback referrers tags),
// on an OCI layout, and on the fake registry refusing DELETE. oras is the oracle for tags and referrers. Then the
// conditional rewrite of the fallback referrers index on the fake registry (no referrers API): another writer adding
// its entry while lading removes one (a 412 on If-Match, a registry ignoring If-Match, the last entry's index
// replaced before its DELETE) keeps that entry.

import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type {
  DeleteCommandResult,
  ErrorJSON,
  PushCommandResult,
  SignCommandResult,
  TagCommandResult,
} from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, json, ladingIn } from './cli-runner.js';
import { type FakeRegistry, startFakeRegistry } from './fake-registry/index.js';
import { makeToolHome, run, testbed } from './testbed/index.js';

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let fake: FakeRegistry;
let fallback: FakeRegistry;

const lading = ladingIn(() => ({ cwd: work, env: { ...env, COSIGN_PASSWORD: 'pw' } }), { inProcess: true });
const unique = (what: string): string => `${host}/tagdel/${what}-${randomBytes(4).toString('hex')}`;

async function oras(args: readonly string[]): Promise<string> {
  return (await run('oras', args, { env, cwd: work })).stdout;
}

async function tagsOf(name: string): Promise<string[]> {
  return (await oras(['repo', 'tags', '--plain-http', name])).split('\n').filter((t) => t !== '');
}

async function referrersOf(reference: string): Promise<string[]> {
  const listed = JSON.parse(await oras(['discover', '--plain-http', '--format', 'json', reference])) as {
    referrers?: { digest: string }[];
    manifests?: { digest: string }[];
  };
  return (listed.manifests ?? listed.referrers ?? []).map((d) => d.digest).sort();
}

async function push(reference: string, sign = false): Promise<PushCommandResult> {
  const result = await lading([
    'push',
    '--json',
    ...(sign ? ['--sign', '--key', 'cosign.key'] : []),
    reference,
    'notes.txt',
  ]);
  expectOK(result, `push ${reference}`);
  return json<PushCommandResult>(result);
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-tag-delete-'));
  host = bed.registries.anonymous.host;
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  expectOK(await lading(['key', 'generate']), 'key generate');
  fake = await startFakeRegistry();
  fallback = await startFakeRegistry({ referrersAPI: false });
});

afterAll(async () => {
  await fake.close();
  await fallback.close();
});

const imageType = 'application/vnd.oci.image.manifest.v1+json';
const indexType = 'application/vnd.oci.image.index.v1+json';

interface Seeded {
  repository: string;
  tag: string;
  /** The subject's referrers, each with a subject field; only the first is in the fallback index at the start. */
  referrers: { mediaType: string; digest: string; size: number }[];
  /** The fallback index of the subject with these referrers as entries. */
  index: (entries: readonly { mediaType: string; digest: string; size: number }[]) => object;
}

/** A subject and `count` signatures of it on the fallback registry, the index listing `listed` of them. */
function seed(count: number, listed: number): Seeded {
  const repository = `race/${randomBytes(4).toString('hex')}`;
  const config = fallback.putBlob(repository, '{}', 'application/vnd.oci.empty.v1+json');
  const layer = fallback.putBlob(repository, 'notes', 'text/plain');
  const subject = fallback.putManifest(
    repository,
    { schemaVersion: 2, mediaType: imageType, config, layers: [layer] },
    { tag: 'v1' },
  );
  const referrers = Array.from({ length: count }, (_, n) =>
    fallback.putManifest(repository, {
      schemaVersion: 2,
      mediaType: imageType,
      artifactType: 'application/example.signature',
      config,
      layers: [fallback.putBlob(repository, `signature ${n}`, 'application/octet-stream')],
      subject,
    }),
  );
  const index = (entries: readonly { mediaType: string; digest: string; size: number }[]): object => ({
    schemaVersion: 2,
    mediaType: indexType,
    manifests: entries.map((d) => ({ ...d, artifactType: 'application/example.signature' })),
  });
  const tag = `sha256-${subject.digest.slice('sha256:'.length)}`;
  fallback.putManifest(repository, index(referrers.slice(0, listed)), { tag });
  return { repository, tag, referrers, index };
}

/** The digests the fallback index lists now, in order. */
function listedNow(seeded: Seeded): string[] {
  const stored = fallback.getManifest(seeded.repository, seeded.tag);
  if (stored === undefined) return [];
  const doc = JSON.parse(Buffer.from(stored.bytes).toString('utf8')) as { manifests: { digest: string }[] };
  return doc.manifests.map((m) => m.digest);
}

/** Calls `race` once, just before the first request `matches` selects reaches the fake registry. */
function raceBefore(matches: (method: string, path: string) => boolean, race: () => void): () => boolean {
  let raced = false;
  const rule = fallback.inject({
    path: (request) => {
      if (raced || !matches(request.method, request.path)) return false;
      raced = true;
      race();
      return false;
    },
    action: { kind: 'status', status: 500 },
  });
  return () => {
    rule.remove();
    return raced;
  };
}

describe('lading tag', () => {
  it('points new tags at the artifact; oras sees them at the same digest', async () => {
    const name = unique('tag');
    const pushed = await push(`${name}:build-1`);
    const result = await lading(['tag', '--json', `${name}:build-1`, 'v1', 'latest', 'v1']);
    expectOK(result, 'tag');
    expect(json<TagCommandResult>(result)).toEqual({
      reference: `${name}:build-1`,
      digest: pushed.digest,
      tags: ['v1', 'latest'],
    });
    expect((await tagsOf(name)).sort()).toEqual(['build-1', 'latest', 'v1']);
    const fetched = await oras(['manifest', 'fetch', '--plain-http', '--descriptor', `${name}:latest`]);
    expect((JSON.parse(fetched) as { digest: string }).digest).toBe(pushed.digest);

    const text = await lading(['tag', '--no-progress', `${name}@${pushed.digest}`, 'stable']);
    expectOK(text);
    expect(text.stdout).toBe(`${pushed.digest}\n`);
    expect(text.stderr).toBe('Tagged stable\n');
  });

  it('tags in an OCI layout', async () => {
    const pushed = json<PushCommandResult>(await lading(['push', '--json', 'oci:./layout-tag:v1', 'notes.txt']));
    expectOK(await lading(['tag', 'oci:./layout-tag:v1', 'v2']), 'tag layout');
    const tags = (await oras(['repo', 'tags', '--oci-layout', 'layout-tag'])).split('\n').filter((t) => t !== '');
    expect(tags.sort()).toEqual(['v1', 'v2']);
    const fetched = await oras(['manifest', 'fetch', '--oci-layout', '--descriptor', 'layout-tag:v2']);
    expect((JSON.parse(fetched) as { digest: string }).digest).toBe(pushed.digest);
  });

  it('an invalid tag is exit 2 and no tag moves; a missing artifact exit 3', async () => {
    const name = unique('badtag');
    await push(`${name}:v1`);
    const bad = await lading(['tag', `${name}:v1`, 'ok', 'not/a:tag']);
    expect(bad.code, bad.stderr).toBe(2);
    expect(await tagsOf(name)).toEqual(['v1']);
    const missing = await lading(['tag', '--json', `${name}:nope`, 'v2']);
    expect(missing.code, missing.stderr).toBe(3);
    expect(json<ErrorJSON>(missing).error.code).toBe('ERR_LADING_NOT_FOUND');
  });
});

describe('lading delete', () => {
  it('deletes a signature and its entry in the fallback referrers index; the last one removes the index', async () => {
    const name = unique('referrer');
    const pushed = await push(`${name}:v1`, true);
    const first = pushed.signature?.digest ?? '';
    const signed = await lading(['sign', '--json', '--key', 'cosign.key', `${name}:v1`]);
    expectOK(signed, 'sign');
    const second = json<SignCommandResult>(signed).signature.digest;
    expect(await referrersOf(`${name}:v1`)).toEqual([first, second].sort());
    const fallbackTag = `sha256-${pushed.digest.slice('sha256:'.length)}`;
    expect(await tagsOf(name)).toContain(fallbackTag);

    const one = await lading(['delete', '--json', `${name}@${first}`]);
    expectOK(one, 'delete first signature');
    expect(json<DeleteCommandResult>(one)).toEqual({
      reference: `${name}@${first}`,
      digest: first,
      subject: pushed.digest,
      referrersIndex: 'updated',
    });
    expect(await referrersOf(`${name}:v1`)).toEqual([second]);
    const gone = await run('oras', ['manifest', 'fetch', '--plain-http', `${name}@${first}`], { env, check: false });
    expect(gone.code).not.toBe(0);

    const two = await lading(['delete', '--no-progress', `${name}@${second}`]);
    expectOK(two, 'delete second signature');
    expect(two.stdout).toBe(`Deleted ${name}@${second}\n`);
    expect(two.stderr).toBe(`Referrer of ${pushed.digest}: last entry removed: deleted its referrers index\n`);
    expect(await referrersOf(`${name}:v1`)).toEqual([]);
    expect(await tagsOf(name)).toEqual(['v1']);
    expectOK(await lading(['pull', `${name}:v1`, await mkdtemp(path.join(work, 'still-'))]), 'the artifact stays');
  });

  it('a tag needs --yes; then the manifest and its tags go', async () => {
    const name = unique('bytag');
    const pushed = await push(`${name}:v1`);
    const refused = await lading(['delete', `${name}:v1`]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/pass --yes/);
    expect(await tagsOf(name)).toEqual(['v1']);
    const result = await lading(['delete', '--json', '--yes', `${name}:v1`]);
    expectOK(result, 'delete --yes');
    expect(json<DeleteCommandResult>(result)).toEqual({ reference: `${name}:v1`, digest: pushed.digest });
    expect(await tagsOf(name)).toEqual([]);
    const again = await lading(['delete', `${name}@${pushed.digest}`]);
    expect(again.code, again.stderr).toBe(3);
  });

  it('in an OCI layout, deletes the manifest and its tag', async () => {
    const pushed = json<PushCommandResult>(await lading(['push', '--json', 'oci:./layout-del:v1', 'notes.txt']));
    expectOK(await lading(['delete', `oci:./layout-del@${pushed.digest}`]), 'delete in layout');
    const tags = (await oras(['repo', 'tags', '--oci-layout', 'layout-del'])).split('\n').filter((t) => t !== '');
    expect(tags).toEqual([]);
  });

  it('a registry refusing DELETE is exit 2 with what to change, and the artifact stays', async () => {
    const name = `${fake.host}/refuse/app`;
    const pushed = await push(`${name}:v1`);
    const rule = fake.inject({ method: 'DELETE', action: { kind: 'status', status: 405 } });
    try {
      const result = await lading(['delete', '--json', `${name}@${pushed.digest}`]);
      expect(result.code, result.stderr).toBe(2);
      expect(json<ErrorJSON>(result).error.message).toMatch(
        /^delete .*: the registry refuses deletes \(HTTP 405\); on distribution, set storage\.delete\.enabled: true$/,
      );
    } finally {
      rule.remove();
    }
    expect(await tagsOf(name)).toEqual(['v1']);
  });

  it('keeps an entry another writer adds while the index is rewritten (If-Match answered 412)', async () => {
    const seeded = seed(3, 2);
    const [kept, deleted, added] = seeded.referrers.map((d) => d.digest);
    const indexPath = `/v2/${seeded.repository}/manifests/${seeded.tag}`;
    const done = raceBefore(
      (method, p) => method === 'PUT' && p === indexPath,
      () => {
        fallback.putManifest(seeded.repository, seeded.index(seeded.referrers), { tag: seeded.tag });
      },
    );
    fallback.clearLog();
    const result = await lading(['delete', '--json', `${fallback.host}/${seeded.repository}@${deleted}`]);
    expect(done()).toBe(true);
    expectOK(result, 'delete');
    expect(json<DeleteCommandResult>(result).referrersIndex).toBe('updated');
    const puts = fallback.requests.filter((r) => r.method === 'PUT' && r.path === indexPath);
    expect(puts.map((r) => [r.status, r.headers['if-match'] !== undefined])).toEqual([
      [412, true],
      [201, true],
    ]);
    expect(listedNow(seeded)).toEqual([kept, added]);
    expect(fallback.getManifest(seeded.repository, deleted ?? '')).toBeUndefined();
  });

  it('on a registry ignoring If-Match, removes the entry again when a racing writer put it back', async () => {
    const seeded = seed(3, 2);
    const [kept, deleted, added] = seeded.referrers.map((d) => d.digest);
    const indexPath = `/v2/${seeded.repository}/manifests/${seeded.tag}`;
    fallback.setConditionalPut(false);
    // The other writer read the index before lading's PUT and writes after it: lading's read-back sees its index.
    let putSeen = false;
    const done = raceBefore(
      (method, p) => {
        if (method === 'PUT' && p === indexPath) putSeen = true;
        return putSeen && method === 'GET' && p === indexPath;
      },
      () => {
        fallback.putManifest(seeded.repository, seeded.index(seeded.referrers), { tag: seeded.tag });
      },
    );
    fallback.clearLog();
    try {
      const result = await lading(['delete', '--json', `${fallback.host}/${seeded.repository}@${deleted}`]);
      expectOK(result, 'delete');
      expect(json<DeleteCommandResult>(result).referrersIndex).toBe('updated');
    } finally {
      fallback.setConditionalPut(true);
    }
    expect(done()).toBe(true);
    const puts = fallback.requests.filter((r) => r.method === 'PUT' && r.path === indexPath);
    expect(puts.map((r) => r.status)).toEqual([201, 201]);
    expect(listedNow(seeded)).toEqual([kept, added]);
  });

  it('deleting the last entry deletes that index only: one another writer tagged meanwhile is rewritten', async () => {
    const seeded = seed(2, 1);
    const [deleted, added] = seeded.referrers.map((d) => d.digest);
    const indexPath = `/v2/${seeded.repository}/manifests/${seeded.tag}`;
    const done = raceBefore(
      (method, p) =>
        method === 'DELETE' && p.startsWith(`/v2/${seeded.repository}/manifests/`) && !p.endsWith(deleted ?? ''),
      () => {
        fallback.putManifest(seeded.repository, seeded.index(seeded.referrers), { tag: seeded.tag });
      },
    );
    fallback.clearLog();
    const result = await lading(['delete', '--json', `${fallback.host}/${seeded.repository}@${deleted}`]);
    expect(done()).toBe(true);
    expectOK(result, 'delete');
    expect(json<DeleteCommandResult>(result).referrersIndex).toBe('updated');
    expect(listedNow(seeded)).toEqual([added]);
    expect(fallback.requests.filter((r) => r.method === 'PUT' && r.path === indexPath).map((r) => r.status)).toEqual([
      201,
    ]);
  });
});
