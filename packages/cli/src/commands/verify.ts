import {
  ErrorCodes,
  formatPlatform,
  LadingError,
  openTarget,
  verifyArtifact,
  type Platform,
  type PolicyEvaluation,
  type VerifiedSignature,
} from '@lading/core';
import { AttestationTypes, predicateTypeFor } from '@lading/sigstore/attestation-types';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { describeDecision, policyEvaluationOf } from '../policy-flags.js';
import { githubFlags, predicateOutput, wantsGitHub } from '../github-flags.js';
import { terminalSafe } from '../format.js';
import { verificationFlags } from '../signing-flags.js';
import { createVerificationFromFlags, describeVerified } from '../verification-from-flags.js';
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
  /** What the gate warned about while letting the artifact through, when it did (also on standard error). */
  warnings?: string[];
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

With --github-repo or --github-owner, checks a GitHub artifact attestation (SLSA provenance by default) by the rules of gh attestation verify, and that an SLSA v1 predicate agrees with its certificate (repository, workflow, ref, commit, runner); each refusal names the field. --bundle FILE takes the attestations from a Sigstore bundle file (JSON or JSON lines, as gh attestation download writes) instead of the registry's referrers.

Prints one line per accepted signature on standard output, and with a policy one line with its decision (a warn-mode rule that is not satisfied proceeds, with a warning on standard error); with --output-predicate, the verified predicate (JSON) instead, the lines going to standard error. Exit 5 when no signature satisfies the flags.`;

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
      description:
        'Verify GitHub build provenance as gh attestation verify does (and that the SLSA predicate agrees with its certificate).',
      command: '<%= config.bin %> verify --github-repo acme/config --source-ref refs/tags/v1 ghcr.io/acme/config:v1',
    },
    {
      description:
        'Verify GitHub provenance signed by a reusable workflow of another repository, named by its certificate identity.',
      command:
        "<%= config.bin %> verify --github-repo acme/config --cert-identity-regex 'https://github\\.com/acme/ci/\\.github/workflows/build\\.yml@refs/tags/v.*' ghcr.io/acme/config:v1",
    },
    {
      description: 'Print the verified provenance predicate, with no network but the registry.',
      command:
        '<%= config.bin %> verify --offline --trusted-root trusted_root.json --github-repo acme/config --output-predicate ghcr.io/acme/config:v1',
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
    ...githubFlags,
  };

  override async run(): Promise<VerifyCommandResult> {
    const { flags, args } = this;
    const type = flags['attestation-type'] ?? flags['predicate-type'];
    if (flags['output-predicate'] && type === undefined && !wantsGitHub(flags)) {
      throw new LadingError(
        ErrorCodes.usage,
        '--output-predicate: say which attestation with --attestation-type (or --github-repo/--github-owner, SLSA provenance by default)',
      );
    }
    const gate = await createVerificationFromFlags(flags, (message) => this.warn(message), {
      ...(type === undefined
        ? {}
        : {
            predicateType: predicateTypeFor(
              type,
              flags['attestation-type'] === undefined ? '--predicate-type' : '--attestation-type',
            ),
          }),
      ...(flags['require-signed-commit'] ? { git: { gitDir: flags['git-dir'] ?? '.' } } : {}),
    });
    if (gate === undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        'verify: say whom to trust with --policy (or LADING_POLICY, or --trust), --verify-key, --verify-issuer and --verify-subject[-regexp], --allowed-signers and --verify-principal, --github-repo or --github-owner, or --verify-unsafe',
      );
    }
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `verify ${opened.display}: name a tag or a digest`);
    }
    const verified = await verifyArtifact(opened.target, opened.reference, {
      gate,
      display: opened.display,
      signal: this.signal,
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
    });
    const { descriptor, index, platform } = verified;
    if (index) {
      this.logToStderr(
        `Image index ${index.digest}: verified for the ${formatPlatform(platform)} manifest ${descriptor.digest}`,
      );
    }
    for (const warning of verified.warnings) this.warn(terminalSafe(warning));
    const about: Record<string, string> = index
      ? { [index.digest]: 'index', [descriptor.digest]: 'platform manifest' }
      : {};
    this.#report(verified.verified, about);
    const policy = policyEvaluationOf(gate);
    if (policy && this.flags['output-predicate']) this.logToStderr(describeDecision(policy));
    else if (policy) this.log(describeDecision(policy));
    return {
      reference: opened.display,
      digest: descriptor.digest,
      ...(index && { index: index.digest }),
      ...(platform && { platform }),
      verified: verified.verified,
      ...(policy && { policy }),
      ...(verified.warnings.length > 0 && { warnings: verified.warnings }),
    };
  }

  /**
   * One line per verified signature on standard output; with `--output-predicate`, the lines go to standard error
   * and standard output holds only the verified predicate (JSON).
   */
  #report(verified: readonly VerifiedSignature[], about: Record<string, string>): void {
    if (!this.flags['output-predicate']) {
      for (const signature of verified) this.log(describeVerifiedLong(signature, about));
      return;
    }
    const predicate = predicateOutput(verified);
    for (const signature of verified) this.logToStderr(describeVerifiedLong(signature, about));
    process.stdout.write(predicate);
  }
}
