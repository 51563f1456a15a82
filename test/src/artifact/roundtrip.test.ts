// push → ls → pull round trips through every kind of target, and interop with oras in both directions.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { listArtifact, openTarget, pullArtifact, pushArtifact, type RegistryClient } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed, type TestBed } from '../testbed/index.js';
import { sampleTree, snapshot, type SnapshotEntry } from './tree.js';

const bed: TestBed = testbed();
const unique = (): string => randomBytes(4).toString('hex');
let work: string;
let src: string;
let fake: FakeRegistry;
let client: RegistryClient;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lading-roundtrip-'));
  src = path.join(work, 'src');
  await sampleTree(src);
  fake = await startFakeRegistry();
  client = isolatedClient();
  ({ env } = await makeToolHome(bed.dir));
});
afterAll(async () => {
  await client.close();
  await fake.close();
});

const places = (): { name: string; ref: () => string }[] => [
  { name: 'distribution', ref: () => `${bed.registries.anonymous.host}/artifacts/rt-${unique()}:v1` },
  { name: 'crane registry', ref: () => `${bed.registries.crane.host}/artifacts/rt-${unique()}:v1` },
  { name: 'fake registry', ref: () => `${fake.host}/artifacts/rt-${unique()}:v1` },
  { name: 'OCI layout', ref: () => `oci:${path.join(work, `layout-${unique()}`)}:v1` },
];

describe.each(places())('round trip through $name', ({ ref }) => {
  it('pulls back exactly the tree it pushed, lists it, and pushes reproducibly', async () => {
    const reference = ref();
    const dst = await openTarget(reference, { client, create: true });
    const inputs = [{ path: 'config' }, { path: 'tool' }];
    const pushed = await pushArtifact(dst.target, inputs, { cwd: src, tags: ['v1'] });
    const again = await pushArtifact(dst.target, inputs, { cwd: src, tags: ['v1'] });
    expect(again.descriptor.digest).toBe(pushed.descriptor.digest);
    expect(again.skipped).toBe(pushed.layers.length + 1); // every blob already there

    const listing = await listArtifact(dst.target, 'v1');
    expect(listing.hasTOC).toBe(true);
    const expected = await snapshot(src);
    expect(listing.entries.map((e) => e.path).sort()).toEqual(expected.map((e) => e.path).sort());

    const out = path.join(work, `out-${unique()}`);
    const source = await openTarget(reference, { client });
    const result = await pullArtifact(source.target, 'v1', { destination: out });
    expect(result.descriptor.digest).toBe(pushed.descriptor.digest);
    expect(await snapshot(out)).toEqual(expected);
  });
});

function contentOnly(entries: SnapshotEntry[]): Omit<SnapshotEntry, 'mode'>[] {
  return entries.map(({ mode: _mode, ...rest }) => rest);
}

describe('interop with oras', () => {
  it('oras pull of what lading pushed gives the same tree', async () => {
    const reference = `${bed.registries.anonymous.host}/artifacts/to-oras-${unique()}:v1`;
    const dst = await openTarget(reference, { client });
    await pushArtifact(dst.target, [{ path: 'config' }, { path: 'tool' }], { cwd: src, tags: ['v1'] });
    const out = path.join(work, `oras-${unique()}`);
    await mkdir(out);
    await run('oras', ['pull', '--plain-http', '-o', out, reference], { env });
    const pulled = await snapshot(out);
    const expected = await snapshot(src);
    // Folder layers keep modes through the tar; oras writes file layers with its own mode, so compare content.
    expect(contentOnly(pulled)).toEqual(contentOnly(expected));
    expect(pulled.filter((e) => e.path.startsWith('config')).map((e) => e.mode)).toEqual(
      expected.filter((e) => e.path.startsWith('config')).map((e) => e.mode),
    );
  });

  it('lading pulls what oras pushed (file and folder layers, no table of contents)', async () => {
    const reference = `${bed.registries.anonymous.host}/artifacts/from-oras-${unique()}:v1`;
    await run('oras', ['push', '--plain-http', reference, 'config', 'tool'], { env, cwd: src });
    const source = await openTarget(reference, { client });
    const listing = await listArtifact(source.target, 'v1');
    expect(listing.hasTOC).toBe(false);
    expect(listing.entries.map((e) => e.path)).toEqual(['tool']);
    expect(listing.unlisted.map((u) => u.title)).toEqual(['config']);
    const out = path.join(work, `from-oras-${unique()}`);
    await pullArtifact(source.target, 'v1', { destination: out });
    expect(contentOnly(await snapshot(out))).toEqual(contentOnly(await snapshot(src)));
  });

  it('refuses to overwrite without being told, and leaves the destination as it was', async () => {
    const reference = `${fake.host}/artifacts/overwrite-${unique()}:v1`;
    const t = await openTarget(reference, { client });
    await pushArtifact(t.target, [{ path: 'tool' }], { cwd: src, tags: ['v1'] });
    const out = path.join(work, `ow-${unique()}`);
    await mkdir(out);
    await writeFile(path.join(out, 'tool'), 'mine');
    const before = await snapshot(out);
    await expect(pullArtifact(t.target, 'v1', { destination: out })).rejects.toThrow(/tool exists; use --overwrite/);
    expect(await snapshot(out)).toEqual(before);
    await pullArtifact(t.target, 'v1', { destination: out, overwrite: true });
    expect((await snapshot(out)).find((e) => e.path === 'tool')?.size).toBe(20);
  });

  it('pulls only the files asked for', async () => {
    const reference = `${fake.host}/artifacts/select-${unique()}:v1`;
    const t = await openTarget(reference, { client });
    await pushArtifact(t.target, [{ path: 'config' }, { path: 'tool' }], { cwd: src, tags: ['v1'] });
    const out = path.join(work, `sel-${unique()}`);
    await pullArtifact(t.target, 'v1', { destination: out, files: ['config/app.yaml'] });
    expect((await snapshot(out)).map((e) => e.path)).toEqual(['config', 'config/app.yaml']);
  });
});
