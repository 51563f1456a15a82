import {
  AnnotationTitle,
  ErrorCodes,
  formatPlatform,
  inspectArtifact,
  LadingError,
  openTarget,
  type InspectResult,
  type VerifiedSignature,
} from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { formatBytes, terminalSafe } from '../format.js';
import { verificationFlags } from '../signing-flags.js';
import { createVerificationFromFlags, describeVerified } from '../verification-from-flags.js';

/** What `lading inspect --json` prints: the reference, and what `inspectArtifact` found. */
export interface InspectCommandResult extends Omit<InspectResult, 'verified' | 'warnings'> {
  /** The reference as given, normalised. */
  reference: string;
  /** With a `--verify-*` flag: the signatures the read was allowed by. */
  verified?: VerifiedSignature[];
  /** What the gate warned about while letting the artifact through, when it did (also on standard error), as verify. */
  warnings?: string[];
}

/** The human-readable summary of {@link InspectResult}, one fact per line (registry text made terminal-safe). */
export function describeInspection(reference: string, result: InspectResult): string[] {
  const d = result.descriptor;
  const lines = [
    `Reference:     ${reference}`,
    `Digest:        ${d.digest}`,
    `Media type:    ${d.mediaType}`,
    `Size:          ${formatBytes(d.size)} (${d.size} bytes)`,
  ];
  if (result.artifactType !== undefined) lines.push(`Artifact type: ${result.artifactType}`);
  if (result.index !== undefined) {
    lines.push(`Index:         ${result.index.digest} (platform ${formatPlatform(result.platform)})`);
  }
  if (result.subject !== undefined) lines.push(`Subject:       ${result.subject.digest}`);
  if (result.config !== undefined) {
    lines.push(
      `Config:        ${result.config.mediaType}  ${result.config.digest}  ${formatBytes(result.config.size)}`,
    );
  }
  if (result.toc !== undefined) {
    const t = result.toc;
    lines.push(
      `Contents:      ${count(t.files, 'file')}, ${count(t.directories, 'folder')}, ${count(t.symlinks, 'symlink')}, ${formatBytes(t.size)} (table of contents)`,
    );
  }
  if (result.layers !== undefined) {
    const total = result.layers.reduce((n, l) => n + l.size, 0);
    lines.push(`Layers:        ${result.layers.length}, ${formatBytes(total)}`);
    for (const layer of result.layers) {
      const title = layer.annotations?.[AnnotationTitle];
      lines.push(
        `  ${layer.digest}  ${formatBytes(layer.size).padStart(9)}  ${layer.mediaType}${title ? `  ${title}` : ''}`,
      );
    }
  }
  if (result.manifests !== undefined) {
    lines.push(`Manifests:     ${result.manifests.length}`);
    for (const entry of result.manifests) {
      const platform = entry.platform ? formatPlatform(entry.platform) : '-';
      lines.push(`  ${entry.digest}  ${formatBytes(entry.size).padStart(9)}  ${platform}  ${entry.mediaType}`);
    }
  }
  const annotations = Object.entries(result.annotations ?? {});
  if (annotations.length > 0) {
    lines.push('Annotations:');
    for (const [key, value] of annotations) lines.push(`  ${key}: ${value}`);
  }
  if (result.referrers !== undefined) {
    const count = result.referrers.reduce((n, r) => n + r.count, 0);
    lines.push(`Referrers:     ${count}`);
    for (const r of result.referrers) lines.push(`  ${r.artifactType}: ${r.count}`);
  }
  return lines.map((line) => terminalSafe(line));
}

/** `lading inspect`: what an artifact is, from its manifest, table of contents and referrers. */
export class Inspect extends RegistryCommand<typeof Inspect> {
  static override summary = 'Describe an artifact: manifest, contents, layers, annotations, referrers.';
  static override description = `Reads the manifest the reference names (digest-checked) and prints a summary on standard output: media type, artifact type, digest, size, config, and each layer with its size; the number of files and folders and their total size from lading's table of contents when the artifact has one; the annotations; and the referrers (signatures, attestations, SBOMs) counted by artifact type. No layer is downloaded. Works for any OCI manifest or image index: an image pushed by docker, crane or oras too.

For an image index, its manifests and their platforms are listed; --platform inspects one of them instead. With a --verify-* flag, nothing but the manifest is read unless a signature satisfies the flags (exit 5).`;

  static override examples = [
    { description: 'Describe an artifact.', command: '<%= config.bin %> inspect ghcr.io/acme/config:v1' },
    {
      description: 'One platform of a multi-platform image, as JSON.',
      command: '<%= config.bin %> inspect --json --platform linux/arm64 ghcr.io/acme/tool:v2',
    },
    {
      description: 'Only if cosign.pub signed it.',
      command: '<%= config.bin %> inspect --verify-key cosign.pub oci:./layout:v1',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'The artifact: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    platform: Flags.string({
      helpValue: '<os/arch[/variant]>',
      description: 'For an image index: inspect the manifest for this platform instead of the index.',
    }),
    referrers: Flags.boolean({
      allowNo: true,
      default: true,
      description: 'Count the referrers by artifact type; --no-referrers saves that request.',
    }),
    ...verificationFlags,
  };

  override async run(): Promise<InspectCommandResult> {
    const { args, flags } = this;
    const gate = await createVerificationFromFlags(flags, (message) => this.warn(message));
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `inspect ${opened.display}: name a tag or a digest`);
    }
    const result = await inspectArtifact(opened.target, opened.reference, {
      signal: this.signal,
      display: opened.display,
      referrers: flags.referrers,
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
      ...(gate && { gate }),
    });
    const { verified, warnings, ...inspected } = result;
    for (const warning of warnings) this.warn(warning);
    for (const signature of verified) this.logToStderr(describeVerified(signature));
    for (const line of describeInspection(opened.display, result)) this.log(line);
    return {
      reference: opened.display,
      ...inspected,
      ...(gate && { verified }),
      ...(warnings.length > 0 && { warnings }),
    };
  }
}

/** `1 file`, `2 files`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
