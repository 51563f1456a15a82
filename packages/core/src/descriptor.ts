/**
 * OCI descriptors, manifests and indexes as plain data, with checks for what a registry sends back.
 * https://github.com/opencontainers/image-spec/blob/main/descriptor.md
 */
import { ErrorCodes, LadingError } from './errors.js';

/** A platform a manifest is built for (image index entries). */
export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

/** Points at content by media type, digest and size. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  /** Base64 of the content, for small embedded content. */
  data?: string;
  platform?: Platform;
  artifactType?: string;
}

/** An OCI image manifest (also covers a Docker v2 schema 2 manifest for reading). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An OCI image index (also covers a Docker manifest list for reading). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

const digestPattern = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): v is Record<string, string> {
  return isRecord(v) && Object.values(v).every((x) => typeof x === 'string');
}

/**
 * Checks that `value` is a well-formed descriptor (media type, digest syntax, non-negative safe integer size,
 * string annotations) and returns it typed. `where` names the document for the error message.
 * Throws `ERR_LADING_PROTOCOL` otherwise.
 */
export function checkDescriptor(value: unknown, where: string): Descriptor {
  const bad = (why: string): never => {
    throw new LadingError(ErrorCodes.protocol, `${where}: invalid descriptor: ${why}`);
  };
  if (!isRecord(value)) return bad('not an object');
  if (typeof value.mediaType !== 'string' || value.mediaType === '') bad('missing mediaType');
  if (typeof value.digest !== 'string' || !digestPattern.test(value.digest)) bad('missing or malformed digest');
  if (typeof value.size !== 'number' || !Number.isSafeInteger(value.size) || value.size < 0) bad('invalid size');
  if (value.annotations !== undefined && !stringMap(value.annotations)) bad('annotations must map strings to strings');
  if (value.artifactType !== undefined && typeof value.artifactType !== 'string') bad('artifactType must be a string');
  if (value.urls !== undefined && !(Array.isArray(value.urls) && value.urls.every((u) => typeof u === 'string')))
    bad('urls must be strings');
  if (value.data !== undefined && typeof value.data !== 'string') bad('data must be base64 text');
  return value as unknown as Descriptor;
}

/**
 * Parses a manifest or index document and checks its structure: `schemaVersion` 2, descriptors well formed,
 * `config`/`layers` for manifests and `manifests` for indexes. `mediaType` is the type the registry declared
 * (the document's own `mediaType` wins when present). Throws `ERR_LADING_PROTOCOL` on anything else,
 * including non-JSON (an HTML error page, say).
 */
export function parseManifest(
  bytes: Uint8Array,
  mediaType: string,
  where: string,
): { kind: 'manifest'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex } {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    const start = new TextDecoder().decode(bytes.subarray(0, 40)).replace(/\s+/g, ' ');
    throw new LadingError(
      ErrorCodes.protocol,
      `${where}: response is not JSON (starts with ${JSON.stringify(start)})`,
      {
        cause,
      },
    );
  }
  if (!isRecord(doc)) throw new LadingError(ErrorCodes.protocol, `${where}: manifest is not a JSON object`);
  if (doc.schemaVersion !== 2) throw new LadingError(ErrorCodes.protocol, `${where}: schemaVersion must be 2`);
  const type = typeof doc.mediaType === 'string' ? doc.mediaType : mediaType;
  if (Array.isArray(doc.manifests) && !('layers' in doc) && !('config' in doc)) {
    doc.manifests.forEach((d, i) => checkDescriptor(d, `${where} manifests[${i}]`));
    if (doc.subject !== undefined) checkDescriptor(doc.subject, `${where} subject`);
    return { kind: 'index', index: doc as unknown as ImageIndex };
  }
  if (!isRecord(doc.config) || !Array.isArray(doc.layers)) {
    throw new LadingError(
      ErrorCodes.protocol,
      `${where}: ${type || 'manifest'} has neither config+layers nor manifests`,
    );
  }
  checkDescriptor(doc.config, `${where} config`);
  doc.layers.forEach((d, i) => checkDescriptor(d, `${where} layers[${i}]`));
  if (doc.subject !== undefined) checkDescriptor(doc.subject, `${where} subject`);
  return { kind: 'manifest', manifest: doc as unknown as ImageManifest };
}

/** The descriptors a manifest or index points at (config and layers; or the listed manifests), subject excluded. */
export function successors(parsed: ReturnType<typeof parseManifest>): Descriptor[] {
  return parsed.kind === 'index' ? [...parsed.index.manifests] : [parsed.manifest.config, ...parsed.manifest.layers];
}
