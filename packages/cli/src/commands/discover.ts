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

/** A referrer, and (down to `--depth`) the referrers of it. */
export interface DiscoveredReferrer extends Descriptor {
  /** Its own referrers (a signature of an SBOM…), when `--depth` reached them; absent at the last level. */
  referrers?: DiscoveredReferrer[];
}

/** Default of `discover --depth`: the artifact's referrers and theirs, three levels. */
export const DefaultDiscoverDepth = 3;

/** Most referrers `discover` lists in all, whatever the depth: a bound on requests for a hostile graph. */
export const MaxDiscoveredReferrers = 1000;

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
    const descriptor = await opened.target.resolve(opened.reference, { signal: this.signal });
    const artifactType = flags['artifact-type'];
    const budget = { left: MaxDiscoveredReferrers };
    const seen = new Set([descriptor.digest]);
    const list = async (subject: Descriptor, level: number): Promise<DiscoveredReferrer[]> => {
      const found = await opened.target.referrers(subject, {
        signal: this.signal,
        ...(artifactType === undefined ? {} : { artifactType }),
      });
      const out: DiscoveredReferrer[] = [];
      for (const referrer of found) {
        if (seen.has(referrer.digest)) continue; // a cycle, or listed twice
        if (budget.left-- <= 0) {
          throw new LadingError(
            ErrorCodes.protocol,
            `discover ${opened.display}: more than ${MaxDiscoveredReferrers} referrers; lower --depth or filter with --artifact-type`,
          );
        }
        seen.add(referrer.digest);
        const node: DiscoveredReferrer = { ...referrer };
        if (level < flags.depth) node.referrers = await list(referrer, level + 1);
        out.push(node);
      }
      return out;
    };
    const referrers = await list(descriptor, 1);
    const result: DiscoverCommandResult = { reference: opened.display, digest: descriptor.digest, referrers };
    const rows = referrers.map(toRow);
    if (artifactType === undefined || artifactType === MediaTypeCosignSimpleSigning) {
      const tag = legacySignatureTag(descriptor.digest);
      try {
        const legacy = await opened.target.resolve(tag, { signal: this.signal });
        result.legacySignatures = { tag, digest: legacy.digest };
        rows.push({ text: [legacy.digest, MediaTypeCosignSimpleSigning, tag].join('  '), children: [] });
      } catch (error) {
        if (!isLadingError(error, ErrorCodes.notFound)) throw error;
      }
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
