/**
 * `deleteArtifact`: delete a manifest by reference, and when it is a referrer (a signature, an attestation) also its
 * entry in the fallback referrers index of its subject, so that `oras discover` and `lading verify` stop listing it.
 */
import type { CallOptions, Deleter, GraphTarget } from '../content.js';
import type { Descriptor, ImageIndex } from '../descriptor.js';
import { descriptorFor, readAll } from '../digest.js';
import { ErrorCodes, isLadingError, LadingError } from '../errors.js';
import { MediaTypeImageIndex } from '../media-types.js';
import { referrersTag } from '../registry/referrers.js';

/** Manifests and fallback indexes read by {@link deleteArtifact} are refused above this size (4 MiB, as distribution). */
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

/** A target {@link deleteArtifact} works on; registries may also say whether they serve the referrers API. */
export type DeleteTarget = GraphTarget &
  Deleter & {
    supportsReferrersAPI?: (subject: Descriptor, options?: CallOptions) => Promise<boolean>;
    pushManifest?: (
      desc: Descriptor,
      bytes: Uint8Array,
      tags?: readonly string[],
      options?: CallOptions,
    ) => Promise<void>;
  };

/**
 * Deletes the manifest `reference` (a tag or a digest) names in `target`, by digest (so every tag pointing at it
 * goes too, as registries do). When the manifest has a `subject` and the target keeps referrers in the fallback tag
 * schema (a registry without the referrers API), the entry is then removed from the subject's `<alg>-<hex>` index:
 * rewritten without it, or deleted when it was the only entry; the superseded index is deleted, best effort.
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
    const referrersIndex = await removeFallbackEntry(target, subject, descriptor, call);
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

async function removeFallbackEntry(
  target: DeleteTarget,
  subject: Descriptor,
  deleted: Descriptor,
  call: CallOptions,
): Promise<NonNullable<DeleteResult['referrersIndex']>> {
  // Only registries keep a fallback index; one with the referrers API (or a layout) drops the referrer by itself.
  if (target.supportsReferrersAPI === undefined || target.pushManifest === undefined) return 'not-used';
  if (await target.supportsReferrersAPI(subject, call)) return 'not-used';
  const tag = referrersTag(subject.digest);
  let current: Descriptor;
  try {
    current = await target.resolve(tag, call);
  } catch (error) {
    if (isLadingError(error, ErrorCodes.notFound)) return 'unchanged';
    throw error;
  }
  const index = JSON.parse(
    Buffer.from(await readAll(await target.fetch(current, call), manifestLimit, `read ${tag}`)).toString('utf8'),
  ) as ImageIndex;
  const manifests = Array.isArray(index.manifests) ? index.manifests : [];
  const kept = manifests.filter((d) => d.digest !== deleted.digest);
  if (kept.length === manifests.length) return 'unchanged';
  if (kept.length === 0) {
    // Deleting the index by digest removes the tag with it (distribution, crane): no empty index left behind.
    await target.delete(current, call);
    return 'removed';
  }
  // Not conditional (no If-Match through the public API): a referrer added at this very moment could be lost, and
  // would then need pushing again. Rare: a delete is an operator's action.
  const bytes = Buffer.from(JSON.stringify({ ...index, mediaType: MediaTypeImageIndex, manifests: kept }));
  const next = descriptorFor(MediaTypeImageIndex, bytes);
  await target.pushManifest(next, bytes, [tag], call);
  await target.delete(current, call).catch(() => undefined); // the superseded index, now untagged
  return 'updated';
}
