/**
 * Tar headers for the entries of a folder layer, written byte by byte so the output is reproducible (docs/format.md,
 * *Layers*): POSIX ustar, uid and gid 0, empty user and group names, and a PAX extended header only for what ustar
 * cannot hold (a name longer than its name/prefix fields, a link target over 100 bytes, a size of 8 GiB or more).
 * https://pubs.opengroup.org/onlinepubs/9799919799/utilities/pax.html#tag_20_94_13_06
 */
import type { EntryType } from './toc.js';

/** Size of a tar block: headers are one block, data is padded to a multiple of it. */
export const TarBlockSize = 512;

/** What a tar header of a folder layer records. */
export interface TarEntry {
  /** Artifact path, `/`-separated, no trailing slash (one is added for folders). */
  path: string;
  type: EntryType;
  /** Permission bits; anything above `0o777` is dropped. */
  mode: number;
  /** Content size in bytes (0 for folders and symlinks). */
  size: number;
  /** Modification time, whole seconds since the epoch. */
  mtime: number;
  /** Link target (symlinks only). */
  target?: string;
}

// ustar field offsets and lengths (POSIX pax "ustar Interchange Format").
const NAME = [0, 100] as const;
const MODE = [100, 8] as const;
const UID = [108, 8] as const;
const GID = [116, 8] as const;
const SIZE = [124, 12] as const;
const MTIME = [136, 12] as const;
const CHECKSUM = [148, 8] as const;
const TYPEFLAG = 156;
const LINKNAME = [157, 100] as const;
const MAGIC = 257;
const DEVMAJOR = [329, 8] as const;
const DEVMINOR = [337, 8] as const;
const PREFIX = [345, 155] as const;

/** Largest value of an 11-digit octal field (size, mtime): 8 GiB - 1. */
const MaxOctal11 = 0o77777777777;

const typeflags: Record<EntryType | 'pax', number> = {
  file: 0x30, // '0'
  symlink: 0x32, // '2'
  dir: 0x35, // '5'
  pax: 0x78, // 'x'
};

const SLASH = 0x2f;
const Empty = Buffer.alloc(0);

/** One block of zeros, shared: padding is handed out as views of it, never written to. */
const ZeroBlock = Buffer.alloc(TarBlockSize);

/**
 * The zeros that pad `size` bytes of data to a whole number of blocks (possibly none). A read-only view of a shared
 * buffer: a tree of 100k small files then does not allocate 100k padding buffers.
 */
export function tarPadding(size: number): Buffer {
  return ZeroBlock.subarray(0, (TarBlockSize - (size % TarBlockSize)) % TarBlockSize);
}

/** The two zero blocks that end a tar archive. */
export function tarEndOfArchive(): Buffer {
  return Buffer.alloc(2 * TarBlockSize);
}

/**
 * The header bytes of `entry`: its PAX extended header (header block, records, padding) when one is needed, then
 * its ustar header. The data and its padding follow in the archive. The same entry always gives the same bytes.
 * `mtime` is clamped to what 11 octal digits hold (1970 to 6325), so a time never needs a PAX record.
 */
export function encodeTarHeader(entry: TarEntry): Buffer {
  const name = Buffer.from(entry.type === 'dir' ? `${entry.path}/` : entry.path);
  const target = Buffer.from(entry.target ?? '');
  const mtime = Math.min(Math.max(Math.floor(entry.mtime), 0), MaxOctal11);
  const records: [string, Buffer][] = [];

  let split = splitUstarName(name);
  if (split === undefined) {
    records.push(['path', name]);
    // Readers take the PAX path; the ustar field keeps a recognisable (truncated) form for old tools.
    split = { prefix: Empty, name: truncateUTF8(name, NAME[1]) };
  }
  if (target.byteLength > LINKNAME[1]) records.push(['linkpath', target]);
  if (entry.size > MaxOctal11) records.push(['size', Buffer.from(String(entry.size))]);

  const header = ustarHeader({
    name: split.name,
    prefix: split.prefix,
    typeflag: typeflags[entry.type],
    mode: entry.mode & 0o777,
    size: entry.size > MaxOctal11 ? 0 : entry.size,
    mtime,
    linkname: truncateUTF8(target, LINKNAME[1]),
  });
  if (records.length === 0) return header;

  const body = encodePAXRecords(records);
  const paxHeader = ustarHeader({
    name: paxHeaderName(name),
    prefix: Empty,
    typeflag: typeflags.pax,
    mode: 0o644,
    size: body.byteLength,
    mtime,
    linkname: Empty,
  });
  return Buffer.concat([paxHeader, body, tarPadding(body.byteLength), header]);
}

interface UstarFields {
  name: Buffer;
  prefix: Buffer;
  typeflag: number;
  mode: number;
  size: number;
  mtime: number;
  linkname: Buffer;
}

function ustarHeader(f: UstarFields): Buffer {
  // allocUnsafe takes a slice of Node's shared pool (Buffer.alloc would malloc every header); zero it by hand.
  const block = Buffer.allocUnsafe(TarBlockSize).fill(0);
  f.name.copy(block, NAME[0]);
  putOctal(block, MODE, f.mode);
  putOctal(block, UID, 0);
  putOctal(block, GID, 0);
  putOctal(block, SIZE, f.size);
  putOctal(block, MTIME, f.mtime);
  block[TYPEFLAG] = f.typeflag;
  f.linkname.copy(block, LINKNAME[0]);
  block.write('ustar\u000000', MAGIC, 'latin1'); // magic "ustar\0", version "00"
  // uname and gname stay empty (all zeros): ownership is not part of an artifact.
  putOctal(block, DEVMAJOR, 0);
  putOctal(block, DEVMINOR, 0);
  f.prefix.copy(block, PREFIX[0]);
  // The checksum is computed with its own field read as spaces, then stored as 6 octal digits, NUL, space.
  block.fill(0x20, CHECKSUM[0], CHECKSUM[0] + CHECKSUM[1]);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, CHECKSUM[0], 'latin1');
  return block;
}

/** Zero-padded octal digits filling all but the last byte of the field, then NUL. */
function putOctal(block: Buffer, [offset, length]: readonly [number, number], value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, 'latin1');
}

/**
 * Splits a name into ustar's `prefix` (≤ 155 bytes) and `name` (≤ 100 bytes, not empty) at a slash, or returns
 * undefined when it cannot be (then a PAX `path` record carries it). Names of 100 bytes or less need no prefix.
 */
export function splitUstarName(name: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (name.byteLength <= NAME[1]) return { prefix: Empty, name };
  // The slash must leave at most 100 bytes after it (i >= length - 101) and at most 155 before it (i <= 155).
  for (let i = Math.min(PREFIX[1], name.byteLength - 2); i >= name.byteLength - NAME[1] - 1; i--) {
    if (name[i] === SLASH && i > 0) return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
  }
  return undefined;
}

/** PAX records `"<length> <key>=<value>\n"`, where length counts the whole record, its own digits included. */
function encodePAXRecords(records: readonly [string, Buffer][]): Buffer {
  const parts = [...records]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => {
      const rest = Buffer.byteLength(` ${key}=`) + value.byteLength + 1;
      let length = rest + String(rest).length;
      if (String(length).length !== String(rest).length) length = rest + String(length).length;
      return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from('\n')]);
    });
  return Buffer.concat(parts);
}

/** A fixed, readable name for a PAX header block: `PaxHeaders/<base name>` (tools that skip PAX show it). */
function paxHeaderName(name: Buffer): Buffer {
  const trimmed = name[name.byteLength - 1] === SLASH ? name.subarray(0, -1) : name;
  const base = trimmed.subarray(trimmed.lastIndexOf(SLASH) + 1);
  return Buffer.concat([Buffer.from('PaxHeaders/'), truncateUTF8(base, NAME[1] - 'PaxHeaders/'.length)]);
}

/** The first `max` bytes of `bytes`, cut back so no UTF-8 sequence is split. */
function truncateUTF8(bytes: Buffer, max: number): Buffer {
  if (bytes.byteLength <= max) return bytes;
  let end = max;
  // Continuation bytes are 0b10xxxxxx: back off to the start of the character the cut would split.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
