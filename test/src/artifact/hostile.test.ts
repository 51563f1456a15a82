// Hostile artifacts, crafted here byte by byte: every one is refused with a clear error, and the destination (and
// everything beside it) is exactly as it was before the pull.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import {
  ErrorCodes,
  LadingError,
  descriptorFor,
  packManifest,
  pullArtifact,
  type Descriptor,
  type PullLimits,
  type RegistryClient,
  type TOCEntry,
} from '@lading/core';
import { serializeTOC } from '@lading/core/internal';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { isolatedClient } from '../registry/helpers.js';
import { snapshot } from './tree.js';

interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  content?: Buffer;
  linkname?: string;
  mode?: number;
  /** Lie about the size in the header (the data written is `content`). */
  size?: number;
}

/** A tar built entry by entry with tar-stream (which writes what it is told, hostile or not). */
async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const header = {
      name: e.name,
      type: e.type ?? 'file',
      mode: e.mode ?? 0o644,
      mtime: new Date(0),
      ...(e.linkname ? { linkname: e.linkname } : {}),
      ...(e.type === 'character-device' ? { devmajor: 1, devminor: 3 } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => {
        if (err) reject(err);
        else resolve();
      };
      if (e.type === 'file' || e.type === undefined) pack.entry(header, e.content ?? Buffer.alloc(0), done);
      else pack.entry(header, done);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

let reg: FakeRegistry;
let client: RegistryClient;
let work: string;

beforeAll(async () => {
  reg = await startFakeRegistry();
  client = isolatedClient();
  work = await mkdtemp(path.join(tmpdir(), 'lading-hostile-'));
});
afterAll(async () => {
  await client.close();
  await reg.close();
});

const empty = descriptorFor('application/vnd.oci.empty.v1+json', Buffer.from('{}'));

/** Pushes a one-layer folder artifact (optionally with a TOC) to the fake registry and returns its repository. */
async function pushCrafted(
  layerBytes: Buffer,
  options: { toc?: TOCEntry[]; title?: string; gzip?: boolean } = {},
): Promise<string> {
  const repoName = `hostile/a-${randomBytes(4).toString('hex')}`;
  const repo = client.repository(`${reg.host}/${repoName}`);
  const body = options.gzip === false ? layerBytes : gzipSync(layerBytes);
  const layer: Descriptor = {
    ...descriptorFor(
      options.gzip === false ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.oci.image.layer.v1.tar+gzip',
      body,
    ),
    annotations: { 'org.opencontainers.image.title': options.title ?? 'evil', 'io.deis.oras.content.unpack': 'true' },
  };
  await repo.push(layer, body);
  let config = empty;
  let configBytes: Buffer = Buffer.from('{}');
  if (options.toc) {
    configBytes = serializeTOC({ entries: options.toc });
    config = descriptorFor('application/vnd.lading.toc.v1+json', configBytes);
  }
  await repo.push(config, configBytes);
  const manifest = packManifest({ artifactType: 'application/vnd.lading.artifact.v1', config, layers: [layer] });
  await repo.pushManifest(manifest.descriptor, manifest.bytes, ['v1']);
  return repoName;
}

/**
 * Pulls `repoName:v1` into a destination that already holds a file, next to an "outside" folder a hostile archive
 * would aim at; asserts the pull fails with `code` and a message matching `message`, and that nothing changed:
 * destination, outside folder, and no staging folder left behind.
 */
async function expectRefused(
  repoName: string,
  code: string,
  message: RegExp,
  limits: Partial<PullLimits> = {},
): Promise<void> {
  const base = await mkdtemp(path.join(work, 'case-'));
  const dest = path.join(base, 'dest');
  const outside = path.join(base, 'outside');
  await mkdir(dest);
  await mkdir(outside);
  await writeFile(path.join(dest, 'keep.txt'), 'precious');
  await writeFile(path.join(outside, 'x'), 'outside');
  const before = { dest: await snapshot(dest), outside: await snapshot(outside), base: (await readdir(base)).sort() };
  const error: unknown = await pullArtifact(client.repository(`${reg.host}/${repoName}`), 'v1', {
    destination: dest,
    limits,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LadingError);
  expect((error as LadingError).code).toBe(code);
  expect((error as LadingError).message).toMatch(message);
  expect(await snapshot(dest)).toEqual(before.dest);
  expect(await snapshot(outside)).toEqual(before.outside);
  expect((await readdir(base)).sort()).toEqual(before.base);
}

describe('hostile archives are refused and change nothing', () => {
  it('refuses path traversal', async () => {
    const repo = await pushCrafted(await makeTar([{ name: 'evil/../../outside/x', content: Buffer.from('pwned') }]));
    await expectRefused(repo, ErrorCodes.integrity, /\.\./);
  });

  it('refuses absolute paths', async () => {
    const repo = await pushCrafted(
      await makeTar([{ name: '/tmp/lading-absolute-test', content: Buffer.from('pwned') }]),
    );
    await expectRefused(repo, ErrorCodes.integrity, /absolute/);
  });

  it('refuses a symlink escaping the tree', async () => {
    const repo = await pushCrafted(await makeTar([{ name: 'evil/l', type: 'symlink', linkname: '../../outside' }]));
    await expectRefused(repo, ErrorCodes.integrity, /evil\/l/);
  });

  it('refuses writing through a symlinked folder', async () => {
    const repo = await pushCrafted(
      await makeTar([
        { name: 'evil/d', type: 'symlink', linkname: '.' },
        { name: 'evil/d/x', content: Buffer.from('through the link') },
      ]),
    );
    await expectRefused(repo, ErrorCodes.integrity, /evil\/d/);
  });

  it('refuses hard links', async () => {
    const repo = await pushCrafted(
      await makeTar([
        { name: 'evil/a', content: Buffer.from('a') },
        { name: 'evil/h', type: 'link', linkname: 'evil/a' },
      ]),
    );
    await expectRefused(repo, ErrorCodes.integrity, /evil\/h/);
  });

  it('refuses devices', async () => {
    const repo = await pushCrafted(await makeTar([{ name: 'evil/null', type: 'character-device' }]));
    await expectRefused(repo, ErrorCodes.integrity, /evil\/null/);
  });

  it('refuses duplicate entries', async () => {
    const repo = await pushCrafted(
      await makeTar([
        { name: 'evil/a', content: Buffer.from('first') },
        { name: 'evil/a', content: Buffer.from('second') },
      ]),
    );
    await expectRefused(repo, ErrorCodes.integrity, /evil\/a/);
  });

  it('refuses content that does not match the table of contents', async () => {
    const content = Buffer.from('real content');
    const tarBytes = await makeTar([
      { name: 'evil', type: 'directory', mode: 0o755 },
      { name: 'evil/a', content },
    ]);
    const wrong = createHash('sha256').update('something else').digest('hex');
    const size = gzipSync(tarBytes).length;
    const repo = await pushCrafted(tarBytes, {
      toc: [
        { path: 'evil', type: 'dir', mode: 0o755, layer: 0, offset: 0, length: size },
        {
          path: 'evil/a',
          type: 'file',
          mode: 0o644,
          size: content.length,
          sha256: wrong,
          layer: 0,
          offset: 0,
          length: size,
        },
      ],
    });
    await expectRefused(repo, ErrorCodes.integrity, /evil\/a has sha256 [0-9a-f]{64}, the table of contents says/);
  });

  it('refuses a layer whose bytes do not match its digest', async () => {
    const repo = await pushCrafted(await makeTar([{ name: 'evil/a', content: Buffer.from('fine') }]));
    const fault = reg.inject({ method: 'GET', path: /\/blobs\/sha256:/, action: { kind: 'corrupt' } });
    try {
      await expectRefused(repo, ErrorCodes.integrity, /digest mismatch|gzip|header/i);
    } finally {
      fault.remove();
    }
  });

  it('stops a gzip bomb at the size limit', async () => {
    const bomb = await makeTar([{ name: 'evil/zeros', content: Buffer.alloc(64 * 1024 * 1024) }]);
    const repo = await pushCrafted(bomb);
    await expectRefused(repo, ErrorCodes.integrity, /evil\/zeros/, { maxFileBytes: 1024 * 1024 });
  });

  it('stops at the file count limit', async () => {
    const many = await makeTar(
      Array.from({ length: 50 }, (_, i) => ({ name: `evil/f${i}`, content: Buffer.from('x') })),
    );
    const repo = await pushCrafted(many);
    await expectRefused(repo, ErrorCodes.integrity, /limit|entries|files/, { maxFiles: 10 });
  });

  it('refuses a title that climbs out of the destination', async () => {
    const repo = await pushCrafted(await makeTar([{ name: '../x', content: Buffer.from('x') }]), { title: '../x' });
    await expectRefused(repo, ErrorCodes.integrity, /\.\./);
  });

  it('leaves the destination unchanged when the connection drops mid-layer', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const repo = await pushCrafted(await makeTar([{ name: 'evil/big', content: data }]));
    const fault = reg.inject({
      method: 'GET',
      path: /\/blobs\/sha256:/,
      action: { kind: 'drop', afterBytes: 100_000 },
    });
    try {
      await expectRefused(repo, ErrorCodes.network, /.*/);
    } finally {
      fault.remove();
    }
  });
});
