import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import {
  ErrorCodes,
  LadingError,
  catArtifact,
  openTarget,
  type Platform,
  type PolicyEvaluation,
  type VerifiedSignature,
} from '@lading/core';
import * as Args from '@oclif/core/args';

import { RegistryCommand } from '../base-command.js';
import { formatBytes, shortDigest, terminalSafe } from '../format.js';
import { verificationFlags } from '../signing-flags.js';
import { policyEvaluationOf } from '../policy-flags.js';
import { createVerificationFromFlags, describeVerified } from '../verification-from-flags.js';
import { platformFlag } from './pull.js';

/** What `lading cat --json` prints (instead of the content). */
export interface CatCommandResult {
  /** The reference as given, normalised. */
  reference: string;
  /** The manifest digest the file was read from; for an image index, the chosen platform manifest's. */
  digest: string;
  /** When the reference is an image index (multi-platform): the index digest. */
  index?: string;
  /** When the reference is an image index: the platform of the manifest read, as the index gives it. */
  platform?: Platform;
  /** The file's path in the artifact. */
  path: string;
  /** The file's size in bytes. */
  size: number;
  /** Hex sha256 of the content, verified against the table of contents. */
  sha256: string;
  /** True when only the file's own bytes were transferred (one range request). */
  ranged: boolean;
  /** With a `--verify-*` flag: the signatures the read was allowed by (every valid one, each with the digest it is about). */
  verified?: VerifiedSignature[];
  /** With `--policy`/`--trust`: the policy evaluation (rule, each authority's outcome, decision, warnings). */
  policy?: PolicyEvaluation;
  /** What the gate warned about while letting the artifact through, when it did (also on standard error), as verify. */
  warnings?: string[];
}

/**
 * Copies `content` to `out` with backpressure, leaving `out` open. A reader that went away (`lading cat … | head`)
 * is not an error.
 */
export async function writeContent(content: AsyncIterable<Uint8Array>, out: Writable): Promise<void> {
  try {
    await pipeline(content, out, { end: false });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EPIPE') throw error;
  }
}

/** `lading cat`: writes one verified file of an artifact to standard output. */
export class Cat extends RegistryCommand<typeof Cat> {
  static override summary = 'Print one file of an artifact, verified, without pulling the rest.';
  static override description = `Fetches only the file's own bytes (one HTTP range request) when the artifact has lading's table of contents, and checks its path, size and sha256 against it before a single byte is written to standard output. When the registry ignores range requests, the whole layer is streamed instead and a note says so on standard error.

With --json, the content is not written: the JSON describes the verified file instead.`;

  static override examples = [
    {
      description: 'Print a file.',
      command: '<%= config.bin %> cat ghcr.io/acme/config:v1 config/app.yaml',
    },
    {
      description: 'Save a binary from a local OCI image layout.',
      command: '<%= config.bin %> cat oci:./layout:v1 bin/tool > tool',
    },
    {
      description: 'Check a file without printing it.',
      command: '<%= config.bin %> cat --json ghcr.io/acme/config:v1 config/app.yaml',
    },
    {
      description: 'Print a file only if an SSH key allowed for alice@example.com signed the artifact.',
      command:
        '<%= config.bin %> cat --allowed-signers allowed_signers --verify-principal alice@example.com ghcr.io/acme/config:v1 config/app.yaml',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'The artifact: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
    path: Args.string({ required: true, description: 'The file in the artifact, as `lading ls` prints it.' }),
  };

  static override flags = { platform: platformFlag, ...verificationFlags };

  override async run(): Promise<CatCommandResult> {
    const { args, flags } = this;
    const gate = await createVerificationFromFlags(flags, (message) => this.warn(message));
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `cat ${opened.display}: name a tag or a digest`);
    }
    const file = await catArtifact(opened.target, opened.reference, args.path, {
      display: opened.display,
      signal: this.signal,
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
      ...(gate && { gate }),
      onRangeIgnored: (layer) => {
        this.logToStderr(
          `Note: the registry ignored the range request: all of layer ${shortDigest(layer.digest)} (${formatBytes(layer.size)}) was downloaded to read ${args.path}`,
        );
      },
    });
    for (const signature of file.verified) this.logToStderr(describeVerified(signature));
    for (const warning of file.warnings) this.warn(terminalSafe(warning));
    if (this.jsonEnabled()) {
      // Read to the end anyway: that removes the temporary file large content is kept in.
      for await (const _ of file.content) {
        // discard
      }
    } else {
      await writeContent(file.content, process.stdout);
    }
    const policy = policyEvaluationOf(gate);
    return {
      reference: opened.display,
      digest: file.descriptor.digest,
      ...(file.index && { index: file.index.digest }),
      ...(file.platform && { platform: file.platform }),
      path: args.path,
      size: file.size,
      sha256: file.digest.replace(/^sha256:/, ''),
      ranged: file.ranged,
      ...(gate && { verified: file.verified }),
      ...(policy && { policy }),
      ...(file.warnings.length > 0 && { warnings: file.warnings }),
    };
  }
}
