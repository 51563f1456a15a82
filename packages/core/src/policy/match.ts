/**
 * Reference patterns of policy rules: `ghcr.io/acme/**`, `localhost:5000/app:v*`, `ghcr.io/acme/app@sha256:…`,
 * `oci:./layout`. A pattern is matched against the normalised reference being read and the digest it resolved to.
 */
import { isDigest } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { formatTarget, parseTarget } from '../reference.js';

/** A compiled reference pattern. */
export interface ReferencePattern {
  /** The pattern as written. */
  text: string;
  /** Matches `registry/repository` (or `oci:<dir>` for a layout). */
  name: RegExp;
  /** Matches the tag; absent: any tag, or none. */
  tag?: RegExp;
  /** The pinned manifest digest; absent: any. */
  digest?: string;
}

/** What a pattern is matched against: the parts of the reference being read, and the digests it resolved to. */
export interface MatchSubject {
  /** `registry/repository`, or `oci:<dir>` for an OCI layout. */
  name: string;
  /** The tag the reference names, if any. */
  tag?: string;
  /** The resolved manifest digest, and for an index read through one platform, that manifest's digest too. */
  digests: readonly string[];
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i += 1) {
    const ch = glob[i] ?? '';
    if (ch === '*' && glob[i + 1] === '*') {
      out += '.*';
      i += 1;
    } else if (ch === '*') out += '[^/]*';
    else out += ch.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${out}$`, 'u');
}

/**
 * Compiles a reference pattern. The name part must be fully qualified (`docker.io/library/nginx`, not `nginx`) so a
 * pattern never depends on Docker Hub's shorthand; `*` matches within one path component, `**` across components;
 * the tag part (after the last `:` of the last component) is a glob too; `@<digest>` pins the manifest digest.
 * Throws an `Error` with the reason (the policy parser names the field and line).
 */
export function compilePattern(text: string): ReferencePattern {
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    if (!isDigest(digest)) throw new Error(`${text}: ${digest} is not a digest (sha256:<64 hex>)`);
    rest = rest.slice(0, at);
  }
  if (rest.startsWith('oci:')) {
    const lastSlash = rest.lastIndexOf('/');
    const colon = rest.lastIndexOf(':');
    const hasTag = colon > lastSlash && colon > 3;
    const name = hasTag ? rest.slice(0, colon) : rest;
    const tag = hasTag ? rest.slice(colon + 1) : undefined;
    return {
      text,
      name: globToRegExp(name.replace(/\/+$/, '')),
      ...(tag === undefined || tag === '' ? {} : { tag: globToRegExp(tag) }),
      ...(digest === undefined ? {} : { digest }),
    };
  }
  const slash = rest.indexOf('/');
  const host = slash < 0 ? rest : rest.slice(0, slash);
  if (slash < 0 || !(host.includes('.') || host.includes(':') || host === 'localhost' || host.includes('*'))) {
    throw new Error(`${text}: name the registry first (ghcr.io/acme/app, docker.io/library/nginx)`);
  }
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  let name = rest;
  let tag: string | undefined;
  if (colon > lastSlash) {
    name = rest.slice(0, colon);
    tag = rest.slice(colon + 1);
    if (!/^[\w.*-]+$/.test(tag)) throw new Error(`${text}: tag pattern ${JSON.stringify(tag)} is not a tag glob`);
  }
  if (!/^[a-z0-9.:_\-/*[\]]+$/.test(name)) {
    throw new Error(`${text}: ${name} is not a lower-case registry/repository name or glob`);
  }
  return {
    text,
    name: globToRegExp(name),
    ...(tag === undefined ? {} : { tag: globToRegExp(tag) }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/** True when `pattern` covers `subject` (see {@link compilePattern}). */
export function matchesPattern(pattern: ReferencePattern, subject: MatchSubject): boolean {
  if (!pattern.name.test(subject.name)) return false;
  if (pattern.tag && (subject.tag === undefined || !pattern.tag.test(subject.tag))) return false;
  if (pattern.digest !== undefined && !subject.digests.includes(pattern.digest)) return false;
  return true;
}

/**
 * The parts of `reference` patterns are matched against: `registry/repository` and the tag, or for a layout
 * `oci:<dir>` with its trailing `/` removed. `reference` must be in normalised form (what `openTarget` returns as
 * `display`, `formatTarget`'s output): a short form such as `nginx:1` or a bare tag `v1` would otherwise be read as a
 * Docker Hub name and could match the wrong rule, so it is refused (`ERR_LADING_USAGE`). Throws
 * `ERR_LADING_INVALID_REFERENCE` for a reference that does not parse.
 */
export function matchSubject(reference: string, digests: readonly string[]): MatchSubject {
  const parsed = parseTarget(reference);
  const normalised = formatTarget(parsed);
  if (normalised !== reference) {
    throw new LadingError(
      ErrorCodes.usage,
      `policy: reference ${JSON.stringify(reference)} is not in normalised form (${normalised}); pass the reference openTarget returns as display`,
    );
  }
  const name = parsed.kind === 'registry' ? `${parsed.registry}/${parsed.repository}` : `oci:${parsed.path}`;
  return {
    name: name.replace(/\/+$/, ''),
    ...(parsed.tag === undefined ? {} : { tag: parsed.tag }),
    digests,
  };
}
