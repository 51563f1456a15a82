import {
  AnnotationCreated,
  DefaultDiscoverDepth,
  discoverReferrers,
  ErrorCodes,
  LadingError,
  MaxDiscoveredReferrers,
  MediaTypeCosignSimpleSigning,
  openTarget,
  type Descriptor,
  type DiscoveredReferrer,
} from '@lading/core';
import { AnnotationBundlePredicateType } from '@lading/sigstore';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';
import { terminalSafe } from '../format.js';

export type { DiscoveredReferrer } from '@lading/core';

/** What `lading discover --json` (or `--format json`) prints. */
export interface DiscoverCommandResult {
  /** The reference as given, normalised. */
  reference: string;
  /** The digest of the manifest whose referrers are listed. */
  digest: string;
  /** The referrers, as the registry (or the tag fallback) lists them; each with its own down to `--depth`. */
  referrers: DiscoveredReferrer[];
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

/** One line of the tree and the lines under it. */
interface Row {
  text: string;
  children: Row[];
}

function toRow(referrer: DiscoveredReferrer): Row {
  return { text: describeReferrer(referrer), children: (referrer.referrers ?? []).map(toRow) };
}

/** Appends the lines of `rows` and their children, `oras discover`-style: `├── `, `│   `, `└── `. */
function treeLines(rows: readonly Row[], prefix: string, out: string[]): void {
  rows.forEach((row, i) => {
    const last = i === rows.length - 1;
    out.push(`${prefix}${last ? '└── ' : '├── '}${row.text}`);
    treeLines(row.children, `${prefix}${last ? '    ' : '│   '}`, out);
  });
}

/** `lading discover`: lists what refers to an artifact (signatures, attestations, SBOMs). */
export class Discover extends RegistryCommand<typeof Discover> {
  static override summary = 'List the referrers of an artifact: signatures, attestations, SBOMs.';
  static override description = `Resolves the reference to its manifest and lists the manifests whose subject it is, through the registry's referrers API or, without it, the sha256-<hex> tag fallback. Nothing is verified: use lading verify for that.

Prints a tree on standard output, as oras discover does: the artifact, then one line per referrer (its digest, its artifact type, and the Sigstore predicate type and creation time when its annotations give them), and under each its own referrers (a signature of an SBOM), down to --depth levels (default ${DefaultDiscoverDepth}; at most ${MaxDiscoveredReferrers} referrers in all). --artifact-type filters every level. Legacy cosign signatures (the sha256-<hex>.sig tag, not a referrer) get a line too: the digest of that manifest, application/vnd.dev.cosign.simplesigning.v1+json, and the tag.`;

  static override examples = [
    { description: 'List the referrers of a tag.', command: '<%= config.bin %> discover ghcr.io/acme/config:v1' },
    {
      description: "Only the artifact's own referrers, not theirs.",
      command: '<%= config.bin %> discover --depth 1 ghcr.io/acme/config:v1',
    },
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
    'artifact-type': Flags.string({ description: 'Only referrers of this artifact type (at every level).' }),
    depth: Flags.integer({
      min: 1,
      default: DefaultDiscoverDepth,
      description: "Levels of referrers to follow: 1 lists only the artifact's own.",
    }),
    format: Flags.string({
      options: ['tree', 'json'],
      default: 'tree',
      description: 'Output format: tree, or json (the same as --json).',
    }),
  };

  override async run(): Promise<DiscoverCommandResult> {
    const { flags, args } = this;
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `discover ${opened.display}: name a tag or a digest`);
    }
    const found = await discoverReferrers(opened.target, opened.reference, {
      depth: flags.depth,
      display: opened.display,
      signal: this.signal,
      ...(flags['artifact-type'] === undefined ? {} : { artifactType: flags['artifact-type'] }),
    });
    const { descriptor, referrers, legacySignatures } = found;
    const result: DiscoverCommandResult = {
      reference: opened.display,
      digest: descriptor.digest,
      referrers,
      ...(legacySignatures && { legacySignatures }),
    };
    const rows = referrers.map(toRow);
    if (legacySignatures) {
      rows.push({
        text: [legacySignatures.digest, MediaTypeCosignSimpleSigning, legacySignatures.tag].join('  '),
        children: [],
      });
    }
    if (flags.format === 'json') {
      if (!this.jsonEnabled()) this.log(JSON.stringify(result, undefined, 2));
      return result;
    }
    // The root: the reference with the digest it resolved to (once, when the reference is a digest).
    const root = opened.digest === undefined ? `${opened.display}@${descriptor.digest}` : opened.display;
    const lines = [terminalSafe(root)];
    treeLines(rows, '', lines);
    for (const line of lines) this.log(line);
    return result;
  }
}
