/**
 * cosign's short names for in-toto predicate types: domain data, kept apart from the signing code (and its
 * dependencies) so that a command can show the names in its help without loading sigstore-js. Exported as
 * `@lading/sigstore/attestation-types` and from the package barrel.
 */
import { ErrorCodes, LadingError } from '@lading/core';

/**
 * cosign's `--type` short names for in-toto predicate types (`cosign attest`, `cosign verify-attestation`); anything
 * else must be a URI and is taken as is. The same names and types as cosign 3.1.1's `options.PredicateTypeMap`, each
 * checked both ways against cosign by test/src/sigstore/attest-interop.test.ts.
 */
export const AttestationTypes: Readonly<Record<string, string>> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

/**
 * The predicate type `type` names: one of cosign's short names ({@link AttestationTypes}), else `type` itself when
 * it is a URI. `ERR_LADING_USAGE` for anything else, the message starting with `where` (the CLI passes the flag,
 * `--type`).
 */
export function predicateTypeFor(type: string, where: string): string {
  const known = AttestationTypes[type];
  if (known !== undefined) return known;
  if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(type)) return type;
  throw new LadingError(
    ErrorCodes.usage,
    `${where} ${type}: not a URI nor one of ${Object.keys(AttestationTypes).join(', ')}`,
  );
}
