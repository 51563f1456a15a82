import { readFile } from 'node:fs/promises';

import { attestArtifact, ErrorCodes, formatTarget, LadingError, openTarget, parseTarget } from '@lading/core';
import { AttestationTypes, predicateTypeFor } from '@lading/sigstore/attestation-types';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { createSignerFromFlags } from '../signer-from-flags.js';
import { signingFlags } from '../signing-flags.js';
import { signatureJSON, type SignatureJSON } from './push.js';

/** What `lading attest --json` prints. */
export interface AttestCommandResult {
  /** The attested manifest by digest: `host/repo@sha256:…` or `oci:<dir>@sha256:…`. */
  reference: string;
  /** The attested manifest's digest. */
  digest: string;
  /** The in-toto predicate type stated. */
  predicateType: string;
  /** The attestation attached as a referrer of the manifest. */
  attestation: SignatureJSON;
}

/** `lading attest`: signs an in-toto attestation about an artifact (key or keyless) and attaches it as a referrer. */
export class Attest extends RegistryCommand<typeof Attest> {
  static override summary =
    'Attest to an artifact (provenance, SBOM…), with a key or keyless, and attach it as a referrer.';
  static override description = `Resolves the reference to its manifest and signs an in-toto statement about the manifest digest, with the predicate read from --predicate and the predicate type --type names, as cosign attest does: a Sigstore bundle attached as an OCI referrer, which cosign verify-attestation and lading verify --attestation-type accept.

Signs with --key (no log entry unless --tlog-upload: cosign verifies it with --insecure-ignore-tlog), with --ssh-key or --ssh-agent (an SSHSIG over the statement, which lading verify --allowed-signers --attestation-type accepts), else keyless, with the signing flags and defaults of lading sign (an OIDC identity token for a Fulcio certificate, a Rekor entry and/or a timestamp). The predicate must be a JSON object (cosign verify-attestation reads no other). The attestation's referrer digest is printed on standard output.`;

  static override examples = [
    {
      description: 'Attach SLSA provenance signed with a cosign key (password from COSIGN_PASSWORD).',
      command:
        '<%= config.bin %> attest --key cosign.key --predicate provenance.json --type slsaprovenance1 ghcr.io/acme/config:v1',
    },
    {
      description:
        'Attach a CycloneDX SBOM keylessly in CI (identity token from SIGSTORE_ID_TOKEN, GitHub Actions or Buildkite).',
      command: '<%= config.bin %> attest --predicate sbom.cdx.json --type cyclonedx ghcr.io/acme/config@sha256:4f1c…',
    },
    {
      description: 'Attach SLSA provenance signed with an SSH key (the statement and its SSHSIG).',
      command:
        '<%= config.bin %> attest --ssh-key ~/.ssh/id_ed25519 --predicate provenance.json --type slsaprovenance1 ghcr.io/acme/config:v1',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to attest to: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    ...signingFlags,
    predicate: Flags.string({
      required: true,
      description: 'File holding the predicate: a JSON object (SPDX and CycloneDX SBOMs in their JSON form).',
    }),
    type: Flags.string({
      required: true,
      description: `The predicate type: a URI, or one of cosign's short names ${Object.keys(AttestationTypes).join(', ')}.`,
    }),
  };

  override async run(): Promise<AttestCommandResult> {
    const { flags, args } = this;
    const predicateType = predicateTypeFor(flags.type, '--type');
    const predicate = await readPredicate(flags.predicate);
    const client = await this.registryClient();
    const signer = await createSignerFromFlags(flags, { stdinTaken: flags['password-stdin'] });
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `attest ${opened.display}: name a tag or a digest`);
    }
    const attested = await attestArtifact(opened.target, opened.reference, signer, {
      predicateType,
      predicate,
      display: opened.display,
      signal: this.signal,
    });
    const [made] = attested.signatures;
    if (made === undefined) throw new LadingError(ErrorCodes.usage, `attest ${opened.display}: nothing was attested`);
    const { tag: _tag, digest: _digest, ...repository } = parseTarget(args.reference);
    const base = formatTarget(repository);
    const { digest } = attested.descriptor;
    this.logToStderr(`Attested ${base}@${digest} (${predicateType}): attestation ${made.referrer.digest}`);
    this.log(made.referrer.digest);
    return { reference: `${base}@${digest}`, digest, predicateType, attestation: signatureJSON(made) };
  }
}

/**
 * The predicate in `file`: a JSON object, as in-toto predicates are. cosign 3.1.1 verify-attestation reads no other
 * (not even the string predicate its own `attest --type spdx` makes of an SPDX tag-value file), so anything else is
 * refused. `ERR_LADING_USAGE` for an unreadable file, text that is not JSON, or JSON that is not an object.
 */
async function readPredicate(file: string): Promise<object> {
  let predicate: unknown;
  try {
    predicate = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    const why = cause instanceof SyntaxError ? `not JSON: ${cause.message}` : (cause as Error).message;
    throw new LadingError(ErrorCodes.usage, `--predicate ${file}: ${why}`, { cause });
  }
  if (typeof predicate !== 'object' || predicate === null || Array.isArray(predicate)) {
    const what = Array.isArray(predicate) ? 'an array' : predicate === null ? 'null' : `a ${typeof predicate}`;
    throw new LadingError(ErrorCodes.usage, `--predicate ${file}: the predicate must be a JSON object, not ${what}`);
  }
  return predicate;
}
