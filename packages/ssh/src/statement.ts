/**
 * The in-toto Statement v1 an SSH signature covers: one subject, the manifest digest
 * (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md).
 */
import { ErrorCodes, LadingError, type Descriptor } from '@lading/core';
import { parseDigest } from '@lading/core/internal';
import { DigestGitCommit } from './git-anchor.js';
import { PredicateTypeSign, StatementTypeV1 } from './media-types.js';

/** An in-toto statement as read: subjects by digest, predicate type and predicate. */
export interface Statement {
  _type: string;
  subject: { name?: string; digest: Record<string, string> }[];
  predicateType: string;
  predicate?: unknown;
}

/**
 * The statement bytes lading signs for `subject`: compact JSON of `{_type, subject: [{digest}], predicateType,
 * predicate}`, predicate type default {@link PredicateTypeSign}, predicate default `{}`. With `gitCommit`, a second
 * subject `{"name": "git commit", "digest": {"gitCommit": "<id>"}}` records the commit the artifact was built from.
 */
export function statementFor(
  subject: Descriptor,
  predicateType = PredicateTypeSign,
  predicate?: unknown,
  gitCommit?: string,
): Uint8Array {
  const { algorithm, encoded } = parseDigest(subject.digest, 'statement subject');
  if (predicateType === '') throw new LadingError(ErrorCodes.usage, 'statement predicateType: must not be empty');
  const subjects: Statement['subject'] = [{ digest: { [algorithm]: encoded } }];
  if (gitCommit !== undefined) subjects.push({ name: 'git commit', digest: { [DigestGitCommit]: gitCommit } });
  const statement: Statement = {
    _type: StatementTypeV1,
    subject: subjects,
    predicateType,
    predicate: predicate ?? {},
  };
  return new TextEncoder().encode(JSON.stringify(statement));
}

/** Parses statement bytes; throws a plain `Error` saying what is wrong. Only Statement v1 is read. */
export function parseStatement(bytes: Uint8Array): Statement {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new Error('the statement is not UTF-8 JSON', { cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('the statement is not an object');
  const v = value as Record<string, unknown>;
  if (v._type !== StatementTypeV1)
    throw new Error(`statement _type ${JSON.stringify(v._type)} is not in-toto Statement v1`);
  if (!Array.isArray(v.subject) || v.subject.length === 0) throw new Error('the statement has no subject');
  const subject = (v.subject as unknown[]).map((s, i) => {
    const digest = (s as { digest?: unknown } | null)?.digest;
    if (typeof digest !== 'object' || digest === null) throw new Error(`statement subject ${i} has no digest`);
    const out: Record<string, string> = {};
    for (const [alg, hex] of Object.entries(digest)) if (typeof hex === 'string') out[alg] = hex.toLowerCase();
    return { digest: out };
  });
  if (typeof v.predicateType !== 'string' || v.predicateType === '')
    throw new Error('the statement has no predicateType');
  return { _type: StatementTypeV1, subject, predicateType: v.predicateType, predicate: v.predicate };
}

/** The digests (`alg:hex`) the statement's subjects name. */
export function statementDigests(statement: Statement): string[] {
  return statement.subject.flatMap((s) => Object.entries(s.digest).map(([alg, hex]) => `${alg}:${hex}`));
}
