import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import {
  ErrorCodes,
  LadingError,
  openTarget,
  readManifest,
  type Descriptor,
  type Platform,
  type VerifiedSignature,
} from '@lading/core';
import { fileSystemError } from '@lading/core/internal';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../../base-command.js';
import { verificationFlags } from '../../signing-flags.js';
import { createVerificationFromFlags, describeVerified } from '../../verification-from-flags.js';
import { writeContent } from '../cat.js';

/** What `lading manifest fetch --json` prints. */
export interface ManifestFetchCommandResult {
  /** The reference as given, normalised. */
  reference: string;
  /** The manifest's descriptor (with --platform, the platform manifest's). */
  descriptor: Descriptor;
  /** The manifest, parsed (the exact bytes are what the command prints without --json). */
  manifest: unknown;
  /** With --platform: the index digest the manifest was chosen from. */
  index?: string;
  /** With --platform: the platform the index gives it. */
  platform?: Platform;
  /** With -o: the file written. */
  output?: string;
  /** With a `--verify-*` flag: the signatures the read was allowed by. */
  verified?: VerifiedSignature[];
  /** What the gate warned about while letting the artifact through, when it did (also on standard error), as verify. */
  warnings?: string[];
}

/** `lading manifest fetch`: the raw manifest bytes as stored, digest-checked. */
export class ManifestFetch extends RegistryCommand<typeof ManifestFetch> {
  static override summary = 'Print the raw bytes of a manifest, exactly as stored, digest-checked.';
  static override description = `Resolves the reference, fetches the manifest (or image index), checks it against its digest, and writes its bytes unchanged to standard output (or to a file with -o, written whole or not at all). --descriptor prints its descriptor (media type, digest, size) as JSON instead. --platform picks one platform's manifest of an image index.

With --json, the bytes are not written: the JSON holds the descriptor and the parsed manifest. With a --verify-* flag nothing is written unless a signature satisfies the flags (exit 5).`;

  static override examples = [
    { description: 'Print a manifest.', command: '<%= config.bin %> manifest fetch ghcr.io/acme/config:v1' },
    {
      description: 'Its descriptor only.',
      command: '<%= config.bin %> manifest fetch --descriptor ghcr.io/acme/config:v1',
    },
    {
      description: 'Save the linux/arm64 manifest of a multi-platform image to a file.',
      command: '<%= config.bin %> manifest fetch --platform linux/arm64 -o arm64.json ghcr.io/acme/tool:v2',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'The manifest: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    descriptor: Flags.boolean({
      description: 'Print the descriptor (mediaType, digest, size) as JSON, not the bytes.',
    }),
    platform: Flags.string({
      helpValue: '<os/arch[/variant]>',
      description: "For an image index: fetch this platform's manifest instead of the index.",
    }),
    output: Flags.string({
      char: 'o',
      helpValue: '<file>',
      description: 'Write to this file instead of standard output.',
    }),
    ...verificationFlags,
  };

  override async run(): Promise<ManifestFetchCommandResult> {
    const { args, flags } = this;
    const gate = await createVerificationFromFlags(flags, (message) => this.warn(message));
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `manifest fetch ${opened.display}: name a tag or a digest`);
    }
    const fetched = await readManifest(opened.target, opened.reference, {
      signal: this.signal,
      display: opened.display,
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
      ...(gate && { gate }),
    });
    for (const warning of fetched.warnings) this.warn(warning);
    for (const signature of fetched.verified) this.logToStderr(describeVerified(signature));
    const { mediaType, digest, size } = fetched.descriptor;
    const descriptor: Descriptor = { mediaType, digest, size };
    if (fetched.descriptor.platform) descriptor.platform = fetched.descriptor.platform;
    const out = flags.descriptor ? Buffer.from(`${JSON.stringify(descriptor)}\n`) : fetched.bytes;
    if (flags.output !== undefined) {
      await writeWhole(flags.output, out);
    } else if (!this.jsonEnabled()) {
      await writeContent(
        (async function* () {
          yield await Promise.resolve(out);
        })(),
        process.stdout,
      );
    }
    return {
      reference: opened.display,
      descriptor,
      manifest: JSON.parse(Buffer.from(fetched.bytes).toString('utf8')) as unknown,
      ...(fetched.index && { index: fetched.index.digest }),
      ...(fetched.platform && { platform: fetched.platform }),
      ...(flags.output !== undefined && { output: flags.output }),
      ...(gate && { verified: fetched.verified }),
      ...(fetched.warnings.length > 0 && { warnings: fetched.warnings }),
    };
  }
}

/** Writes `file` whole or not at all: a temporary file beside it, renamed over it. */
async function writeWhole(file: string, bytes: Uint8Array): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, bytes, { flag: 'wx', mode: 0o644 });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw fileSystemError(error, `manifest fetch -o ${file}`);
  }
}
