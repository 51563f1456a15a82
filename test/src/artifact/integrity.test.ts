// One digest check per byte, at the fetcher: pull, ls, cat and copy no longer hash what they fetch a second time, so
// these tests prove that a registry serving wrong bytes still fails each of them with ERR_LADING_INTEGRITY and that
// nothing reaches the destination. They also check that a failed pull stops its other layers before it cleans up,
// and that cat bounds its search of a layer when there is no table of contents.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import {
  ErrorCodes,
  OCILayout,
  catArtifact,
  copy,
  listArtifact,
  openTarget,
  pullArtifact,
  pushArtifact,
  type ByteStream,
  type Descriptor,
  type GraphTarget,
  type PushResult,
  type RegistryClient,
} from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { collect, isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed } from '../testbed/index.js';

const bed = testbed();
let reg: FakeRegistry;
let client: RegistryClient;
let work: string;
let src: string;
let pushed: PushResult;
const repoName = 'integrity/app';

beforeAll(async () => {
  reg = await startFakeRegistry();
  client = isolatedClient();
  work = await mkdtemp(path.join(tmpdir(), 'lading-integrity-'));
  src = path.join(work, 'src');
  await mkdir(path.join(src, 'tree/sub'), { recursive: true });
  await writeFile(path.join(src, 'tree/a.txt'), 'alpha\n');
  await writeFile(path.join(src, 'tree/sub/b.bin'), randomBytes(300 * 1024));
  await writeFile(path.join(src, 'notes.txt'), 'a file layer\n');
  const t = await openTarget(`${reg.host}/${repoName}:v1`, { client });
  pushed = await pushArtifact(t.target, [{ path: 'tree' }, { path: 'notes.txt' }], { cwd: src, tags: ['v1'] });
});
afterAll(async () => {
  await client.close();
  await reg.close();
});

const repository = (): GraphTarget => client.repository(`${reg.host}/${repoName}`);

/** Serves `blob` (a layer or the table of contents) or the manifest with every byte inverted, while `fn` runs. */
async function corrupted<T>(what: Descriptor, fn: () => Promise<T>): Promise<T> {
  const kind = what.digest === pushed.descriptor.digest ? 'manifests' : 'blobs';
  const fault = reg.inject({
    method: 'GET',
    path: `/v2/${repoName}/${kind}/${what.digest}`,
    action: { kind: 'corrupt' },
  });
  try {
    return await fn();
  } finally {
    fault.remove();
  }
}

/** The entries of a folder (none when it does not exist). */
async function entriesOf(dir: string): Promise<string[]> {
  return readdir(dir).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  });
}

const integrity = { code: ErrorCodes.integrity };

describe('a registry serving wrong bytes', () => {
  const cases = (): { name: string; desc: () => Descriptor }[] => [
    { name: 'manifest', desc: () => pushed.descriptor },
    {
      name: 'table of contents',
      desc: () => (JSON.parse(pushed.manifest.toString()) as { config: Descriptor }).config,
    },
    { name: 'folder layer', desc: () => pushed.layers[0] as Descriptor },
    { name: 'file layer', desc: () => pushed.layers[1] as Descriptor },
  ];

  it.each(cases())('fails pull on a corrupt $name, and writes nothing', async ({ desc }) => {
    const parent = await mkdtemp(path.join(work, 'pull-'));
    const destination = path.join(parent, 'out');
    await corrupted(desc(), () =>
      expect(pullArtifact(repository(), 'v1', { destination })).rejects.toMatchObject(integrity),
    );
    // No destination, no staging folder left beside it.
    expect(await entriesOf(parent)).toEqual([]);
  });

  it.each(cases().slice(0, 2))('fails ls on a corrupt $name', async ({ desc }) => {
    await corrupted(desc(), () => expect(listArtifact(repository(), 'v1')).rejects.toMatchObject(integrity));
  });

  it.each([
    { name: 'manifest', file: 'notes.txt', desc: () => pushed.descriptor },
    { name: 'file layer', file: 'notes.txt', desc: () => pushed.layers[1] as Descriptor },
    { name: 'folder layer (range read)', file: 'tree/sub/b.bin', desc: () => pushed.layers[0] as Descriptor },
  ])('fails cat on a corrupt $name', async ({ file, desc }) => {
    await corrupted(desc(), () => expect(catArtifact(repository(), 'v1', file)).rejects.toMatchObject(integrity));
  });

  it('fails cat on a corrupt folder layer when the registry ignores ranges', async () => {
    reg.setRangeRequests(false);
    try {
      await corrupted(pushed.layers[0] as Descriptor, () =>
        expect(catArtifact(repository(), 'v1', 'tree/sub/b.bin')).rejects.toMatchObject(integrity),
      );
    } finally {
      reg.setRangeRequests(true);
    }
  });

  it.each(cases())(
    'fails copy on a corrupt $name, and the destination holds neither it nor the tag',
    async ({ desc }) => {
      const layout = await OCILayout.open(await mkdtemp(path.join(work, 'layout-')));
      await corrupted(desc(), () => expect(copy(repository(), 'v1', layout, 'v1')).rejects.toMatchObject(integrity));
      expect(await layout.exists(desc())).toBe(false);
      expect(await layout.exists(pushed.descriptor)).toBe(false);
      await expect(layout.resolve('v1')).rejects.toMatchObject({ code: ErrorCodes.notFound });
    },
  );
});

/** The target, with a count of the fetched streams that have not ended yet. */
function watched(target: GraphTarget): { target: GraphTarget; open: () => number } {
  let open = 0;
  const fetch = async (desc: Descriptor, options?: Parameters<GraphTarget['fetch']>[1]): Promise<ByteStream> => {
    const stream = await target.fetch(desc, options);
    open++;
    return (async function* () {
      try {
        yield* stream;
      } finally {
        open--;
      }
    })();
  };
  return {
    // Every other member is the repository's own, bound to it.
    target: new Proxy(target, {
      get: (t, key): unknown => {
        if (key === 'fetch') return fetch;
        const value = Reflect.get(t, key) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
      },
    }),
    open: () => open,
  };
}

describe('a pull whose layer fails', () => {
  it('stops the other layers before it removes its staging folders', async () => {
    const many = path.join(work, 'many');
    await mkdir(many);
    const names = ['f0.bin', 'f1.bin', 'f2.bin', 'f3.bin'];
    for (const name of names) await writeFile(path.join(many, name), randomBytes(1024 * 1024));
    const t = await openTarget(`${reg.host}/integrity/many:v1`, { client });
    const result = await pushArtifact(
      t.target,
      names.map((name) => ({ path: name })),
      { cwd: many, tags: ['v1'] },
    );
    const [bad, ...others] = result.layers as [Descriptor, ...Descriptor[]];
    const corrupt = reg.inject({
      method: 'GET',
      path: `/v2/integrity/many/blobs/${bad.digest}`,
      action: { kind: 'corrupt' },
    });
    // The other layers arrive slowly, so they are still being written when the corrupt one fails.
    const slow = reg.inject({
      method: 'GET',
      path: (r) => others.some((l) => r.path === `/v2/integrity/many/blobs/${l.digest}`),
      action: { kind: 'slow', chunkBytes: 16 * 1024, delayMs: 40, maxTotalMs: 4000 },
    });
    try {
      const parent = await mkdtemp(path.join(work, 'pull-many-'));
      const repo = watched(client.repository(`${reg.host}/integrity/many`));
      const started: string[] = [];
      await expect(
        pullArtifact(repo.target, 'v1', {
          destination: path.join(parent, 'out'),
          concurrency: 4,
          onEvent: (e) => {
            if (e.type === 'layer-start') started.push(e.descriptor.digest);
          },
        }),
      ).rejects.toMatchObject(integrity);
      expect(started.length).toBeGreaterThan(1);
      // Every layer's download had ended (aborted) when the pull settled, and nothing is left beside the destination.
      expect(repo.open()).toBe(0);
      expect(await entriesOf(parent)).toEqual([]);
    } finally {
      corrupt.remove();
      slow.remove();
    }
  });
});

describe('cat without a table of contents', () => {
  let reference: string;
  beforeAll(async () => {
    // oras pushes a folder as one tar+gzip layer and no table of contents: cat has to search the layer.
    const folder = path.join(work, 'oras-src');
    await mkdir(path.join(folder, 'dir'), { recursive: true });
    await writeFile(path.join(folder, 'dir/a-zeros.bin'), Buffer.alloc(32 * 1024 * 1024));
    await writeFile(path.join(folder, 'dir/b.txt'), 'found\n');
    reference = `${reg.host}/integrity/oras:v1`;
    const { env } = await makeToolHome(bed.dir);
    await run('oras', ['push', '--plain-http', reference, 'dir'], { cwd: folder, env });
  });

  it('finds the file within the default bounds', async () => {
    const result = await catArtifact(client.repository(`${reg.host}/integrity/oras`), 'v1', 'dir/b.txt');
    expect((await collect(result.content)).toString()).toBe('found\n');
  });

  it('refuses a file larger than maxFileBytes before reading it', async () => {
    const repo = client.repository(`${reg.host}/integrity/oras`);
    await expect(
      catArtifact(repo, 'v1', 'dir/a-zeros.bin', { limits: { maxFileBytes: 1024 * 1024 } }),
    ).rejects.toMatchObject({
      ...integrity,
      message: expect.stringMatching(/a-zeros\.bin declares 33554432 bytes/) as unknown,
    });
  });

  it('stops searching once the uncompressed tar passes the bound', async () => {
    const repo = client.repository(`${reg.host}/integrity/oras`);
    await expect(
      catArtifact(repo, 'v1', 'dir/b.txt', { limits: { maxTotalBytes: 1024 * 1024, maxFiles: 10 } }),
    ).rejects.toMatchObject({
      ...integrity,
      message: expect.stringMatching(/uncompressed archive is larger/) as unknown,
    });
  });
});
