import {
  AnnotationCreated,
  ErrorCodes,
  isLadingError,
  LadingError,
  MediaTypeCosignSimpleSigning,
  openTarget,
  type Descriptor,
} from '@lading/core';
import { legacySignatureTag } from '@lading/core/internal';
import { AnnotationBundlePredicateType } from '@lading/sigstore';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { terminalSafe } from '../format.js';

/** What `lading discover --json` prints. */
export interface DiscoverCommandResult {
  /** The reference as given, normalised. */
  reference: string;
  /** The digest of the manifest whose referrers are listed. */
  digest: string;
  /** The referrers, as the registry (or the tag fallback) lists them. */
  referrers: Descriptor[];
  /** Legacy cosign signatures: the manifest tagged `sha256-<hex>.sig`, when there is one. */
  legacySignatures?: { tag: string; digest: string };
}

/**
 * One line of `lading discover`: digest and artifact type (`-` when unknown), then the Sigstore predicate type and
 * the creation time when the referrer's annotations carry them. What the registry sent is made {@link terminalSafe}.
 */
export function describeReferrer(referrer: Descriptor): string {
  const columns = [referrer.digest, referrer.artifactType ?? '-'];
  const predicateType = referrer.annotations?.[AnnotationBundlePredicateType];
  const created = referrer.annotations?.[AnnotationCreated];
  if (predicateType !== undefined) columns.push(predicateType);
  if (created !== undefined) columns.push(created);
  return terminalSafe(columns.join('  '));
}

/** `lading discover`: lists what refers to an artifact (signatures, attestations, SBOMs). */
export class Discover extends RegistryCommand<typeof Discover> {
  static override summary = 'List the referrers of an artifact: signatures, attestations, SBOMs.';
  static override description = `Resolves the reference to its manifest and lists the manifests whose subject it is, through the registry's referrers API or, without it, the sha256-<hex> tag fallback. Nothing is verified: use lading verify for that.

Prints one line per referrer on standard output: its digest, its artifact type, and the Sigstore predicate type and creation time when its annotations give them. Legacy cosign signatures (the sha256-<hex>.sig tag, not a referrer) get a line too: the digest of that manifest, application/vnd.dev.cosign.simplesigning.v1+json, and the tag.`;

  static override examples = [
    { description: 'List the referrers of a tag.', command: '<%= config.bin %> discover ghcr.io/acme/config:v1' },
    {
      description: 'Only Sigstore bundles, as JSON.',
      command:
        '<%= config.bin %> discover --json --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json ghcr.io/acme/config:v1',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'Whose referrers: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = {
    'artifact-type': Flags.string({ description: 'Only referrers of this artifact type.' }),
  };

  override async run(): Promise<DiscoverCommandResult> {
    const { flags, args } = this;
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `discover ${opened.display}: name a tag or a digest`);
    }
    const descriptor = await opened.target.resolve(opened.reference, { signal: this.signal });
    const artifactType = flags['artifact-type'];
    const referrers = await opened.target.referrers(descriptor, {
      signal: this.signal,
      ...(artifactType === undefined ? {} : { artifactType }),
    });
    for (const referrer of referrers) this.log(describeReferrer(referrer));
    const result: DiscoverCommandResult = { reference: opened.display, digest: descriptor.digest, referrers };
    if (artifactType === undefined || artifactType === MediaTypeCosignSimpleSigning) {
      const tag = legacySignatureTag(descriptor.digest);
      try {
        const legacy = await opened.target.resolve(tag, { signal: this.signal });
        result.legacySignatures = { tag, digest: legacy.digest };
        this.log([legacy.digest, MediaTypeCosignSimpleSigning, tag].join('  '));
      } catch (error) {
        if (!isLadingError(error, ErrorCodes.notFound)) throw error;
      }
    }
    return result;
  }
}
