/**
 * Who may sign: certificate identities (subject and OIDC issuer), exact or by anchored regular expression.
 */
import { ErrorCodes, LadingError } from '@lading/core';

/**
 * One trusted signer identity: exactly one of `issuer`/`issuerRegExp` and one of `subject`/`subjectRegExp`
 * (like cosign's `--certificate-identity[-regexp]` and `--certificate-oidc-issuer[-regexp]`).
 * Regular expressions are JavaScript syntax and are matched against the WHOLE value (wrapped as `^(?:…)$`):
 * `alice@example\.com` does not accept `xalice@example.com.evil`. cosign, by contrast, matches unanchored.
 */
export interface CertificateIdentity {
  /** The OIDC issuer exactly, e.g. `https://token.actions.githubusercontent.com`. */
  issuer?: string;
  /** A pattern the whole issuer must match. */
  issuerRegExp?: string;
  /** The certificate identity (SAN: email or URI) exactly. */
  subject?: string;
  /** A pattern the whole identity must match. */
  subjectRegExp?: string;
}

/** A compiled {@link CertificateIdentity}. */
export interface IdentityMatcher {
  /** Why `subject`/`issuer` do not match, or undefined when they do. */
  mismatch(subject: string | undefined, issuer: string | undefined): string | undefined;
  /** For messages: `subject "…" issuer "…"` or the anchored patterns. */
  readonly description: string;
}

/**
 * Compiles `source` as a JavaScript regular expression anchored at both ends (`^(?:source)$`), so it must match the
 * whole value. Throws `ERR_LADING_USAGE` naming `what` when the pattern does not compile.
 */
export function anchoredRegExp(source: string, what: string): RegExp {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch (e) {
    throw new LadingError(ErrorCodes.usage, `policy ${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Compiles identities; throws `ERR_LADING_USAGE` for a malformed one (naming its index). */
export function compileIdentities(identities: readonly CertificateIdentity[]): IdentityMatcher[] {
  return identities.map((identity, index) => compileIdentity(identity, index));
}

function compileIdentity(identity: CertificateIdentity, index: number): IdentityMatcher {
  const subject = compileField(identity.subject, identity.subjectRegExp, `identities[${index}].subject`);
  const issuer = compileField(identity.issuer, identity.issuerRegExp, `identities[${index}].issuer`);
  return {
    description: `subject ${subject.description} issuer ${issuer.description}`,
    mismatch(actualSubject, actualIssuer) {
      if (!subject.matches(actualSubject)) {
        return `subject ${quote(actualSubject)} is not ${subject.description}`;
      }
      if (!issuer.matches(actualIssuer)) return `issuer ${quote(actualIssuer)} is not ${issuer.description}`;
      return undefined;
    },
  };
}

interface FieldMatcher {
  matches(value: string | undefined): boolean;
  description: string;
}

function compileField(exact: string | undefined, pattern: string | undefined, what: string): FieldMatcher {
  if ((exact === undefined) === (pattern === undefined)) {
    throw new LadingError(ErrorCodes.usage, `policy ${what}: give exactly one of the exact value and the RegExp`);
  }
  if (exact !== undefined) {
    if (exact === '') throw new LadingError(ErrorCodes.usage, `policy ${what}: empty`);
    return { matches: (value) => value === exact, description: quote(exact) };
  }
  const regexp = anchoredRegExp(pattern ?? '', `${what}RegExp`);
  return { matches: (value) => value !== undefined && regexp.test(value), description: `matching /${regexp.source}/` };
}

function quote(value: string | undefined): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}
