/**
 * `deleteArtifact`: delete a manifest by reference, and when it is a referrer (a signature, an attestation) also its
 * entry in the fallback referrers index of its subject, so that `oras discover` and `lading verify` stop listing it.
 */
import type { CallOptions, Deleter, GraphTarget } from '../content.js';
import type { Descriptor } from '../descriptor.js';
import { readAll } from '../digest.js';
import { ErrorCodes, isLadingError, LadingError } from '../errors.js';
import { referrersTag } from '../registry/referrers.js';

/** The manifest read by {@link deleteArtifact} (for its subject) is refused above this size (4 MiB, as distribution). */
const manifestLimit = 4 * 1024 * 1024;

/** What {@link deleteArtifact} did. */
export interface DeleteResult {
  /** The manifest deleted. */
  descriptor: Descriptor;
  /** Its subject, when the manifest is a referrer. */
  subject?: Descriptor;
  /**
   * What happened to the subject's fallback referrers index (`<alg>-<hex>` tag): `updated` (the entry removed, the
   * index rewritten), `removed` (it was the last entry: the index deleted), `unchanged` (no index or no entry), or
   * `not-used` (the target lists referrers itself: a registry with the referrers API, or an OCI layout). Absent when
   * the manifest has no subject.
   */
  referrersIndex?: 'updated' | 'removed' | 'unchanged' | 'not-used';
}

/**
 * A target {@link deleteArtifact} works on. A registry repository also removes a referrer's entry from its subject's
 * fallback referrers index (`RemoteRepository.removeFallbackReferrer`); a target without that method (an OCI layout)
 * lists referrers itself.
 */
export type DeleteTarget = GraphTarget &
  Deleter & {
    removeFallbackReferrer?: (
      subject: Descriptor,
      referrer: string,
      options?: CallOptions & { deleteSupersededIndex?: boolean },
    ) => Promise<NonNullable<DeleteResult['referrersIndex']>>;
  };

/**
 * Deletes the manifest `reference` (a tag or a digest) names in `target`, by digest (so every tag pointing at it
 * goes too, as registries do). When the manifest has a `subject` and the target keeps referrers in the fallback tag
 * schema (a registry without the referrers API), the entry is then removed from the subject's `<alg>-<hex>` index:
 * rewritten without it (with `If-Match` and a read-back, so an entry another writer adds meanwhile is kept), or
 * deleted when it was the only entry; the superseded index is deleted, best effort.
 *
 * Errors: `ERR_LADING_NOT_FOUND` when nothing has that reference; `ERR_LADING_USAGE` when the registry refuses
 * deletes (HTTP 405: distribution without `storage.delete.enabled`), naming the setting; when the manifest was
 * deleted but its index entry could not be removed, the error says so (the manifest is gone, the stale entry stays).
 */
export async function deleteArtifact(
  target: DeleteTarget,
  reference: string,
  options: CallOptions & { display?: string } = {},
): Promise<DeleteResult> {
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  const where = `delete ${options.display ?? reference}`;
  const descriptor = await target.resolve(reference, call);
  const bytes = await readAll(await target.fetch(descriptor, call), manifestLimit, where);
  const subject = subjectOf(bytes);
  try {
    await target.delete(descriptor, call);
  } catch (error) {
    if (isLadingError(error) && / HTTP 405\b/.test(error.message)) {
      throw new LadingError(
        ErrorCodes.usage,
        `${where}: the registry refuses deletes (HTTP 405); on distribution, set storage.delete.enabled: true`,
        { cause: error },
      );
    }
    throw error;
  }
  if (subject === undefined) return { descriptor };
  try {
    const referrersIndex =
      target.removeFallbackReferrer === undefined
        ? 'not-used'
        : await target.removeFallbackReferrer(subject, descriptor.digest, { ...call, deleteSupersededIndex: true });
    return { descriptor, subject, referrersIndex };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new LadingError(
      isLadingError(error) ? error.code : ErrorCodes.protocol,
      `${where}: the manifest ${descriptor.digest} was deleted, but its entry in the referrers index ${referrersTag(subject.digest)} was not removed: ${reason}`,
      { cause: error },
    );
  }
}

/** The `subject` of a manifest or index, when it has a well-formed one. */
function subjectOf(bytes: Uint8Array): Descriptor | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { subject?: Partial<Descriptor> };
    const s = doc.subject;
    if (s && typeof s.digest === 'string' && typeof s.mediaType === 'string' && typeof s.size === 'number') {
      return { mediaType: s.mediaType, digest: s.digest, size: s.size };
    }
  } catch {
    // resolve() already checked the digest; a manifest that is not JSON simply has no subject
  }
  return undefined;
}
