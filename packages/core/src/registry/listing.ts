/**
 * Paginated listings of a repository (tags, referrers): `Link: <…>; rel="next"` pagination bounded by a page count
 * and kept on the registry's origin, and the JSON checks of a page.
 */
import type { CallOptions } from '../content.js';
import { checkDescriptor, type ImageIndex } from '../descriptor.js';
import { readAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { MediaTypeImageIndex } from '../media-types.js';
import { responseHeader, type RegistryResponse } from './http.js';
import { signalOf, type RepositoryContext } from './repository-context.js';

/**
 * The pages of a listing from `first`: each 200 answer with its body (at most the manifest size limit). A non-200
 * answer is yielded with an empty body and ends the listing; its body is the caller's to read or drop. More than
 * `ctx.maxPages` pages, or a `next` link to another origin, is `ERR_LADING_PROTOCOL`.
 */
export async function* listingPages(
  ctx: RepositoryContext,
  first: URL,
  where: string,
  options?: CallOptions,
): AsyncGenerator<{ res: RegistryResponse; bytes: Uint8Array }> {
  let url: URL | undefined = first;
  for (let page = 0; url; page++) {
    if (page >= ctx.maxPages)
      throw new LadingError(ErrorCodes.protocol, `${where}: more than ${ctx.maxPages} pages; narrow the listing`);
    const res = await ctx.send({
      method: 'GET',
      url,
      headers: { accept: `${MediaTypeImageIndex}, application/json` },
      ...signalOf(options),
    });
    if (res.status !== 200) {
      yield { res, bytes: new Uint8Array() };
      return;
    }
    const bytes = await readAll(res.body, ctx.manifestSizeLimit, where);
    yield { res, bytes };
    const next = nextLink(responseHeader(res, 'link'));
    url = next ? new URL(next, url) : undefined;
    if (url && url.origin !== ctx.base.origin) {
      throw new LadingError(ErrorCodes.protocol, `${where}: pagination link to another origin ${url.origin}`);
    }
  }
}

function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

/** `bytes` parsed as a JSON object; `ERR_LADING_PROTOCOL` naming `where` otherwise. */
export function parseJSONObject(bytes: Uint8Array, where: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (cause) {
    throw new LadingError(ErrorCodes.protocol, `${where}: response is not JSON`, { cause });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new LadingError(ErrorCodes.protocol, `${where}: response is not a JSON object`);
  return doc as Record<string, unknown>;
}

/** `bytes` parsed as an image index whose every entry is a well-formed descriptor; `ERR_LADING_PROTOCOL` otherwise. */
export function parseIndexListing(bytes: Uint8Array, where: string): ImageIndex {
  const doc = parseJSONObject(bytes, where);
  if (!Array.isArray(doc.manifests)) throw new LadingError(ErrorCodes.protocol, `${where}: not an image index`);
  doc.manifests.forEach((d, i) => checkDescriptor(d, `${where} manifests[${i}]`));
  return doc as unknown as ImageIndex;
}
