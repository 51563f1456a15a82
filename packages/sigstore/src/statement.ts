/**
 * in-toto statements: the payload of every DSSE bundle lading writes, and what it checks in the ones it reads.
 * https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
 */
import { type Descriptor, ErrorCodes, LadingError } from '@lading/core';
import { parseDigest } from '@lading/core/internal';
import { PredicateTypeCosignSign, StatementTypeV01, StatementTypeV1 } from './media-types.js';

/** One subject of a statement: what it is about, by digest (`{ sha256: <hex> }`); `name` is optional. */
export interface StatementSubject {
  name?: string;
  digest: Record<string, string>;
}

/** An in-toto statement (v1 or v0.1). */
export interface Statement {
  _type: string;
  subject: StatementSubject[];
  predicateType: string;
  predicate?: unknown;
}

/**
 * The Statement v1 lading signs for a manifest: one subject carrying only the manifest's digest (no `name`, as
 * cosign 3 writes for images), the predicate type (default {@link PredicateTypeCosignSign}) and the predicate
 * (default `{}`, a plain signature). Throws `ERR_LADING_USAGE` for a malformed digest or an empty predicate type.
 */
export function buildStatement(
  subject: Descriptor,
  predicateType = PredicateTypeCosignSign,
  predicate?: unknown,
): Statement {
  const { algorithm, encoded } = parseDigest(subject.digest, 'statement subject');
  if (predicateType === '') throw new LadingError(ErrorCodes.usage, 'statement predicateType: must not be empty');
  return {
    _type: StatementTypeV1,
    subject: [{ digest: { [algorithm]: encoded } }],
    predicateType,
    predicate: predicate ?? {},
  };
}

/** The statement as the DSSE payload bytes (compact JSON, UTF-8). */
export function serializeStatement(statement: Statement): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(statement));
}

/**
 * Parses a DSSE payload as an in-toto Statement v1 or v0.1. Throws a plain `Error` saying what is wrong (the
 * verifier wraps it): not JSON, unknown `_type`, no subjects, a subject without a digest map, no predicate type.
 */
export function parseStatement(payload: Uint8Array): Statement {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (e) {
    throw new Error('statement is not UTF-8 JSON', { cause: e });
  }
  if (!isRecord(value)) throw new Error('statement is not a JSON object');
  const type = value._type;
  if (type !== StatementTypeV1 && type !== StatementTypeV01) {
    throw new Error(`statement _type ${JSON.stringify(type)} is not in-toto Statement v1 or v0.1`);
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
