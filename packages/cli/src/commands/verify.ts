import {
  DefaultManifestSizeLimit,
  ErrorCodes,
  IndexMediaTypes,
  LadingError,
  openTarget,
  parseManifest,
  readAll,
  verifyContent,
  type VerifiedSignature,
} from '@lading/core';
import { Args, Flags } from '@oclif/core';

import { RegistryCommand } from '../base-command.js';
import { createVerificationFromFlags, describeVerified, predicateTypeFor, verificationFlags } from '../signing.js';

/** What `lading verify --json` prints. */
export interface VerifyCommandResult {
  /** The reference as given, normalised. */
  reference: string;
  /** The manifest digest the signatures are about. */
  digest: string;
  /** The signatures that satisfied the flags (one per verifier). */
  verified: VerifiedSignature[];
}

/** One line of `lading verify`: who signed, and the log index and time when there are. */
export function describeVerifiedLong(signature: VerifiedSignature): string {
  const extra = [
    ...(signature.tlogIndex === undefined ? [] : [`tlog index ${signature.tlogIndex}`]),
    ...(signature.timestamp === undefined ? [] : [`signed at ${signature.timestamp}`]),
  ];
  return [describeVerified(signature), ...extra].join(', ');
}

/** `lading verify`: checks an artifact's signatures against the `--verify-*` flags without reading its content. */
export class Verify extends RegistryCommand<typeof Verify> {
  static override summary = 'Verify the signatures of an artifact without reading its content.';
  static override description = `Resolves the reference to its manifest, lists its referrers and requires a Sigstore signature satisfying the --verify-* flags (at least one of them is required), exactly as pull, ls and cat do before reading; nothing else is read.

Prints one line per accepted signature on standard output. Exit 5 when no signature satisfies the flags.`;

  static override examples = [
    {
      description: 'Verify a signature by a cosign key.',
      command: '<%= config.bin %> verify --verify-key cosign.pub ghcr.io/acme/config:v1',
    },
    {
      description: 'Verify a keyless signature by a GitHub Actions workflow.',
      command:
        "<%= config.bin %> verify --verify-issuer https://token.actions.githubusercontent.com --verify-subject-regexp 'https://github\\.com/acme/config/.*' ghcr.io/acme/config:v1",
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to verify: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    ...verificationFlags,
    'attestation-type': Flags.string({
      helpGroup: 'VERIFICATION',
      description:
        "Require an attestation of this predicate type instead of a signature: a URI, or cosign's slsaprovenance, slsaprovenance1, spdx, cyclonedx, link, vuln, openvex, custom.",
    }),
  };

  override async run(): Promise<VerifyCommandResult> {
    const { flags, args } = this;
    const type = flags['attestation-type'];
    const verification = await createVerificationFromFlags(
      flags,
      (message) => this.warn(message),
      type === undefined ? {} : { predicateType: predicateTypeFor(type, '--attestation-type') },
    );
    if (verification === undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        'verify: say whom to trust with --verify-key, --verify-issuer and --verify-subject[-regexp], or --verify-unsafe',
      );
    }
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `verify ${opened.display}: name a tag or a digest`);
    }
    const call = { signal: this.signal };
    const where = `verify ${opened.display}`;
    const descriptor = await opened.target.resolve(opened.reference, call);
    if (IndexMediaTypes.includes(descriptor.mediaType)) {
      throw new LadingError(ErrorCodes.usage, `${where}: it is an image index; name one manifest by digest`);
    }
    if (descriptor.size > DefaultManifestSizeLimit) {
      throw new LadingError(ErrorCodes.protocol, `${where}: manifest larger than ${DefaultManifestSizeLimit} bytes`);
    }
    const bytes = await readAll(
      verifyContent(descriptor, await opened.target.fetch(descriptor, call), where),
      descriptor.size,
      where,
    );
    if (parseManifest(bytes, descriptor.mediaType, where).kind !== 'manifest') {
      throw new LadingError(ErrorCodes.usage, `${where}: it is an image index; name one manifest by digest`);
    }
    await verification.gate.verify(
      { target: opened.target, reference: opened.display, descriptor, manifest: bytes },
      call,
    );
    for (const signature of verification.verified) this.log(describeVerifiedLong(signature));
    return { reference: opened.display, digest: descriptor.digest, verified: verification.verified };
  }
}
