/**
 * The in-toto Statement v1 an SSH signature covers: one subject, the manifest digest, and optionally the git commit
 * (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md). Parsing is core's, shared with the
 * Sigstore plugin; SSH signatures read Statement v1 only.
 */
import type { Descriptor } from '@lading/core';
import {
  buildStatement,
  parseStatement as parseAnyStatement,
  serializeStatement,
  StatementTypeV1,
  type Statement,
} from '@lading/core/internal';

import { DigestGitCommit } from './git-anchor.js';
import { PredicateTypeSign } from './media-types.js';

export type { Statement } from '@lading/core/internal';
export { statementDigests } from '@lading/core/internal';

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
  const extra = gitCommit === undefined ? [] : [{ name: 'git commit', digest: { [DigestGitCommit]: gitCommit } }];
  return serializeStatement(buildStatement(subject, predicateType, predicate, extra));
}

/** Parses statement bytes (Statement v1 only); throws a plain `Error` saying what is wrong. */
export function parseStatement(bytes: Uint8Array): Statement {
  return parseAnyStatement(bytes, { types: [StatementTypeV1] });
}
