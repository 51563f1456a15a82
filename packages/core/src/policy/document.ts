/**
 * The verification policy file (version 1): who may sign what, read from YAML or JSON and checked field by field,
 * each problem named by file, line and field. The JSON Schema of the same document is `schemas/policy.v1.json`;
 * docs/policy.md describes every field.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

import type { Document, LineCounter } from 'yaml';

import { ErrorCodes, LadingError } from '../errors.js';
import { compilePattern, type ReferencePattern } from './match.js';

// `yaml` (some 70 modules) is loaded on the first parse, not when @lading/core is imported: a pull without a policy
// never pays for it (start-up). Its CommonJS build is what Node resolves for `require`.
const load = createRequire(import.meta.url);
let yamlModule: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  yamlModule ??= load('yaml') as typeof import('yaml');
  return yamlModule;
}

/** The policy file versions this release reads. */
export const PolicyVersion = 1;

/**
 * The Fulcio certificate extensions a keyless authority may require, by the names sigstore-js and sigstore-go give
 * them (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
 */
export const PolicyCertificateExtensions = [
  'issuer',
  'buildSignerURI',
  'buildSignerDigest',
  'runnerEnvironment',
  'sourceRepositoryURI',
  'sourceRepositoryDigest',
  'sourceRepositoryRef',
  'sourceRepositoryIdentifier',
  'sourceRepositoryOwnerURI',
  'sourceRepositoryOwnerIdentifier',
  'buildConfigURI',
  'buildConfigDigest',
  'buildTrigger',
  'runInvocationURI',
  'sourceRepositoryVisibilityAtSigning',
] as const;

/** What to do: refuse the read (`enforce`), or report on standard error and `--json` and proceed (`warn`). */
export type PolicyMode = 'enforce' | 'warn';

/** What happens to a reference no rule matches: refused (`deny`, the default), read (`allow`), or read with a warning. */
export type UnmatchedAction = 'deny' | 'allow' | 'warn';

/** Where a value sits in the policy file: for messages. */
export interface PolicySource {
  /** 1-based line. */
  line: number;
  /** The field, e.g. `rules[0].authorities[1]`. */
  field: string;
}

/** Content given inline or as a file (a path resolved against the policy file's folder). */
export type PolicyContent = { file: string } | { inline: string };

/**
 * A keyless (Fulcio certificate) authority: exactly one of `issuer`/`issuerRegExp` and one of
 * `subject`/`subjectRegExp`; regular expressions must match the whole value. `extensions` (exact) and
 * `extensionRegExps` (anchored patterns) require Fulcio certificate extensions, by name.
 */
export interface KeylessAuthority {
  kind: 'keyless';
  name: string;
  issuer?: string;
  issuerRegExp?: string;
  subject?: string;
  subjectRegExp?: string;
  extensions?: Record<string, string>;
  extensionRegExps?: Record<string, string>;
  /** The Sigstore trusted_root.json (absolute path). Default: the policy's `trustedRoot`, else the public good by TUF. */
  trustedRoot?: string;
  source: PolicySource;
}

/** A public-key authority (cosign.pub, PEM). */
export interface KeyAuthority {
  kind: 'key';
  name: string;
  key: PolicyContent;
  source: PolicySource;
}

/** An SSH authority: an OpenSSH allowed_signers file (or its text) and the principals a signature may be for. */
export interface SshAuthority {
  kind: 'ssh';
  name: string;
  allowedSigners: PolicyContent;
  principals: string[];
  /** The SSHSIG namespace. Default `lading` (the verifier's default). */
  namespace?: string;
  source: PolicySource;
}

/** One authority of a rule. */
export type PolicyAuthority = KeylessAuthority | KeyAuthority | SshAuthority;

/** A condition on one field of a verified attestation's predicate. Exactly one of `equals`, `matches`, `oneOf`. */
export interface PredicateCondition {
  /** Dot-separated path into the predicate, e.g. `runDetails.builder.id`; a number indexes an array. */
  path: string;
  equals?: string | number | boolean;
  /** A JavaScript regular expression the whole value (a string) must match. */
  matches?: string;
  oneOf?: (string | number | boolean)[];
  source: PolicySource;
}

/** An attestation a rule requires: of this predicate type, by one of `authorities`, meeting every condition. */
export interface AttestationRequirement {
  predicateType: string;
  /** Names of the rule's authorities that may sign it. Default: any authority of the rule. */
  authorities: string[];
  conditions: PredicateCondition[];
  source: PolicySource;
}

/** One rule: the references it covers and what they need. */
export interface PolicyRule {
  /** The rule's `name`, else `rules[<index>]`. */
  name: string;
  index: number;
  match: ReferencePattern[];
  mode: PolicyMode;
  /** Distinct authorities (each with its own signature) that must sign. Default 1. */
  threshold: number;
  authorities: PolicyAuthority[];
  attestations: AttestationRequirement[];
  source: PolicySource;
}

/** A parsed, checked policy file. Paths in it are absolute (resolved against the file's folder). */
export interface Policy {
  /** The file as given, for messages. */
  file: string;
  version: 1;
  unmatched: UnmatchedAction;
  /** Default trusted root for keyless authorities (absolute path). Default: the public good by TUF. */
  trustedRoot?: string;
  rules: PolicyRule[];
}

/** One problem found in a policy file. */
export interface PolicyProblem {
  line: number;
  field: string;
  message: string;
}

/** `ERR_LADING_USAGE` for an invalid policy file; `problems` lists each one (the message shows them all). */
export class PolicyError extends LadingError {
  readonly problems: readonly PolicyProblem[];
  constructor(file: string, problems: readonly PolicyProblem[]) {
    super(
      ErrorCodes.usage,
      `policy ${file}: invalid:${problems.map((p) => `\n  ${file}:${p.line}: ${p.field}: ${p.message}`).join('')}`,
    );
    this.name = 'PolicyError';
    this.problems = problems;
  }
}

/** Options of {@link parsePolicy}. */
export interface ParsePolicyOptions {
  /** The folder relative paths resolve against. Default: the folder of `file`. */
  folder?: string;
}

type Path = (string | number)[];

function fieldName(at: Path): string {
  let out = '';
  for (const part of at) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out === '' ? '(document)' : out;
}

/** Collects problems with their lines while walking the parsed document. */
class Checker {
  readonly problems: PolicyProblem[] = [];
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    readonly folder: string,
  ) {}

  line(at: Path): number {
    // The node itself, else its nearest ancestor present in the document.
    for (let n = at.length; n >= 0; n -= 1) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(at.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return 1;
  }

  source(at: Path): PolicySource {
    return { line: this.line(at), field: fieldName(at) };
  }

  fail(at: Path, message: string): void {
    this.problems.push({ line: this.line(at), field: fieldName(at), message });
    return undefined;
  }

  object(value: unknown, at: Path, allowed: readonly string[]): Record<string, unknown> | undefined {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(at, 'not a mapping');
      return;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!allowed.includes(key)) this.fail([...at, key], `unknown field (allowed: ${allowed.join(', ')})`);
    }
    return record;
  }

  string(value: unknown, at: Path, required = false): string | undefined {
    if (value === undefined) {
      if (required) this.fail(at, 'required');
      return undefined;
    }
    if (typeof value !== 'string' || value === '') {
      this.fail(at, 'not a non-empty string');
      return;
    }
    return value;
  }

  regExp(value: unknown, at: Path): string | undefined {
    const text = this.string(value, at);
    if (text === undefined) return undefined;
    try {
      new RegExp(`^(?:${text})$`, 'u');
      return text;
    } catch (error) {
      this.fail(at, `not a valid regular expression: ${(error as Error).message}`);
      return;
    }
  }

  list(value: unknown, at: Path, required = false): unknown[] | undefined {
    if (value === undefined) {
      if (required) this.fail(at, 'required');
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.fail(at, 'not a list');
      return undefined;
    }
    return value as unknown[];
  }

  oneOf<T extends string>(value: unknown, at: Path, allowed: readonly T[], fallback: T): T {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(at, `one of ${allowed.join(', ')}`);
      return fallback;
    }
    return value as T;
  }

  file(value: unknown, at: Path): string | undefined {
    const text = this.string(value, at);
    return text === undefined ? undefined : path.resolve(this.folder, text);
  }

  /** `{file}` or `{inline}` from the fields `fileKey` / `inlineKey` of `record`. */
  content(record: Record<string, unknown>, at: Path, fileKey: string, inlineKey: string): PolicyContent | undefined {
    const hasFile = record[fileKey] !== undefined;
    const hasInline = record[inlineKey] !== undefined;
    if (hasFile === hasInline) {
      this.fail(at, `give exactly one of ${fileKey}, ${inlineKey}`);
      return;
    }
    if (hasFile) {
      const file = this.file(record[fileKey], [...at, fileKey]);
      return file === undefined ? undefined : { file };
    }
    const inline = this.string(record[inlineKey], [...at, inlineKey]);
    return inline === undefined ? undefined : { inline };
  }
}

const topFields = ['version', 'unmatched', 'trustedRoot', 'rules'] as const;
const ruleFields = ['name', 'match', 'mode', 'threshold', 'authorities', 'attestations'] as const;
const keylessFields = [
  'issuer',
  'issuerRegExp',
  'subject',
  'subjectRegExp',
  'extensions',
  'extensionRegExps',
  'trustedRoot',
] as const;

function checkExtensions(c: Checker, value: unknown, at: Path, patterns: boolean): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const record = c.object(value, at, PolicyCertificateExtensions);
  if (record === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(record)) {
    if (!(PolicyCertificateExtensions as readonly string[]).includes(name)) continue;
    const text = patterns ? c.regExp(v, [...at, name]) : c.string(v, [...at, name]);
    if (text !== undefined) out[name] = text;
  }
  return out;
}

function checkAuthority(c: Checker, value: unknown, at: Path, index: number): PolicyAuthority | undefined {
  const record = c.object(value, at, ['name', 'keyless', 'key', 'ssh']);
  if (record === undefined) return undefined;
  const kinds = (['keyless', 'key', 'ssh'] as const).filter((k) => record[k] !== undefined);
  const name = c.string(record.name, [...at, 'name']) ?? `authorities[${index}]`;
  const source = c.source(at);
  if (kinds.length !== 1) {
    c.fail(at, 'give exactly one of keyless, key, ssh');
    return;
  }
  const [kind] = kinds;
  if (kind === 'keyless') {
    const where = [...at, 'keyless'];
    const k = c.object(record.keyless, where, keylessFields);
    if (k === undefined) return undefined;
    const authority: KeylessAuthority = { kind, name, source };
    for (const [exact, pattern] of [
      ['issuer', 'issuerRegExp'],
      ['subject', 'subjectRegExp'],
    ] as const) {
      if ((k[exact] === undefined) === (k[pattern] === undefined)) {
        c.fail(where, `give exactly one of ${exact}, ${pattern}`);
        continue;
      }
      const e = c.string(k[exact], [...where, exact]);
      if (e !== undefined) authority[exact] = e;
      const p = k[pattern] === undefined ? undefined : c.regExp(k[pattern], [...where, pattern]);
      if (p !== undefined) authority[pattern] = p;
    }
    const extensions = checkExtensions(c, k.extensions, [...where, 'extensions'], false);
    if (extensions) authority.extensions = extensions;
    const extensionRegExps = checkExtensions(c, k.extensionRegExps, [...where, 'extensionRegExps'], true);
    if (extensionRegExps) authority.extensionRegExps = extensionRegExps;
    const root = c.file(k.trustedRoot, [...where, 'trustedRoot']);
    if (root !== undefined) authority.trustedRoot = root;
    return authority;
  }
  if (kind === 'key') {
    const where = [...at, 'key'];
    const k = c.object(record.key, where, ['file', 'pem']);
    if (k === undefined) return undefined;
    const key = c.content(k, where, 'file', 'pem');
    return key === undefined ? undefined : { kind, name, key, source };
  }
  const where = [...at, 'ssh'];
  const s = c.object(record.ssh, where, ['allowedSignersFile', 'allowedSigners', 'principals', 'namespace']);
  if (s === undefined) return undefined;
  const allowedSigners = c.content(s, where, 'allowedSignersFile', 'allowedSigners');
  const principals: string[] = [];
  const list = c.list(s.principals, [...where, 'principals'], true);
  list?.forEach((p, i) => {
    const text = c.string(p, [...where, 'principals', i]);
    if (text !== undefined) principals.push(text);
  });
  if (list?.length === 0) c.fail([...where, 'principals'], 'at least one principal');
  const namespace = c.string(s.namespace, [...where, 'namespace']);
  if (allowedSigners === undefined) return undefined;
  return { kind: 'ssh', name, allowedSigners, principals, ...(namespace === undefined ? {} : { namespace }), source };
}

function scalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function checkCondition(c: Checker, value: unknown, at: Path): PredicateCondition | undefined {
  const record = c.object(value, at, ['path', 'equals', 'matches', 'oneOf']);
  if (record === undefined) return undefined;
  const field = c.string(record.path, [...at, 'path'], true);
  if (field !== undefined && field.split('.').some((part) => part === '')) {
    c.fail([...at, 'path'], 'an empty segment (write a.b.c)');
  }
  const tests = (['equals', 'matches', 'oneOf'] as const).filter((k) => record[k] !== undefined);
  if (tests.length !== 1) {
    c.fail(at, 'give exactly one of equals, matches, oneOf');
    return;
  }
  const condition: PredicateCondition = { path: field ?? '', source: c.source(at) };
  if (record.equals !== undefined) {
    if (!scalar(record.equals)) {
      c.fail([...at, 'equals'], 'not a string, number or boolean');
      return;
    }
    condition.equals = record.equals;
  }
  if (record.matches !== undefined) {
    const pattern = c.regExp(record.matches, [...at, 'matches']);
    if (pattern === undefined) return undefined;
    condition.matches = pattern;
  }
  if (record.oneOf !== undefined) {
    const list = c.list(record.oneOf, [...at, 'oneOf']);
    if (list === undefined) return undefined;
    if (list.length === 0 || !list.every(scalar)) {
      c.fail([...at, 'oneOf'], 'a non-empty list of strings, numbers or booleans');
      return;
    }
    condition.oneOf = list;
  }
  return field === undefined ? undefined : condition;
}

function checkAttestation(
  c: Checker,
  value: unknown,
  at: Path,
  authorities: readonly PolicyAuthority[],
): AttestationRequirement | undefined {
  const record = c.object(value, at, ['predicateType', 'authorities', 'conditions']);
  if (record === undefined) return undefined;
  const predicateType = c.string(record.predicateType, [...at, 'predicateType'], true);
  if (predicateType !== undefined && !/^[a-z][a-z0-9+.-]*:\S+$/i.test(predicateType)) {
    c.fail([...at, 'predicateType'], 'not a URI');
  }
  const names: string[] = [];
  c.list(record.authorities, [...at, 'authorities'])?.forEach((n, i) => {
    const name = c.string(n, [...at, 'authorities', i]);
    if (name === undefined) return;
    if (!authorities.some((a) => a.name === name)) {
      c.fail([...at, 'authorities', i], `no authority of this rule is named ${JSON.stringify(name)}`);
    }
    names.push(name);
  });
  const conditions: PredicateCondition[] = [];
  c.list(record.conditions, [...at, 'conditions'])?.forEach((v, i) => {
    const condition = checkCondition(c, v, [...at, 'conditions', i]);
    if (condition) conditions.push(condition);
  });
  if (predicateType === undefined) return undefined;
  return {
    predicateType,
    authorities: names.length > 0 ? names : authorities.map((a) => a.name),
    conditions,
    source: c.source(at),
  };
}

function checkRule(c: Checker, value: unknown, index: number): PolicyRule | undefined {
  const at: Path = ['rules', index];
  const record = c.object(value, at, ruleFields);
  if (record === undefined) return undefined;
  const name = c.string(record.name, [...at, 'name']) ?? `rules[${index}]`;
  const match: ReferencePattern[] = [];
  const patterns = typeof record.match === 'string' ? [record.match] : c.list(record.match, [...at, 'match'], true);
  if (patterns?.length === 0) c.fail([...at, 'match'], 'at least one reference pattern');
  patterns?.forEach((p, i) => {
    const where: Path = typeof record.match === 'string' ? [...at, 'match'] : [...at, 'match', i];
    const text = c.string(p, where);
    if (text === undefined) return;
    try {
      match.push(compilePattern(text));
    } catch (error) {
      c.fail(where, (error as Error).message);
    }
  });
  const mode = c.oneOf(record.mode, [...at, 'mode'], ['enforce', 'warn'] as const, 'enforce');
  const authorities: PolicyAuthority[] = [];
  const list = c.list(record.authorities, [...at, 'authorities'], true);
  if (list?.length === 0) c.fail([...at, 'authorities'], 'at least one authority');
  list?.forEach((v, i) => {
    const authority = checkAuthority(c, v, [...at, 'authorities', i], i);
    if (authority === undefined) return;
    if (authorities.some((a) => a.name === authority.name)) {
      c.fail([...at, 'authorities', i, 'name'], `${authority.name}: a second authority of that name`);
    }
    authorities.push(authority);
  });
  let threshold = 1;
  if (record.threshold !== undefined) {
    const t = record.threshold;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) {
      c.fail([...at, 'threshold'], 'a positive integer');
    } else if (list !== undefined && t > list.length) {
      c.fail([...at, 'threshold'], `${t} is more than the ${list.length} authorities listed`);
    } else threshold = t;
  }
  const attestations: AttestationRequirement[] = [];
  c.list(record.attestations, [...at, 'attestations'])?.forEach((v, i) => {
    const requirement = checkAttestation(c, v, [...at, 'attestations', i], authorities);
    if (requirement) attestations.push(requirement);
  });
  return { name, index, match, mode, threshold, authorities, attestations, source: c.source(at) };
}

/**
 * Parses and checks a policy document (YAML 1.2, or JSON, which YAML reads too). `file` names it in messages and
 * is the base of relative paths (keys, allowed_signers files, trusted roots) unless `options.folder` is given.
 * Nothing is read from disk here: file paths are resolved, not opened (the verifier factory opens them).
 *
 * Throws a {@link PolicyError} (`ERR_LADING_USAGE`) listing every problem as `file:line: field: what is wrong`:
 * YAML syntax errors, a `version` other than 1, unknown fields, missing or ill-typed values, bad reference patterns
 * or regular expressions, a threshold larger than the authorities listed, attestation authorities that do not exist.
 */
export function parsePolicy(text: string, file: string, options: ParsePolicyOptions = {}): Policy {
  const { isMap, isSeq, LineCounter: Lines, parseDocument } = yaml();
  const lines = new Lines();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const c = new Checker(doc, lines, options.folder ?? path.dirname(path.resolve(file)));
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((e) => ({
        line: lines.linePos(e.pos[0]).line,
        field: '(syntax)',
        message: e.message.split('\n')[0] ?? e.code,
      })),
    );
  }
  if (!isMap(doc.contents)) throw new PolicyError(file, [{ line: 1, field: '(document)', message: 'not a mapping' }]);
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const top = c.object(value, [], topFields) ?? {};
  if (top.version !== PolicyVersion) {
    c.fail(
      ['version'],
      top.version === undefined ? 'required (version: 1)' : `unsupported: ${JSON.stringify(top.version)}`,
    );
  }
  const unmatched = c.oneOf(top.unmatched, ['unmatched'], ['deny', 'allow', 'warn'] as const, 'deny');
  const trustedRoot = c.file(top.trustedRoot, ['trustedRoot']);
  const rules: PolicyRule[] = [];
  const list = c.list(top.rules, ['rules']);
  if (list !== undefined && !isSeq(doc.get('rules', true))) c.fail(['rules'], 'not a list');
  list?.forEach((v, i) => {
    const rule = checkRule(c, v, i);
    if (rule) rules.push(rule);
  });
  if (c.problems.length > 0) throw new PolicyError(file, c.problems);
  return { file, version: PolicyVersion, unmatched, ...(trustedRoot === undefined ? {} : { trustedRoot }), rules };
}
