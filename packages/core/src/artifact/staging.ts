/**
 * Staging folders: where a pull builds its tree before anything reaches the destination, and the moves that put it
 * in place. The folder sits beside the destination (same parent, so same filesystem), which makes every move a
 * `rename`: atomic for each entry, and the whole tree at once when the destination does not exist yet. When the
 * parent cannot be written (or is another file system), it sits inside an existing destination instead, and the
 * commit moves entry by entry as into any existing folder.
 *
 * Interruption: a crash before commit leaves the destination untouched and a stale staging folder beside (or
 * inside) it (`.<name>.lading-staging-<random>`, `.lading-staging-<random>`), which the user may delete; lading never deletes staging folders it did not
 * create in this process, since another pull may be using them. A crash during a commit into an existing folder
 * can leave some top-level entries replaced and others not, with the previous versions in the staging folder's
 * `backup` subfolder; a commit into an absent destination is a single rename and cannot be half done.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { access, chmod, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { ErrorCodes, fileSystemError, LadingError } from '../errors.js';

/** Options of {@link Staging.commit}. */
export interface CommitOptions {
  /**
   * Replace top-level entries the destination already has (a folder is replaced as a whole, not merged).
   * Default false: any such entry fails the commit with `ERR_LADING_USAGE` before anything is moved.
   */
  overwrite?: boolean;
  /** Checked before the first move; once moving has begun the commit finishes or undoes itself. */
  signal?: AbortSignal;
}

/** Options of {@link createStaging}. */
export interface StagingOptions {
  /**
   * Replaces `fs.promises.rename` for the moves of {@link Staging.commit}. Internal: tests use it to make a move fail
   * midway and check that the destination is restored.
   * @internal
   */
  rename?: (from: string, to: string) => Promise<void>;
}

/** A staging folder for one destination, from {@link createStaging}. */
export interface Staging {
  /** Absolute path of the destination. */
  readonly destination: string;
  /** The folder to fill; its top-level entries become the destination's top-level entries on commit. */
  readonly dir: string;
  /**
   * Moves the staged tree into the destination. When the destination does not exist: one rename of {@link dir}
   * into its place. When it is a folder: each top-level entry is renamed in; conflicts are checked for all entries
   * before anything moves (refused unless `overwrite`); with `overwrite`, each replaced entry is first moved into the
   * staging folder and deleted only once every new entry is in place, and a failure midway moves everything back so
   * the destination ends exactly as it was. Anything else at the destination (a file, a symlink) is refused with
   * `ERR_LADING_USAGE`. The staging folder is removed afterwards. Can be called once.
   */
  commit(options?: CommitOptions): Promise<void>;
  /**
   * Removes the staging folder and everything in it, never following a symlink out of it; does nothing when it is
   * already gone (after a commit, or a second call). Keeps it when a failed commit could not restore the
   * destination's previous entries (they are in it; the commit's error says where).
   */
  discard(): Promise<void>;
}

/** What lading adds to a destination's name to name its staging folders. */
const stagingInfix = '.lading-staging-';

/**
 * Creates a staging folder for `destination`: `<parent>/.<name>.lading-staging-<random>`, mode 0o700 so no other
 * user can look into or tamper with it, holding the folder to fill ({@link Staging.dir}). The destination's parent is
 * created when missing. The destination must be absent or a real folder: a symlink is refused (`ERR_LADING_USAGE`)
 * rather than followed, so the staged tree always lands in the folder named and never through a link planted at
 * that name; the parent path itself is the user's choice and may go through links (`/tmp` on macOS is one). Parents
 * created here stay when the pull fails.
 *
 * The staging folder goes inside an existing destination instead (`<destination>/.lading-staging-<random>`), so
 * moves stay renames on one file system, when the destination is a mount point (another file system than its
 * parent) or when its parent is not writable (pulling into your home folder under a root-owned `/home`). The commit
 * then moves each top-level entry as for any existing folder, so the all-or-nothing guarantee is the same.
 *
 * Errors of the file system (an existing destination this user may not write, a parent that cannot be written when
 * the destination must be created, a file where a folder is needed, a read-only or full disk) are
 * `ERR_LADING_FILESYSTEM` errors naming the path, raised before anything is downloaded.
 */
export async function createStaging(destination: string, options: StagingOptions = {}): Promise<Staging> {
  const target = path.resolve(destination);
  try {
    return await stage(target, options);
  } catch (error) {
    throw await stagingError(error, target);
  }
}

async function stage(target: string, options: StagingOptions): Promise<Staging> {
  const existing = await checkDestination(target);
  const parent = path.dirname(target);
  // A folder that cannot be written now would fail the commit after the whole download: refuse it first. (access
  // answers for this process's user; root may write anything.)
  if (existing !== undefined) await access(target, constants.W_OK | constants.X_OK);
  else await mkdir(parent, { recursive: true });
  const random = randomBytes(8).toString('hex');
  const inside = existing !== undefined && (parent === target || existing.dev !== (await stat(parent)).dev);
  const beside = path.join(parent, `.${path.basename(target)}${stagingInfix}${random}`);
  const within = path.join(target, `${stagingInfix}${random}`);
  let root = inside ? within : beside;
  try {
    await mkdir(root, { mode: 0o700 });
  } catch (error) {
    // The parent is not writable but the destination is (checked above): stage inside it.
    if (inside || existing === undefined || !isPermissionError(error)) throw error;
    root = within;
    await mkdir(root, { mode: 0o700 });
  }
  const dir = path.join(root, 'tree');
  try {
    // mkdir's mode passes through the umask; set it exactly.
    await chmod(root, 0o700);
    // The tree gets the default folder mode (umask applied) because it becomes the destination when there is none;
    // the 0o700 root around it already keeps others out.
    await mkdir(dir);
  } catch (error) {
    // A full disk can refuse the second folder: leave nothing behind.
    await removeTree(root).catch(() => undefined);
    throw error;
  }
  return new StagingFolder(target, root, dir, options.rename ?? rename);
}

function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}

/**
 * The error of a failed {@link createStaging}, saying what the user can do: which path is a file where a folder is
 * needed, which parent cannot be written when the destination must be created; other operating-system errors
 * through {@link fileSystemError}.
 */
async function stagingError(error: unknown, target: string): Promise<unknown> {
  const where = `pull into ${target}`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOTDIR') {
    for (let dir = path.dirname(target); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      const stats = await lstatOrUndefined(dir).catch(() => undefined);
      if (stats !== undefined && !stats.isDirectory()) {
        return new LadingError(
          ErrorCodes.fileSystem,
          `${where}: ${dir} is a file, not a folder; give a path made of folders`,
          { cause: error },
        );
      }
    }
  }
  const failedPath = (error as NodeJS.ErrnoException).path;
  if (isPermissionError(error) && failedPath !== undefined && failedPath !== target) {
    if ((await lstatOrUndefined(target).catch(() => undefined)) === undefined) {
      return new LadingError(
        ErrorCodes.fileSystem,
        `${where}: cannot create it, permission denied in ${path.dirname(failedPath)}; create the folder first, or choose one this user may write`,
        { cause: error },
      );
    }
  }
  return fileSystemError(error, where, target);
}

/** Refuses a destination that is a symlink or not a folder; returns its stats, or undefined when absent. */
async function checkDestination(destination: string): Promise<Stats | undefined> {
  const stats = await lstatOrUndefined(destination);
  if (stats?.isSymbolicLink()) {
    throw new LadingError(
      ErrorCodes.usage,
      `pull into ${destination}: is a symbolic link; give the folder it points to instead`,
    );
  }
  if (stats && !stats.isDirectory()) {
    throw new LadingError(ErrorCodes.usage, `pull into ${destination}: exists and is not a folder`);
  }
  return stats;
}

/** One top-level entry's progress through a commit, for undoing it. */
interface Move {
  name: string;
  /** The destination's previous entry was moved into the backup folder. */
  backedUp: boolean;
  /** The staged entry was moved into the destination. */
  movedIn: boolean;
}

class StagingFolder implements Staging {
  readonly destination: string;
  readonly dir: string;
  readonly #root: string;
  readonly #rename: (from: string, to: string) => Promise<void>;
  #state: 'open' | 'committed' | 'kept' = 'open';

  constructor(destination: string, root: string, dir: string, renamer: (from: string, to: string) => Promise<void>) {
    this.destination = destination;
    this.#root = root;
    this.dir = dir;
    this.#rename = renamer;
  }

  async commit(options: CommitOptions = {}): Promise<void> {
    if (this.#state !== 'open') {
      throw new LadingError(ErrorCodes.usage, `pull into ${this.destination}: the staging folder was already used`);
    }
    options.signal?.throwIfAborted();
    try {
      const existing = await checkDestination(this.destination);
      if (existing === undefined) {
        // The whole tree in one rename: readers see either nothing or everything.
        await this.#move(this.dir, this.destination);
      } else {
        await this.#merge(options.overwrite ?? false);
      }
    } catch (error) {
      // A failed move was undone (see #merge), so an operating-system error here changed nothing.
      throw fileSystemError(error, `pull into ${this.destination}`, this.destination);
    }
    this.#state = 'committed';
    await removeTree(this.#root).catch(() => undefined); // the destination is complete; a leftover is harmless
  }

  async discard(): Promise<void> {
    if (this.#state === 'kept') return;
    await removeTree(this.#root);
  }

  /** Moves each top-level entry in, after checking every conflict first. */
  async #merge(overwrite: boolean): Promise<void> {
    const names = (await readdir(this.dir)).sort();
    const conflicts = new Set<string>();
    for (const name of names) {
      const inDestination = path.join(this.destination, name);
      // The staged tree must never replace the staging folder itself (when it lives inside the destination).
      if (inDestination === this.#root) {
        throw new LadingError(ErrorCodes.integrity, `pull into ${this.destination}: ${name} is a reserved name`);
      }
      if ((await lstatOrUndefined(inDestination)) !== undefined) conflicts.add(name);
    }
    const first = [...conflicts][0];
    if (first !== undefined && !overwrite) {
      throw new LadingError(
        ErrorCodes.usage,
        `pull into ${this.destination}: ${first} exists; use --overwrite to replace it`,
      );
    }
    const backup = path.join(this.#root, 'backup');
    if (conflicts.size > 0) await mkdir(backup, { mode: 0o700 });
    const done: Move[] = [];
    try {
      for (const name of names) {
        const move: Move = { name, backedUp: false, movedIn: false };
        done.push(move);
        if (conflicts.has(name)) {
          await this.#move(path.join(this.destination, name), path.join(backup, name));
          move.backedUp = true;
        }
        await this.#move(path.join(this.dir, name), path.join(this.destination, name));
        move.movedIn = true;
      }
    } catch (error) {
      await this.#undo(done, backup, error);
      throw error;
    }
  }

  /**
   * Puts the destination back as it was, newest move first: staged entries go back into the staging tree, backed-up
   * entries back into the destination. If that fails too, the staging folder is kept (it holds the user's entries)
   * and the error says where they are.
   */
  async #undo(done: readonly Move[], backup: string, cause: unknown): Promise<void> {
    try {
      for (const move of [...done].reverse()) {
        if (move.movedIn) await this.#move(path.join(this.destination, move.name), path.join(this.dir, move.name));
        if (move.backedUp) await this.#move(path.join(backup, move.name), path.join(this.destination, move.name));
      }
    } catch (undoError) {
      this.#state = 'kept';
      throw new LadingError(
        ErrorCodes.usage,
        `pull into ${this.destination}: the commit failed and could not be undone; the previous entries are in ${backup}`,
        { cause: new AggregateError([cause, undoError]) },
      );
    }
  }

  /**
   * Renames `from` to `to`. Moving a folder to another parent rewrites its `..` entry, which needs write permission
   * on the folder itself: a read-only folder (mode 0o555) is made owner-writable for the move and restored after.
   */
  async #move(from: string, to: string): Promise<void> {
    try {
      await this.#rename(from, to);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const stats = code === 'EACCES' || code === 'EPERM' ? await lstatOrUndefined(from) : undefined;
      if (!stats?.isDirectory() || (stats.mode & 0o200) !== 0) throw error;
    }
    const mode = (await lstat(from)).mode & 0o7777;
    await chmod(from, mode | 0o200);
    try {
      await this.#rename(from, to);
    } catch (error) {
      await chmod(from, mode);
      throw error;
    }
    await chmod(to, mode);
  }
}

/**
 * Deletes a tree without following symlinks (`rm` unlinks links, it never enters them). Folders without owner
 * permissions (extracted with mode 0o555 or 0o000) are opened up first, since their entries cannot be removed
 * otherwise by a user other than root.
 */
async function removeTree(root: string): Promise<void> {
  try {
    await rm(root, { recursive: true, force: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    await openUp(root);
    await rm(root, { recursive: true, force: true });
  }
}

/** Gives the owner rwx on every folder of a tree, by lstat: links are never followed. */
async function openUp(folder: string): Promise<void> {
  const stats = await lstatOrUndefined(folder);
  if (!stats?.isDirectory()) return;
  if ((stats.mode & 0o700) !== 0o700) await chmod(folder, (stats.mode & 0o7777) | 0o700);
  for (const name of await readdir(folder)) await openUp(path.join(folder, name));
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
