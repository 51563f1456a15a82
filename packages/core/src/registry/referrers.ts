/**
 * Referrers of a manifest on a remote repository: the OCI 1.1 referrers API when the registry serves it (probed
 * once), else the tag-schema fallback, an image index tagged `<alg>-<hex>` of the subject, read and written here.
 * https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
 */
import type { CallOptions, ReferrersOptions } from '../content.js';
import { parseManifest, type Descriptor, type ImageIndex } from '../descriptor.js';
import { digestOf, parseDigest, readAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import {
  HeaderContentDigest,
  HeaderOCIFiltersApplied,
  MediaTypeEmptyJSON,
  MediaTypeImageIndex,
} from '../media-types.js';
import { statusError } from './errors.js';
import { drainBody, responseHeader, type RegistryResponse } from './http.js';
import { listingPages, parseIndexListing } from './listing.js';
import { signalOf, type RepositoryContext } from './repository-context.js';
import type { FetchedManifest } from './repository.js';
import { wait } from './retry.js';

/** The fallback referrers tag for a digest: `<alg>-<hex>`, alg cut to 32 and hex to 64 characters (OCI 1.1). */
export function referrersTag(digest: string): string {
  const [alg = '', hex = ''] = digest.split(':');
  return `${alg.slice(0, 32)}-${hex.slice(0, 64)}`;
}

/** The manifest operations of the repository that the fallback needs. */
export interface ReferrerManifests {
  /** Fetches and verifies a manifest by digest (see `RemoteRepository.fetchManifest`). */
  fetchManifest(reference: string, options?: CallOptions & { mediaType?: string }): Promise<FetchedManifest>;
  /**
   * PUTs manifest bytes under `reference` with extra `headers` (`If-Match`); a 412 answer is returned, not thrown,
   * with its body unread.
   */
  putManifest(
    reference: string,
    desc: Descriptor,
    bytes: Uint8Array,
    where: string,
    headers: Record<string, string>,
    options?: CallOptions,
  ): Promise<RegistryResponse>;
  /** Deletes a manifest by digest. */
  delete(desc: Descriptor, options?: CallOptions): Promise<void>;
}

/** Options of `RemoteRepository.referrers`. */
export interface RemoteReferrersOptions extends ReferrersOptions {
  /**
   * Called once with the number of fallback index entries whose artifact type stayed unknown because the
   * `maxFallbackReads` bound was reached (never called when every entry was resolved). With `artifactType` set,
   * those entries are left out of the result; without it they are returned as listed.
   */
  onUnresolved?: (entries: number) => void;
}

/** Default of {@link ReferrersStepOptions.maxFallbackReads}: half the verification gate's request budget. */
export const DefaultMaxFallbackReads = 64;

/** Options of {@link Referrers.repairFallback} (and `RemoteRepository.repairReferrers`). */
export interface RepairReferrersOptions extends CallOptions {
  /** Work out and return what would change, write nothing. Default false. */
  dryRun?: boolean;
}

/** One entry of a fallback referrers index, as {@link Referrers.repairFallback} found and left it. */
export interface RepairedReferrer {
  /** The entry as it is after the repair (unchanged when nothing was missing; as it was with `dryRun`). */
  descriptor: Descriptor;
  /**
   * `repaired`: its `artifactType` and/or annotations were filled in from the referrer manifest (with `dryRun`:
   * would be); `complete`: nothing was missing; `stale`: the referrer manifest is gone, the entry is dropped.
   */
  status: 'repaired' | 'complete' | 'stale';
  /** For `repaired`: the artifact type the entry listed before (absent when it listed none). */
  previousArtifactType?: string;
}

/** What {@link Referrers.repairFallback} found and did. */
export interface RepairReferrersResult {
  /** The fallback tag of the subject, `<alg>-<hex>`. */
  tag: string;
  /**
   * `rewritten`: the index was written again with the repaired entries; `unchanged`: every entry was complete (or
   * `dryRun`); `missing`: the subject has no fallback index; `not-used`: the registry serves the referrers API,
   * which lists what each referrer manifest says (nothing to repair).
   */
  index: 'rewritten' | 'unchanged' | 'missing' | 'not-used';
  /** Every entry of the index, in index order, each digest once. */
  entries: RepairedReferrer[];
  /** Digest of the index before, when there was one. */
  before?: string;
  /** Digest of the index written (`rewritten`), or that would be written (`dryRun`, when something changes). */
  after?: string;
}

/**
 * What {@link Referrers.removeFromFallback} did to the subject's fallback index: `updated` (rewritten without the
 * entry), `removed` (it was the last entry: the index deleted), `unchanged` (no index, or no such entry), `not-used`
 * (the registry serves the referrers API, which stops listing a deleted referrer by itself).
 */
export type FallbackRemoval = 'updated' | 'removed' | 'unchanged' | 'not-used';

/** Options of {@link Referrers.removeFromFallback} (and `RemoteRepository.removeFallbackReferrer`). */
export interface RemoveReferrerOptions extends CallOptions {
  /**
   * After rewriting the index, delete the one it replaced (untagged by then), best effort. Default: the
   * repository's `deleteSupersededReferrersIndex` (itself default false).
   */
  deleteSupersededIndex?: boolean;
}

/** Options of {@link Referrers}. */
export interface ReferrersStepOptions {
  /**
   * Manifests read at most per fallback listing to learn the artifact type of entries that state none (see
   * `RemoteRepositoryOptions.maxFallbackReads`). Default {@link DefaultMaxFallbackReads}.
   */
  maxFallbackReads?: number;
  /** `auto` (probe once), `api` or `fallback`; see `RemoteRepositoryOptions.referrers`. Default `auto`. */
  mode?: 'auto' | 'api' | 'fallback';
  /** After updating a fallback index, delete the one it replaced. Default false. */
  deleteSupersededIndex?: boolean;
}

/** The referrers step of one repository: discovery (API or fallback) and fallback index upkeep. */
export class Referrers {
  private readonly ctx: RepositoryContext;
  private readonly manifests: ReferrerManifests;
  private readonly options: ReferrersStepOptions;
  private api: boolean | undefined;

  constructor(ctx: RepositoryContext, manifests: ReferrerManifests, options: ReferrersStepOptions = {}) {
    this.ctx = ctx;
    this.manifests = manifests;
    this.options = options;
    if (options.mode === 'api') this.api = true;
    if (options.mode === 'fallback') this.api = false;
  }

  /**
   * Whether the registry serves the referrers API for this repository, probed once with
   * `GET /v2/<name>/referrers/<digest>`: a 200 with an image index means yes; 404, 400, 405 and 406 mean no. An
   * `OCI-Subject` header on a manifest PUT is not trusted as proof (ECR and Docker Hub sent it without serving the
   * API).
   */
  async supportsAPI(subject: Descriptor, options?: CallOptions): Promise<boolean> {
    if (this.api !== undefined) return this.api;
    const res = await this.ctx.send({
      method: 'GET',
      url: this.ctx.url(`referrers/${subject.digest}`),
      headers: { accept: MediaTypeImageIndex },
      ...signalOf(options),
    });
    const type = responseHeader(res, 'content-type') ?? '';
    if (res.status === 200 && type.startsWith(MediaTypeImageIndex)) {
      await drainBody(res);
      this.api = true;
      return true;
    }
    if ([400, 404, 405, 406].includes(res.status) || res.status === 200) {
      await drainBody(res);
      this.api = false;
      return false;
    }
    throw await statusError(`probe referrers API ${this.ctx.name}`, res);
  }

  /**
   * The manifests referring to `subject`: through the referrers API (paginated; filtered on the client when the
   * registry did not apply the `artifactType` filter), or the fallback index. Fallback entries without a usable
   * `artifactType` (cosign writes `application/vnd.oci.empty.v1+json` and no annotations) are resolved by opening
   * the referrer manifest.
   */
  async list(subject: Descriptor, options?: RemoteReferrersOptions): Promise<Descriptor[]> {
    const where = `list referrers ${this.ctx.name}@${subject.digest}`;
    parseDigest(subject.digest);
    let found: Descriptor[] | undefined;
    if (await this.supportsAPI(subject, options)) found = await this.fromAPI(subject, where, options);
    found ??= await this.fromFallback(subject, where, options);
    const type = options?.artifactType;
    return type ? found.filter((d) => d.artifactType === type) : found;
  }

  private async fromAPI(subject: Descriptor, where: string, options?: ReferrersOptions): Promise<Descriptor[]> {
    const url = this.ctx.url(`referrers/${subject.digest}`);
    if (options?.artifactType) url.searchParams.set('artifactType', options.artifactType);
    const out: Descriptor[] = [];
    for await (const { res, bytes } of listingPages(this.ctx, url, where, options)) {
      if (res.status === 404) {
        await drainBody(res);
        return out;
      }
      if (res.status !== 200) throw await statusError(where, res);
      const index = parseIndexListing(bytes, where);
      const filtered = (responseHeader(res, HeaderOCIFiltersApplied) ?? '')
        .split(',')
        .map((s) => s.trim())
        .includes('artifactType');
      for (const d of index.manifests) {
        if (options?.artifactType && !filtered && d.artifactType !== options.artifactType) continue;
        out.push(d);
      }
    }
    return out;
  }

  /** The fallback index of `subject` (empty on 404), with the digest of its bytes and the registry's ETag. */
  private async fallbackIndex(
    subject: Descriptor,
    where: string,
    options?: CallOptions,
  ): Promise<{ index: ImageIndex; etag?: string; digest?: string }> {
    const tag = referrersTag(subject.digest);
    const res = await this.ctx.send({
      method: 'GET',
      url: this.ctx.url(`manifests/${tag}`),
      headers: { accept: MediaTypeImageIndex },
      ...signalOf(options),
    });
    if (res.status === 404) {
      await drainBody(res);
      return { index: { schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests: [] } };
    }
    if (res.status !== 200) throw await statusError(`${where}: fallback tag ${tag}`, res);
    const bytes = await readAll(res.body, this.ctx.manifestSizeLimit, `${where}: fallback tag ${tag}`);
    const header = responseHeader(res, HeaderContentDigest);
    const actual = digestOf(bytes);
    if (header && parseDigest(header).algorithm === 'sha256' && header !== actual) {
      throw new LadingError(
        ErrorCodes.integrity,
        `${where}: fallback index digest mismatch: expected ${header}, got ${actual}`,
      );
    }
    const result: { index: ImageIndex; etag?: string; digest?: string } = {
      index: parseIndexListing(bytes, `${where}: fallback tag ${tag}`),
      digest: actual,
    };
    const etag = responseHeader(res, 'etag');
    if (etag) result.etag = etag;
    return result;
  }

  /**
   * The fallback index's entries, each digest once (the first listing wins). Entries without a usable artifact type
   * (cosign writes `application/vnd.oci.empty.v1+json`) are resolved by reading their manifest, at most
   * `maxFallbackReads` of them, so a hostile index cannot buy one GET per entry before any caller's budget applies;
   * the rest are returned as listed (or left out under an `artifactType` filter) and counted to `onUnresolved`.
   * Entries whose manifest is gone are stale and dropped.
   */
  private async fromFallback(
    subject: Descriptor,
    where: string,
    options?: RemoteReferrersOptions,
  ): Promise<Descriptor[]> {
    const { index } = await this.fallbackIndex(subject, where, options);
    const maxReads = this.options.maxFallbackReads ?? DefaultMaxFallbackReads;
    const seen = new Set<string>();
    const out: Descriptor[] = [];
    let reads = 0;
    let unresolved = 0;
    for (const entry of index.manifests) {
      if (seen.has(entry.digest)) continue;
      seen.add(entry.digest);
      if (entry.artifactType && entry.artifactType !== MediaTypeEmptyJSON) {
        out.push(entry);
        continue;
      }
      if (reads >= maxReads) {
        unresolved++;
        if (!options?.artifactType) out.push(entry);
        continue;
      }
      reads++;
      // cosign (go-containerregistry) writes empty-typed entries with no annotations: ask the manifest itself.
      try {
        const { bytes } = await this.manifests.fetchManifest(entry.digest, {
          ...signalOf(options),
          mediaType: entry.mediaType,
        });
        const parsed = parseManifest(bytes, entry.mediaType, where);
        const doc = parsed.kind === 'index' ? parsed.index : parsed.manifest;
        const resolved: Descriptor = { ...entry };
        const type = doc.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
        if (type) resolved.artifactType = type;
        if (!entry.annotations && doc.annotations) resolved.annotations = doc.annotations;
        out.push(resolved);
      } catch (error) {
        if (error instanceof LadingError && error.code === ErrorCodes.notFound) continue; // stale entry
        throw error;
      }
    }
    if (unresolved > 0) options?.onUnresolved?.(unresolved);
    return out;
  }

  /**
   * Rebuilds the entries of `subject`'s fallback referrers index (the `<alg>-<hex>` tag) that lack an
   * `artifactType` (or list the empty type `application/vnd.oci.empty.v1+json`, as cosign does) or annotations the
   * referrer manifest has, from the manifest itself: its `artifactType` (else its config media type) and its
   * annotations. Entries whose manifest is gone are dropped; each digest is kept once. `oras discover
   * --artifact-type` filters on these entries without opening the manifests, so before a repair it misses cosign's
   * signatures and attestations.
   *
   * The index is written back with `If-Match` set to the ETag it was read with; on 412 (another writer was first)
   * or when a read-back shows the index changed under us (registries that ignore `If-Match`), it starts over from
   * the new index, up to 5 rounds, then fails with `ERR_LADING_NETWORK`. Referrer manifests are each read once per
   * round, at most `maxFallbackReads` (default 64) incomplete entries; more is `ERR_LADING_PROTOCOL` (run again:
   * each run repairs that many). A registry serving the referrers API is left alone (`not-used`).
   */
  async repairFallback(subject: Descriptor, options: RepairReferrersOptions = {}): Promise<RepairReferrersResult> {
    const tag = referrersTag(subject.digest);
    const where = `repair referrers ${this.ctx.name}:${tag}`;
    parseDigest(subject.digest);
    if (await this.supportsAPI(subject, options)) return { tag, index: 'not-used', entries: [] };
    const maxReads = this.options.maxFallbackReads ?? DefaultMaxFallbackReads;
    for (let round = 0; round < 5; round++) {
      const current = await this.fallbackIndexIfAny(subject, where, options);
      if (current === undefined) return { tag, index: 'missing', entries: [] };
      const incomplete = current.index.manifests.filter((d) => !isComplete(d)).length;
      if (incomplete > maxReads) {
        throw new LadingError(
          ErrorCodes.protocol,
          `${where}: ${incomplete} entries lack an artifact type or annotations, more than the ${maxReads} manifests one repair reads`,
        );
      }
      const entries = await this.repairEntries(current.index.manifests, where, options);
      const result: RepairReferrersResult = { tag, index: 'unchanged', entries };
      if (current.digest) result.before = current.digest;
      const changed = entries.some((e) => e.status !== 'complete') || entries.length !== current.index.manifests.length;
      if (!changed) return result;
      const doc: ImageIndex = {
        ...current.index,
        schemaVersion: 2,
        mediaType: MediaTypeImageIndex,
        manifests: entries.filter((e) => e.status !== 'stale').map((e) => e.descriptor),
      };
      const bytes = Buffer.from(JSON.stringify(doc));
      const desc: Descriptor = { mediaType: MediaTypeImageIndex, digest: digestOf(bytes), size: bytes.byteLength };
      result.after = desc.digest;
      if (options.dryRun === true) return result;
      const headers: Record<string, string> = current.etag ? { 'if-match': current.etag } : {};
      const res = await this.manifests.putManifest(tag, desc, bytes, where, headers, options);
      if (res.status === 412) {
        await drainBody(res);
        continue;
      }
      // distribution and crane send an ETag but ignore If-Match: read back, and start over if another writer won.
      const written = await this.fallbackIndexIfAny(subject, where, options);
      if (written?.digest !== desc.digest) continue;
      if (this.options.deleteSupersededIndex && current.digest && current.digest !== desc.digest) {
        await this.manifests
          .delete({ mediaType: MediaTypeImageIndex, digest: current.digest, size: 0 }, options)
          .catch(() => undefined);
      }
      result.index = 'rewritten';
      return result;
    }
    throw new LadingError(ErrorCodes.network, `${where}: other writers kept replacing the index; try again`);
  }

  /**
   * Removes the entry of `referrer` (a digest) from `subject`'s fallback referrers index (the `<alg>-<hex>` tag),
   * without losing what another writer adds meanwhile. The index is rewritten with `If-Match` set to the ETag it was
   * read with; on 412 it starts over from the new index. When the entry was the last one, the index is deleted by
   * digest, so an index another writer put under the tag in the meantime stays. Every write is followed by a read:
   * a registry that ignores `If-Match` (distribution, crane) may have taken a racing writer's index holding the entry
   * again, which is then removed again. Up to 5 writes, then `ERR_LADING_NETWORK`. A racing writer that read the
   * index before our write and wrote after it without a condition replaces our index with its own; lading's own
   * writers (`pushManifest`) re-check their entry for that, other tools may not.
   *
   * A registry serving the referrers API is left alone (`not-used`).
   */
  async removeFromFallback(
    subject: Descriptor,
    referrer: string,
    options: RemoveReferrerOptions = {},
  ): Promise<FallbackRemoval> {
    const tag = referrersTag(subject.digest);
    const where = `remove referrer ${referrer} from ${this.ctx.name}:${tag}`;
    parseDigest(subject.digest);
    if (await this.supportsAPI(subject, options)) return 'not-used';
    const deleteSuperseded = options.deleteSupersededIndex ?? this.options.deleteSupersededIndex ?? false;
    let done: 'updated' | 'removed' | undefined;
    for (let writes = 0; ; writes++) {
      const current = await this.fallbackIndexIfAny(subject, where, options);
      if (current?.digest === undefined) return done ?? 'unchanged';
      const kept = current.index.manifests.filter((d) => d.digest !== referrer);
      if (kept.length === current.index.manifests.length) return done ?? 'unchanged';
      if (writes >= 5) break;
      const previous: Descriptor = { mediaType: MediaTypeImageIndex, digest: current.digest, size: 0 };
      if (kept.length === 0) {
        // By digest: this index goes with its tag (distribution, crane, the fake registry); an index another writer
        // tagged meanwhile has another digest and stays, and the next read sees it.
        try {
          await this.manifests.delete(previous, options);
        } catch (error) {
          if (!(error instanceof LadingError && error.code === ErrorCodes.notFound)) throw error;
        }
        done = 'removed';
        continue;
      }
      const doc: ImageIndex = { ...current.index, schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests: kept };
      const bytes = Buffer.from(JSON.stringify(doc));
      const desc: Descriptor = { mediaType: MediaTypeImageIndex, digest: digestOf(bytes), size: bytes.byteLength };
      const headers: Record<string, string> = current.etag ? { 'if-match': current.etag } : {};
      const res = await this.manifests.putManifest(tag, desc, bytes, where, headers, options);
      if (res.status === 412) {
        await drainBody(res);
        continue;
      }
      done = 'updated';
      if (deleteSuperseded && current.digest !== desc.digest) {
        await this.manifests.delete(previous, options).catch(() => undefined);
      }
    }
    throw new LadingError(ErrorCodes.network, `${where}: other writers kept replacing the index; try again`);
  }

  /** The fallback index, or undefined when the subject has none (404). */
  private async fallbackIndexIfAny(
    subject: Descriptor,
    where: string,
    options?: CallOptions,
  ): Promise<{ index: ImageIndex; etag?: string; digest?: string } | undefined> {
    const found = await this.fallbackIndex(subject, where, options);
    return found.digest === undefined ? undefined : found;
  }

  /** Each entry once, completed from its manifest when it lacks an artifact type or annotations. */
  private async repairEntries(
    manifests: readonly Descriptor[],
    where: string,
    options?: CallOptions,
  ): Promise<RepairedReferrer[]> {
    const seen = new Set<string>();
    const out: RepairedReferrer[] = [];
    for (const entry of manifests) {
      if (seen.has(entry.digest)) continue;
      seen.add(entry.digest);
      if (isComplete(entry)) {
        out.push({ descriptor: entry, status: 'complete' });
        continue;
      }
      let bytes: Uint8Array;
      try {
        ({ bytes } = await this.manifests.fetchManifest(entry.digest, {
          ...signalOf(options),
          mediaType: entry.mediaType,
        }));
      } catch (error) {
        if (error instanceof LadingError && error.code === ErrorCodes.notFound) {
          out.push({ descriptor: entry, status: 'stale' });
          continue;
        }
        throw error;
      }
      const parsed = parseManifest(bytes, entry.mediaType, `${where}: referrer ${entry.digest}`);
      const doc = parsed.kind === 'index' ? parsed.index : parsed.manifest;
      const repaired: Descriptor = { mediaType: entry.mediaType, digest: entry.digest, size: entry.size };
      const type = doc.artifactType ?? (parsed.kind === 'manifest' ? parsed.manifest.config.mediaType : undefined);
      if (type) repaired.artifactType = type;
      else if (entry.artifactType) repaired.artifactType = entry.artifactType;
      const annotations = { ...doc.annotations, ...entry.annotations };
      if (Object.keys(annotations).length > 0) repaired.annotations = annotations;
      const same = JSON.stringify(repaired) === JSON.stringify(entry);
      const item: RepairedReferrer = { descriptor: same ? entry : repaired, status: same ? 'complete' : 'repaired' };
      if (!same && entry.artifactType) item.previousArtifactType = entry.artifactType;
      out.push(item);
    }
    return out;
  }

  /**
   * Adds `entry` to the fallback referrers index of `subject`: read (404 = empty), add or replace by digest, PUT
   * with `If-Match` when the registry gave an ETag (retrying on 412), then read back to confirm the entry survived.
   * A registry may send an ETag and still ignore `If-Match` (distribution, crane), losing concurrent updates; so the
   * entry must be seen in two reads apart by 150-250 ms or three times the slowest read-to-write cycle seen, whichever
   * is longer, and is written again whenever a read misses it. Up to 20 rounds. A racing writer overwrites the entry
   * only with an index it read before the entry was there, within its own read-to-write cycle; waiting longer than
   * such a cycle (similar for every writer on one registry, and stretched alike under load) lets the second read see
   * that loss.
   */
  async addToFallback(subject: Descriptor, entry: Descriptor, options?: CallOptions): Promise<void> {
    const tag = referrersTag(subject.digest);
    const where = `add referrer ${entry.digest} to ${this.ctx.name}:${tag}`;
    let wrote = false;
    let confirmations = 0;
    let slowestCycle = 0;
    for (let round = 0; round < 20; round++) {
      const started = performance.now();
      const current = await this.fallbackIndex(subject, where, options);
      if (current.index.manifests.some((d) => d.digest === entry.digest)) {
        if (!wrote || ++confirmations >= 2) return;
        await wait(Math.max(150, 3 * slowestCycle) + Math.round(Math.random() * 100), options?.signal);
        continue;
      }
      confirmations = 0;
      const manifests = [...current.index.manifests.filter((d) => d.digest !== entry.digest), entry];
      const doc: ImageIndex = { schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests };
      const bytes = Buffer.from(JSON.stringify(doc));
      const desc: Descriptor = { mediaType: MediaTypeImageIndex, digest: digestOf(bytes), size: bytes.byteLength };
      const headers: Record<string, string> = current.etag ? { 'if-match': current.etag } : {};
      const res = await this.manifests.putManifest(tag, desc, bytes, where, headers, options);
      slowestCycle = Math.max(slowestCycle, performance.now() - started);
      if (res.status === 412) {
        await drainBody(res);
      } else {
        wrote = true;
        if (this.options.deleteSupersededIndex && current.digest && current.digest !== desc.digest) {
          await this.manifests
            .delete({ mediaType: MediaTypeImageIndex, digest: current.digest, size: 0 }, options)
            .catch(() => undefined);
        }
      }
      // Jittered pause so racing writers interleave instead of colliding again.
      await wait(Math.round(Math.random() * 30 * (round + 1)), options?.signal);
    }
    throw new LadingError(ErrorCodes.network, `${where}: concurrent writers kept replacing the index; try again`);
  }
}

/**
 * Whether a fallback index entry is usable as listed: it has a real artifact type and annotations. An entry
 * without annotations whose manifest has none is read once per repair and then left as it is.
 */
function isComplete(entry: Descriptor): boolean {
  return (
    entry.artifactType !== undefined &&
    entry.artifactType !== '' &&
    entry.artifactType !== MediaTypeEmptyJSON &&
    entry.annotations !== undefined
  );
}
