/**
 * Names and folder walks for packing (docs/format.md, *Names* and *Layers*): the title an input gets, and the
 * entries a folder layer holds, in order.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';

import { ErrorCodes, LadingError } from '../errors.js';
import { checkEntryPath, hasControlCharacter, symlinkStaysInside, type EntryType } from './toc.js';

/**
 * The title of an input path: the path as given when it is relative and stays inside `cwd` (normalised: no `./`, no
 * trailing slash, `/`-separated), else its base name (`/etc/app` → `app`, `../x` → `x`, `.` → the folder's name).
 * The result still has to pass {@link checkEntryPath}.
 */
export function titleFor(given: string, cwd: string): string {
  const absolute = path.resolve(cwd, given);
  if (!path.isAbsolute(given)) {
    const relative = path.relative(path.resolve(cwd), absolute);
    const escapes = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
    if (relative !== '' && !escapes) return relative.split(path.sep).join('/');
  }
  return path.basename(absolute);
}

/** One entry of a folder layer, as the walk found it. */
export interface FolderEntry {
  /** Artifact path: the folder's title, then the path inside it. */
  path: string;
  /** Absolute path on disk. */
  source: string;
  type: EntryType;
  /** Permission bits from `lstat` (files are re-checked when read). */
  mode: number;
  /** Size from `lstat` (0 for folders and symlinks). */
  size: number;
  /** Modification time from `lstat`, whole seconds. */
  mtime: number;
  /** Link target (symlinks only). */
  target?: string;
}

/** Options of {@link walkFolder}. */
export interface WalkOptions {
  /** Names the input in error messages (`pack <where>: …`). */
  where: string;
  signal?: AbortSignal;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `lstat` calls kept in flight ahead of the entry being yielded. */
const StatAhead = 64;

/** A child of a folder as `readdir` lists it: raw name bytes, and whether it is a folder (its subtree follows). */
interface Child {
  name: Buffer;
  dir: boolean;
}

/** One position in a folder's sorted listing: the child's own entry, or (for a folder) the subtree below it. */
interface Item {
  key: Buffer;
  child: Child;
  subtree: boolean;
}

/**
 * Lists the folder `root` for a layer titled `title`, lazily: the folder itself and everything below it, found with
 * `lstat` (symlinks inside are never followed; a symlink given as `root` is), in the order of the UTF-8 bytes of
 * their artifact paths. Regular files (hard links included), folders and symlinks that stay inside the folder are
 * kept; anything else is refused with `ERR_LADING_USAGE` naming the path: absolute or escaping symlinks (with their
 * target), devices, FIFOs, sockets, names that are not UTF-8, and paths {@link checkEntryPath} refuses.
 *
 * Memory is that of the folders on the current path (their listings), not of the whole tree: sorted order comes
 * from sorting each folder's listing, where a folder `x` appears twice — its own entry under the key `x`, its subtree
 * under `x/` — which is exactly where the full paths fall in byte order (`a/b` < `a/b.txt` < `a/b/c`).
 */
export async function* walkFolder(root: string, title: string, options: WalkOptions): AsyncGenerator<FolderEntry> {
  const where = `pack ${options.where}`;
  checkEntryPath(title, where, ErrorCodes.usage);
  // The folder itself was named by the user: like the tools it sits beside, follow a symlink given as the argument.
  const top = await stat(root);
  if (!top.isDirectory()) throw new LadingError(ErrorCodes.usage, `${where}: not a folder`);
  yield { ...common(title, root, top), type: 'dir', size: 0 };
  yield* walkBelow(root, title, '', where, options.signal);
}

async function* walkBelow(
  source: string,
  artifactPath: string,
  inside: string,
  where: string,
  signal: AbortSignal | undefined,
): AsyncGenerator<FolderEntry> {
  signal?.throwIfAborted();
  const items = sortedItems(await readChildren(source));
  const own = items.filter((item) => !item.subtree);
  // Entries are described (lstat, readlink) ahead of their turn; subtrees are walked when their turn comes.
  const described = new Map<Child, Promise<FolderEntry>>();
  let next = 0;
  const describeAhead = (): void => {
    while (next < own.length && described.size < StatAhead) {
      const { child } = own[next++] as Item;
      const name = decodeName(child.name, artifactPath, 'name', where);
      const entry = describe(
        path.join(source, name),
        `${artifactPath}/${name}`,
        inside === '' ? name : `${inside}/${name}`,
        child.dir,
        where,
      );
      entry.catch(() => undefined); // surfaces when its turn comes
      described.set(child, entry);
    }
  };
  for (const item of items) {
    describeAhead();
    if (!item.subtree) {
      const entry = await (described.get(item.child) as Promise<FolderEntry>);
      described.delete(item.child);
      yield entry;
      continue;
    }
    // The folder's own entry came just before (key `x` < `x/`), so its name has been checked already.
    const name = decodeName(item.child.name, artifactPath, 'name', where);
    const below = inside === '' ? name : `${inside}/${name}`;
    yield* walkBelow(path.join(source, name), `${artifactPath}/${name}`, below, where, signal);
  }
}

async function readChildren(folder: string): Promise<Child[]> {
  const dirents = await readdir(folder, { encoding: 'buffer', withFileTypes: true });
  return dirents.map((d) => ({ name: d.name, dir: d.isDirectory() }));
}

function sortedItems(children: readonly Child[]): Item[] {
  const items: Item[] = [];
  for (const child of children) {
    items.push({ key: child.name, child, subtree: false });
    if (child.dir) items.push({ key: Buffer.concat([child.name, Slash]), child, subtree: true });
  }
  return items.sort((a, b) => Buffer.compare(a.key, b.key));
}

const Slash = Buffer.from('/');

function common(
  artifactPath: string,
  source: string,
  st: Stats,
): Pick<FolderEntry, 'path' | 'source' | 'mode' | 'mtime'> {
  return { path: artifactPath, source, mode: st.mode & 0o777, mtime: Math.floor(st.mtimeMs / 1000) };
}

/** Artifact paths are UTF-8 (the TOC is JSON): a name that is not would not survive the trip, so refuse it. */
function decodeName(bytes: Buffer, artifactPath: string, what: string, where: string): string {
  try {
    return utf8.decode(bytes);
  } catch (cause) {
    throw new LadingError(
      ErrorCodes.usage,
      `${where}: a ${what} in ${JSON.stringify(artifactPath)} is not valid UTF-8 (${JSON.stringify(bytes.toString('latin1'))})`,
      { cause },
    );
  }
}

/**
 * `inside` is the path below the packed folder; symlinks are judged against it. `listedAsDir` is what `readdir`
 * said: the listing's order depends on it, so a path that changed kind since is refused.
 */
async function describe(
  source: string,
  artifactPath: string,
  inside: string,
  listedAsDir: boolean,
  where: string,
): Promise<FolderEntry> {
  checkEntryPath(artifactPath, where, ErrorCodes.usage);
  const st = await lstat(source);
  if (st.isDirectory() !== listedAsDir) {
    throw new LadingError(ErrorCodes.usage, `${where}: ${JSON.stringify(artifactPath)} changed while packing`);
  }
  const base = common(artifactPath, source, st);
  if (st.isFile()) return { ...base, type: 'file', size: st.size };
  if (st.isDirectory()) return { ...base, type: 'dir', size: 0 };
  if (st.isSymbolicLink()) {
    const target = decodeName(await readlink(source, { encoding: 'buffer' }), artifactPath, 'link target', where);
    checkLink(artifactPath, inside, target, where);
    return { ...base, type: 'symlink', size: 0, target };
  }
  const kind = st.isFIFO()
    ? 'a FIFO'
    : st.isSocket()
      ? 'a socket'
      : st.isCharacterDevice()
        ? 'a character device'
        : st.isBlockDevice()
          ? 'a block device'
          : 'not a file, folder or symlink';
  throw new LadingError(
    ErrorCodes.usage,
    `${where}: ${JSON.stringify(artifactPath)} is ${kind}; only files, folders and symlinks can be packed`,
  );
}

/**
 * Symlinks must be relative, free of control characters (a pull refuses them) and resolve inside the folder being
 * packed. The check runs on the path below that
 * folder under a one-segment stand-in root: a folder titled `a/b` must not let `a/b/link -> ../c` reach `a/c`, which
 * the artifact-wide check (floor at the first segment) would allow.
 */
function checkLink(artifactPath: string, inside: string, target: string, where: string): void {
  const why = target.startsWith('/')
    ? 'is absolute'
    : hasControlCharacter(target)
      ? 'has a control character in its target'
      : symlinkStaysInside(`root/${inside}`, target)
        ? undefined
        : 'points outside the folder';
  if (why === undefined) return;
  throw new LadingError(
    ErrorCodes.usage,
    `${where}: symlink ${JSON.stringify(artifactPath)} -> ${JSON.stringify(target)} ${why}; only relative links that stay inside the folder can be packed`,
  );
}
