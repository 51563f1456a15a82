import { deleteArtifact, ErrorCodes, LadingError, openTarget, type DeleteTarget } from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { RegistryCommand } from '../base-command.js';

/** What `lading delete --json` prints. */
export interface DeleteCommandResult {
  /** The reference as given, normalised. */
  reference: string;
  /** The digest of the manifest deleted (every tag pointing at it went with it). */
  digest: string;
  /** The subject's digest, when the deleted manifest was a referrer (a signature, an attestation). */
  subject?: string;
  /** For a referrer: what happened to the subject's fallback referrers index (see docs/cli.md). */
  referrersIndex?: 'updated' | 'removed' | 'unchanged' | 'not-used';
}

/** `lading delete`: deletes an artifact's manifest, and a referrer's entry in its subject's referrers index. */
export class Delete extends RegistryCommand<typeof Delete> {
  static override summary = 'Delete an artifact (its manifest) from a registry or an OCI layout.';
  static override description = `Deletes the manifest the reference names, by digest: every tag pointing at it goes too. When the manifest is a referrer (a signature, an attestation) of another artifact, its entry is also removed from that artifact's fallback referrers index (the sha256-<hex> tag of registries without the referrers API), so oras discover and lading verify stop listing it. Blobs are left to the registry's garbage collection.

The registry must allow deletes (distribution: storage.delete.enabled); one that refuses is exit 2. Without --yes the reference must name a digest, so a tag typo cannot delete the wrong artifact.`;

  static override examples = [
    {
      description: 'Delete a signature (a referrer) and its entry in the referrers index of the artifact it signs.',
      command: '<%= config.bin %> delete ghcr.io/acme/config@sha256:9b2e…',
    },
    {
      description: 'Delete what a tag points at (and every other tag pointing there).',
      command: '<%= config.bin %> delete --yes ghcr.io/acme/config:old',
    },
  ];

  static override args = {
    reference: Args.string({
      required: true,
      description: 'What to delete: host[:port]/repository@sha256:… (or :tag with --yes), or oci:<dir>@sha256:….',
    }),
  };

  static override flags = {
    yes: Flags.boolean({
      char: 'y',
      description: 'Allow a tag as the reference: delete the manifest it points at, with every other tag on it.',
    }),
  };

  override async run(): Promise<DeleteCommandResult> {
    const { args, flags } = this;
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        `delete ${opened.display}: name a digest (…@sha256:…) or a tag with --yes`,
      );
    }
    if (opened.digest === undefined && !flags.yes) {
      throw new LadingError(
        ErrorCodes.usage,
        `delete ${opened.display}: a tag names what it points at now; pass --yes to delete that manifest and every tag on it, or give the digest`,
      );
    }
    const result = await deleteArtifact(opened.target as DeleteTarget, opened.reference, {
      signal: this.signal,
      display: opened.display,
    });
    const progress = this.progress();
    if (result.subject !== undefined) {
      const what: Record<NonNullable<DeleteCommandResult['referrersIndex']>, string> = {
        updated: 'entry removed from',
        removed: 'last entry removed: deleted',
        unchanged: 'no entry in',
        'not-used': 'the registry lists referrers itself; no',
      };
      progress.note(
        `Referrer of ${result.subject.digest}: ${what[result.referrersIndex ?? 'unchanged']} its referrers index`,
      );
    }
    progress.finish();
    this.log(`Deleted ${withoutVersion(opened)}@${result.descriptor.digest}`);
    return {
      reference: opened.display,
      digest: result.descriptor.digest,
      ...(result.subject && { subject: result.subject.digest }),
      ...(result.referrersIndex && { referrersIndex: result.referrersIndex }),
    };
  }
}

/** The display reference without its `@digest` and `:tag`: the repository or layout (`host/repo`, `oci:./dir`). */
function withoutVersion(opened: { display: string; tag?: string; digest?: string }): string {
  let out = opened.display;
  if (opened.digest !== undefined && out.endsWith(`@${opened.digest}`)) out = out.slice(0, -opened.digest.length - 1);
  if (opened.tag !== undefined && out.endsWith(`:${opened.tag}`)) out = out.slice(0, -opened.tag.length - 1);
  return out;
}
