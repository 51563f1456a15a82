import {
  AnnotationTitle,
  DefaultPullLimits,
  ErrorCodes,
  LadingError,
  openTarget,
  pullArtifact,
  type Descriptor,
  type PullEvent,
  type Platform,
  type PullLimits,
  type PolicyEvaluation,
  type VerifiedSignature,
  formatPlatform,
} from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { describeSignatureArtifact, signatureArtifact, type SignatureArtifact } from '../attestation-notice.js';
import { RegistryCommand } from '../base-command.js';
import { formatBytes, parseSize, shortDigest, terminalSafe } from '../format.js';
import type { Progress } from '../progress.js';
import { verificationFlags } from '../signing-flags.js';
import { policyEvaluationOf } from '../policy-flags.js';
import { createVerificationFromFlags, describeVerified } from '../verification-from-flags.js';

/** One entry a pull wrote, in `lading pull --json`. */
export interface PulledEntryJSON {
  /** Path relative to the destination, `/`-separated. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Content size (files). */
  size?: number;
}

/** What `lading pull --json` prints. */
export interface PullCommandResult {
  /** The reference as given, normalised (`host/repo:tag`). */
  reference: string;
  /**
   * The manifest digest that was pulled (every byte written is authenticated by it); for an image index, the chosen
   * platform manifest's.
   */
  digest: string;
  /** When the reference is an image index (multi-platform): the index digest. */
  index?: string;
  /** When the reference is an image index: the platform of the manifest pulled, as the index gives it. */
  platform?: Platform;
  /** Absolute path of the destination folder. */
  destination: string;
  entries: PulledEntryJSON[];
  /** Bytes of file content written. */
  bytes: number;
  /**
   * When the artifact holds no files because it is a signature or an attestation (a referrer: Sigstore bundle, SSH
   * or cosign signature): what it is. Read it with `lading verify … --output-predicate`.
   */
  signatureArtifact?: SignatureArtifact;
  /** With a `--verify-*` flag: the signatures the pull was allowed by (every valid one, each with the digest it is about). */
  verified?: VerifiedSignature[];
  /** With `--policy`/`--trust`: the policy evaluation (rule, each authority's outcome, decision, warnings). */
  policy?: PolicyEvaluation;
  /** What the gate warned about while letting the artifact through, when it did (also on standard error), as verify. */
  warnings?: string[];
}

const sizeFlag = (name: string, description: string) =>
  Flags.custom<number>({
    description,
    helpValue: '<size>',
    parse: (input) => Promise.resolve(parseSize(input, `--${name}`)),
  })();

/** A default limit for help text: `16GiB`, written as the flag accepts it. */
const gib = (bytes: number): string => `${bytes / 1024 ** 3}GiB`;

/**
 * `--platform` of pull, ls, cat and verify: which manifest of an image index (multi-platform artifact) to read.
 * Checked by the library (`os/arch[/variant]`) before anything is fetched.
 */
export const platformFlag = Flags.string({
  helpValue: '<os/arch[/variant]>',
  description:
    "For a multi-platform artifact (an image index): the platform's manifest to use, e.g. linux/arm64 or linux/arm/v7. Default: the index's only manifest, else this machine's platform.",
});

/** A layer's title (escaped: it comes from the registry), else its short digest. */
function layerName(descriptor: Descriptor): string {
  const title = descriptor.annotations?.[AnnotationTitle];
  return title === undefined ? shortDigest(descriptor.digest) : terminalSafe(title);
}

function renderPullEvent(progress: Progress, event: PullEvent): void {
  switch (event.type) {
    case 'resolved':
      progress.note(
        event.index === undefined
          ? `Resolved ${event.descriptor.digest}`
          : `Resolved image index ${event.index.digest}: ${formatPlatform(event.platform)} manifest ${event.descriptor.digest}`,
      );
      break;
    case 'layer-start':
      progress.begin(event.descriptor.digest, `Downloading ${layerName(event.descriptor)}`, {
        total: event.descriptor.size,
      });
      break;
    case 'layer-progress':
      progress.advance(event.descriptor.digest, event.bytes);
      break;
    case 'layer-done':
      progress.end(
        event.descriptor.digest,
        `Downloaded ${layerName(event.descriptor)} ${formatBytes(event.descriptor.size)}`,
      );
      break;
    case 'layer-skipped':
      progress.note(`Skipped layer ${shortDigest(event.descriptor.digest)}: ${event.reason}`);
      break;
    case 'committed':
      break;
  }
}

/** `lading pull`: downloads an artifact into a folder, verified, all or nothing. */
export class Pull extends RegistryCommand<typeof Pull> {
  static override summary = 'Pull an artifact into a folder: verified, all or nothing.';
  static override description = `Every layer is checked against its digest and every file against the table of contents in a staging folder beside the destination (inside it when its parent is not writable); only then is the result moved into place. A failed or interrupted pull (SIGINT, SIGTERM) leaves the destination as it was.

Paths that would escape the destination, links pointing outside it, devices, control characters in names and other hostile archive entries are refused, and the limits below bound what the whole pull may write (all layers together). Modes are the artifact's, less the umask. Names the destination already has are refused unless --overwrite is given.

The summary is printed on standard output; progress goes to standard error.`;

  static override examples = [
    { description: 'Pull into the current folder.', command: '<%= config.bin %> pull ghcr.io/acme/config:v1' },
    {
      description: 'Pull into /etc/acme, replacing what an earlier pull wrote.',
      command: '<%= config.bin %> pull --overwrite ghcr.io/acme/config:v1 /etc/acme',
    },
    {
      description: 'Pull one file and one folder of the artifact, pinned by digest.',
      command:
        '<%= config.bin %> pull --file config/app.yaml --file config/certs ghcr.io/acme/config@sha256:4f1c… ./out',
    },
    {
      description:
        'Pull only if it was signed by the release workflow of acme/config (keyless, GitHub Actions); nothing is written otherwise.',
      command:
        '<%= config.bin %> pull --verify-issuer https://token.actions.githubusercontent.com --verify-subject https://github.com/acme/config/.github/workflows/release.yml@refs/heads/main ghcr.io/acme/config:v1 ./config',
    },
    {
      description: 'Pull only if it was signed with this key (cosign.pub).',
      command: '<%= config.bin %> pull --verify-key cosign.pub ghcr.io/acme/config:v1 ./config',
    },
    {
      description: 'Pull from a local OCI image layout, refusing anything over 100 MiB.',
      command: '<%= config.bin %> pull --max-total-size 100MiB oci:./layout:v1 ./out',
    },
    {
      description: 'Pull only if an SSH key allowed for alice@example.com signed it.',
      command:
        '<%= config.bin %> pull --allowed-signers allowed_signers --verify-principal alice@example.com ghcr.io/acme/config:v1 ./config',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to pull: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
    dir: Args.string({ default: '.', description: 'Destination folder (created when missing).' }),
  };

  static override flags = {
    overwrite: Flags.boolean({ description: 'Replace files and folders the destination already has.' }),
    file: Flags.string({
      multiple: true,
      multipleNonGreedy: true,
      description: 'Only this path of the artifact (a file, or a folder with everything below it). Repeatable.',
    }),
    'max-files': Flags.integer({
      min: 1,
      description: `Most entries (files, folders, links) the whole pull writes, all layers together. Default ${DefaultPullLimits.maxFiles}.`,
    }),
    'max-total-size': sizeFlag(
      'max-total-size',
      `Most bytes of file content the whole pull writes, all layers together, e.g. 500MiB. Default ${gib(DefaultPullLimits.maxTotalBytes)}.`,
    ),
    'max-file-size': sizeFlag(
      'max-file-size',
      `Most bytes in one file, e.g. 10MiB. Default ${gib(DefaultPullLimits.maxFileBytes)}.`,
    ),
    concurrency: Flags.integer({ min: 1, max: 64, default: 3, description: 'Layers downloaded at once.' }),
    platform: platformFlag,
    ...verificationFlags,
  };

  override async run(): Promise<PullCommandResult> {
    const { flags, args } = this;
    this.writesFiles = true;
    const gate = await createVerificationFromFlags(flags, (message) => this.warn(message));
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        `pull ${opened.display}: name a tag or a digest (${opened.display}:<tag> or ${opened.display}@sha256:…)`,
      );
    }
    const limits: Partial<PullLimits> = {};
    if (flags['max-files'] !== undefined) limits.maxFiles = flags['max-files'];
    if (flags['max-total-size'] !== undefined) limits.maxTotalBytes = flags['max-total-size'];
    if (flags['max-file-size'] !== undefined) limits.maxFileBytes = flags['max-file-size'];
    const progress = this.progress();
    const pulled = await pullArtifact(opened.target, opened.reference, {
      destination: args.dir,
      overwrite: flags.overwrite,
      limits,
      concurrency: flags.concurrency,
      display: opened.display,
      signal: this.signal,
      ...(flags.file === undefined ? {} : { files: flags.file }),
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
      ...(gate && { gate }),
      onEvent: (event) => {
        renderPullEvent(progress, event);
        // The gate has passed when the manifest is resolved, before any layer is fetched: say so then, so the step
        // lines read in the order things happened.
        if (event.type === 'resolved') {
          for (const signature of event.verified) progress.note(describeVerified(signature));
          for (const warning of event.warnings) progress.note(`Warning: ${terminalSafe(warning)}`);
        }
      },
    });
    progress.finish();

    const digest = pulled.descriptor.digest;
    const policy = policyEvaluationOf(gate);
    const result: PullCommandResult = {
      reference: opened.display,
      digest,
      ...(pulled.index && { index: pulled.index.digest }),
      ...(pulled.platform && { platform: pulled.platform }),
      destination: pulled.destination,
      entries: pulled.entries.map((e) => ({
        path: e.path,
        type: e.type,
        ...(e.size === undefined ? {} : { size: e.size }),
      })),
      bytes: pulled.bytes,
      ...(gate && { verified: pulled.verified }),
      ...(policy && { policy }),
      ...(pulled.warnings.length > 0 && { warnings: pulled.warnings }),
    };
    const files = pulled.entries.filter((e) => e.type === 'file').length;
    const resolved = pulled.index?.digest ?? digest;
    const pinned = opened.digest === undefined ? `${opened.display}@${resolved}` : opened.display;
    const chosen = pulled.index === undefined ? '' : ` (${formatPlatform(pulled.platform)} manifest ${digest})`;
    this.log(
      `Pulled ${pinned}${chosen} into ${args.dir}: ${files} ${files === 1 ? 'file' : 'files'}, ${formatBytes(pulled.bytes)}`,
    );
    if (pulled.entries.length === 0) {
      // No files: say so when it is a signature or an attestation, which is read with verify, not pull.
      const artifact = signatureArtifact(pulled.manifest);
      if (artifact !== undefined) {
        result.signatureArtifact = artifact;
        for (const line of describeSignatureArtifact(artifact, opened.display.replace(/[:@][^/]*$/, ''))) {
          this.logToStderr(terminalSafe(line));
        }
      }
    }
    return result;
  }
}
