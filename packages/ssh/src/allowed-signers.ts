/**
 * OpenSSH `allowed_signers` files (ssh-keygen(1), "ALLOWED SIGNERS"): which keys may sign for which principals, in
 * which namespaces, when; `cert-authority` lines trust certificates signed by a CA key. Matching follows OpenSSH's
 * sshsig.c and match.c so that a file means the same to lading and to `ssh-keygen -Y verify`.
 */
import { parsePublicKeyLine, type SSHPublicKey } from './keys.js';

/** One line of an allowed_signers file. */
export interface AllowedSigner {
  /** Comma-separated principal patterns (`*`, `?`, `!` negation), as written. */
  principals: string;
  /** The key (for `cert-authority` lines, the CA key). */
  key: SSHPublicKey;
  certAuthority: boolean;
  /** `namespaces="…"`: comma-separated patterns; undefined when any namespace is allowed. */
  namespaces?: string;
  /** `valid-after`: the key is trusted from this time on. */
  validAfter?: Date;
  /** `valid-before`: the key is trusted until this time. */
  validBefore?: Date;
  /** Where the line is, `FILE:LINE`, for messages. */
  source: string;
}

/**
 * Parses an allowed_signers file's text; `file` names it in messages. Blank lines and `#` comments are skipped.
 * Throws a plain `Error` with `FILE:LINE` for a malformed line, an unknown option, a bad time or an unsupported key
 * (a file lading cannot read entirely is refused, never read in part).
 */
export function parseAllowedSigners(text: string, file: string): AllowedSigner[] {
  const out: AllowedSigner[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const source = `${file}:${index + 1}`;
    try {
      out.push(parseLine(line, source));
    } catch (e) {
      throw new Error(`${source}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  });
  return out;
}

/** Splits off the first token; a token may contain double-quoted parts with spaces. */
function token(line: string): [string, string] {
  let i = 0;
  let quoted = false;
  for (; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) break;
  }
  if (quoted) throw new Error('unterminated quote');
  return [line.slice(0, i), line.slice(i).trimStart()];
}

const keyTypePattern = /^(ssh-|ecdsa-sha2-|sk-|rsa-)/;

function parseLine(line: string, source: string): AllowedSigner {
  const [principals, rest] = token(line);
  if (principals === '' || rest === '') throw new Error('expected "principals [options] key"');
  let [options, keyPart] = token(rest);
  if (keyTypePattern.test(options)) {
    keyPart = rest;
    options = '';
  }
  const signer: AllowedSigner = {
    principals: principals.replace(/"/g, ''),
    key: parsePublicKeyLine(keyPart, 'key'),
    certAuthority: false,
    source,
  };
  if (signer.key.certificate) throw new Error('a certificate; list the CA key with cert-authority instead');
  for (const option of splitOptions(options)) {
    const eq = option.indexOf('=');
    const name = (eq < 0 ? option : option.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : unquote(option.slice(eq + 1));
    if (name === 'cert-authority' && value === undefined) signer.certAuthority = true;
    else if (name === 'namespaces' && value !== undefined) signer.namespaces = value;
    else if (name === 'valid-after' && value !== undefined) signer.validAfter = parseTime(value);
    else if (name === 'valid-before' && value !== undefined) signer.validBefore = parseTime(value);
    else throw new Error(`unsupported option ${JSON.stringify(option)}`);
  }
  return signer;
}

function splitOptions(options: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of options) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  if (current !== '') out.push(current);
  return out;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1);
  if (value.includes('"')) throw new Error(`bad quoting in ${value}`);
  return value;
}

/**
 * `YYYYMMDD[HHMM[SS]][Z]` as OpenSSH reads it: UTC with a trailing `Z`, otherwise local time.
 */
export function parseTime(value: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z)?$/i.exec(value);
  if (!m) throw new Error(`time ${JSON.stringify(value)} is not YYYYMMDD[HHMM[SS]][Z]`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x: string | undefined) => Number(x ?? '0')) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = m[7] ? new Date(Date.UTC(y, mo - 1, d, h, mi, s)) : new Date(y, mo - 1, d, h, mi, s);
  const [month, day] = m[7] ? [date.getUTCMonth(), date.getUTCDate()] : [date.getMonth(), date.getDate()];
  if (Number.isNaN(date.getTime()) || month !== mo - 1 || day !== d || h > 23 || mi > 59 || s > 59) {
    throw new Error(`time ${JSON.stringify(value)} is not a valid date`);
  }
  return date;
}

/** OpenSSH's `match_pattern`: `*` any run, `?` any one character; the whole string must match. */
export function matchPattern(value: string, pattern: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    's',
  );
  return re.test(value);
}

/**
 * OpenSSH's `match_pattern_list`: true when `value` matches one of the comma-separated patterns and no negated
 * (`!`) pattern; a negated match always wins.
 */
export function matchPatternList(value: string, patterns: string): boolean {
  let matched = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (matchPattern(value, pattern)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}
