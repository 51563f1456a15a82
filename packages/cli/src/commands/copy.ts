import {
  copy,
  DefaultCopyConcurrency,
  ErrorCodes,
  formatPlatform,
  formatTarget,
  isLadingError,
  LadingError,
  ManifestMediaTypes,
  OCILayout,
  openTarget,
  parseTarget,
  type ByteStream,
  type CallOptions,
  type CopyEvent,
  type CopyResult,
  type Descriptor,
  type OpenedTarget,
  type Platform,
  type RegistryClient,
  type Target,
  type VerifiedSignature,
} from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { MirroredRepository } from '../config-client.js';
import { formatBytes, shortDigest, terminalSafe } from '../format.js';
import type { Progress } from '../progress.js';
import { verificationFlags } from '../signing-flags.js';
import { createVerificationFromFlags, describeVerified } from '../verification-from-flags.js';

/** One referrer `lading copy --referrers` carried (or found already there). */
export interface CopiedReferrer {
  /** The referrer manifest's digest. */
  digest: string;
  /** Its artifact type, as the source lists it (absent when unknown). */
  artifactType?: string;
  /** The digest of the manifest it refers to (the copied root, or another referrer). */
  subject: string;
  /** For a legacy cosign signature, attestation or SBOM: its `sha256-<hex>.sig|.att|.sbom` tag, set at the destination. */
  tag?: string;
}

/** What `lading copy --json` prints. */
export interface CopyCommandResult {
  /** The source reference as given, normalised. */
  source: string;
  /** The destination reference as given, normalised. */
  destination: string;
  /** The tag set at the destination, when one was (the destination's, else the source's). */
  tag?: string;
  /** The copied root manifest's digest (with --platform, the platform manifest's). */
  digest: string;
  /** Its media type. */
  mediaType: string;
  /** With --platform: the source's image index the manifest was chosen from (not copied). */
  index?: string;
  /** With --platform: the chosen manifest's platform, as the index gives it. */
  platform?: Platform;
  /** Manifests and blobs pushed to the destination. */
  copied: number;
  /** Manifests and blobs the destination already had (a skipped manifest's content is not looked at). */
  skipped: number;
  /** Blobs mounted from another repository of the destination's registry (no bytes moved). */
  mounted: number;
  /** Bytes pushed (manifests and blobs copied). */
  bytes: number;
  /** With --referrers: every referrer found, recursively, in the order found. */
  referrers: CopiedReferrer[];
  /** With a `--verify-*` flag: the signatures the copy was allowed by. */
  verified?: VerifiedSignature[];
  /** What the verification gate warned about (a policy in warn mode), when anything. */
  warnings?: string[];
}

/** A name for a node in step lines. */
function nodeName(descriptor: Descriptor): string {
  const kind = ManifestMediaTypes.includes(descriptor.mediaType) ? 'manifest' : 'blob';
  return `${kind} ${shortDigest(descriptor.digest)}`;
}

/** `lading copy`: copies an artifact (and with --referrers its signatures) between registries and OCI layouts. */
export class Copy extends RegistryCommand<typeof Copy> {
  /** `cp`, as oras calls it. */
  static override aliases = ['cp'];

  static override summary =
    'Copy an artifact, with its signatures and attestations, between registries and OCI layouts.';
  static override description = `Copies the manifest the source names and everything it points at (config, layers; for an image index every platform manifest) to the destination, children before parents, then tags it there: with the destination's tag, else the source's. Content the destination already has is skipped; within one registry, blobs are mounted from the source repository instead of downloaded and uploaded.

--referrers also copies the artifacts that refer to it (signatures, attestations, SBOMs) and theirs, recursively: on a registry without the referrers API they are added to the destination's sha256-<hex> fallback index, so cosign verify and lading verify accept the copy. cosign's legacy signatures, attestations and SBOMs (the manifests tagged sha256-<hex>.sig, .att, .sbom) are copied and tagged the same too.

With a --verify-* flag the source is verified first, and nothing is written to the destination unless a signature satisfies the flags (exit 5). Prints the copied manifest's digest on standard output.`;

  static override examples = [
    {
      description: 'Copy an artifact with its signatures and attestations to another registry.',
      command: '<%= config.bin %> copy --referrers ghcr.io/acme/config:v1 registry.example.com/mirror/config:v1',
    },
    {
      description: 'Into an OCI layout folder and back out, keeping it verifiable.',
      command:
        '<%= config.bin %> copy --referrers ghcr.io/acme/config:v1 oci:./bundle:v1\n<%= config.bin %> copy --referrers oci:./bundle:v1 registry.internal/config:v1',
    },
    {
      description: 'Copy only the linux/arm64 manifest of a multi-platform image, only if cosign.pub signed it.',
      command:
        '<%= config.bin %> copy --platform linux/arm64 --verify-key cosign.pub ghcr.io/acme/tool:v2 oci:./arm:v2',
    },
  ];

  static override args = {
    source: Args.string({
      required: true,
      description: 'What to copy: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
    destination: Args.string({
      required: true,
      description: 'Where to: host[:port]/repository[:tag] or oci:<dir>[:tag] (created if missing).',
    }),
  };

  static override flags = {
    referrers: Flags.boolean({
      char: 'r',
      description: 'Also copy the referrers (signatures, attestations, SBOMs), recursively.',
    }),
    platform: Flags.string({
      helpValue: '<os/arch[/variant]>',
      description:
        "When the source is a multi-platform image index: copy only the manifest for this platform (not the index), and tag it; --referrers then copies that manifest's referrers.",
    }),
    concurrency: Flags.integer({
      min: 1,
      default: DefaultCopyConcurrency,
      description: 'Existence checks and transfers in flight at once.',
    }),
    ...verificationFlags,
  };

  override async run(): Promise<CopyCommandResult> {
    const { args, flags } = this;
    const gate = await createVerificationFromFlags(flags, (message) => this.warn(message));
    const client = await this.registryClient();
    const source = await openTarget(args.source, { client });
    if (source.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `copy ${source.display}: name the source's tag or digest`);
    }
    const destination = await openDestination(args.destination, client);
    // The source is read through a configured mirror; the destination is the registry itself (writes, and its
    // existence checks, never go to a mirror).
    if (destination.target instanceof MirroredRepository) destination.target = destination.target.registryRepository();
    const tag = destination.tag ?? (destination.digest === undefined ? source.tag : undefined);
    const progress = this.progress();
    let copied: CopyResult;
    try {
      copied = await copy(source.target, source.reference, destination.target, tag ?? destination.digest ?? '', {
        signal: this.signal,
        display: source.display,
        concurrency: flags.concurrency,
        referrers: flags.referrers,
        onEvent: (event) => {
          renderCopyEvent(progress, event);
          if (event.type === 'verified') for (const warning of event.warnings) this.warn(terminalSafe(warning));
        },
        ...(flags.platform === undefined ? {} : { platform: flags.platform }),
        ...(gate && { gate }),
      });
    } finally {
      progress.finish();
    }
    const { descriptor: root, copied: count, skipped, mounted, bytes, verified, warnings } = copied;
    const referrers: CopiedReferrer[] = copied.referrers.map((r) => ({
      digest: r.descriptor.digest,
      ...(r.descriptor.artifactType !== undefined && { artifactType: r.descriptor.artifactType }),
      subject: r.subject.digest,
      ...(r.tag !== undefined && { tag: r.tag }),
    }));
    if (tag !== undefined) progress.note(`Tagged ${tag}`);
    progress.note(
      `Copied ${source.display} to ${destination.display}: ${count} copied (${formatBytes(bytes)}), ${skipped} already there, ${mounted} mounted${flags.referrers ? `, ${referrers.length} referrers` : ''}`,
    );
    this.log(root.digest);
    return {
      source: source.display,
      destination: destination.display,
      ...(tag !== undefined && { tag }),
      digest: root.digest,
      mediaType: root.mediaType,
      ...(copied.index && { index: copied.index.digest }),
      ...(copied.platform && { platform: copied.platform }),
      copied: count,
      skipped,
      mounted,
      bytes,
      referrers,
      ...(gate && { verified }),
      ...(warnings.length > 0 && { warnings }),
    };
  }
}

/**
 * Opens the destination. A layout folder that does not exist yet is created at the first access, which `copy` makes
 * only after the source passed the gate: a refused copy leaves no empty layout behind.
 */
async function openDestination(input: string, client: RegistryClient): Promise<Destination> {
  const parsed = parseTarget(input);
  if (parsed.kind !== 'layout') return openTarget(input, { client });
  try {
    return await openTarget(input, { client });
  } catch (error) {
    if (!isLadingError(error, ErrorCodes.notFound)) throw error;
  }
  const opened: Destination = { target: new LayoutOnFirstUse(parsed.path), display: formatTarget(parsed) };
  if (parsed.tag !== undefined) opened.tag = parsed.tag;
  if (parsed.digest !== undefined) opened.digest = parsed.digest;
  const reference = parsed.digest ?? parsed.tag;
  if (reference !== undefined) opened.reference = reference;
  return opened;
}

/** An opened destination: any {@link Target} (copy lists no referrers there). */
type Destination = Omit<OpenedTarget, 'target'> & { target: Target };

/** An OCI layout created (folder, `oci-layout`, `index.json`) when it is first used. */
class LayoutOnFirstUse implements Target {
  private layout: Promise<OCILayout> | undefined;
  constructor(private readonly root: string) {}
  private open(): Promise<OCILayout> {
    this.layout ??= OCILayout.open(this.root, { create: true });
    return this.layout;
  }
  async fetch(desc: Descriptor, options?: CallOptions): Promise<ByteStream> {
    return (await this.open()).fetch(desc, options);
  }
  async push(desc: Descriptor, content: ByteStream | Uint8Array, options?: CallOptions): Promise<void> {
    return (await this.open()).push(desc, content, options);
  }
  async exists(desc: Descriptor, options?: CallOptions): Promise<boolean> {
    return (await this.open()).exists(desc, options);
  }
  async resolve(reference: string, options?: CallOptions): Promise<Descriptor> {
    return (await this.open()).resolve(reference, options);
  }
  async tag(desc: Descriptor, reference: string, options?: CallOptions): Promise<void> {
    return (await this.open()).tag(desc, reference, options);
  }
}

function renderCopyEvent(progress: Progress, event: CopyEvent): void {
  switch (event.type) {
    case 'copied':
      progress.note(`Copied ${nodeName(event.descriptor)} ${formatBytes(event.descriptor.size)}`);
      break;
    case 'skipped':
      progress.note(`Skipped ${nodeName(event.descriptor)} (exists)`);
      break;
    case 'mounted':
      progress.note(`Mounted ${nodeName(event.descriptor)} from ${terminalSafe(event.from)}`);
      break;
    case 'referrer':
      progress.note(
        `Referrer ${shortDigest(event.descriptor.digest)} ${terminalSafe(event.descriptor.artifactType ?? '-')} of ${shortDigest(event.subject.digest)}${event.tag === undefined ? '' : ` (tag ${event.tag})`}`,
      );
      break;
    case 'verified':
      for (const signature of event.verified) progress.note(describeVerified(signature));
      break;
    case 'platform':
      progress.note(
        `Chose ${formatPlatform(event.platform)} manifest ${shortDigest(event.descriptor.digest)} of index ${shortDigest(event.index.digest)}`,
      );
      break;
    case 'copying':
      break;
  }
}
