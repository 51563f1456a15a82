// Blob uploads: POST (start, monolithic, mount), PATCH (chunk), PUT (finish), GET (status), DELETE (cancel).
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-blobs

import { Header } from './constants.js';
import type { RegistryContext } from './context.js';
import { matchesDigest, parseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { type RegistryRequest, type Reply, headerValue } from './http.js';
import type { UploadSession } from './store.js';

function uploadURL(session: UploadSession): string {
  // The `_state` parameter mimics distribution, whose upload URLs carry a query: clients must append `digest`
  // with `&` and follow the Location they were given rather than rebuild it.
  return `/v2/${session.repository}/blobs/uploads/${session.id}?_state=${session.size}`;
}

/** The `Range` header of an upload: `0-<last byte>`, and `0-0` while empty (as distribution sends). */
function uploadRange(session: UploadSession): string {
  return `0-${Math.max(0, session.size - 1)}`;
}

function sessionHeaders(session: UploadSession): Record<string, string> {
  return {
    [Header.location]: uploadURL(session),
    [Header.uploadUUID]: session.id,
    [Header.range]: uploadRange(session),
  };
}

function blobCreated(name: string, digest: string): Reply {
  return {
    status: 201,
    headers: { [Header.location]: `/v2/${name}/blobs/${digest}`, [Header.contentDigest]: digest },
  };
}

function requireSession(ctx: RegistryContext, name: string, id: string): UploadSession {
  const session = ctx.store.getUpload(name, id);
  if (!session) throw new RegistryError(404, 'BLOB_UPLOAD_UNKNOWN', `upload unknown: ${id}`);
  return session;
}

/** Stores `bytes` as the blob named `digestText` after checking the digest; 400 DIGEST_INVALID on mismatch. */
function commitBlob(ctx: RegistryContext, name: string, digestText: string | null, bytes: Uint8Array): Reply {
  if (digestText === null) throw new RegistryError(400, 'DIGEST_INVALID', 'digest query parameter missing');
  const digest = parseDigest(digestText);
  if (!matchesDigest(digest, bytes)) {
    throw new RegistryError(400, 'DIGEST_INVALID', `provided digest did not match uploaded content: ${digest}`, {
      detail: digest,
    });
  }
  ctx.store.putBlob(name, digest, bytes);
  return blobCreated(name, digest);
}

/**
 * POST /v2/<name>/blobs/uploads/: with `mount` and `from`, links the blob from that repository (201) or starts an
 * upload when it cannot (202); with `digest`, a monolithic upload of the body (201); else starts a session (202 +
 * Location, Docker-Upload-UUID, `Range: 0-0`, and `OCI-Chunk-Min-Length` when configured).
 */
export async function startUpload(ctx: RegistryContext, req: RegistryRequest, name: string): Promise<Reply> {
  const mount = req.query.get('mount');
  const from = req.query.get('from');
  if (mount !== null && from !== null) {
    const digest = parseDigest(mount);
    if (ctx.store.mountBlob(name, digest, from)) return blobCreated(name, digest);
  }
  const digest = req.query.get('digest');
  if (digest !== null && mount === null) return commitBlob(ctx, name, digest, await req.body());
  await req.body();
  const session = ctx.store.startUpload(name);
  const headers = sessionHeaders(session);
  const min = ctx.settings.chunkMinLength;
  if (min !== undefined) headers[Header.chunkMinLength] = String(min);
  return { status: 202, headers };
}

/** Parses `Content-Range: a-b` (also tolerating a `bytes ` or `bytes=` prefix and a `/total` suffix). */
function parseContentRange(text: string): { start: number; end: number } | undefined {
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(text.trim());
  if (!match) return undefined;
  return { start: Number(match[1]), end: Number(match[2]) };
}

/**
 * Appends a body to the session. With `Content-Range`, the range must start at the current offset (else 416 with
 * the current `Range`, nothing appended) and match the body length (else 400). Without it, the body is appended
 * (streamed upload).
 */
async function appendChunk(req: RegistryRequest, session: UploadSession): Promise<void> {
  const header = headerValue(req.headers, Header.contentRange);
  const range = header === undefined ? undefined : parseContentRange(header);
  if (header !== undefined && !range) {
    throw new RegistryError(400, 'BLOB_UPLOAD_INVALID', `malformed Content-Range: ${header}`);
  }
  if (range && range.start !== session.size) {
    await req.body();
    throw new RegistryError(
      416,
      'BLOB_UPLOAD_INVALID',
      `chunk starts at ${range.start} but the upload holds ${session.size} bytes`,
      { headers: sessionHeaders(session) },
    );
  }
  const chunk = await req.body();
  if (range && range.end - range.start + 1 !== chunk.length) {
    throw new RegistryError(
      400,
      'BLOB_UPLOAD_INVALID',
      `Content-Range ${header ?? ''} does not match a body of ${chunk.length} bytes`,
    );
  }
  session.chunks.push(chunk);
  session.size += chunk.length;
}

/** PATCH <location>: appends a chunk (see appendChunk) and answers 202 with the new `Range` and Location. */
export async function patchUpload(
  ctx: RegistryContext,
  req: RegistryRequest,
  name: string,
  id: string,
): Promise<Reply> {
  const session = requireSession(ctx, name, id);
  await appendChunk(req, session);
  return { status: 202, headers: sessionHeaders(session) };
}

/**
 * PUT <location>?digest=: appends the optional last chunk, verifies the digest of the whole upload and stores the
 * blob (201). A mismatch answers 400 DIGEST_INVALID and discards the session.
 */
export async function finishUpload(
  ctx: RegistryContext,
  req: RegistryRequest,
  name: string,
  id: string,
): Promise<Reply> {
  const session = requireSession(ctx, name, id);
  await appendChunk(req, session);
  ctx.store.endUpload(session.id);
  return commitBlob(ctx, name, req.query.get('digest'), Buffer.concat(session.chunks));
}

/** GET <location>: the session's progress, 204 with `Range: 0-<end>`, so a client can resume. */
export function uploadStatus(ctx: RegistryContext, name: string, id: string): Reply {
  return { status: 204, headers: sessionHeaders(requireSession(ctx, name, id)) };
}

/** DELETE <location>: cancels the session (204); 404 BLOB_UPLOAD_UNKNOWN when absent. */
export function cancelUpload(ctx: RegistryContext, name: string, id: string): Reply {
  ctx.store.endUpload(requireSession(ctx, name, id).id);
  return { status: 204, headers: {} };
}
