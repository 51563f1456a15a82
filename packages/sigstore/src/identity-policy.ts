/**
 * Who may sign: certificate identities (subject and OIDC issuer), exact or by anchored regular expression, and the
 * Fulcio certificate extensions (repository, workflow, ref, digest…) they must carry.
 */
import { ErrorCodes, LadingError } from '@lading/core';

/**
 * The Fulcio certificate extensions lading reads, by the names sigstore-go and sigstore-js give them, with their
 * OIDs (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md). Each value is a DER UTF8String. `issuer`
 * is the v2 issuer extension; certificates that have only the deprecated `.1` one get its value under that name.
 */
export const CertificateExtensionOIDs = {
  issuer: '1.3.6.1.4.1.57264.1.8',
  buildSignerURI: '1.3.6.1.4.1.57264.1.9',
  buildSignerDigest: '1.3.6.1.4.1.57264.1.10',
  runnerEnvironment: '1.3.6.1.4.1.57264.1.11',
  sourceRepositoryURI: '1.3.6.1.4.1.57264.1.12',
  sourceRepositoryDigest: '1.3.6.1.4.1.57264.1.13',
  sourceRepositoryRef: '1.3.6.1.4.1.57264.1.14',
  sourceRepositoryIdentifier: '1.3.6.1.4.1.57264.1.15',
  sourceRepositoryOwnerURI: '1.3.6.1.4.1.57264.1.16',
  sourceRepositoryOwnerIdentifier: '1.3.6.1.4.1.57264.1.17',
  buildConfigURI: '1.3.6.1.4.1.57264.1.18',
  buildConfigDigest: '1.3.6.1.4.1.57264.1.19',
  buildTrigger: '1.3.6.1.4.1.57264.1.20',
  runInvocationURI: '1.3.6.1.4.1.57264.1.21',
  sourceRepositoryVisibilityAtSigning: '1.3.6.1.4.1.57264.1.22',
} as const;

/** The deprecated issuer extension (raw bytes, not DER): read when the certificate has no v2 `issuer`. */
export const CertificateIssuerV1OID = '1.3.6.1.4.1.57264.1.1';

/** A name of {@link CertificateExtensionOIDs}, e.g. `sourceRepositoryURI`. */
export type CertificateExtensionName = keyof typeof CertificateExtensionOIDs;

/** Values of Fulcio certificate extensions, by name. */
export type CertificateExtensionValues = Partial<Record<CertificateExtensionName, string>>;

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
  /**
   * Fulcio extensions the certificate must carry with exactly these values, e.g.
   * `{ sourceRepositoryURI: 'https://github.com/acme/app' }`. Default: none required. An extension the
   * certificate lacks fails the match; an unknown name or an empty value is a policy error.
   */
  extensions?: CertificateExtensionValues;
  /**
   * Like `extensions`, with patterns (anchored, as above) the whole value must match, e.g.
   * `{ buildSignerURI: 'https://github\\.com/acme/app/\\.github/workflows/release\\.yml@.+' }`. A name may appear
   * in both: both must hold.
   */
  extensionRegExps?: CertificateExtensionValues;
}

/** A compiled {@link CertificateIdentity}. */
export interface IdentityMatcher {
  /**
   * Why `subject`/`issuer`/`extensions` (the certificate's, by name) do not match, or undefined when they do.
   * Missing `extensions` count as none: any required extension then fails the match.
   */
  mismatch(
    subject: string | undefined,
    issuer: string | undefined,
    extensions?: Readonly<Record<string, string>>,
  ): string | undefined;
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
  const required = [
    ...compileExtensions(identity.extensions, `identities[${index}].extensions`, (exact, what) =>
      compileField(exact, undefined, what),
    ),
    ...compileExtensions(identity.extensionRegExps, `identities[${index}].extensionRegExps`, (pattern, what) =>
      compileField(undefined, pattern, what),
    ),
  ];
  const extra = required.map((r) => ` ${r.name} ${r.field.description}`).join('');
  return {
    description: `subject ${subject.description} issuer ${issuer.description}${extra}`,
    mismatch(actualSubject, actualIssuer, actualExtensions = {}) {
      if (!subject.matches(actualSubject)) {
        return `subject ${quote(actualSubject)} is not ${subject.description}`;
      }
      if (!issuer.matches(actualIssuer)) return `issuer ${quote(actualIssuer)} is not ${issuer.description}`;
      for (const { name, field } of required) {
        // Own properties only: a name like `constructor` must not be read from the prototype.
        const value = Object.hasOwn(actualExtensions, name) ? actualExtensions[name] : undefined;
        if (!field.matches(value)) return `certificate extension ${name} ${quote(value)} is not ${field.description}`;
      }
      return undefined;
    },
  };
}

interface ExtensionMatcher {
  name: CertificateExtensionName;
  field: FieldMatcher;
}

function compileExtensions(
  values: CertificateExtensionValues | undefined,
  what: string,
  compile: (value: string, what: string) => FieldMatcher,
): ExtensionMatcher[] {
  if (values === undefined) return [];
  // Policies may come from JSON, which the types do not check.
  const raw: unknown = values;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new LadingError(ErrorCodes.usage, `policy ${what}: not an object of extension names to values`);
  }
  return Object.entries(values).map(([name, value]: [string, unknown]) => {
    if (!isExtensionName(name)) {
      throw new LadingError(
        ErrorCodes.usage,
        `policy ${what}.${name}: not a Fulcio extension name (${Object.keys(CertificateExtensionOIDs).join(', ')})`,
      );
    }
    if (typeof value !== 'string') throw new LadingError(ErrorCodes.usage, `policy ${what}.${name}: not a string`);
    return { name, field: compile(value, `${what}.${name}`) };
  });
}

function isExtensionName(name: string): name is CertificateExtensionName {
  return Object.hasOwn(CertificateExtensionOIDs, name);
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
