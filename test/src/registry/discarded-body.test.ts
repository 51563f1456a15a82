// Every path of the registry client that gives up on a response body before its end (a size mismatch, a 404, an
// oversized manifest, a wrong range, a resume the registry refuses) must throw its own error and nothing else: an
// undici body destroyed without an error listener emits `RequestAbortedError` a tick later, which is an uncaught
// exception that kills the process (issue 9, item 3). The fake registry serves the faults.
import { ErrorCodes, LadingError, type Descriptor, type RemoteRepository } from '@lading/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { collect, isolatedClient, randomBlob } from './helpers.js';

/** Errors thrown outside any awaited promise while a test runs (the crash this file is about). */
const stray: unknown[] = [];
const onStray = (error: unknown): void => {
  stray.push(error);
};

/** Lets pending immediates and ticks run: undici emits the destroyed body's error on `setImmediate`. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function errorOf(p: Promise<unknown>): Promise<LadingError> {
  const e: unknown = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  await settle();
  if (!(e instanceof LadingError)) throw new Error(`expected a LadingError, got ${String(e)}`);
  return e;
}

describe('registry responses given up before their end', () => {
  let reg: FakeRegistry;
  const client = isolatedClient({ manifestSizeLimit: 1024 });
  let repo: RemoteRepository;
  let blob: { bytes: Buffer; desc: Descriptor };

  beforeAll(async () => {
    reg = await startFakeRegistry();
    repo = client.repository(`${reg.host}/discard/body`);
    // Small enough to arrive with the headers: that is when a destroyed body emits its error on its own.
    blob = randomBlob(4096);
    reg.putBlob('discard/body', blob.bytes);
    // Before vitest's own handler: vitest would report the error too, but not which test caused it.
    process.prependListener('uncaughtException', onStray);
  });
  afterEach(() => {
    reg.clearFaults();
    const seen = stray.splice(0);
    expect(seen, seen.map((e) => (e instanceof Error ? e.stack : String(e))).join('\n')).toEqual([]);
  });
  afterAll(async () => {
    process.off('uncaughtException', onStray);
    await client.close();
    await reg.close();
  });

  it('fetch of a blob the registry announces with another size: integrity error, nothing stray', async () => {
    const e = await errorOf(repo.fetch({ ...blob.desc, size: blob.desc.size + 1 }));
    expect(e.code).toBe(ErrorCodes.integrity);
    expect(e.message).toBe(
      `fetch blob ${reg.host}/discard/body@${blob.desc.digest}: size mismatch: expected ${blob.desc.size + 1} bytes, the registry announced ${blob.desc.size}`,
    );
    // The client still works afterwards.
    expect((await collect(await repo.fetch(blob.desc))).equals(blob.bytes)).toBe(true);
  });

  it('fetch of a missing manifest by digest (404): not found, nothing stray', async () => {
    const digest = `sha256:${'0'.repeat(64)}`;
    const e = await errorOf(repo.fetchManifest(digest));
    expect(e.code).toBe(ErrorCodes.notFound);
  });

  it('a manifest announced over the size limit: protocol error, nothing stray', async () => {
    const big = reg.putManifest('discard/body', { schemaVersion: 2, padding: 'x'.repeat(4096) }, { tag: 'big' });
    const e = await errorOf(repo.fetchManifest('big'));
    expect(e.code).toBe(ErrorCodes.protocol);
    expect(e.message).toContain(`${big.size} bytes is over the 1024-byte manifest limit`);
  });

  it('a 206 for another range than asked: protocol error, nothing stray', async () => {
    reg.inject({
      method: 'GET',
      path: `/v2/discard/body/blobs/${blob.desc.digest}`,
      action: { kind: 'status', status: 206, headers: { 'content-range': `bytes 0-9/${blob.desc.size}` } },
    });
    const e = await errorOf(repo.fetchRange(blob.desc, 100, 10));
    expect(e.code).toBe(ErrorCodes.protocol);
    expect(e.message).toContain('the registry sent range "bytes 0-9/');
  });

  it('a dropped download the registry cannot resume: network error, nothing stray', async () => {
    reg.inject({
      method: 'GET',
      path: `/v2/discard/body/blobs/${blob.desc.digest}`,
      times: 1,
      action: { kind: 'drop', afterBytes: 1024 },
    });
    // The resume (a Range request) is answered 200 with a JSON body instead of 206.
    reg.inject({
      method: 'GET',
      path: (req) => req.path === `/v2/discard/body/blobs/${blob.desc.digest}` && req.headers.range !== undefined,
      action: { kind: 'status', status: 200 },
    });
    const e = await errorOf(repo.fetch(blob.desc).then(collect));
    expect(e.code).toBe(ErrorCodes.network);
    expect(e.message).toContain('the registry cannot resume it (HTTP 200)');
  });

  it('tags of a missing repository (404): not found, nothing stray', async () => {
    const e = await errorOf(client.repository(`${reg.host}/discard/none`).tags());
    expect(e.code).toBe(ErrorCodes.notFound);
  });
});
