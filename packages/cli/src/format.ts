/**
 * Small formatting and parsing helpers of the CLI: human-readable sizes, size flags, `ls -l` modes, short digests.
 */
import { ErrorCodes, LadingError } from '@lading/core';

const binaryUnits = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * A byte count for humans: `512 B`, `1.2 KiB`, `3.4 MiB` (binary units, one decimal below 10 of a unit, none
 * above: `12 MiB`). Non-finite or negative input is shown as is, with ` B`.
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit: string = 'B';
  for (const next of binaryUnits) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  const shown = value < 10 ? (Math.floor(value * 10) / 10).toFixed(1) : Math.floor(value).toString();
  return `${shown} ${unit}`;
}

/** Multipliers accepted by {@link parseSize}, keyed by lower-cased suffix. */
const sizeUnits: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/**
 * Parses a size flag: a number of bytes with an optional unit, case-insensitive — `B`; binary `K`/`KiB`, `M`/`MiB`,
 * `G`/`GiB`, `T`/`TiB` (powers of 1024); decimal `KB`, `MB`, `GB`, `TB` (powers of 1000). Fractions are allowed
 * (`1.5GiB`) and rounded down to whole bytes. The result must be at least 1 byte. Throws `ERR_LADING_USAGE` naming
 * `name` (the flag) otherwise.
 */
export function parseSize(input: string, name = 'size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input);
  const unit = match ? sizeUnits[(match[2] ?? '').toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new LadingError(
      ErrorCodes.usage,
      `${name} ${JSON.stringify(input)}: not a size (write bytes, or a number with B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)`,
    );
  }
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new LadingError(ErrorCodes.usage, `${name} ${JSON.stringify(input)}: must be between 1 byte and 8 PiB`);
  }
  return bytes;
}

/** The `ls -l` type letter of an entry type. */
const typeLetters = { file: '-', dir: 'd', symlink: 'l' } as const;

/**
 * A mode the way `ls -l` shows it: `-rwxr-xr-x`, `drwxr-xr-x`, `lrwxrwxrwx`. Only the permission bits of `mode`
 * are used (lading keeps no setuid, setgid or sticky bits).
 */
export function formatMode(type: 'file' | 'dir' | 'symlink', mode: number): string {
  const letters = 'rwxrwxrwx';
  let out: string = typeLetters[type];
  for (let bit = 0; bit < 9; bit++) out += mode & (0o400 >> bit) ? letters.charAt(bit) : '-';
  return out;
}

/** `sha256:0123456789ab`: the algorithm and the first 12 hex digits, enough to tell artifacts apart on screen. */
export function shortDigest(digest: string): string {
  const colon = digest.indexOf(':');
  return colon < 0 ? digest.slice(0, 12) : digest.slice(0, colon + 13);
}

/**
 * Characters a terminal would act on instead of showing: C0 controls (ESC, BEL, CR, newline…), DEL, C1 controls
 * (U+009B is a one-byte CSI), line and paragraph separators, lone surrogates, and the invisible formatting marks that
 * reorder or hide text (bidirectional overrides and isolates, zero-width space, BOM: "Trojan Source").
 */
const nonPrintable =
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it matches
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]|\p{Cs}/gu;

/**
 * Makes text from a registry or an artifact (paths, link targets, titles, annotations, error messages) safe to print
 * to a terminal: every non-printable character (see above) is shown as a `\xHH` or `\uHHHH` escape, so `ESC [2J` is
 * printed as `\x1b[2J` instead of clearing the screen. With `keepNewlines`, `\n` is kept (multi-line messages).
 * Printable text, other languages and emoji pass unchanged. For exact values, use `--json`.
 */
export function terminalSafe(text: string, options: { keepNewlines?: boolean } = {}): string {
  return text.replace(nonPrintable, (c) => {
    if (c === '\n' && options.keepNewlines === true) return c;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
