import {
  ErrorCodes,
  LadingError,
  loadArtifact,
  openTarget,
  parseManifest,
  fetchAll,
  type Platform,
  type PolicyEvaluation,
  type VerifiedSignature,
  formatPlatform,
} from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { describeDecision } from '../policy-flags.js';
import {
  AttestationTypes,
  createVerificationFromFlags,
  describeVerified,
  predicateTypeFor,
  verificationFlags,
} from '../signing.js';
import { platformFlag } from './pull.js';

/** What `lading verify --json` prints. */
export interface VerifyCommandResult {
  /** The reference as given, normalised. */
  reference: string;
  /**
   * The digest the reference resolved to (a manifest, or an image index whose own signatures were verified); with
   * `--platform`, the chosen platform manifest's.
   */
  digest: string;
  /** With `--platform`: the image index the platform manifest was chosen from. */
  index?: string;
  /** With `--platform`: the platform of the chosen manifest, as the index gives it. */
  platform?: Platform;
  /** The signatures that satisfied the flags (`subject`: the digest each one is about). */
  verified: VerifiedSignature[];
  /** With `--policy`/`--trust`: the policy evaluation (rule, each authority's outcome, decision, warnings). */
  policy?: PolicyEvaluation;
}

/**
 * One line of `lading verify`: who signed, and the log index and time when there are. With `about` (digest →
 * what it is, e.g. the index and the platform manifest of `--platform`), which of them the signature is on.
 */
export function describeVerifiedLong(signature: VerifiedSignature, about: Record<string, string> = {}): string {
  const on = signature.subject === undefined ? undefined : about[signature.subject];
  const extra = [
    ...(on === undefined ? [] : [`on the ${on} ${String(signature.subject)}`]),
    ...(signature.tlogIndex === undefined ? [] : [`tlog index ${signature.tlogIndex}`]),
    ...(signature.timestamp === undefined ? [] : [`signed at ${signature.timestamp}`]),
  ];
  return [describeVerified(signature), ...extra].join(', ');
}

/** `lading verify`: checks an artifact's signatures against the `--verify-*` flags without reading its content. */
export class Verify extends RegistryCommand<typeof Verify> {
  static override summary = 'Verify the signatures of an artifact without reading its content.';
  static override description = `Resolves the reference to its manifest, lists its referrers and requires a signature satisfying the verification flags (at least one authority is required: a policy file with --policy, LADING_POLICY or --trust, Sigstore --verify-* flags, or an SSH allowed_signers file with --allowed-signers and --verify-principal; when several flags are given, any one suffices), exactly as pull, ls and cat do before reading; nothing else is read.

For a multi-platform artifact (an image index), the index's own signatures are verified; with --platform, the check is the one pull makes: a valid signature on the index or on that platform's manifest.

Prints one line per accepted signature on standard output, and with a policy one line with its decision (a warn-mode rule that is not satisfied proceeds, with a warning on standard error). Exit 5 when no signature satisfies the flags.`;

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
    {
      description: 'Verify against a policy file (docs/policy.md): its first rule matching the reference decides.',
      command: '<%= config.bin %> verify --policy policy.yaml ghcr.io/acme/config:v1',
    },
    {
      description: 'Verify an SSH signature against an allowed_signers file, as ssh-keygen -Y verify would.',
      command:
        '<%= config.bin %> verify --allowed-signers allowed_signers --verify-principal alice@example.com ghcr.io/acme/config:v1',
    },
    {
      description: 'Also require that the recorded git commit exists here and is signed by an allowed key.',
      command:
        '<%= config.bin %> verify --allowed-signers allowed_signers --verify-principal alice@example.com --require-signed-commit --git-dir . ghcr.io/acme/config:v1',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to verify: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    platform: platformFlag,
    ...verificationFlags,
    'require-signed-commit': Flags.boolean({
      helpGroup: 'VERIFICATION',
      description:
        'With --allowed-signers: the SSH signature must record a git commit (push --ssh-key --git-commit) that exists in --git-dir and whose own SSH signature the same allowed_signers file allows for a --verify-principal.',
    }),
    'git-dir': Flags.string({
      helpGroup: 'VERIFICATION',
      description:
        'With --require-signed-commit: the git repository (work tree or bare) holding the commit. Default: the current folder.',
      dependsOn: ['require-signed-commit'],
    }),
    'attestation-type': Flags.string({
      helpGroup: 'VERIFICATION',
      description: `Require an attestation of this predicate type instead of a signature: a URI, or one of cosign's names: ${Object.keys(AttestationTypes).join(', ')}.`,
    }),
  };

  override async run(): Promise<VerifyCommandResult> {
    const { flags, args } = this;
    const type = flags['attestation-type'];
    const verification = await createVerificationFromFlags(flags, (message) => this.warn(message), {
      ...(type === undefined ? {} : { predicateType: predicateTypeFor(type, '--attestation-type') }),
      ...(flags['require-signed-commit'] ? { git: { gitDir: flags['git-dir'] ?? '.' } } : {}),
    });
    if (verification === undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        'verify: say whom to trust with --policy (or LADING_POLICY, or --trust), --verify-key, --verify-issuer and --verify-subject[-regexp], --allowed-signers and --verify-principal, or --verify-unsafe',
      );
    }
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `verify ${opened.display}: name a tag or a digest`);
    }
    const call = { signal: this.signal };
    if (flags.platform !== undefined) {
      // The check pull makes, without reading the table of contents or any layer.
      const loaded = await loadArtifact(opened.target, opened.reference, opened.display, {
        ...call,
        platform: flags.platform,
        gate: verification.gate,
        readTOC: false,
      });
      if (loaded.index) {
        this.logToStderr(
          `Image index ${loaded.index.digest}: verified for the ${formatPlatform(loaded.platform)} manifest ${loaded.descriptor.digest}`,
        );
      }
      const about: Record<string, string> = loaded.index
        ? { [loaded.index.digest]: 'index', [loaded.descriptor.digest]: 'platform manifest' }
        : {};
      for (const signature of verification.verified) this.log(describeVerifiedLong(signature, about));
      if (verification.policy) this.log(describeDecision(verification.policy));
      return {
        reference: opened.display,
        digest: loaded.descriptor.digest,
        ...(loaded.index && { index: loaded.index.digest }),
        ...(loaded.platform && { platform: loaded.platform }),
        verified: verification.verified,
        ...(verification.policy && { policy: verification.policy }),
      };
    }
    const where = `verify ${opened.display}`;
    const descriptor = await opened.target.resolve(opened.reference, call);
    const bytes = await fetchAll(opened.target, descriptor, where, call);
    // Checks the structure; an image index is verified by its own signatures (as cosign verify does).
    parseManifest(bytes, descriptor.mediaType, where);
    await verification.gate.verify(
      { target: opened.target, reference: opened.display, descriptor, manifest: bytes },
      call,
    );
    for (const signature of verification.verified) this.log(describeVerifiedLong(signature));
    if (verification.policy) this.log(describeDecision(verification.policy));
    return {
      reference: opened.display,
      digest: descriptor.digest,
      verified: verification.verified,
      ...(verification.policy && { policy: verification.policy }),
    };
  }
}
