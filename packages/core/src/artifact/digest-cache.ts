/**
 * A local cache of file digests, so that re-pushing an unchanged file does not read it again to learn its digest.
 * Keyed by what changes whenever a file's content can have changed: device, inode, size, and the modification and
 * status-change times in nanoseconds (the status-change time cannot be set back by a user, so `touch -d` does not
 * fool it). Git's index trusts the same fields.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/** An entry is trusted only when the file was last changed this long before it was hashed (a "racily clean" file). */
const RacyWindowMs = 2000n;

/**
 * The default cache folder: `$XDG_CACHE_HOME/lading/digests`, else `~/.cache/lading/digests` (the XDG base
 * directory rule).
 */
export function defaultDigestCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : undefined;
  return path.join(base ?? path.join(homedir(), '.cache'), 'lading', 'digests');
}

/**
 * File digests by file identity, one small file per entry under `dir` (created 0o700 when first written; entries are
 * written to a temporary name and renamed, so concurrent pushes never read half an entry). Reads and writes are best
 * effort: an unreadable, missing or malformed entry is a miss, and a failed write is ignored (the digest is simply
 * computed again next time).
 */
export class DigestCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The lower-case hex sha256 recorded for the file `stats` describes, or undefined. */
  async get(stats: BigIntStats): Promise<string | undefined> {
    try {
      const value = (await readFile(this.#file(stats), 'utf8')).trim();
      return /^[0-9a-f]{64}$/.test(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Records `sha256` for the file `stats` describes (taken before it was read; `after`, taken once it was read, must
   * be the same file unchanged). Records nothing when the file changed while being read, or was last changed less
   * than two seconds before `now` (a write in the same clock tick could leave every key field unchanged).
   */
  async set(stats: BigIntStats, after: BigIntStats, sha256: string, now = BigInt(Date.now())): Promise<void> {
    if (keyOf(stats) !== keyOf(after)) return;
    if (now - stats.mtimeMs < RacyWindowMs || now - stats.ctimeMs < RacyWindowMs) return;
    const file = this.#file(stats);
    const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFile(temporary, `${sha256}\n`, { mode: 0o600 });
      await rename(temporary, file);
    } catch {
      await rm(temporary, { force: true }).catch(() => undefined);
    }
  }

  #file(stats: BigIntStats): string {
    return path.join(this.dir, createHash('sha256').update(keyOf(stats)).digest('hex'));
  }
}

function keyOf(stats: BigIntStats): string {
  return [stats.dev, stats.ino, stats.size, stats.mtimeNs, stats.ctimeNs].join(':');
}
