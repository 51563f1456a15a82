// The blob storage listener that redirected blob GETs land on: another origin, like S3 behind a registry.

import { Header } from './constants.js';
import { parseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { type RegistryRequest, type Reply, blobReply, headerValue, notFoundReply } from './http.js';
import type { MemoryStore } from './store.js';

/**
 * Serves `GET|HEAD /blobs/<digest>` from the store (with Range support) and appends every `Authorization` header
 * value it receives to `authorizations`, whatever the path.
 */
export function storageHandler(store: MemoryStore, authorizations: string[]): (req: RegistryRequest) => Reply {
  return (req) => {
    const authorization = headerValue(req.headers, Header.authorization);
    if (authorization !== undefined) authorizations.push(authorization);
    const match = /^\/blobs\/([^/]+)$/.exec(req.path);
    if (!match?.[1] || (req.method !== 'GET' && req.method !== 'HEAD')) return notFoundReply();
    const digest = parseDigest(match[1]);
    const bytes = store.getBlobAnywhere(digest);
    if (!bytes) throw new RegistryError(404, 'BLOB_UNKNOWN', `no such object: ${digest}`);
    return blobReply(bytes, digest, headerValue(req.headers, Header.range));
  };
}
