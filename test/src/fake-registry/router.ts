// Routes of the registry listener. Repository names may contain slashes, so each pattern anchors on the fixed
// segment after the name (`/blobs/`, `/manifests/`, ...); uploads are tried before blobs.

import { deleteBlob, readBlob } from './blobs.js';
import type { RegistryContext } from './context.js';
import { RegistryError } from './errors.js';
import { type RegistryRequest, type Reply, jsonReply, notFoundReply } from './http.js';
import { listReferrers, listTags } from './listing.js';
import { readManifest, removeManifest, writeManifest } from './manifests.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './uploads.js';

// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests (name grammar)
const NAME_PATTERN = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

type Handler = (ctx: RegistryContext, req: RegistryRequest, name: string, param: string) => Reply | Promise<Reply>;

interface Route {
  readonly pattern: RegExp;
  readonly methods: Readonly<Record<string, Handler>>;
}

const ROUTES: readonly Route[] = [
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/?()$/,
    methods: { POST: (ctx, req, name) => startUpload(ctx, req, name) },
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    methods: {
      PATCH: (ctx, req, name, id) => patchUpload(ctx, req, name, id),
      PUT: (ctx, req, name, id) => finishUpload(ctx, req, name, id),
      GET: (ctx, _req, name, id) => uploadStatus(ctx, name, id),
      DELETE: (ctx, _req, name, id) => cancelUpload(ctx, name, id),
    },
  },
  {
    pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/,
    methods: {
      GET: (ctx, req, name, digest) => readBlob(ctx, req, name, digest),
      HEAD: (ctx, req, name, digest) => readBlob(ctx, req, name, digest),
      DELETE: (ctx, _req, name, digest) => deleteBlob(ctx, name, digest),
    },
  },
  {
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    methods: {
      GET: (ctx, _req, name, ref) => readManifest(ctx, name, ref),
      HEAD: (ctx, _req, name, ref) => readManifest(ctx, name, ref),
      PUT: (ctx, req, name, ref) => writeManifest(ctx, req, name, ref),
      DELETE: (ctx, _req, name, ref) => removeManifest(ctx, name, ref),
    },
  },
  { pattern: /^\/v2\/(.+)\/tags\/list()$/, methods: { GET: (ctx, req, name) => listTags(ctx, req, name) } },
  {
    pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/,
    methods: { GET: (ctx, req, name, digest) => listReferrers(ctx, req, name, digest) },
  },
];

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** `GET /v2/`: the API version check every client starts with. */
function baseReply(): Reply {
  return jsonReply(200, {});
}

/**
 * Routes a request of the registry listener to its handler and returns its reply. Unknown paths get Go's plain-text
 * 404; a known path with another method gets 405 UNSUPPORTED; an invalid repository name gets 400 NAME_INVALID.
 * Handler errors propagate (the server turns RegistryError into JSON).
 */
export async function dispatch(ctx: RegistryContext, req: RegistryRequest): Promise<Reply> {
  if (req.path === '/v2/' || req.path === '/v2') {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw unsupported(req);
    return baseReply();
  }
  for (const { pattern, methods } of ROUTES) {
    const match = pattern.exec(req.path);
    if (!match) continue;
    const name = decode(match[1] ?? '');
    const param = decode(match[2] ?? '');
    const handler = methods[req.method];
    if (!handler) throw unsupported(req);
    if (!NAME_PATTERN.test(name)) throw new RegistryError(400, 'NAME_INVALID', `invalid repository name: ${name}`);
    return handler(ctx, req, name, param);
  }
  return notFoundReply();
}

function unsupported(req: RegistryRequest): RegistryError {
  return new RegistryError(405, 'UNSUPPORTED', `${req.method} is not supported on ${req.path}`);
}
