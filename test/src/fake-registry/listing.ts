// Listings: GET /v2/<name>/tags/list and the OCI 1.1 referrers API GET /v2/<name>/referrers/<digest>.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-tags
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers

import { Header, MediaType } from './constants.js';
import type { RegistryContext } from './context.js';
import { parseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { type RegistryRequest, type Reply, integerParam, jsonReply, nextLink, notFoundReply } from './http.js';
import { type Descriptor, referrerDescriptor } from './manifest.js';
import type { MemoryStore } from './store.js';

function requireRepository(ctx: RegistryContext, name: string): void {
  if (!ctx.store.hasRepository(name)) {
    throw new RegistryError(404, 'NAME_UNKNOWN', `repository name not known to registry: ${name}`, { detail: name });
  }
}

/** The smaller of the client's `n` and the configured page size (0 = no configured size). */
function pageSize(requested: number | undefined, configured: number): number | undefined {
  if (configured === 0) return requested;
  return requested === undefined ? configured : Math.min(requested, configured);
}

/**
 * Tags in lexical order after `last`, at most `n` (or the `tagsPageSize` option) per page, with
 * `Link: </v2/<name>/tags/list?n=..&last=..>; rel="next"` while more remain. `n=0` gives an empty list.
 */
export function listTags(ctx: RegistryContext, req: RegistryRequest, name: string): Reply {
  requireRepository(ctx, name);
  const last = req.query.get('last');
  const n = pageSize(integerParam(req.query, 'n'), ctx.settings.tagsPageSize);
  const after = ctx.store.listTags(name).filter((tag) => last === null || tag > last);
  const tags = n === undefined ? after : after.slice(0, n);
  const headers: Record<string, string> = {};
  const lastShown = tags.at(-1);
  if (lastShown !== undefined && tags.length < after.length) {
    headers[Header.link] = nextLink(`/v2/${name}/tags/list`, { n: String(n), last: lastShown });
  }
  return jsonReply(200, { name, tags }, headers);
}

/**
 * Every manifest of the repository whose `subject` is `digest`, in push order, as referrer descriptors
 * (see {@link referrerDescriptor}).
 */
export function referrersOf(store: MemoryStore, name: string, digest: string): Descriptor[] {
  return store
    .listManifests(name)
    .filter((m) => m.fields?.subject?.digest === digest)
    .map((m) => referrerDescriptor(m.mediaType, m.digest, m.bytes.length, m.fields ?? {}));
}

/**
 * The referrers API: an image index of the referrers of `digest` (200 even when there are none), filtered by
 * `artifactType` with `OCI-Filters-Applied: artifactType`, paginated by `n`/`referrersPageSize` with a `Link` whose
 * cursor is the last digest shown. When the API is switched off, the plain-text 404 of distribution 2.8.
 */
export function listReferrers(ctx: RegistryContext, req: RegistryRequest, name: string, digestText: string): Reply {
  if (!ctx.settings.referrersAPI) return notFoundReply();
  const digest = parseDigest(digestText);
  requireRepository(ctx, name);
  const artifactType = req.query.get('artifactType');
  const all = referrersOf(ctx.store, name, digest).filter(
    (d) => artifactType === null || d.artifactType === artifactType,
  );
  const last = req.query.get('last');
  const start = last === null ? 0 : all.findIndex((d) => d.digest === last) + 1;
  const n = pageSize(integerParam(req.query, 'n'), ctx.settings.referrersPageSize);
  const page = all.slice(start, n === undefined ? undefined : start + n);
  const headers: Record<string, string> = { [Header.contentType]: MediaType.ociIndex };
  if (artifactType !== null) headers[Header.filtersApplied] = 'artifactType';
  const lastShown = page.at(-1);
  if (lastShown !== undefined && start + page.length < all.length) {
    const params: Record<string, string> = { n: String(n), last: lastShown.digest };
    if (artifactType !== null) params.artifactType = artifactType;
    headers[Header.link] = nextLink(`/v2/${name}/referrers/${digest}`, params);
  }
  return jsonReply(200, { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: page }, headers);
}
