/**
 * in-toto statements: the payload of every DSSE bundle lading writes, and what it checks in the ones it reads. The
 * parser and builder are core's (shared with the SSH plugin); this module gives them the Sigstore default predicate
 * type. https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md
 */
import type { Descriptor } from '@lading/core';
import { buildStatement as buildAnyStatement, type Statement } from '@lading/core/internal';

import { PredicateTypeCosignSign } from './media-types.js';

export { parseStatement, serializeStatement, statementHasSubject } from '@lading/core/internal';
export type { Statement, StatementSubject } from '@lading/core/internal';

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
  return buildAnyStatement(subject, predicateType, predicate);
}
