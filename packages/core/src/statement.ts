/**
 * in-toto statements: the one parser and builder both signing plugins use (the payload of a Sigstore DSSE bundle,
 * the `statement.json` an SSH signature covers). https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
 */
import type { Descriptor } from './descriptor.js';
import { parseDigest } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';

/** `_type` of an in-toto Statement v1. */
export const StatementTypeV1 = 'https://in-toto.io/Statement/v1';

/** `_type` of an in-toto Statement v0.1 (cosign before v2 wrote these). */
export const StatementTypeV01 = 'https://in-toto.io/Statement/v0.1';

/** One subject of a statement: what it is about, by digest (`{ sha256: <hex> }`); `name` is optional. */
export interface StatementSubject {
  name?: string;
  digest: Record<string, string>;
}

/** An in-toto statement (v1, or v0.1 where the reader accepts it). */
export interface Statement {
  _type: string;
  subject: StatementSubject[];
  predicateType: string;
  predicate?: unknown;
}

/**
 * The Statement v1 lading signs for a manifest: a first subject carrying only the manifest's digest (no `name`, as
 * cosign 3 writes for images), then `extraSubjects` (an SSH signature records its git commit there), the predicate
 * type and the predicate (default `{}`, a plain signature). Throws `ERR_LADING_USAGE` for a malformed digest or an
 * empty predicate type.
 */
export function buildStatement(
  subject: Descriptor,
  predicateType: string,
  predicate?: unknown,
  extraSubjects: readonly StatementSubject[] = [],
): Statement {
  const { algorithm, encoded } = parseDigest(subject.digest, 'statement subject');
  if (predicateType === '') throw new LadingError(ErrorCodes.usage, 'statement predicateType: must not be empty');
  return {
    _type: StatementTypeV1,
    subject: [{ digest: { [algorithm]: encoded } }, ...extraSubjects],
    predicateType,
    predicate: predicate ?? {},
  };
}

/** The statement as payload bytes (compact JSON, UTF-8). */
export function serializeStatement(statement: Statement): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(statement));
}

/** Options of {@link parseStatement}. */
export interface ParseStatementOptions {
  /** The `_type`s accepted. Default: v1 and v0.1. */
  types?: readonly string[];
}

/**
 * Parses statement bytes. Throws a plain `Error` saying what is wrong (verifiers wrap it): not UTF-8 JSON, not an
 * object, a `_type` not accepted, no subjects, a subject without a digest map or with a digest that is not a
 * string, no predicate type.
 */
export function parseStatement(payload: Uint8Array, options: ParseStatementOptions = {}): Statement {
  const types = options.types ?? [StatementTypeV1, StatementTypeV01];
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (e) {
    throw new Error('statement is not UTF-8 JSON', { cause: e });
  }
  if (!isRecord(value)) throw new Error('statement is not a JSON object');
  const type = value._type;
  if (typeof type !== 'string' || !types.includes(type)) {
    const names = types.map((t) => (t === StatementTypeV01 ? 'v0.1' : t === StatementTypeV1 ? 'v1' : t));
    throw new Error(`statement _type ${JSON.stringify(type)} is not in-toto Statement ${names.join(' or ')}`);
  }
  if (!Array.isArray(value.subject) || value.subject.length === 0) throw new Error('statement has no subject');
  const subject = value.subject.map(parseSubject);
  if (typeof value.predicateType !== 'string' || value.predicateType === '') {
    throw new Error('statement has no predicateType');
  }
  return { _type: type, subject, predicateType: value.predicateType, predicate: value.predicate };
}

/**
 * True when one of the statement's subjects has `digest` (`alg:hex`) in its digest map. Hex is compared in lower
 * case (in-toto allows either); other algorithms a subject lists are ignored.
 */
export function statementHasSubject(statement: Statement, digest: string): boolean {
  const { algorithm, encoded } = parseDigest(digest, 'subject digest');
  return statement.subject.some((s) => s.digest[algorithm]?.toLowerCase() === encoded);
}

/** Every digest (`alg:hex`, hex in lower case) the statement's subjects name, in order. */
export function statementDigests(statement: Statement): string[] {
  return statement.subject.flatMap((s) => Object.entries(s.digest).map(([alg, hex]) => `${alg}:${hex.toLowerCase()}`));
}

function parseSubject(value: unknown, index: number): StatementSubject {
  if (!isRecord(value) || !isRecord(value.digest)) throw new Error(`statement subject ${index} has no digest`);
  const digest: Record<string, string> = {};
  for (const [algorithm, hex] of Object.entries(value.digest)) {
    if (typeof hex !== 'string') throw new Error(`statement subject ${index} digest ${algorithm} is not a string`);
    digest[algorithm] = hex;
  }
  return typeof value.name === 'string' ? { name: value.name, digest } : { digest };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
