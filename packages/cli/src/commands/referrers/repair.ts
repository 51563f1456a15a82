import { ErrorCodes, LadingError, openTarget, repairReferrers, type RepairedReferrer } from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../../base-command.js';
import { shortDigest, terminalSafe } from '../../format.js';

/** What `lading referrers repair --json` prints. */
export interface ReferrersRepairCommandResult {
  /** The reference as given, normalised. */
  reference: string;
  /** The digest of the manifest whose referrers index was looked at. */
  digest: string;
  /** The fallback index tag, `sha256-<hex>`. */
  tag: string;
  /** True with --dry-run: nothing was written. */
  dryRun: boolean;
  /**
   * `rewritten` (entries repaired), `unchanged` (nothing to repair, or --dry-run), `missing` (no fallback index),
   * `not-used` (the registry serves the referrers API: nothing to repair).
   */
  index: 'rewritten' | 'unchanged' | 'missing' | 'not-used';
  /** Entries filled in (with --dry-run: that would be). */
  repaired: number;
  /** Entries whose referrer manifest is gone, dropped (with --dry-run: that would be). */
  stale: number;
  /** Every entry of the index and what happened to it. */
  entries: RepairedReferrer[];
  /** Digest of the index before. */
  before?: string;
  /** Digest of the index written (or, with --dry-run, that would be). */
  after?: string;
}

/** `lading referrers repair`: fills in fallback referrers index entries that lack artifactType or annotations. */
export class ReferrersRepair extends RegistryCommand<typeof ReferrersRepair> {
  static override summary = "Fill in a fallback referrers index's entries that lack an artifact type (cosign's).";
  static override description = `On a registry without the OCI referrers API, an artifact's signatures and attestations are listed in an image index tagged sha256-<hex>. cosign writes its entries there without artifactType or annotations, so oras discover --artifact-type and other tools that filter on the index do not find them. This command reads each such referrer manifest and writes the index again with the entries filled in (artifactType, else the config media type; annotations), conditionally (If-Match on the ETag it read; it starts over when another writer got there first). Entries whose manifest is gone are dropped.

Nothing is done on a registry that serves the referrers API (it lists what each manifest says). Nothing is written with --dry-run. Prints one line per entry: repaired, complete or stale, with its digest and artifact type.`;

  static override examples = [
    {
      description: 'Repair the index cosign wrote for an artifact.',
      command: '<%= config.bin %> referrers repair registry.internal/acme/config:v1',
    },
    {
      description: 'See what would change, as JSON.',
      command: '<%= config.bin %> referrers repair --dry-run --json registry.internal/acme/config@sha256:4f1c…',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'Whose referrers index: host[:port]/repository:tag or …@sha256:….',
    }),
  };

  static override flags = {
    'dry-run': Flags.boolean({ default: false, description: 'Say what would change; write nothing.' }),
  };

  override async run(): Promise<ReferrersRepairCommandResult> {
    const { args, flags } = this;
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `referrers repair ${opened.display}: name a tag or a digest`);
    }
    const dryRun = flags['dry-run'];
    const report = await repairReferrers(opened.target, opened.reference, {
      signal: this.signal,
      display: opened.display,
      dryRun,
    });
    const progress = this.progress();
    const would = dryRun ? 'would be ' : '';
    for (const entry of report.entries) {
      const status =
        entry.status === 'complete'
          ? 'complete'
          : `${would}${entry.status === 'stale' ? 'dropped (stale)' : 'repaired'}`;
      this.log(terminalSafe(`${entry.descriptor.digest}  ${entry.descriptor.artifactType ?? '-'}  ${status}`));
    }
    const repaired = report.entries.filter((e) => e.status === 'repaired').length;
    const stale = report.entries.filter((e) => e.status === 'stale').length;
    const summary: Record<ReferrersRepairCommandResult['index'], string> = {
      rewritten: `rewritten (${shortDigest(report.after ?? '')})`,
      unchanged: dryRun && report.after !== undefined ? 'unchanged (--dry-run)' : 'unchanged: every entry is complete',
      missing: 'missing: the artifact has no fallback referrers index',
      'not-used': 'not used: the registry serves the referrers API',
    };
    progress.note(
      `Referrers index ${report.tag} of ${report.subject.digest}: ${summary[report.index]}; ${repaired} ${would}repaired, ${stale} stale`,
    );
    progress.finish();
    return {
      reference: opened.display,
      digest: report.subject.digest,
      tag: report.tag,
      dryRun,
      index: report.index,
      repaired,
      stale,
      entries: report.entries,
      ...(report.before !== undefined && { before: report.before }),
      ...(report.after !== undefined && { after: report.after }),
    };
  }
}
