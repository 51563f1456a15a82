import { attachSignature, ErrorCodes, formatTarget, LadingError, openTarget, parseTarget } from '@lading/core';
import { Args } from '@oclif/core';

import { RegistryCommand } from '../base-command.js';
import { createSignerFromFlags, signingFlags } from '../signing.js';
import type { SignatureJSON } from './push.js';

/** What `lading sign --json` prints. */
export interface SignCommandResult {
  /** The signed manifest by digest: `host/repo@sha256:…` or `oci:<dir>@sha256:…`. */
  reference: string;
  /** The signed manifest's digest. */
  digest: string;
  /** The signature attached as a referrer of the manifest. */
  signature: SignatureJSON;
}

/** `lading sign`: signs an artifact already in a registry or layout and attaches the signature as a referrer. */
export class Sign extends RegistryCommand<typeof Sign> {
  static override summary = 'Sign an artifact that is already pushed, and attach the signature as a referrer.';
  static override description = `Resolves the reference to its manifest, signs the manifest digest (a cosign 3 Sigstore bundle: DSSE over an in-toto statement) with --key or keyless, and attaches the bundle as an OCI referrer of the manifest, where cosign verify and lading pull --verify-* find it.

The signature's referrer digest is printed on standard output.`;

  static override examples = [
    {
      description: 'Sign with a cosign key (password from COSIGN_PASSWORD).',
      command: '<%= config.bin %> sign --key cosign.key ghcr.io/acme/config:v1',
    },
    {
      description: 'Sign keylessly in CI (identity token from SIGSTORE_ID_TOKEN or GitHub Actions).',
      command: '<%= config.bin %> sign ghcr.io/acme/config@sha256:4f1c…',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to sign: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = { ...signingFlags };

  override async run(): Promise<SignCommandResult> {
    const { flags, args } = this;
    const client = await this.registryClient();
    const signer = await createSignerFromFlags(flags, { stdinTaken: flags['password-stdin'] });
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `sign ${opened.display}: name a tag or a digest`);
    }
    const descriptor = await opened.target.resolve(opened.reference, { signal: this.signal });
    const signed = await signer.sign({ subject: descriptor }, { signal: this.signal });
    const referrer = await attachSignature(opened.target, descriptor, signed, { signal: this.signal });
    const { tag: _tag, digest: _digest, ...repository } = parseTarget(args.reference);
    const base = formatTarget(repository);
    this.logToStderr(`Signed ${base}@${descriptor.digest}: signature ${referrer.digest}`);
    this.log(referrer.digest);
    return {
      reference: `${base}@${descriptor.digest}`,
      digest: descriptor.digest,
      signature: {
        digest: referrer.digest,
        mediaType: referrer.mediaType,
        size: referrer.size,
        artifactType: signed.artifactType,
      },
    };
  }
}
