// Manifests: HEAD/GET/PUT/DELETE /v2/<name>/manifests/<reference>.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests

import { requireDeletes } from './blobs.js';
import { Header } from './constants.js';
import type { RegistryContext } from './context.js';
import { digestWith, parseDigest } from './digest.js';
import { RegistryError } from './errors.js';
import { type RegistryRequest, type Reply, headerValue } from './http.js';
import { type Descriptor, type ManifestFields, baseMediaType, manifestKind, parseManifest } from './manifest.js';

// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests (tag grammar)
const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** True when a manifest reference is a digest rather than a tag. */
function isDigestReference(reference: string): boolean {
  return reference.includes(':');
}

function checkReference(reference: string): void {
  if (isDigestReference(reference)) parseDigest(reference);
  else if (!TAG_PATTERN.test(reference)) throw new RegistryError(400, 'TAG_INVALID', `invalid tag: ${reference}`);
}

function manifestUnknown(ctx: RegistryContext, name: string, reference: string): RegistryError {
  if (!ctx.store.hasRepository(name)) {
    return new RegistryError(404, 'NAME_UNKNOWN', `repository name not known to registry: ${name}`, { detail: name });
  }
  return new RegistryError(404, 'MANIFEST_UNKNOWN', `manifest unknown: ${name}:${reference}`, { detail: reference });
}

/** HEAD or GET a manifest by tag or digest: the stored bytes with their content type, digest and `ETag`. */
export function readManifest(ctx: RegistryContext, name: string, reference: string): Reply {
  checkReference(reference);
  const manifest = ctx.store.getManifest(name, reference);
  if (!manifest) throw manifestUnknown(ctx, name, reference);
  return {
    status: 200,
    headers: {
      [Header.contentType]: manifest.mediaType,
      [Header.contentDigest]: manifest.digest,
      [Header.etag]: `"${manifest.digest}"`,
    },
    body: manifest.bytes,
  };
}

/** Entity tags of an `If-Match`/`If-None-Match` value, unquoted, weakness dropped; `*` stays `*`. */
function entityTags(value: string): string[] {
  return value
    .split(',')
    .map((tag) =>
      tag
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .filter((tag) => tag !== '');
}

/**
 * RFC 9110 §13.1.1/§13.1.2 for a manifest PUT, the ETag being the current digest the reference names:
 * `If-Match` fails (412) when nothing is there or no listed tag matches; `If-None-Match: *` fails when something is.
 */
function checkPreconditions(ctx: RegistryContext, req: RegistryRequest, name: string, reference: string): void {
  if (!ctx.settings.conditionalPut) return;
  const current = isDigestReference(reference)
    ? ctx.store.getManifest(name, reference)?.digest
    : ctx.store.resolveTag(name, reference);
  const ifMatch = headerValue(req.headers, Header.ifMatch);
  if (ifMatch !== undefined) {
    const tags = entityTags(ifMatch);
    const ok = current !== undefined && (tags.includes('*') || tags.includes(current));
    if (!ok) {
      throw new RegistryError(
        412,
        'PRECONDITION_FAILED',
        `If-Match ${ifMatch} does not match ${current ?? 'nothing'}`,
        {
          detail: { current: current ?? null },
        },
      );
    }
  }
  const ifNoneMatch = headerValue(req.headers, Header.ifNoneMatch);
  if (ifNoneMatch !== undefined && current !== undefined) {
    const tags = entityTags(ifNoneMatch);
    if (tags.includes('*') || tags.includes(current)) {
      throw new RegistryError(412, 'PRECONDITION_FAILED', `If-None-Match ${ifNoneMatch} matches ${current}`);
    }
  }
}

function missingReference(descriptor: Descriptor, what: string): RegistryError {
  return new RegistryError(400, 'MANIFEST_BLOB_UNKNOWN', `manifest references unknown ${what} ${descriptor.digest}`, {
    detail: descriptor.digest,
  });
}

/**
 * The existence checks of a push: an image manifest's config and layers must be blobs of the repository with the
 * declared size (layers with `urls`, i.e. foreign layers, are skipped); an index's entries must be manifests of the
 * repository. The subject is not checked: OCI 1.1 lets referrers be pushed before their subject.
 */
function checkReferences(ctx: RegistryContext, name: string, fields: ManifestFields): void {
  const blobs = [...(fields.config ? [fields.config] : []), ...(fields.layers ?? [])];
  for (const descriptor of blobs) {
    if (descriptor.urls && descriptor.urls.length > 0) continue;
    const bytes = ctx.store.getBlob(name, descriptor.digest);
    if (!bytes) throw missingReference(descriptor, 'blob');
    if (bytes.length !== descriptor.size) {
      throw new RegistryError(
        400,
        'MANIFEST_INVALID',
        `descriptor size ${descriptor.size} of ${descriptor.digest} is wrong`,
      );
    }
  }
  for (const descriptor of fields.manifests ?? []) {
    if (!ctx.store.getManifest(name, descriptor.digest)) throw missingReference(descriptor, 'manifest');
  }
}

/** The media type a pushed manifest is stored under: `Content-Type` as given, else the body's `mediaType`. */
function pushedMediaType(req: RegistryRequest, bytes: Uint8Array): string {
  const header = headerValue(req.headers, Header.contentType);
  if (header !== undefined && header !== '') return header;
  const fields = parseManifest(bytes, 'other');
  if (fields.mediaType === undefined) {
    throw new RegistryError(400, 'MANIFEST_INVALID', 'manifest invalid: no Content-Type and no mediaType');
  }
  return fields.mediaType;
}

/**
 * PUT a manifest by tag or digest: enforces the size cap (413), conditional headers (412), JSON validity and a
 * `mediaType` agreeing with `Content-Type` (400 MANIFEST_INVALID), the digest of a by-digest push (400
 * DIGEST_INVALID) and reference existence (400 MANIFEST_BLOB_UNKNOWN). Answers 201 with Location,
 * Docker-Content-Digest and, for a manifest with a `subject`, `OCI-Subject` (see `ociSubjectHeader`).
 */
export async function writeManifest(
  ctx: RegistryContext,
  req: RegistryRequest,
  name: string,
  reference: string,
): Promise<Reply> {
  checkReference(reference);
  const limit = ctx.settings.maxManifestBytes;
  const bytes = await req.body(
    limit,
    () => new RegistryError(413, 'MANIFEST_INVALID', `manifest invalid: larger than ${limit} bytes`),
  );
  checkPreconditions(ctx, req, name, reference);
  const mediaType = pushedMediaType(req, bytes);
  const fields = parseManifest(bytes, manifestKind(mediaType));
  if (fields.mediaType !== undefined && baseMediaType(fields.mediaType) !== baseMediaType(mediaType)) {
    throw new RegistryError(
      400,
      'MANIFEST_INVALID',
      `manifest mediaType ${fields.mediaType} != Content-Type ${mediaType}`,
    );
  }
  const algorithm = isDigestReference(reference) ? reference.slice(0, reference.indexOf(':')) : 'sha256';
  const digest = digestWith(algorithm, bytes);
  if (isDigestReference(reference) && digest !== reference) {
    throw new RegistryError(400, 'DIGEST_INVALID', `manifest digest ${digest} does not match ${reference}`, {
      detail: reference,
    });
  }
  checkReferences(ctx, name, fields);
  ctx.store.putManifest(name, { digest, mediaType, bytes }, isDigestReference(reference) ? undefined : reference);
  const headers: Record<string, string> = {
    [Header.location]: `/v2/${name}/manifests/${digest}`,
    [Header.contentDigest]: digest,
  };
  if (fields.subject && sendsSubjectHeader(ctx)) headers[Header.subject] = fields.subject.digest;
  return { status: 201, headers };
}

function sendsSubjectHeader(ctx: RegistryContext): boolean {
  const mode = ctx.settings.subjectHeader;
  return mode === 'always' || (mode === 'when-referrers' && ctx.settings.referrersAPI);
}

/** DELETE by digest removes the manifest and its tags; by tag removes the tag only. 202, or 404 MANIFEST_UNKNOWN. */
export function removeManifest(ctx: RegistryContext, name: string, reference: string): Reply {
  requireDeletes(ctx);
  checkReference(reference);
  const deleted = isDigestReference(reference)
    ? ctx.store.deleteManifest(name, reference)
    : ctx.store.deleteTag(name, reference);
  if (!deleted) throw manifestUnknown(ctx, name, reference);
  return { status: 202, headers: {} };
}
