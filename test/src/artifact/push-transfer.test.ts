// push moves its blobs through copy's transfer step: the same events, the same concurrency default, and
// cross-repository mounts when the registry already holds a blob in another repository.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { openTarget, pushArtifact, type PushEvent, type RegistryClient } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed } from '../testbed/index.js';
import { snapshot } from './tree.js';

const bed = testbed();
let reg: FakeRegistry;
let client: RegistryClient;
let src: string;
let work: string;

beforeAll(async () => {
  reg = await startFakeRegistry();
  client = isolatedClient();
  work = await mkdtemp(path.join(tmpdir(), 'lading-push-transfer-'));
  src = path.join(work, 'src');
  await mkdir(path.join(src, 'tree'), { recursive: true });
  await writeFile(path.join(src, 'tree/a.bin'), randomBytes(200 * 1024));
  await writeFile(path.join(src, 'notes.txt'), 'notes\n');
});
afterAll(async () => {
  await client.close();
  await reg.close();
});

describe('push', () => {
  it('mounts blobs another repository of the registry holds, and oras pulls the result', async () => {
    const inputs = [{ path: 'tree' }, { path: 'notes.txt' }];
    const first = await openTarget(`${reg.host}/transfer/first:v1`, { client });
    const firstEvents: PushEvent[] = [];
    const pushed = await pushArtifact(first, inputs, { cwd: src, onEvent: (e) => firstEvents.push(e) });
    // Every blob was new: copying, progress, copied, as copy reports it.
    const blobs = [(JSON.parse(pushed.manifest.toString()) as { config: { digest: string } }).config.digest];
    blobs.push(...pushed.layers.map((l) => l.digest));
    for (const digest of blobs) {
      const steps = firstEvents.filter((e) => 'descriptor' in e && e.descriptor.digest === digest).map((e) => e.type);
      expect(steps[0]).toBe('copying');
      expect(steps.at(-1)).toBe('copied');
    }

    reg.clearLog();
    const second = await openTarget(`${reg.host}/transfer/second:v1`, { client });
    const events: PushEvent[] = [];
    const again = await pushArtifact(second, inputs, {
      cwd: src,
      mountFrom: ['transfer/first'],
      onEvent: (e) => events.push(e),
    });
    expect(again.descriptor.digest).toBe(pushed.descriptor.digest);
    const mounted = events.filter((e) => e.type === 'mounted');
    expect(mounted.map((e) => e.descriptor.digest).sort()).toEqual([...blobs].sort());
    expect(mounted.every((e) => e.from === 'transfer/first')).toBe(true);
    // No blob bytes were uploaded: only mount POSTs, no PATCH or PUT of a blob.
    const uploads = reg.requests.filter((r) => r.path.includes('/blobs/uploads/'));
    expect(uploads.filter((r) => r.method !== 'POST')).toEqual([]);
    expect(uploads.every((r) => new URLSearchParams(r.query).has('mount'))).toBe(true);

    const out = path.join(work, 'oras-out');
    await mkdir(out);
    const { env } = await makeToolHome(bed.dir);
    await run('oras', ['pull', '--plain-http', '-o', out, `${reg.host}/transfer/second:v1`], { env });
    const got = await snapshot(out);
    const want = await snapshot(src);
    expect(got.map((e) => [e.path, e.type, e.sha256])).toEqual(want.map((e) => [e.path, e.type, e.sha256]));
  });

  it('stops its other uploads when one fails, before it returns', async () => {
    const files = path.join(work, 'files');
    await mkdir(files);
    for (const name of ['x.bin', 'y.bin']) await writeFile(path.join(files, name), randomBytes(512 * 1024));
    // The config (the table of contents, pushed from memory) is uploaded in one POST + PUT: fail that PUT. The file
    // layers stream in one PATCH each: hold those, so they are still under way when the config fails.
    const failPut = reg.inject({
      method: 'PUT',
      path: (r) => r.path.includes('/transfer/stop/blobs/uploads/') && r.query.has('digest'),
      action: { kind: 'status', status: 400 },
    });
    const holdPatch = reg.inject({
      method: 'PATCH',
      path: (r) => r.path.includes('/transfer/stop/blobs/uploads/'),
      action: { kind: 'late', delayMs: 3000 },
    });
    let open = 0;
    let most = 0;
    const repo = client.repository(`${reg.host}/transfer/stop`);
    const track =
      <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
      async (...args: A): Promise<void> => {
        open++;
        most = Math.max(most, open);
        try {
          await fn(...args);
        } finally {
          open--;
        }
      };
    const watched = new Proxy(repo, {
      get: (t, key): unknown => {
        const value = Reflect.get(t, key) as unknown;
        if (typeof value !== 'function') return value;
        const bound = (value as (...args: unknown[]) => Promise<void>).bind(t);
        return key === 'push' || key === 'pushFile' ? track(bound) : bound;
      },
    });
    try {
      await expect(
        pushArtifact(watched, [{ path: 'x.bin' }, { path: 'y.bin' }], { cwd: files, uploadConcurrency: 3 }),
      ).rejects.toMatchObject({ message: expect.stringMatching(/400/) as unknown });
      expect(most).toBe(3); // the config and both layers were under way together
      expect(open).toBe(0); // and none was still uploading when the push settled
    } finally {
      failPut.remove();
      holdPatch.remove();
    }
  });
});
