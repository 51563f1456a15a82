/**
 * Saying whom to trust: "any of these authorities" ({@link anyOf}) and "all of these" ({@link allOf}, or simply a
 * list). The same two words serve the library and the CLI: the CLI's verification flags name alternatives, and
 * build `anyOf` over the verifiers they ask for.
 */
import { ErrorCodes, isLadingError, LadingError } from './errors.js';
import type { Verifier } from './trust.js';

/**
 * Several authorities that must all vouch for the artifact, each with at least one valid signature of its own.
 * Made by {@link allOf}; a list given as `signatureGate`'s `verifiers` means the same.
 */
export interface AllOf {
  readonly allOf: readonly Authority[];
}

/**
 * Whom a signature gate trusts: a {@link Verifier} (one valid signature it accepts is enough; `anyOf` makes one of
 * several), or {@link AllOf} several that must each be satisfied.
 */
export type Authority = Verifier | AllOf;

/**
 * One verifier that accepts a signature when any of `verifiers` does: authorities given as alternatives (the CLI's
 * `--verify-key`, `--verify-issuer` and `--allowed-signers`). A candidate goes to each verifier that reads its kind,
 * in order; the first to accept it wins, and its result is reported. When all refuse, the refusal gives each one's
 * reason (`name: reason; …`); an error other than a refusal (`ERR_LADING_VERIFICATION`) stops at once, as the gate
 * fails closed. With one verifier, that verifier itself. `ERR_LADING_USAGE` for none.
 */
export function anyOf(verifiers: readonly Verifier[]): Verifier {
  const [only] = verifiers;
  if (only === undefined) throw new LadingError(ErrorCodes.usage, 'anyOf: at least one verifier is required');
  if (verifiers.length === 1) return only;
  return {
    name: verifiers.map((v) => v.name).join(' or '),
    accepts: (candidate) => verifiers.some((v) => v.accepts(candidate)),
    async verify(candidate, options) {
      const reasons: string[] = [];
      for (const verifier of verifiers) {
        if (!verifier.accepts(candidate)) continue;
        try {
          return await verifier.verify(candidate, options);
        } catch (error) {
          if (!isLadingError(error, ErrorCodes.verification)) throw error;
          reasons.push(`${verifier.name}: ${error.message}`);
        }
      }
      throw new LadingError(
        ErrorCodes.verification,
        reasons.length > 0
          ? reasons.join('; ')
          : `verify ${candidate.referrer.digest}: no configured verifier reads this kind of signature`,
      );
    },
  };
}

/**
 * Authorities that must each be satisfied by a signature of its own: `allOf([release, audit])` lets a read through
 * only with a valid signature for `release` and one for `audit`. Nests with {@link anyOf}:
 * `allOf([anyOf([keyA, keyB]), ssh])`. `ERR_LADING_USAGE` for none.
 */
export function allOf(authorities: readonly Authority[]): AllOf {
  if (authorities.length === 0) throw new LadingError(ErrorCodes.usage, 'allOf: at least one authority is required');
  return { allOf: [...authorities] };
}

/** The verifiers every one of which must be satisfied: `authorities` with each {@link AllOf} spread out. */
export function requiredVerifiers(authorities: readonly Authority[]): Verifier[] {
  return authorities.flatMap((authority) => ('allOf' in authority ? requiredVerifiers(authority.allOf) : [authority]));
}
