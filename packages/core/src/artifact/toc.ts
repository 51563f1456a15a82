/**
 * The table of contents of a lading artifact (docs/format.md): one entry per file, folder and symlink, stored as
 * the manifest's config blob so the manifest digest authenticates it.
 */
import type { Descriptor } from '../descriptor.js';
import { ErrorCodes, LadingError } from '../errors.js';

/** Media type of the table of contents (the manifest's config). */
export const MediaTypeTOC = 'application/vnd.lading.toc.v1+json';
/** Default `artifactType` of a lading artifact. */
export const ArtifactTypeLading = 'application/vnd.lading.artifact.v1';
/** Default media type of a file layer. */
export const MediaTypeFileLayer = 'application/octet-stream';

/** Kinds of entry. */
export type EntryType = 'file' | 'dir' | 'symlink';

/** One entry of the table of contents. */
export interface TOCEntry {
  /** Full relative path a pull writes, `/`-separated, no trailing slash (see {@link checkEntryPath}). */
  path: string;
  type: EntryType;
  /** Permission bits (`mode & 0o777`). */
  mode: number;
  /** Content size in bytes (files only). */
  size?: number;
  /** Lower-case hex SHA-256 of the content (files only). */
  sha256?: string;
  /** Link target (symlinks only), relative, resolving inside the artifact's folder. */
  target?: string;
  /** Index into the manifest's `layers`. */
  layer: number;
  /** Start of the entry's bytes in the layer: its gzip member in a tar+gzip layer, 0 for a file layer. */
  offset: number;
  /** Length of those bytes. */
  length: number;
}

/** The table of contents. */
export interface TOC {
  entries: TOCEntry[];
}

/**
 * True when `text` holds a control character: C0 (U+0000 to U+001F), DEL (U+007F) or C1 (U+0080 to U+009F). Terminals
 * act on them (`ESC [2J` clears the screen, `ESC ]0;…BEL` sets the window title, U+009B is a one-byte CSI), so names
 * and link targets holding one are refused wherever an artifact is read or written.
 */
export function hasControlCharacter(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}

/**
 * Checks a relative artifact path: non-empty, `/`-separated, no leading `/`, no empty, `.` or `..` segment, no
 * backslash, NUL or control character (see {@link hasControlCharacter}), at most 4096 bytes. Throws `code` (default `ERR_LADING_INTEGRITY`: a hostile
 * artifact) naming `where`. Returns the path.
 */
export function checkEntryPath(
  path: string,
  where: string,
  code: typeof ErrorCodes.integrity | typeof ErrorCodes.usage = ErrorCodes.integrity,
): string {
  const bad = (why: string): never => {
    throw new LadingError(code, `${where}: path ${JSON.stringify(path)} ${why}`);
  };
  if (path === '') bad('is empty');
  if (Buffer.byteLength(path) > 4096) bad('is longer than 4096 bytes');
  if (path.startsWith('/')) bad('is absolute');
  if (path.includes('\\') || hasControlCharacter(path)) bad('contains a backslash or a control character');
  for (const segment of path.split('/')) {
    if (segment === '') bad('has an empty segment');
    if (segment === '.' || segment === '..') bad(`has a "${segment}" segment`);
  }
  return path;
}

/**
 * Serialises a TOC reproducibly: keys in a fixed order, no whitespace, entries as given (callers keep them ordered
 * by layer, then by position in the layer).
 */
export function serializeTOC(toc: TOC): Buffer {
  const entries = toc.entries.map((e) => {
    const out: Record<string, unknown> = { path: e.path, type: e.type, mode: e.mode };
    if (e.type === 'file') {
      out.size = e.size;
      out.sha256 = e.sha256;
    }
    if (e.type === 'symlink') out.target = e.target;
    out.layer = e.layer;
    out.offset = e.offset;
    out.length = e.length;
    return out;
  });
  return Buffer.from(JSON.stringify({ entries }));
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Parses and checks a TOC against the manifest's layers: every field well typed, paths safe and unique, files with
 * size and sha256, symlink targets relative and inside the tree, layer indexes in range, and each entry's
 * offset+length inside its layer. `where` names the artifact in errors (`ERR_LADING_INTEGRITY`).
 */
export function parseTOC(bytes: Uint8Array, layers: readonly Descriptor[], where: string): TOC {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new LadingError(ErrorCodes.integrity, `${where}: table of contents is not JSON`, { cause });
  }
  const bad = (why: string): never => {
    throw new LadingError(ErrorCodes.integrity, `${where}: table of contents ${why}`);
  };
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { entries?: unknown }).entries)) {
    return bad('has no entries list');
  }
  const seen = new Set<string>();
  const entries: TOCEntry[] = [];
  for (const [i, raw] of (doc as { entries: unknown[] }).entries.entries()) {
    const at = `entry ${i}`;
    if (typeof raw !== 'object' || raw === null) bad(`${at} is not an object`);
    const e = raw as Record<string, unknown>;
    if (typeof e.path !== 'string') bad(`${at} has no path`);
    const path = checkEntryPath(e.path as string, `${where}: table of contents ${at}`);
    if (seen.has(path)) bad(`lists ${JSON.stringify(path)} twice`);
    seen.add(path);
    if (e.type !== 'file' && e.type !== 'dir' && e.type !== 'symlink') bad(`${at} (${path}) has an unknown type`);
    if (!isUint(e.mode) || e.mode > 0o777) bad(`${at} (${path}) has an invalid mode`);
    if (!isUint(e.layer) || e.layer >= layers.length)
      bad(`${at} (${path}) names layer ${String(e.layer)}, which does not exist`);
    if (!isUint(e.offset) || !isUint(e.length)) bad(`${at} (${path}) has an invalid offset or length`);
    const layer = layers[e.layer as number];
    if (layer && (e.offset as number) + (e.length as number) > layer.size)
      bad(`${at} (${path}) reaches past the end of layer ${String(e.layer)}`);
    const entry: TOCEntry = {
      path,
      type: e.type as EntryType,
      mode: e.mode as number,
      layer: e.layer as number,
      offset: e.offset as number,
      length: e.length as number,
    };
    if (entry.type === 'file') {
      if (!isUint(e.size)) bad(`${at} (${path}) has no valid size`);
      if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) bad(`${at} (${path}) has no valid sha256`);
      entry.size = e.size as number;
      entry.sha256 = e.sha256 as string;
    }
    if (entry.type === 'symlink') {
      if (typeof e.target !== 'string' || e.target === '') bad(`${at} (${path}) has no target`);
      entry.target = e.target as string;
      if (hasControlCharacter(entry.target))
        bad(`${at} (${path}) has a link target with a control character (${JSON.stringify(entry.target)})`);
      if (!symlinkStaysInside(path, entry.target))
        bad(`${at} (${path}) links outside the artifact (${JSON.stringify(entry.target)})`);
    }
    entries.push(entry);
  }
  return { entries };
}

/**
 * True when a symlink at `path` (artifact-relative) with `target` resolves inside the top folder that holds it:
 * the target is relative and never climbs above that folder. Links at the top level (no folder) never stay inside.
 */
export function symlinkStaysInside(path: string, target: string): boolean {
  if (target.startsWith('/') || target.includes('\\') || target.includes('\0')) return false;
  const parts = path.split('/');
  parts.pop(); // the link itself
  if (parts.length === 0) return false;
  const depthFloor = 1; // stay within the top folder (parts[0])
  const stack = [...parts];
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length <= depthFloor) return false;
      stack.pop();
    } else {
      stack.push(seg);
    }
  }
  return true;
}
