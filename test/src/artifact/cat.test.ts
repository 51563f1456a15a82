// cat reads one file with one range request for its gzip member, verified against the table of contents.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ErrorCodes, catArtifact, listArtifact, openTarget, pushArtifact, type RegistryClient } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { collect, isolatedClient } from '../registry/helpers.js';

let reg: FakeRegistry;
let client: RegistryClient;
let src: string;
const files = new Map<string, Buffer>();

beforeAll(async () => {
  reg = await startFakeRegistry();
  client = isolatedClient();
  src = await mkdtemp(path.join(tmpdir(), 'lading-cat-'));
  await mkdir(path.join(src, 'big/sub'), { recursive: true });
  for (let i = 0; i < 24; i++) {
    const name = `big/${i % 2 ? 'sub/' : ''}f${String(i).padStart(2, '0')}.bin`;
    const bytes = randomBytes(256 * 1024);
    files.set(name, bytes);
    await writeFile(path.join(src, name), bytes);
  }
  await writeFile(path.join(src, 'notes.txt'), 'a file layer');
  const t = await openTarget(`${reg.host}/cat/app:v1`, { client });
  await pushArtifact(t.target, [{ path: 'big' }, { path: 'notes.txt' }], { cwd: src, tags: ['v1'] });
});
afterAll(async () => {
  await client.close();
  await reg.close();
});

describe('cat', () => {
  it('transfers only the one gzip member of the file, and checks it against the table of contents', async () => {
    const repo = client.repository(`${reg.host}/cat/app`);
    const listing = await listArtifact(repo, 'v1');
    const entry = listing.entries.find((e) => e.path === 'big/sub/f07.bin');
    const layer = (await repo.fetchManifest('v1')).bytes;
    const layers = (JSON.parse(Buffer.from(layer).toString()) as { layers: { digest: string; size: number }[] }).layers;
    const folder = layers[0];
    if (!entry || !folder) throw new Error('missing entry or layer');
    reg.clearLog();
    const result = await catArtifact(repo, 'v1', 'big/sub/f07.bin');
    expect(await collect(result.content)).toEqual(files.get('big/sub/f07.bin'));
    expect(result.ranged).toBe(true);
    expect(result.digest).toBe(entry.digest);
    const served = reg.blobBytesServed(folder.digest);
    console.info(
      `cat transferred ${served} of the ${folder.size}-byte layer (${((100 * served) / folder.size).toFixed(2)}%)`,
    );
    expect(served).toBeLessThan(folder.size / 10);
    expect(reg.requests.filter((r) => r.method === 'GET' && r.path.includes(folder.digest))).toHaveLength(1);
  });

  it('streams the layer and says so when the registry ignores ranges', async () => {
    reg.setRangeRequests(false);
    try {
      const ignored: string[] = [];
      const result = await catArtifact(client.repository(`${reg.host}/cat/app`), 'v1', 'big/f10.bin', {
        onRangeIgnored: (layer) => ignored.push(layer.digest),
      });
      expect(await collect(result.content)).toEqual(files.get('big/f10.bin'));
      expect(result.ranged).toBe(false);
      expect(ignored).toHaveLength(1);
    } finally {
      reg.setRangeRequests(true);
    }
  });

  it('reads a file layer whole', async () => {
    const result = await catArtifact(client.repository(`${reg.host}/cat/app`), 'v1', 'notes.txt');
    expect((await collect(result.content)).toString()).toBe('a file layer');
  });

  it('refuses a member whose bytes were tampered with', async () => {
    reg.inject({ method: 'GET', path: /\/blobs\//, times: 1, action: { kind: 'corrupt' } });
    await expect(catArtifact(client.repository(`${reg.host}/cat/app`), 'v1', 'big/f02.bin')).rejects.toMatchObject({
      code: expect.stringMatching(/ERR_LADING_(INTEGRITY|PROTOCOL)/) as unknown,
    });
  });

  it('says when the path is a folder or missing', async () => {
    const repo = client.repository(`${reg.host}/cat/app`);
    await expect(catArtifact(repo, 'v1', 'big/sub')).rejects.toMatchObject({ code: ErrorCodes.usage });
    await expect(catArtifact(repo, 'v1', 'nope.txt')).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });
});
