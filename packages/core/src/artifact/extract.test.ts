import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ErrorCodes, isLadingError, type LadingError } from '../errors.js';
import { checkSymlinksInside, extractTar, isEStargzMetadata, WriteBudget, type ExtractOptions } from './extract.js';
import { sha, snapshot } from './snapshot.test.helpers.js';

// ---- Hand-made tar archives: raw 512-byte ustar headers, so hostile ones are easy to write. ----

const block = 512;

interface RawEntry {
  name: string;
  /** Type flag character: '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' FIFO, ... */
  type?: string;
  data?: Buffer | string;
  /** Size written in the header; defaults to the data's length. A bigint above 8^11 is written in base 256. */
  size?: number | bigint;
  mode?: number;
  linkname?: string;
  mtime?: number;
  /** PAX records put in an extended header before this entry. */
  pax?: Record<string, string>;
  /** Put the name in a GNU long-name ('L') entry first. */
  gnuLongName?: boolean;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function ustar(fields: { name: string; type: string; size: bigint; mode: number; linkname: string; mtime: number }) {
  const header = Buffer.alloc(block);
  header.write(fields.name, 0, 100, 'utf8');
  header.write(octal(fields.mode, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  if (fields.size < 8n ** 11n) {
    header.write(octal(Number(fields.size), 12), 124, 'ascii');
  } else {
    // GNU base-256: first byte 0x80, then big-endian bytes.
    header[124] = 0x80;
    let rest = fields.size;
    for (let i = 135; i > 124; i--) {
      header[i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
  }
  header.write(octal(fields.mtime, 12), 136, 'ascii');
  header.write(fields.type, 156, 'ascii');
  header.write(fields.linkname, 157, 100, 'utf8');
  header.write('ustar\x0000', 257, 'ascii');
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return header;
}

function padding(length: number): Buffer {
  return Buffer.alloc((block - (length % block)) % block);
}

function paxRecords(records: Record<string, string>): Buffer {
  let out = '';
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let length = Buffer.byteLength(body) + 1;
    while (Buffer.byteLength(`${length}${body}`) !== length) length++;
    out += `${length}${body}`;
  }
  return Buffer.from(out);
}

/** The bytes of one entry: optional PAX or GNU long-name entry, header, data, padding. */
function entryBytes(entry: RawEntry): Buffer {
  const data = Buffer.from(entry.data ?? '');
  const parts: Buffer[] = [];
  const base = { mode: 0o644, linkname: '', mtime: 1_700_000_000, ...entry };
  if (entry.pax) {
    const records = paxRecords(entry.pax);
    parts.push(ustar({ ...base, name: 'PaxHeader', type: 'x', size: BigInt(records.length) }), records);
    parts.push(padding(records.length));
  }
  let name = entry.name;
  if (entry.gnuLongName) {
    const long = Buffer.from(`${entry.name}\0`);
    parts.push(ustar({ ...base, name: '././@LongLink', type: 'L', size: BigInt(long.length) }), long);
    parts.push(padding(long.length));
    name = entry.name.slice(0, 99);
  }
  const size = BigInt(entry.size ?? data.length);
  parts.push(ustar({ ...base, name, type: entry.type ?? '0', size }), data, padding(data.length));
  return Buffer.concat(parts);
}

const endOfArchive = Buffer.alloc(2 * block);

function tar(...entries: RawEntry[]): Buffer {
  return Buffer.concat([...entries.map(entryBytes), endOfArchive]);
}

/** Streams `bytes` in small chunks, so entries straddle chunk boundaries. */
async function* chunked(bytes: Buffer, size = 1000): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += size) {
    await Promise.resolve();
    yield bytes.subarray(offset, offset + size);
  }
}

// ---- Folders: a base holding the staging folder and an "outside" folder that must never change. ----

let base: string;
let staging: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'lading-extract-'));
  staging = path.join(base, 'staging');
  outside = path.join(base, 'outside');
  await mkdir(staging, { mode: 0o700 });
  await mkdir(path.join(outside, 'etc'), { recursive: true });
  await writeFile(path.join(outside, 'secret'), 'do not touch');
  await writeFile(path.join(outside, 'etc', 'passwd'), 'root:x:0:0');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

/** Snapshot of everything but the staging folder: the base's listing and the outside tree. */
async function outsideState(): Promise<{ base: string[]; outside: Record<string, string> }> {
  return { base: (await readdir(base)).sort(), outside: await snapshot(outside) };
}

/** Runs an extraction expected to be refused; checks the code, the message, and that nothing outside changed. */
async function refused(
  archive: Buffer | AsyncIterable<Uint8Array>,
  options: ExtractOptions = {},
): Promise<LadingError> {
  const before = await outsideState();
  const source = Buffer.isBuffer(archive) ? chunked(archive) : archive;
  const error: unknown = await extractTar(source, staging, { where: 'layer 0', ...options }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isLadingError(error, ErrorCodes.integrity), String(error)).toBe(true);
  expect((error as LadingError).message.startsWith('layer 0: ')).toBe(true);
  expect(await outsideState()).toEqual(before);
  return error as LadingError;
}

describe('extractTar refuses hostile archives', () => {
  it.each([
    ['../x', '".." segment'],
    ['a/../../x', '".." segment'],
    ['./../x', '".." segment'],
    ['/etc/x', 'is absolute'],
    ['a//b', 'empty segment'],
    ['a/./b', '"." segment'],
    ['a\\..\\..\\x', 'backslash'],
  ])('path %j', async (name, why) => {
    const error = await refused(tar({ name: 'ok', data: 'fine' }, { name, data: 'evil' }));
    expect(error.message).toContain(JSON.stringify(name.replace(/^\.\//, '')));
    expect(error.message).toContain(why);
    expect(await snapshot(staging)).toEqual({ ok: `file 644 ${sha('fine')}` });
  });

  it('a path with NUL or a control character (PAX path)', async () => {
    const error = await refused(tar({ name: 'x', pax: { path: 'a/b\u0001c' }, data: 'evil' }));
    expect(error.message).toContain('control character');
  });

  it.each([
    ['ESC [2J (clear screen)', '../..\u001b[2J'],
    ['an OSC title sequence', 'a\u001b]0;pwned\u0007'],
    ['a C1 CSI', 'x\u009b2J'],
  ])('a symlink target holding a control character: %s', async (_what, target) => {
    const error = await refused(tar({ name: 'top/l', type: '2', linkname: target }));
    expect(error.message).toContain('"top/l": links to a target with a control character');
    expect(await snapshot(staging)).toEqual({});
  });

  it('a file larger than the table of contents says: refused on the header, nothing written', async () => {
    let produced = 0;
    function* member(): Generator<Buffer> {
      yield ustar({ name: 'cfg/app.txt', type: '0', size: 60n << 20n, mode: 0o644, linkname: '', mtime: 0 });
      const mib = Buffer.alloc(1 << 20, 0x61);
      for (let i = 0; i < 60; i++) {
        produced += mib.length;
        yield mib;
      }
    }
    const gzipped = Readable.from(member()).pipe(createGzip());
    const error = await refused(gzipped, {
      gzip: true,
      expectedFileSize: (p) => (p === 'cfg/app.txt' ? 6 : undefined),
    });
    expect(error.message).toBe('layer 0: "cfg/app.txt": declares 62914560 bytes, the table of contents says 6');
    expect(await snapshot(staging)).toEqual({});
    // Reading stopped long before the end (60 MiB): what was produced is the read-ahead of the stages between the
    // generator and the tar parser (gzip, gunzip, 1 MiB reads), which varies with scheduling (16-18 MiB seen).
    expect(produced).toBeLessThan(32 << 20);
    gzipped.destroy();
  });

  it('a file the table of contents does not list, refused before it is written', async () => {
    const error = await refused(tar({ name: 'top/a', data: 'listed' }, { name: 'top/extra', data: 'not listed' }), {
      expectedFileSize: (p) => (p === 'top/a' ? 6 : undefined),
    });
    expect(error.message).toBe('layer 0: "top/extra": is a file the table of contents does not list');
    expect(Object.keys(await snapshot(staging))).not.toContain('top/extra');
  });

  it.each([
    ['entries', { maxFiles: 3 }, 'layer 0: "two/b": is beyond the limit of 3 entries'],
    [
      'bytes',
      { maxTotalBytes: 1 << 20 },
      'layer 0: "two/b": would take the content written past the 1048576-byte total limit',
    ],
  ] as const)(
    'limits shared by two archives through one budget (two layers of a pull): %s',
    async (_what, limits, message) => {
      const budget = new WriteBudget(limits);
      const first = path.join(staging, 'layer-0');
      await mkdir(first);
      const got = await extractTar(
        chunked(tar({ name: 'one/', type: '5' }, { name: 'one/a', data: Buffer.alloc(600_000) })),
        first,
        { budget },
      );
      expect(got).toHaveLength(2);
      expect([budget.entries, budget.bytes]).toEqual([2, 600_000]);
      // The second archive alone is within every limit; after the first, it is over.
      const error = await refused(tar({ name: 'two/', type: '5' }, { name: 'two/b', data: Buffer.alloc(600_000) }), {
        budget,
      });
      expect(error.message).toBe(message);
      expect(Object.keys(await snapshot(staging)).filter((p) => p.startsWith('two/'))).toEqual([]);
      expect(budget.bytes).toBe(600_000);
    },
  );

  it('a budget replaces the limit options, which may not be given with it', async () => {
    await expect(extractTar(chunked(tar()), staging, { budget: new WriteBudget(), maxFiles: 3 })).rejects.toMatchObject(
      {
        code: ErrorCodes.usage,
        message: 'extract: options.maxFiles cannot be given with options.budget',
      },
    );
  });

  it('a path outside the expected prefix', async () => {
    const error = await refused(tar({ name: 'config/a', data: 'ok' }, { name: 'other/b', data: 'x' }), {
      prefix: 'config',
    });
    expect(error.message).toBe('layer 0: "other/b": lies outside "config"');
  });

  it.each([
    ['top/l', '../../etc'],
    ['top/l', '/etc'],
    ['top/a/l', '../../outside/secret'],
    ['l', 'top'], // a top-level link cannot stay inside its folder
    ['top/l', '..'],
  ])('symlink %s -> %s escaping the tree', async (name, target) => {
    const error = await refused(tar({ name: 'top/', type: '5' }, { name, type: '2', linkname: target }));
    expect(error.message).toBe(
      `layer 0: ${JSON.stringify(name)}: links outside the top-level folder (${JSON.stringify(target)})`,
    );
    expect(await snapshot(staging)).toEqual({ top: 'dir 700' }); // modes are applied only after success
  });

  it('a symlink escaping the root with linkScope root', async () => {
    const error = await refused(tar({ name: 'l', type: '2', linkname: '../outside' }), { linkScope: 'root' });
    expect(error.message).toContain('"l": links outside the tree');
  });

  it('a symlink that escapes only through another link, checked on disk at the end', async () => {
    const archive = tar(
      { name: 'top/b/', type: '5', mode: 0o755 },
      { name: 'top/b/m', type: '2', linkname: 'l/../..' }, // lexically top/b/l/../.. = top: fine alone
      { name: 'top/b/l', type: '2', linkname: '..' }, // top/b/.. = top: fine alone; together m reaches base
    );
    const error = await refused(archive);
    expect(error.message).toBe(
      'layer 0: "top/b/m": its target "l/../.." resolves outside the tree through other symbolic links',
    );
  });

  it('a symlink loop', async () => {
    const error = await refused(
      tar({ name: 'top/a', type: '2', linkname: 'b/x' }, { name: 'top/b', type: '2', linkname: 'a/x' }),
    );
    expect(error.message).toContain('"top/a": its target "b/x" goes through more than 40 symbolic links');
  });

  it('a write through a symlink made earlier in the archive (a -> ., then a/x)', async () => {
    const error = await refused(
      tar({ name: 'top/a', type: '2', linkname: '.' }, { name: 'top/a/x', data: 'through the link' }),
    );
    expect(error.message).toBe('layer 0: "top/a/x": goes through the symbolic link "top/a"');
    expect(await snapshot(staging)).toEqual({ top: 'dir 700', 'top/a': 'link .' });
  });

  it('a write through a symlinked folder (dir -> sub, then dir/file)', async () => {
    const error = await refused(
      tar(
        { name: 'top/sub/', type: '5' },
        { name: 'top/dir', type: '2', linkname: 'sub' },
        { name: 'top/dir/file', data: 'x' },
      ),
    );
    expect(error.message).toBe('layer 0: "top/dir/file": goes through the symbolic link "top/dir"');
  });

  it('a folder entry for a path that is already a symlink', async () => {
    const error = await refused(
      tar({ name: 'top/d', type: '2', linkname: '.' }, { name: 'top/d/', type: '5' }, { name: 'top/d/x', data: 'x' }),
    );
    expect(error.message).toBe('layer 0: "top/d": appears more than once in the archive');
  });

  it('a write through a symlink planted in the staging folder before extraction', async () => {
    await symlink(outside, path.join(staging, 'top'));
    const error = await refused(tar({ name: 'top/etc/passwd', data: 'pwned' }));
    expect(error.message).toBe('layer 0: "top/etc/passwd": goes through the symbolic link "top"');
  });

  it('a file whose own path is a planted symlink (never followed)', async () => {
    await mkdir(path.join(staging, 'top'));
    await symlink(path.join(outside, 'secret'), path.join(staging, 'top', 'f'));
    const error = await refused(tar({ name: 'top/f', data: 'pwned' }));
    expect(error.message).toBe('layer 0: "top/f": already exists in the staging folder');
  });

  it('a folder entry whose path is a planted symlink', async () => {
    await symlink(outside, path.join(staging, 'top'));
    const error = await refused(tar({ name: 'top/', type: '5' }));
    expect(error.message).toBe('layer 0: "top": already exists in the staging folder');
  });

  it.each([
    ['1', 'hard link', 'is a hard link to "top/a", which is not allowed'],
    ['3', 'character device', 'is a character-device, which is not allowed'],
    ['4', 'block device', 'is a block-device, which is not allowed'],
    ['6', 'FIFO', 'is a FIFO, which is not allowed'],
    ['7', 'contiguous file', 'has the unsupported type contiguous-file'],
    ['S', 'GNU sparse file', 'has the unsupported type unknown'],
  ])('type %s (%s)', async (type, _what, reason) => {
    const error = await refused(
      tar({ name: 'top/a', data: 'a' }, { name: 'top/b', type, linkname: type === '1' ? 'top/a' : '' }),
    );
    expect(error.message).toBe(`layer 0: "top/b": ${reason}`);
    expect(Object.keys(await snapshot(staging))).toEqual(['top', 'top/a']);
  });

  it.each([
    [
      'a file twice',
      [
        { name: 'top/f', data: 'one' },
        { name: 'top/f', data: 'two' },
      ],
      'appears more than once',
    ],
    [
      'a symlink then a file',
      [
        { name: 'top/f', type: '2', linkname: 'g' },
        { name: 'top/f', data: 'x' },
      ],
      'appears more than once',
    ],
    [
      'a file then a folder',
      [
        { name: 'top/f', data: 'x' },
        { name: 'top/f/', type: '5' },
      ],
      'appears more than once',
    ],
    [
      'a folder then a file',
      [
        { name: 'top/f/', type: '5' },
        { name: 'top/f', data: 'x' },
      ],
      'appears more than once',
    ],
    [
      'a folder repeated with another mode',
      [
        { name: 'top/f/', type: '5', mode: 0o755 },
        { name: 'top/f/', type: '5', mode: 0o777 },
      ],
      'appears more than once',
    ],
    [
      'a file at an implicit folder',
      [
        { name: 'top/f/x', data: 'x' },
        { name: 'top/f', data: 'y' },
      ],
      'already exists in the staging folder',
    ],
    [
      'the same file as ./f and f',
      [
        { name: './top/f', data: 'x' },
        { name: 'top/f', data: 'y' },
      ],
      'appears more',
    ],
  ] as [string, RawEntry[], string][])('duplicates: %s', async (_what, entries, why) => {
    const error = await refused(tar(...entries));
    expect(error.message).toContain('"top/f": ');
    expect(error.message).toContain(why);
  });

  it('a gzip bomb: a 1 GiB file of zeros announced in the header, refused before writing', async () => {
    let produced = 0;
    function* zeros(): Generator<Buffer> {
      yield ustar({ name: 'bomb', type: '0', size: 1n << 30n, mode: 0o644, linkname: '', mtime: 0 });
      const mib = Buffer.alloc(1 << 20);
      for (let i = 0; i < 1024; i++) {
        produced += mib.length;
        yield mib;
      }
    }
    const gzipped = Readable.from(zeros()).pipe(createGzip());
    const error = await refused(gzipped, { gzip: true, maxFileBytes: 10 << 20 });
    expect(error.message).toBe('layer 0: "bomb": declares 1073741824 bytes, more than the 10485760-byte limit');
    expect(await snapshot(staging)).toEqual({});
    expect(produced).toBeLessThan(64 << 20); // reading stopped long before the end
    gzipped.destroy();
  });

  it('a gzip bomb of many small files, stopped at the total limit with at most the limit written', async () => {
    const mib = Buffer.alloc(1 << 20);
    const entries = Array.from({ length: 40 }, (_, i) => ({ name: `top/f${String(i).padStart(2, '0')}`, data: mib }));
    const archive = gzipSync(tar(...entries));
    expect(archive.length).toBeLessThan(1 << 20);
    const error = await refused(archive, { gzip: true, maxTotalBytes: 10 << 20 });
    expect(error.message).toBe('layer 0: "top/f10": would take the content written past the 10485760-byte total limit');
    const written = Object.values(await snapshot(path.join(staging, 'top'))).length;
    expect(written).toBe(10);
  });

  it('a bomb of zero blocks after the end of the archive, stopped by maxArchiveBytes', async () => {
    function* blocks(): Generator<Buffer> {
      yield tar({ name: 'top/a', data: 'a' });
      for (let i = 0; i < 1024; i++) yield Buffer.alloc(1 << 20);
    }
    const gzipped = Readable.from(blocks()).pipe(createGzip());
    const error = await refused(gzipped, { gzip: true, maxArchiveBytes: 4 << 20 });
    expect(error.message).toBe('layer 0: the uncompressed archive is larger than the 4194304-byte limit');
    gzipped.destroy();
  });

  it('more entries than maxFiles', async () => {
    const entries = Array.from({ length: 6 }, (_, i) => ({ name: `top/f${i}`, data: 'x' }));
    const error = await refused(tar(...entries), { maxFiles: 5 });
    expect(error.message).toBe('layer 0: "top/f5": is beyond the limit of 5 entries');
  });

  it('a huge size declared in the header (base-256)', async () => {
    const error = await refused(tar({ name: 'top/huge', size: 1n << 62n, data: 'tiny' }));
    expect(error.message).toMatch(/^layer 0: "top\/huge": declares \d+ bytes, more than the 8589934592-byte limit$/);
    expect(await snapshot(staging)).toEqual({});
  });

  it('a huge size declared in a PAX header', async () => {
    const error = await refused(tar({ name: 'top/huge', pax: { size: '99999999999999999999' }, data: 'tiny' }));
    expect(error.message).toContain('"top/huge": declares');
  });

  it('a folder or link that declares data (read differently by other tar readers)', async () => {
    const hidden = entryBytes({ name: 'top/hidden', data: 'smuggled' });
    const error = await refused(tar({ name: 'top/', type: '5', size: hidden.length, data: hidden }));
    expect(error.message).toBe(`layer 0: "top": is a folder that declares ${hidden.length} bytes of data`);
    const link = await refused(tar({ name: 'top/l', type: '2', linkname: 'x', data: 'abc' }));
    expect(link.message).toBe('layer 0: "top/l": is a symbolic link that declares 3 bytes of data');
  });

  it('a file announced bigger than its data (truncated archive)', async () => {
    const archive = entryBytes({ name: 'top/cut', size: 4096, data: 'only this' });
    const error = await refused(archive.subarray(0, block + 100));
    expect(error.message).toBe(
      'layer 0: "top/cut": is cut short: the archive ends or breaks inside its 4096 bytes of data',
    );
  });

  it('a corrupt header checksum', async () => {
    const archive = tar({ name: 'top/a', data: 'a' });
    archive[0] = 'x'.charCodeAt(0);
    const error = await refused(archive);
    expect(error.message).toMatch(/^layer 0: invalid archive: Invalid tar header/);
  });

  it('a corrupt gzip stream', async () => {
    const archive = gzipSync(tar({ name: 'top/a', data: 'a'.repeat(10000) }));
    archive.writeUInt8(archive.readUInt8(archive.length - 20) ^ 0xff, archive.length - 20);
    const error = await refused(archive, { gzip: true });
    expect(error.message).toBe('layer 0: invalid gzip data: invalid distance too far back');
    expect(error.cause).toBeInstanceOf(Error);
  });
});

describe('extractTar writes archives', () => {
  it('writes nested folders, empty files and folders, links, modes and times; returns sizes and hashes', async () => {
    const archive = tar(
      { name: 'app/', type: '5', mode: 0o755, mtime: 1_600_000_000 },
      { name: 'app/bin/', type: '5', mode: 0o750 },
      { name: 'app/bin/tool', data: '#!/bin/sh\necho hi\n', mode: 0o755 },
      { name: 'app/bin/suid', data: 'x', mode: 0o4755 },
      { name: 'app/empty', data: '' },
      { name: 'app/empty-dir/', type: '5', mode: 0o700 },
      { name: 'app/conf/app.yaml', data: 'a: 1\n', mode: 0o600, mtime: 1_500_000_000 },
      { name: 'app/current', type: '2', linkname: 'conf/app.yaml' },
      { name: 'app/conf/self', type: '2', linkname: '../conf/./app.yaml' },
      { name: 'app/ro/', type: '5', mode: 0o555 },
      { name: 'app/ro/inside', data: 'written before the folder became read-only', mode: 0o444 },
    );
    const entries = await extractTar(chunked(archive, 300), staging, { where: 'layer 0' });
    expect(entries).toEqual([
      { path: 'app', type: 'dir', mode: 0o755 },
      { path: 'app/bin', type: 'dir', mode: 0o750 },
      { path: 'app/bin/tool', type: 'file', mode: 0o755, size: 18, sha256: sha('#!/bin/sh\necho hi\n') },
      { path: 'app/bin/suid', type: 'file', mode: 0o755, size: 1, sha256: sha('x') },
      { path: 'app/empty', type: 'file', mode: 0o644, size: 0, sha256: sha('') },
      { path: 'app/empty-dir', type: 'dir', mode: 0o700 },
      { path: 'app/conf/app.yaml', type: 'file', mode: 0o600, size: 5, sha256: sha('a: 1\n') },
      { path: 'app/current', type: 'symlink', mode: 0o644, target: 'conf/app.yaml' },
      { path: 'app/conf/self', type: 'symlink', mode: 0o644, target: '../conf/./app.yaml' },
      { path: 'app/ro', type: 'dir', mode: 0o555 },
      {
        path: 'app/ro/inside',
        type: 'file',
        mode: 0o444,
        size: 42,
        sha256: sha('written before the folder became read-only'),
      },
    ]);
    expect(await snapshot(staging)).toEqual({
      app: 'dir 755',
      'app/bin': 'dir 750',
      'app/bin/suid': `file 755 ${sha('x')}`,
      'app/bin/tool': `file 755 ${sha('#!/bin/sh\necho hi\n')}`,
      'app/conf': 'dir 755', // implicit: 0o755, not listed
      'app/conf/app.yaml': `file 600 ${sha('a: 1\n')}`,
      'app/conf/self': 'link ../conf/./app.yaml',
      'app/current': 'link conf/app.yaml',
      'app/empty': `file 644 ${sha('')}`,
      'app/empty-dir': 'dir 700',
      'app/ro': 'dir 555',
      'app/ro/inside': `file 444 ${sha('written before the folder became read-only')}`,
    });
    expect((await lstat(path.join(staging, 'app'))).mtimeMs).toBe(1_600_000_000_000);
    expect((await lstat(path.join(staging, 'app/conf/app.yaml'))).mtimeMs).toBe(1_500_000_000_000);
  });

  it('clears the umask from modes, as tar does for a user who is not root, and drops setuid, setgid and sticky', async () => {
    const archive = tar(
      { name: 'open/', type: '5', mode: 0o777 },
      { name: 'open/suid', data: 'x', mode: 0o4777 },
      { name: 'open/sticky/', type: '5', mode: 0o1777 },
      { name: 'open/implied/f', data: 'y', mode: 0o666 },
    );
    const entries = await extractTar(chunked(archive), staging, { umask: 0o027 });
    // The entries report the archive's modes (what the table of contents is compared with)...
    expect(entries.map((e) => [e.path, e.mode.toString(8)])).toEqual([
      ['open', '777'],
      ['open/suid', '777'],
      ['open/sticky', '777'],
      ['open/implied/f', '666'],
    ]);
    // ...and the disk holds them less the umask.
    expect(await snapshot(staging)).toEqual({
      open: 'dir 750',
      'open/implied': 'dir 750',
      'open/implied/f': `file 640 ${sha('y')}`,
      'open/sticky': 'dir 750',
      'open/suid': `file 750 ${sha('x')}`,
    });
  });

  it('uses the process umask by default, and leaves nothing of how it learnt it', async () => {
    const archive = tar({ name: 'open/', type: '5', mode: 0o777 }, { name: 'open/f', data: 'x', mode: 0o777 });
    await extractTar(chunked(archive), staging);
    const mask = Number.parseInt(execFileSync('sh', ['-c', 'umask'], { encoding: 'utf8' }).trim(), 8);
    expect(await snapshot(staging)).toEqual({
      open: `dir ${(0o777 & ~mask).toString(8)}`,
      'open/f': `file ${(0o777 & ~mask).toString(8)} ${sha('x')}`,
    });
  });

  it('keeps files current times with preserveTimes false', async () => {
    const before = Date.now() - 60_000;
    await extractTar(chunked(tar({ name: 'top/a', data: 'a', mtime: 1000 })), staging, { preserveTimes: false });
    expect((await lstat(path.join(staging, 'top/a'))).mtimeMs).toBeGreaterThan(before);
  });

  it('reads unicode names, PAX long names and GNU long names', async () => {
    const long = `deep/${'d'.repeat(120)}/${'f'.repeat(150)}.txt`;
    const gnu = `gnu/${'g'.repeat(200)}`;
    const archive = tar(
      { name: 'x', pax: { path: 'données/ünïcødé-名前.txt' }, data: 'bonjour' },
      { name: 'x', pax: { path: long }, data: 'long' },
      { name: gnu, gnuLongName: true, data: 'gnu' },
      { name: 'deep/link', type: '2', linkname: 'x', pax: { linkpath: `${'d'.repeat(120)}/${'f'.repeat(150)}.txt` } },
    );
    const entries = await extractTar(chunked(archive), staging);
    expect(entries.map((e) => e.path)).toEqual(['données/ünïcødé-名前.txt', long, gnu, 'deep/link']);
    expect(await readFile(path.join(staging, 'données', 'ünïcødé-名前.txt'), 'utf8')).toBe('bonjour');
    expect(await readFile(path.join(staging, long), 'utf8')).toBe('long');
    expect(await readFile(path.join(staging, gnu), 'utf8')).toBe('gnu');
    expect(await readFile(path.join(staging, 'deep/link'), 'utf8')).toBe('long');
  });

  it('reads multi-member gzip (one member per entry, as lading writes layers)', async () => {
    const entries: RawEntry[] = [
      { name: 'dir/', type: '5' },
      { name: 'dir/a', data: 'alpha'.repeat(1000) },
      { name: 'dir/b', data: 'beta' },
    ];
    const members = [...entries.map((e) => gzipSync(entryBytes(e))), gzipSync(endOfArchive)];
    const got = await extractTar(chunked(Buffer.concat(members), 7), staging, { gzip: true });
    expect(got).toEqual([
      { path: 'dir', type: 'dir', mode: 0o644 },
      { path: 'dir/a', type: 'file', mode: 0o644, size: 5000, sha256: sha('alpha'.repeat(1000)) },
      { path: 'dir/b', type: 'file', mode: 0o644, size: 4, sha256: sha('beta') },
    ]);
  });

  it('skips the archive root, strips ./, tolerates an identical repeated folder, and skips what it is told to', async () => {
    const archive = tar(
      { name: './', type: '5', mode: 0o777 },
      { name: './top/', type: '5', mode: 0o755 },
      { name: 'top/', type: '5', mode: 0o755 },
      { name: './top/a', data: 'a' },
      { name: 'stargz.index.json', data: '{"version":1}' },
      { name: '.prefetch.landmark', data: 'x' },
    );
    const entries = await extractTar(chunked(archive), staging, { skip: isEStargzMetadata, linkScope: 'root' });
    expect(entries).toEqual([
      { path: 'top', type: 'dir', mode: 0o755 },
      { path: 'top/a', type: 'file', mode: 0o644, size: 1, sha256: sha('a') },
    ]);
    expect(await snapshot(staging)).toEqual({ top: 'dir 755', 'top/a': `file 644 ${sha('a')}` });
  });

  it('allows top-level links inside the root with linkScope root (image layers)', async () => {
    const archive = tar({ name: 'usr/bin/', type: '5' }, { name: 'bin', type: '2', linkname: 'usr/bin' });
    const entries = await extractTar(chunked(archive), staging, { linkScope: 'root' });
    expect(entries.map((e) => e.path)).toEqual(['usr/bin', 'bin']);
    await expect(checkSymlinksInside(staging, ['bin'], { linkScope: 'root' })).resolves.toBeUndefined();
  });

  it('checkSymlinksInside catches an escape that only appears once root-scope layers are merged', async () => {
    await mkdir(path.join(staging, 'x'));
    await mkdir(path.join(staging, 'y'));
    await symlink('..', path.join(staging, 'x', 'l')); // layer 1: x/l -> the root, fine alone
    await symlink('../x/l/..', path.join(staging, 'y', 'm')); // layer 2: lexically inside, really the root's parent
    await expect(checkSymlinksInside(staging, ['x/l'], { linkScope: 'root' })).resolves.toBeUndefined();
    await expect(checkSymlinksInside(staging, ['x/l', 'y/m'], { where: 'merge', linkScope: 'root' })).rejects.toThrow(
      'merge: "y/m": its target "../x/l/.." resolves outside the tree through other symbolic links',
    );
  });

  it('extracts what the system tar writes (gzip, PAX for long names)', async () => {
    const tree = path.join(base, 'tree');
    await mkdir(path.join(tree, 'pkg', 'sub'), { recursive: true });
    await writeFile(path.join(tree, 'pkg', 'sub', 'data.bin'), Buffer.alloc(200_000, 7));
    await writeFile(path.join(tree, 'pkg', `${'n'.repeat(140)}.txt`), 'long name', { mode: 0o755 });
    await symlink('sub/data.bin', path.join(tree, 'pkg', 'link'));
    const archive = execFileSync('tar', ['--format=posix', '-czf', '-', '-C', tree, 'pkg']);
    const entries = await extractTar(chunked(archive, 4096), staging, { gzip: true });
    expect(entries.map((e) => e.path).sort()).toEqual([
      'pkg',
      'pkg/link',
      `pkg/${'n'.repeat(140)}.txt`,
      'pkg/sub',
      'pkg/sub/data.bin',
    ]);
    const data = entries.find((e) => e.path === 'pkg/sub/data.bin');
    expect(data).toMatchObject({ size: 200_000, sha256: sha(Buffer.alloc(200_000, 7)) });
    const snap = await snapshot(path.join(staging, 'pkg'));
    expect(snap).toEqual(await snapshot(path.join(tree, 'pkg')));
  });

  it('rejects with the signal reason when aborted, and stops reading', async () => {
    const controller = new AbortController();
    let served = 0;
    async function* slow(): AsyncGenerator<Uint8Array> {
      await Promise.resolve();
      yield entryBytes({ name: 'top/a', data: 'a' });
      served++;
      controller.abort(new Error('stop'));
      for (let i = 0; i < 100; i++) {
        served++;
        yield entryBytes({ name: `top/b${i}`, data: 'b' });
      }
    }
    await expect(extractTar(slow(), staging, { signal: controller.signal })).rejects.toThrow('stop');
    expect(served).toBeLessThan(5);
  });

  it("passes the source's own errors through unchanged (they are not the archive's fault)", async () => {
    const failure = new Error('socket hang up');
    async function* failing(): AsyncGenerator<Uint8Array> {
      await Promise.resolve();
      yield entryBytes({ name: 'top/big', data: 'x'.repeat(5000) }).subarray(0, 2000);
      throw failure;
    }
    await expect(extractTar(failing(), staging)).rejects.toBe(failure);
    await rm(staging, { recursive: true });
    await mkdir(staging);
    await expect(extractTar(chunked(tar({ name: 'a', data: 'a' })), staging, { gzip: true })).rejects.toMatchObject({
      code: ErrorCodes.integrity,
      message: 'extract: invalid gzip data: incorrect header check',
    });
  });

  it('validates its options eagerly', async () => {
    await expect(extractTar(chunked(tar()), staging, { maxFiles: -1 })).rejects.toMatchObject({
      code: ErrorCodes.usage,
      message: 'extract: options.maxFiles must be a non-negative integer, got -1',
    });
  });
});
