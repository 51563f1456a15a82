import { readFile } from 'node:fs/promises';

import { attachSignature, ErrorCodes, formatTarget, LadingError, openTarget, parseTarget } from '@lading/core';
import { Args, Flags } from '@oclif/core';

import { RegistryCommand } from '../base-command.js';
import { createSignerFromFlags, predicateTypeFor, signingFlags } from '../signing.js';
import type { SignatureJSON } from './push.js';

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

/** `lading attest`: signs an in-toto attestation about an artifact with a key and attaches it as a referrer. */
export class Attest extends RegistryCommand<typeof Attest> {
  static override summary = 'Attest to an artifact (provenance, SBOM…) with a key, and attach it as a referrer.';
  static override description = `Resolves the reference to its manifest and signs an in-toto statement about the manifest digest with the predicate read from --predicate (JSON) and the predicate type --type names, as cosign attest does: a Sigstore bundle attached as an OCI referrer, which cosign verify-attestation and lading verify --attestation-type accept.

Key-based only (no log entry: cosign verifies it with --insecure-ignore-tlog). The attestation's referrer digest is printed on standard output.`;

  static override examples = [
    {
      description: 'Attach SLSA provenance signed with a cosign key.',
      command:
        '<%= config.bin %> attest --key cosign.key --predicate provenance.json --type slsaprovenance1 ghcr.io/acme/config:v1',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to attest to: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    key: Flags.string({
      required: true,
      helpGroup: 'SIGNING',
      description:
        'Sign with this private key (cosign.key, or PEM PKCS#8/SEC 1/PKCS#1). Its password comes from COSIGN_PASSWORD or --key-password-stdin.',
    }),
    'key-password-stdin': signingFlags['key-password-stdin'],
    predicate: Flags.string({ required: true, description: 'File holding the predicate (JSON).' }),
    type: Flags.string({
      required: true,
      description:
        "The predicate type: a URI, or cosign's slsaprovenance, slsaprovenance1, spdx, cyclonedx, link, vuln, openvex, custom.",
    }),
  };

  override async run(): Promise<AttestCommandResult> {
    const { flags, args } = this;
    const predicateType = predicateTypeFor(flags.type, '--type');
    let predicate: unknown;
    try {
      predicate = JSON.parse(await readFile(flags.predicate, 'utf8'));
    } catch (cause) {
      throw new LadingError(ErrorCodes.usage, `--predicate ${flags.predicate}: ${(cause as Error).message}`, {
        cause,
      });
    }
    const client = await this.registryClient();
    const signer = await createSignerFromFlags(flags, { stdinTaken: flags['password-stdin'] });
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `attest ${opened.display}: name a tag or a digest`);
    }
    const descriptor = await opened.target.resolve(opened.reference, { signal: this.signal });
    const signed = await signer.sign({ subject: descriptor, predicateType, predicate }, { signal: this.signal });
    const referrer = await attachSignature(opened.target, descriptor, signed, { signal: this.signal });
    const { tag: _tag, digest: _digest, ...repository } = parseTarget(args.reference);
    const base = formatTarget(repository);
    this.logToStderr(`Attested ${base}@${descriptor.digest} (${predicateType}): attestation ${referrer.digest}`);
    this.log(referrer.digest);
    return {
      reference: `${base}@${descriptor.digest}`,
      digest: descriptor.digest,
      predicateType,
      attestation: {
        digest: referrer.digest,
        mediaType: referrer.mediaType,
        size: referrer.size,
        artifactType: signed.artifactType,
      },
    };
  }
}
