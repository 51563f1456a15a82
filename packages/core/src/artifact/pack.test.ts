import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rm,
  symlink,
  truncate,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';

import { extract, type Header } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { ImageManifest } from '../descriptor.js';
import { ErrorCodes, isLadingError } from '../errors.js';
import {
  AnnotationContentDigest,
  AnnotationTitle,
  AnnotationUnpack,
  MediaTypeImageLayerGzip,
  MediaTypeImageManifest,
} from '../media-types.js';
import { LayerFile, OrderedLayer } from './gzip-layer.js';
import { packArtifact, sourceDateEpochFromEnv, type PackInput, type PackOptions, type PackProgress } from './pack.js';
import { encodeTarHeader, splitUstarName } from './tar-member.js';
import { ArtifactTypeLading, MediaTypeTOC, parseTOC, type TOCEntry } from './toc.js';
import { titleFor } from './walk.js';

let work: string;
let runs = 0;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lading-pack-'));
  vi.stubEnv('SOURCE_DATE_EPOCH', undefined);
  // The default digest cache goes to the test folder, never the user's.
  vi.stubEnv('XDG_CACHE_HOME', path.join(work, '.cache'));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(work, { recursive: true, force: true });
});

const sha256hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** Packs with `cwd` = the test folder and a fresh temporary folder. */
function pack(inputs: PackInput[], options: Partial<PackOptions> = {}) {
  return packArtifact(inputs, { tempDir: path.join(work, `.out-${runs++}`), cwd: work, ...options });
}

/** Writes files under `root`: a string is content (mode 0644), `{ dir }` a folder, `{ link }` a symlink. */
type Spec = Record<string, string | Buffer | { mode: number; content: string } | { dir: true } | { link: string }>;
async function makeTree(root: string, spec: Spec): Promise<void> {
  await mkdir(root, { recursive: true });
  for (const [name, what] of Object.entries(spec)) {
    const file = path.join(root, name);
    await mkdir(path.dirname(file), { recursive: true });
    if (typeof what === 'string' || Buffer.isBuffer(what)) {
      await writeFile(file, what);
      await chmod(file, 0o644);
    } else if ('dir' in what) {
      await mkdir(file, { recursive: true });
    } else if ('link' in what) {
      await symlink(what.link, file);
    } else {
      await writeFile(file, what.content);
      await chmod(file, what.mode);
    }
  }
}

const sampleTree: Spec = {
  'app.yaml': 'name: app\n',
  'bin/run': { mode: 0o755, content: '#!/bin/sh\necho run\n' },
  'bin/current': { link: 'run' },
  'data/empty': '',
  'empty-dir': { dir: true },
  'café/naïve.txt': 'unicode\n',
  'z-last': 'z',
};

interface TarMember {
  header: Omit<Header, 'pax'> & { pax?: Record<string, string> | null };
  data: Buffer;
}

/** Parses an uncompressed tar with tar-stream (PAX records applied to the headers). */
async function parseTar(bytes: Buffer): Promise<TarMember[]> {
  const out: TarMember[] = [];
  const ex = extract();
  const done = (async () => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry as AsyncIterable<Buffer>) chunks.push(chunk);
      out.push({ header: entry.header as TarMember['header'], data: Buffer.concat(chunks) });
    }
  })();
  ex.end(bytes);
  await done;
  return out;
}

function expectUsage(error: unknown, ...fragments: string[]): void {
  expect(isLadingError(error, ErrorCodes.usage)).toBe(true);
  for (const fragment of fragments) expect((error as Error).message).toContain(fragment);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

// First in the file, so the worker's RSS is not inflated by the garbage of earlier tests.
describe('packArtifact: memory', () => {
  // 1 GiB, sparse but for a 64 KiB pseudo-random run in every MiB: it reads fast, compresses to ~35 MB of real
  // output (so the layer writer is exercised), and takes a few seconds on 2 cores.
  const GiB = 1024 * 1024 * 1024;
  const MiB = 1024 * 1024;

  async function writeBigFile(file: string): Promise<string> {
    await truncate(file, 0).catch(() => undefined);
    await writeFile(file, '');
    await truncate(file, GiB);
    const handle = await open(file, 'r+');
    let state = 0x9e3779b9;
    const run = Buffer.alloc(64 * 1024);
    try {
      for (let offset = 0; offset < GiB; offset += MiB) {
        for (let i = 0; i < run.byteLength; i += 4) {
          // xorshift32; 4 bits per byte of entropy, like text, so deflate has work to do.
          state ^= state << 13;
          state ^= state >>> 17;
          state ^= state << 5;
          run.writeUInt32LE((state & 0x0f0f0f0f) | 0x40404040, i);
        }
        await handle.write(run, 0, run.byteLength, offset);
      }
    } finally {
      await handle.close();
    }
    const hash = createHash('sha256');
    await pipeline(createReadStream(file, { highWaterMark: 4 * MiB }), hash);
    return hash.digest('hex');
  }

  it('packs a 1 GiB file inside a folder with RSS under 200 MB', async () => {
    await mkdir(path.join(work, 'big'));
    const file = path.join(work, 'big/blob.bin');
    const expected = await writeBigFile(file);
    await writeFile(path.join(work, 'big/after.txt'), 'after');

    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    let packed;
    try {
      packed = await pack([{ path: 'big' }]);
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage().rss);
    console.info(
      `pack of 1 GiB: ${seconds.toFixed(1)} s, RSS before ${(before / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB`,
    );
    expect(peak).toBeLessThan(200 * 1000 * 1000);
    // What the pack itself added, whatever the worker started with.
    expect(peak - before).toBeLessThan(100 * 1000 * 1000);

    const entry = packed.toc.entries.find((e) => e.path === 'big/blob.bin') as TOCEntry;
    expect(entry.size).toBe(GiB);
    expect(entry.sha256).toBe(expected);
    // The member alone decompresses to the header block, the file, and no padding (1 GiB is block-aligned).
    const hash = createHash('sha256');
    let skipped = 0;
    await pipeline(
      createReadStream(packed.layers[0]?.file ?? '', { start: entry.offset, end: entry.offset + entry.length - 1 }),
      createGunzip(),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          const rest = chunk.subarray(Math.max(0, 512 - skipped));
          skipped += chunk.byteLength - rest.byteLength;
          hash.update(rest);
        }
        yield* [];
      },
    );
    expect(hash.digest('hex')).toBe(expected);
    await rm(path.join(work, 'big'), { recursive: true });
  }, 120_000);
});

describe('packArtifact: manifest and TOC', () => {
  it('writes the manifest of docs/format.md: key order, media types, no added annotations', async () => {
    await makeTree(path.join(work, 'config'), sampleTree);
    await writeFile(path.join(work, 'tool'), 'tool bytes');
    const packed = await pack([{ path: 'config' }, { path: 'tool', mediaType: 'application/x-tool' }]);

    const manifest = JSON.parse(packed.manifest.bytes.toString()) as ImageManifest;
    expect(Object.keys(manifest)).toEqual(['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers']);
    expect(packed.manifest.bytes.toString()).not.toMatch(/\s/);
    expect(manifest.mediaType).toBe(MediaTypeImageManifest);
    expect(manifest.artifactType).toBe(ArtifactTypeLading);
    expect(manifest.config).toEqual(packed.config.descriptor);
    expect(packed.config.descriptor).toEqual({
      mediaType: MediaTypeTOC,
      digest: `sha256:${sha256hex(packed.config.bytes)}`,
      size: packed.config.bytes.byteLength,
    });
    expect(packed.manifest.descriptor).toEqual({
      mediaType: MediaTypeImageManifest,
      digest: `sha256:${sha256hex(packed.manifest.bytes)}`,
      size: packed.manifest.bytes.byteLength,
    });
    expect(manifest.layers).toEqual(packed.layers.map((l) => l.descriptor));

    const [folder, tool] = packed.layers;
    expect(folder?.descriptor.mediaType).toBe(MediaTypeImageLayerGzip);
    expect(Object.keys(folder?.descriptor.annotations ?? {})).toEqual([
      AnnotationContentDigest,
      AnnotationUnpack,
      AnnotationTitle,
    ]);
    expect(folder?.descriptor.annotations?.[AnnotationTitle]).toBe('config');
    expect(folder?.descriptor.annotations?.[AnnotationUnpack]).toBe('true');
    expect(tool?.descriptor).toEqual({
      mediaType: 'application/x-tool',
      digest: `sha256:${sha256hex('tool bytes')}`,
      size: 10,
      annotations: { [AnnotationTitle]: 'tool' },
    });
    // File layers are the files themselves, not copies.
    expect(tool?.file).toBe(path.join(work, 'tool'));

    // The TOC parses back with the format's own checks, and matches what we returned.
    const toc = parseTOC(packed.config.bytes, manifest.layers, 'test');
    expect(toc).toEqual(packed.toc);
    expect(toc.entries.map((e) => e.path)).toEqual([
      'config',
      'config/app.yaml',
      'config/bin',
      'config/bin/current',
      'config/bin/run',
      'config/café',
      'config/café/naïve.txt',
      'config/data',
      'config/data/empty',
      'config/empty-dir',
      'config/z-last',
      'tool',
    ]);
    expect(toc.entries.at(-1)).toEqual({
      path: 'tool',
      type: 'file',
      mode: 0o644,
      size: 10,
      sha256: sha256hex('tool bytes'),
      layer: 1,
      offset: 0,
      length: 10,
    });
  });

  it('adds user annotations sorted by key, and takes the artifact type given', async () => {
    await writeFile(path.join(work, 'f'), 'x');
    const a = await pack([{ path: 'f' }], {
      annotations: { 'z.key': '1', 'a.key': '2' },
      artifactType: 'application/x-a',
    });
    const b = await pack([{ path: 'f' }], {
      annotations: { 'a.key': '2', 'z.key': '1' },
      artifactType: 'application/x-a',
    });
    const manifest = JSON.parse(a.manifest.bytes.toString()) as ImageManifest;
    expect(manifest.artifactType).toBe('application/x-a');
    expect(Object.keys(manifest)).toEqual([
      'schemaVersion',
      'mediaType',
      'artifactType',
      'config',
      'layers',
      'annotations',
    ]);
    expect(Object.keys(manifest.annotations ?? {})).toEqual(['a.key', 'z.key']);
    expect(a.manifest.descriptor.digest).toBe(b.manifest.descriptor.digest);
  });
});

describe('packArtifact: reproducibility', () => {
  it('gives the same digests twice, and for a copy with other times, owners, creation order and concurrency', async () => {
    const spec: Spec = { ...sampleTree };
    for (let i = 0; i < 40; i++) spec[`many/f${String(i).padStart(2, '0')}`] = `file ${i}\n`.repeat(i * 50);
    await makeTree(path.join(work, 'one/tree'), spec);
    // The copy is created in reverse order (so readdir order may differ), with other mtimes and owners.
    const reversed = Object.fromEntries(Object.entries(spec).reverse());
    await makeTree(path.join(work, 'two/tree'), reversed);
    for (const name of await readdir(path.join(work, 'two/tree'), { recursive: true })) {
      const file = path.join(work, 'two/tree', name);
      await chown(file, 1234, 5678).catch(() => undefined);
      if (!(await lstat(file)).isSymbolicLink()) await utimes(file, 1_000_000, 1_000_000 + name.length);
    }

    const first = await pack([{ path: 'tree' }], { cwd: path.join(work, 'one') });
    const again = await pack([{ path: 'tree' }], { cwd: path.join(work, 'one'), concurrency: 1 });
    const copy = await pack([{ path: 'tree' }], { cwd: path.join(work, 'two'), concurrency: 7 });
    expect(again.manifest.bytes.equals(first.manifest.bytes)).toBe(true);
    expect(copy.manifest.descriptor.digest).toBe(first.manifest.descriptor.digest);
    expect(await readFile(copy.layers[0]?.file ?? '')).toEqual(await readFile(first.layers[0]?.file ?? ''));
  });

  it('uses SOURCE_DATE_EPOCH, the option over the variable, and the files’ times with preserveTimes', async () => {
    await makeTree(path.join(work, 'dir'), { f: 'x' });
    await utimes(path.join(work, 'dir/f'), 1_600_000_000, 1_600_000_123);
    const mtimes = async (options: Partial<PackOptions>) => {
      const packed = await pack([{ path: 'dir' }], options);
      const members = await parseTar(gunzipSync(await readFile(packed.layers[0]?.file ?? '')));
      return members.map((m) => m.header.mtime.getTime() / 1000);
    };
    expect(await mtimes({})).toEqual([0, 0]);
    vi.stubEnv('SOURCE_DATE_EPOCH', '1700000000');
    expect(sourceDateEpochFromEnv()).toBe(1_700_000_000);
    expect(await mtimes({})).toEqual([1_700_000_000, 1_700_000_000]);
    expect(await mtimes({ sourceDateEpoch: 42 })).toEqual([42, 42]);
    const preserved = await mtimes({ preserveTimes: true });
    expect(preserved[1]).toBe(1_600_000_123);
    vi.stubEnv('SOURCE_DATE_EPOCH', 'yesterday');
    expectUsage(await rejection(pack([{ path: 'dir' }])), 'SOURCE_DATE_EPOCH', 'yesterday');
  });
});

describe('packArtifact: folder layers', () => {
  it('writes ustar headers: uid/gid 0, no names, permission bits only, exec bit kept', async () => {
    await makeTree(path.join(work, 'dir'), {
      plain: 'p',
      'tool.sh': { mode: 0o755, content: 'echo' },
      setuid: { mode: 0o4755, content: 's' },
    });
    await chmod(path.join(work, 'dir/setuid'), 0o4755);
    const packed = await pack([{ path: 'dir' }]);
    const members = await parseTar(gunzipSync(await readFile(packed.layers[0]?.file ?? '')));
    const byName = Object.fromEntries(members.map((m) => [m.header.name, m.header]));
    for (const header of Object.values(byName)) {
      expect([header.uid, header.gid, header.uname, header.gname]).toEqual([0, 0, '', '']);
    }
    expect(byName['dir/']?.type).toBe('directory');
    expect(byName['dir/tool.sh']?.mode).toBe(0o755);
    expect(byName['dir/plain']?.mode).toBe(0o644);
    expect(byName['dir/setuid']?.mode).toBe(0o755);
    expect(packed.toc.entries.find((e) => e.path === 'dir/tool.sh')?.mode).toBe(0o755);
    // The raw header block: magic "ustar\0" and version "00".
    const raw = gunzipSync(await readFile(packed.layers[0]?.file ?? ''));
    expect(raw.subarray(257, 265).toString('latin1')).toBe('ustar\u000000');
  });

  it('keeps empty files and empty folders, and packs an empty folder', async () => {
    await makeTree(path.join(work, 'dir'), { 'empty-file': '', 'empty-dir': { dir: true } });
    await mkdir(path.join(work, 'nothing'));
    const packed = await pack([{ path: 'dir' }, { path: 'nothing' }]);
    const entries = packed.toc.entries.map(({ path: p, type, size }) => ({ p, type, size }));
    expect(entries).toEqual([
      { p: 'dir', type: 'dir', size: undefined },
      { p: 'dir/empty-dir', type: 'dir', size: undefined },
      { p: 'dir/empty-file', type: 'file', size: 0 },
      { p: 'nothing', type: 'dir', size: undefined },
    ]);
    expect(packed.toc.entries[2]?.sha256).toBe(sha256hex(''));
    const members = await parseTar(gunzipSync(await readFile(packed.layers[1]?.file ?? '')));
    expect(members.map((m) => m.header.name)).toEqual(['nothing/']);
  });

  it('sorts entries by the UTF-8 bytes of their paths', async () => {
    const names = ['B', 'a', 'a.txt', 'a/b', 'a/b/c', 'é', 'Z', '~', 'ä', '日本', 'a-b'];
    await makeTree(
      path.join(work, 'dir'),
      Object.fromEntries(names.map((n) => [n === 'a' || n === 'a/b' ? `${n}/.keep` : n, n])),
    );
    const packed = await pack([{ path: 'dir' }]);
    const paths = packed.toc.entries.map((e) => e.path);
    const sorted = [...paths].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(paths).toEqual(sorted);
    // '.' (0x2e) sorts before '/' (0x2f): a.txt comes between the folder a and its children.
    expect(paths.indexOf('dir/a')).toBeLessThan(paths.indexOf('dir/a.txt'));
    expect(paths.indexOf('dir/a.txt')).toBeLessThan(paths.indexOf('dir/a/.keep'));
    const tarNames = (await parseTar(gunzipSync(await readFile(packed.layers[0]?.file ?? '')))).map((m) =>
      m.header.name.replace(/\/$/, ''),
    );
    expect(tarNames).toEqual(paths);
  });

  it('round-trips unicode names and long names (ustar prefix, PAX path and linkpath)', async () => {
    const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(20)}.txt`; // > 100 bytes, splits at a slash
    const longSegment = `${'é'.repeat(60)}.txt`; // 124 bytes in one segment: only PAX can hold it
    const longTarget = `${'../'.repeat(0)}${'t'.repeat(110)}`;
    await makeTree(path.join(work, 'dir'), {
      [deep]: 'deep',
      [longSegment]: 'long',
      [longTarget]: 'target',
      link: { link: longTarget },
      '日本語/ファイル': 'ja',
    });
    const packed = await pack([{ path: 'dir' }]);
    const layer = await readFile(packed.layers[0]?.file ?? '');
    const members = await parseTar(gunzipSync(layer));
    const byName = new Map(members.map((m) => [m.header.name, m]));
    expect(byName.get(`dir/${deep}`)?.data.toString()).toBe('deep');
    expect(byName.get(`dir/${deep}`)?.header.pax).toBeFalsy();
    expect(byName.get(`dir/${longSegment}`)?.data.toString()).toBe('long');
    expect(byName.get(`dir/${longSegment}`)?.header.pax?.path).toBe(`dir/${longSegment}`);
    expect(byName.get('dir/link')?.header.linkname).toBe(longTarget);
    expect(byName.get('dir/link')?.header.pax?.linkpath).toBe(longTarget);
    expect(byName.get('dir/日本語/ファイル')?.data.toString()).toBe('ja');
    expect(packed.toc.entries.find((e) => e.path === 'dir/link')?.target).toBe(longTarget);
  });

  it('keeps symlinks that stay inside, and refuses escaping and absolute ones naming link and target', async () => {
    await makeTree(path.join(work, 'ok'), {
      'a/file': 'x',
      'a/up': { link: '../b' },
      b: { dir: true },
      self: { link: '.' },
    });
    const packed = await pack([{ path: 'ok' }]);
    expect(packed.toc.entries.filter((e) => e.type === 'symlink').map((e) => [e.path, e.target, e.mode])).toEqual([
      ['ok/a/up', '../b', 0o777],
      ['ok/self', '.', 0o777],
    ]);

    await makeTree(path.join(work, 'escape'), { 'sub/l': { link: '../../outside' } });
    expectUsage(await rejection(pack([{ path: 'escape' }])), 'escape/sub/l', '../../outside', 'outside the folder');
    await makeTree(path.join(work, 'absolute'), { l: { link: '/etc/passwd' } });
    expectUsage(await rejection(pack([{ path: 'absolute' }])), 'absolute/l', '/etc/passwd', 'absolute');
    // A folder titled with two segments: its links may not climb into the first segment.
    await makeTree(path.join(work, 'p/q'), { l: { link: '../sibling' } });
    expectUsage(await rejection(pack([{ path: 'p/q' }])), 'p/q/l', '../sibling');
  });

  it('refuses FIFOs, and names the path', async () => {
    await makeTree(path.join(work, 'dir'), { f: 'x' });
    execFileSync('mkfifo', [path.join(work, 'dir/pipe')]);
    expectUsage(await rejection(pack([{ path: 'dir' }])), '"dir/pipe"', 'FIFO');
    expectUsage(await rejection(pack([{ path: 'dir/pipe' }])), 'dir/pipe', 'not a regular file or folder');
  });

  it('refuses names the format forbids (backslash, control characters)', async () => {
    await makeTree(path.join(work, 'dir'), { 'a\\b': 'x' });
    expectUsage(await rejection(pack([{ path: 'dir' }])), 'backslash');
  });

  it('refuses names that are not UTF-8, and a temporary folder inside the folder packed', async () => {
    await mkdir(path.join(work, 'latin1'));
    await writeFile(Buffer.from(`${path.join(work, 'latin1')}/caf\xe9`, 'latin1'), 'x');
    expectUsage(await rejection(pack([{ path: 'latin1' }])), 'not valid UTF-8');
    await makeTree(path.join(work, 'dir'), { f: 'x' });
    expectUsage(
      await rejection(packArtifact([{ path: 'dir' }], { tempDir: path.join(work, 'dir/.tmp'), cwd: work })),
      'temporary folder',
    );
  });

  it('stores hard links as regular files, each in full', async () => {
    await makeTree(path.join(work, 'dir'), { one: 'shared content' });
    await link(path.join(work, 'dir/one'), path.join(work, 'dir/two'));
    const packed = await pack([{ path: 'dir' }]);
    const members = await parseTar(gunzipSync(await readFile(packed.layers[0]?.file ?? '')));
    expect(members.filter((m) => m.header.type === 'file').map((m) => [m.header.name, m.data.toString()])).toEqual([
      ['dir/one', 'shared content'],
      ['dir/two', 'shared content'],
    ]);
  });

  it('refuses a media type other than tar+gzip for a folder', async () => {
    await mkdir(path.join(work, 'dir'));
    expectUsage(await rejection(pack([{ path: 'dir', mediaType: 'text/plain' }])), 'text/plain');
    const packed = await pack([{ path: 'dir', mediaType: MediaTypeImageLayerGzip }]);
    expect(packed.layers[0]?.descriptor.mediaType).toBe(MediaTypeImageLayerGzip);
  });
});

describe('packArtifact: gzip members and offsets', () => {
  it('makes each entry a gzip member of its own, found by the TOC offsets, checked by the layer digests', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 'lading ');
    await makeTree(path.join(work, 'config'), {
      ...sampleTree,
      big,
      ['x'.repeat(120)]: 'pax-named',
    });
    const packed = await pack([{ path: 'config' }]);
    const layer = await readFile(packed.layers[0]?.file ?? '');
    const descriptor = packed.layers[0]?.descriptor;
    expect(descriptor?.digest).toBe(`sha256:${sha256hex(layer)}`);
    expect(descriptor?.size).toBe(layer.byteLength);
    const tar = gunzipSync(layer);
    expect(descriptor?.annotations?.[AnnotationContentDigest]).toBe(`sha256:${sha256hex(tar)}`);

    let expectedOffset = 0;
    for (const entry of packed.toc.entries) {
      expect(entry.offset).toBe(expectedOffset);
      expectedOffset += entry.length;
      const member = layer.subarray(entry.offset, entry.offset + entry.length);
      // Gzip header: no flags (so no name), mtime 0, OS 3 (Unix).
      expect([member[0], member[1], member[3], member.readUInt32LE(4), member[9]]).toEqual([0x1f, 0x8b, 0, 0, 3]);
      // Byte for byte what zlib's own gzip writer makes of the same bytes, but for the OS byte.
      const tarBytes = gunzipSync(member);
      const reference = gzipSync(tarBytes);
      reference[9] = 3;
      expect(member.equals(reference)).toBe(true);
      const [first, ...rest] = await parseTar(tarBytes);
      expect(rest).toEqual([]);
      expect(first?.header.name).toBe(entry.type === 'dir' ? `${entry.path}/` : entry.path);
      if (entry.type === 'file') {
        expect(first?.data.byteLength).toBe(entry.size);
        expect(sha256hex(first?.data ?? Buffer.alloc(0))).toBe(entry.sha256);
      }
    }
    // What follows the last entry is the end-of-archive member: two zero blocks.
    expect(gunzipSync(layer.subarray(expectedOffset))).toEqual(Buffer.alloc(1024));
    expect(packed.toc.entries.find((e) => e.path === 'config/big')?.sha256).toBe(sha256hex(big));
  });

  it('honours gzipLevel, with the XFL byte zlib would write', async () => {
    await makeTree(path.join(work, 'dir'), { f: 'compress me '.repeat(1000) });
    for (const level of [0, 1, 9]) {
      const packed = await pack([{ path: 'dir' }], { gzipLevel: level });
      const layer = await readFile(packed.layers[0]?.file ?? '');
      for (const entry of packed.toc.entries) {
        const member = layer.subarray(entry.offset, entry.offset + entry.length);
        const reference = gzipSync(gunzipSync(member), { level });
        reference[9] = 3;
        expect(member.equals(reference)).toBe(true);
      }
    }
    expectUsage(await rejection(pack([{ path: 'dir' }], { gzipLevel: 10 })), 'gzipLevel');
  });

  it('writes the same bytes whatever order the members finish in (ordered writer, spilling)', async () => {
    const dir = await mkdtemp(path.join(work, 'ordered-'));
    const file = path.join(dir, 'layer');
    const layer = await LayerFile.create(file);
    const placed: [number, number][] = [];
    const ordered = new OrderedLayer(layer, path.join(dir, 'spill-'), 8, 1024, new AbortController().signal);
    const sinks = [0, 1, 2].map((i) =>
      ordered.add((offset, length) => {
        placed[i] = [offset, length];
      }),
    );
    // Members 2 and 1 write first, beyond the 8-byte buffer limit, so they spill to disk.
    await sinks[2]?.write(Buffer.from('cccccccccccc'));
    await sinks[1]?.write(Buffer.from('bbbb'));
    await sinks[1]?.write(Buffer.from('bbbbbbbbbb'));
    expect((await readdir(dir)).sort()).toEqual(['layer', 'spill-1', 'spill-2']);
    await sinks[2]?.end();
    await sinks[1]?.end();
    await sinks[0]?.write(Buffer.from('aa'));
    await sinks[0]?.end();
    ordered.close();
    await ordered.done;
    await layer.close();
    expect(await readFile(file, 'latin1')).toBe(`aa${'b'.repeat(14)}${'c'.repeat(12)}`);
    expect(placed).toEqual([
      [0, 2],
      [2, 14],
      [16, 12],
    ]);
    expect(await readdir(dir)).toEqual(['layer']);
  });

  it('spills a waiting member once the shared memory budget is spent', async () => {
    const dir = await mkdtemp(path.join(work, 'budget-'));
    const layer = await LayerFile.create(path.join(dir, 'layer'));
    const ordered = new OrderedLayer(layer, path.join(dir, 'spill-'), 100, 10, new AbortController().signal);
    const [head, second, third] = [0, 1, 2].map(() => ordered.add(() => undefined));
    await second?.write(Buffer.from('bbbbbbbb')); // 8 of the 10 shared bytes
    await third?.write(Buffer.from('ccc')); // would exceed the budget: spills although under its own limit
    expect((await readdir(dir)).sort()).toEqual(['layer', 'spill-2']);
    for (const sink of [head, second, third]) await sink?.end();
    ordered.close();
    await ordered.done;
    await layer.close();
    expect(await readFile(path.join(dir, 'layer'), 'latin1')).toBe('bbbbbbbbccc');
  });

  it('packs many small files with any concurrency to the same bytes', async () => {
    const spec: Spec = {};
    for (let i = 0; i < 1500; i++) spec[`d${i % 7}/file-${i}`] = `content ${i}\n`.repeat(i % 13);
    await makeTree(path.join(work, 'many'), spec);
    const a = await pack([{ path: 'many' }], { concurrency: 1 });
    const b = await pack([{ path: 'many' }], { concurrency: 16 });
    expect(b.layers[0]?.descriptor.digest).toBe(a.layers[0]?.descriptor.digest);
    expect(a.toc.entries).toHaveLength(1 + 7 + 1500);
    const tar = await parseTar(gunzipSync(await readFile(a.layers[0]?.file ?? '')));
    expect(tar).toHaveLength(1508);
  });
});

describe('packArtifact: names and inputs', () => {
  it('titles: relative paths inside cwd as given (normalised), else the base name', async () => {
    expect(titleFor('bin/tool', '/w')).toBe('bin/tool');
    expect(titleFor('./bin//tool/', '/w')).toBe('bin/tool');
    expect(titleFor('bin/../tool', '/w')).toBe('tool');
    expect(titleFor('../x', '/w')).toBe('x');
    expect(titleFor('/etc/app', '/w')).toBe('app');
    expect(titleFor('/w/inside', '/w')).toBe('inside');
    expect(titleFor('.', '/w/here')).toBe('here');
    expect(titleFor('..foo/x', '/w')).toBe('..foo/x');

    await makeTree(path.join(work, 'sub'), { 'inner/f': 'x' });
    await writeFile(path.join(work, 'outside'), 'o');
    const cwd = path.join(work, 'sub');
    const packed = await packArtifact([{ path: '../outside' }, { path: path.join(work, 'sub/inner') }], {
      tempDir: path.join(work, '.out'),
      cwd,
    });
    expect(packed.layers.map((l) => l.descriptor.annotations?.[AnnotationTitle])).toEqual(['outside', 'inner']);
    expect(packed.toc.entries.map((e) => e.path)).toEqual(['outside', 'inner', 'inner/f']);
  });

  it('refuses equal or nested titles across inputs', async () => {
    await makeTree(path.join(work, 'a'), { b: 'x' });
    await makeTree(path.join(work, 'other'), { a: 'y' });
    expectUsage(await rejection(pack([{ path: 'a' }, { path: './a/' }])), 'same title', '"a"');
    expectUsage(await rejection(pack([{ path: 'a' }, { path: 'a/b' }])), 'nest');
    expectUsage(await rejection(pack([{ path: 'a' }, { path: path.join(work, 'other/a') }])), 'same title');
    const stdin = { stdin: Readable.from([Buffer.from('s')]), name: 'a' };
    expectUsage(await rejection(pack([{ path: 'a' }, stdin])), 'same title');
    expectUsage(await rejection(pack([{ path: 'missing' }])), '"missing"', 'no such file or folder');
    expectUsage(await rejection(pack([])), 'nothing to pack');
  });

  it('packs standard input as a file layer written to the temporary folder', async () => {
    const chunks = [Buffer.from('hello '), Buffer.from('from stdin\n')];
    const events: PackProgress[] = [];
    const packed = await pack([{ stdin: Readable.from(chunks), name: 'greeting.txt', mediaType: 'text/plain' }], {
      onProgress: (e) => events.push(e),
    });
    const [layer] = packed.layers;
    expect(await readFile(layer?.file ?? '', 'utf8')).toBe('hello from stdin\n');
    expect(layer?.file.startsWith(path.join(work, '.out-'))).toBe(true);
    expect(layer?.descriptor).toEqual({
      mediaType: 'text/plain',
      digest: `sha256:${sha256hex('hello from stdin\n')}`,
      size: 17,
      annotations: { [AnnotationTitle]: 'greeting.txt' },
    });
    expect(packed.toc.entries[0]?.mode).toBe(0o644);
    expect(events.map((e) => e.phase)).toEqual(['start', 'done']);
    expectUsage(await rejection(pack([{ stdin: Readable.from([]), name: '../up' }])), '..');
  });

  it('keeps a file argument’s exec bit, and packs an empty file', async () => {
    await makeTree(work, { 'run.sh': { mode: 0o755, content: '#!/bin/sh\n' }, empty: '' });
    const packed = await pack([{ path: 'run.sh' }, { path: 'empty' }]);
    expect(packed.toc.entries.map((e) => [e.path, e.mode, e.size])).toEqual([
      ['run.sh', 0o755, 10],
      ['empty', 0o644, 0],
    ]);
    expect(packed.layers[1]?.descriptor.digest).toBe(`sha256:${sha256hex('')}`);
  });

  it('reports progress per input and stops on abort with the signal’s reason', async () => {
    await makeTree(path.join(work, 'dir'), { big: Buffer.alloc(5 * 1024 * 1024, 1), small: 's' });
    const events: PackProgress[] = [];
    const packed = await pack([{ path: 'dir' }], { onProgress: (e) => events.push(e) });
    expect(events[0]).toEqual({ phase: 'start', input: 0, title: 'dir', kind: 'folder', bytesRead: 0, layerBytes: 0 });
    expect(events.filter((e) => e.phase === 'progress').length).toBeGreaterThanOrEqual(4);
    expect(events.at(-1)).toMatchObject({
      phase: 'done',
      bytesRead: 5 * 1024 * 1024 + 1,
      descriptor: packed.layers[0]?.descriptor,
    });

    const controller = new AbortController();
    const reason = new Error('stop now');
    const aborted = pack([{ path: 'dir' }], {
      onProgress: (e) => {
        if (e.phase === 'progress') controller.abort(reason);
      },
      signal: controller.signal,
    });
    expect(await rejection(aborted)).toBe(reason);
  });
});

describe('tar headers', () => {
  it('splits long names at a slash into prefix and name, or needs PAX', () => {
    expect(splitUstarName(Buffer.from('a'.repeat(100)))?.prefix.byteLength).toBe(0);
    const split = splitUstarName(Buffer.from(`${'p'.repeat(150)}/${'n'.repeat(99)}`));
    expect([split?.prefix.byteLength, split?.name.byteLength]).toEqual([150, 99]);
    expect(splitUstarName(Buffer.from(`${'p'.repeat(156)}/n`))).toBeUndefined();
    expect(splitUstarName(Buffer.from(`p/${'n'.repeat(101)}`))).toBeUndefined();
  });

  it('writes a valid checksum and PAX records whose lengths count themselves', async () => {
    const header = encodeTarHeader({
      path: 'x'.repeat(95) + '/' + 'y'.repeat(110),
      type: 'file',
      mode: 0o600,
      size: 3,
      mtime: 7,
    });
    expect(header[156]).toBe(0x78); // 'x': PAX header first
    const size = parseInt(header.subarray(124, 135).toString('latin1'), 8);
    const record = header.subarray(512, 512 + size).toString();
    expect(Number(record.split(' ')[0])).toBe(Buffer.byteLength(record));
    for (const block of [header.subarray(0, 512), header.subarray(header.byteLength - 512)]) {
      const stored = parseInt(block.subarray(148, 154).toString('latin1'), 8);
      const copy = Buffer.from(block);
      copy.fill(0x20, 148, 156);
      expect(copy.reduce((sum, b) => sum + b, 0)).toBe(stored);
    }
    const members = await parseTar(Buffer.concat([header, Buffer.from('abc'), Buffer.alloc(509), Buffer.alloc(1024)]));
    expect(members[0]?.header.name).toBe('x'.repeat(95) + '/' + 'y'.repeat(110));
    expect(members[0]?.data.toString()).toBe('abc');
  });
});

describe('digest cache', () => {
  it('does not read an unchanged file again, and reads a changed one', async () => {
    const cache = path.join(work, 'cache');
    const file = path.join(work, 'data.bin');
    const bytes = Buffer.alloc(64 * 1024, 7);
    await writeFile(file, bytes);
    const first = await pack([{ path: 'data.bin' }], { digestCache: cache });
    expect(first.layers[0]?.descriptor.digest).toBe(`sha256:${sha256hex(bytes)}`);
    // Just written: an entry made in the same clock tick as a write could hide the next one, so none is made yet.
    expect(await readdir(cache).catch(() => [])).toEqual([]);
    await sleep(2100);
    await pack([{ path: 'data.bin' }], { digestCache: cache });
    const entries = await readdir(cache);
    expect(entries).toHaveLength(1);
    // Replace the recorded digest: the next pack reports it, so it did not read the file.
    const forged = 'a'.repeat(64);
    await writeFile(path.join(cache, entries[0] as string), `${forged}\n`);
    const cached = await pack([{ path: 'data.bin' }], { digestCache: cache });
    expect(cached.layers[0]?.descriptor.digest).toBe(`sha256:${forged}`);
    expect(cached.toc.entries[0]?.sha256).toBe(forged);
    // Same size, new content: the status-change time moved, so the file is read and hashed again.
    const changed = Buffer.alloc(64 * 1024, 8);
    await writeFile(file, changed);
    const again = await pack([{ path: 'data.bin' }], { digestCache: cache });
    expect(again.layers[0]?.descriptor.digest).toBe(`sha256:${sha256hex(changed)}`);
  });

  it('lives in $XDG_CACHE_HOME/lading/digests by default, and is not used with digestCache: false', async () => {
    const xdg = path.join(work, 'xdg');
    vi.stubEnv('XDG_CACHE_HOME', xdg);
    await writeFile(path.join(work, 'data.bin'), 'x');
    await sleep(2100);
    await pack([{ path: 'data.bin' }], { digestCache: false });
    expect(await readdir(xdg).catch(() => 'absent')).toBe('absent');
    await pack([{ path: 'data.bin' }]);
    expect(await readdir(path.join(xdg, 'lading', 'digests'))).toHaveLength(1);
  });
});
