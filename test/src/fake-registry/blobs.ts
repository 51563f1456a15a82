// Blob reads and deletes: HEAD/GET/DELETE /v2/<name>/blobs/<digest>.

import { Header } from './constants.js';
import type { RegistryContext } from './context.js';
import { parseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { type RegistryRequest, type Reply, blobReply, headerValue } from './http.js';

function blobUnknown(name: string, digest: string): RegistryError {
  return new RegistryError(404, 'BLOB_UNKNOWN', `blob unknown to registry: ${name}@${digest}`, { detail: digest });
}

/**
 * HEAD or GET a blob. GET redirects (307) to the storage listener when redirects are on; HEAD is always answered
 * here. Honours `Range` (206/416).
 */
export function readBlob(ctx: RegistryContext, req: RegistryRequest, name: string, digestText: string): Reply {
  const digest = parseDigest(digestText);
  const bytes = ctx.store.getBlob(name, digest);
  if (!bytes) throw blobUnknown(name, digest);
  const storage = ctx.settings.storageURL;
  if (req.method === 'GET' && storage !== undefined) {
    // Like S3/GCS-backed registries: a signed-looking URL on another origin, which must not receive credentials.
    return {
      status: 307,
      headers: { [Header.location]: `${storage}/blobs/${digest}?signature=fake`, [Header.contentDigest]: digest },
    };
  }
  return blobReply(bytes, digest, ctx.settings.rangeRequests ? headerValue(req.headers, Header.range) : undefined);
}

/** DELETE a blob: unlinks it from the repository (202), 404 BLOB_UNKNOWN when absent, 405 when deletes are off. */
export function deleteBlob(ctx: RegistryContext, name: string, digestText: string): Reply {
  requireDeletes(ctx);
  const digest = parseDigest(digestText);
  if (!ctx.store.deleteBlob(name, digest)) throw blobUnknown(name, digest);
  return { status: 202, headers: {} };
}

/** Throws 405 UNSUPPORTED when the registry was started with deletes disabled (distribution's default). */
export function requireDeletes(ctx: RegistryContext): void {
  if (!ctx.settings.deleteEnabled) throw new RegistryError(405, 'UNSUPPORTED', 'deletes are disabled');
}
