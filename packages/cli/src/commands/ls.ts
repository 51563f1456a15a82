import {
  ErrorCodes,
  LadingError,
  listArtifact,
  openTarget,
  type ListResult,
  type ListedEntry,
  type PolicyEvaluation,
  type VerifiedSignature,
  formatPlatform,
} from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { formatBytes, formatMode, shortDigest, terminalSafe } from '../format.js';
import { verificationFlags } from '../signing-flags.js';
import { policyEvaluationOf } from '../policy-flags.js';
import { createVerificationFromFlags, describeVerified } from '../verification-from-flags.js';
import { platformFlag } from './pull.js';

/**
 * What `lading ls --json` prints: the library's `ListResult` and the reference listed. For an image index,
 * `descriptor` is the chosen platform manifest, `index` the index and `platform` the manifest's platform.
 */
export interface ListCommandResult extends Omit<ListResult, 'verified' | 'warnings'> {
  /** The reference as given, normalised. */
  reference: string;
  /** With a `--verify-*` flag: the signatures the listing was allowed by (every valid one, each with the digest it is about). */
  verified?: VerifiedSignature[];
  /** With `--policy`/`--trust`: the policy evaluation (rule, each authority's outcome, decision, warnings). */
  policy?: PolicyEvaluation;
  /** What the gate warned about while letting the artifact through, when it did (also on standard error), as verify. */
  warnings?: string[];
}

/** Mode shown for entries whose mode the artifact does not record (files without a TOC): what pull writes. */
const defaultModes = { file: 0o644, dir: 0o755, symlink: 0o777 } as const;

/**
 * The lines of `ls -l`: mode, size in bytes (right-aligned), short content digest, path, and ` -> target` for
 * links; `-` where a column does not apply. Paths and targets are made {@link terminalSafe}.
 */
export function longListing(entries: readonly ListedEntry[]): string[] {
  const sizes = entries.map((e) => (e.size === undefined ? '-' : String(e.size)));
  const width = Math.max(1, ...sizes.map((s) => s.length));
  return entries.map((e, i) => {
    const mode = formatMode(e.type, e.mode ?? defaultModes[e.type]);
    const digest = e.digest === undefined ? '-'.padEnd(19) : shortDigest(e.digest).padEnd(19);
    const link = e.type === 'symlink' && e.target !== undefined ? ` -> ${terminalSafe(e.target)}` : '';
    return `${mode}  ${(sizes[i] ?? '-').padStart(width)}  ${digest}  ${terminalSafe(e.path)}${link}`;
  });
}

/** `lading ls`: what an artifact holds, from its manifest and table of contents only. */
export class Ls extends RegistryCommand<typeof Ls> {
  static override aliases = ['list'];
  static override summary = 'List the files of an artifact without downloading them.';
  static override description = `Reads the manifest and the table of contents only. Prints one path per line on standard output; --long adds the mode, the size in bytes and the short sha256 of each file.

Artifacts pushed by other tools have no table of contents: their file layers are listed, and their folder layers are named on standard error as not listed (pull them to see their files).`;

  static override examples = [
    { description: 'List the paths of an artifact.', command: '<%= config.bin %> ls ghcr.io/acme/config:v1' },
    {
      description: 'Long listing: mode, size, digest, path.',
      command: '<%= config.bin %> ls -l ghcr.io/acme/config:v1',
    },
    { description: 'List a local OCI image layout as JSON.', command: '<%= config.bin %> ls --json oci:./layout:v1' },
    {
      description: 'List only if an SSH key allowed for alice@example.com signed it.',
      command:
        '<%= config.bin %> ls --allowed-signers allowed_signers --verify-principal alice@example.com ghcr.io/acme/config:v1',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to list: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    long: Flags.boolean({ char: 'l', description: 'Show mode, size, digest and link targets.' }),
    platform: platformFlag,
    ...verificationFlags,
  };

  override async run(): Promise<ListCommandResult> {
    const { flags, args } = this;
    const gate = await createVerificationFromFlags(flags, (message) => this.warn(message));
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `ls ${opened.display}: name a tag or a digest`);
    }
    const { verified, warnings, ...listed } = await listArtifact(opened.target, opened.reference, {
      display: opened.display,
      signal: this.signal,
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
      ...(gate && { gate }),
    });
    if (!this.jsonEnabled()) {
      if (listed.index) {
        this.logToStderr(
          `Image index ${listed.index.digest}: listing the ${formatPlatform(listed.platform)} manifest ${listed.descriptor.digest}`,
        );
      }
      for (const signature of verified) this.logToStderr(describeVerified(signature));
      // Names come from the artifact: shown escaped, so none can drive the terminal (exact values: --json).
      const lines = flags.long ? longListing(listed.entries) : listed.entries.map((e) => terminalSafe(e.path));
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    }
    for (const layer of listed.unlisted) {
      const name =
        layer.title === undefined ? `layer ${layer.layer}` : `${terminalSafe(layer.title)} (layer ${layer.layer})`;
      this.logToStderr(
        `Not listed: folder ${name}, ${formatBytes(layer.size)}: the artifact has no table of contents; pull it to see its files`,
      );
    }
    for (const warning of warnings) this.warn(terminalSafe(warning));
    const policy = policyEvaluationOf(gate);
    return {
      reference: opened.display,
      ...listed,
      ...(gate && { verified }),
      ...(policy && { policy }),
      ...(warnings.length > 0 && { warnings }),
    };
  }
}
