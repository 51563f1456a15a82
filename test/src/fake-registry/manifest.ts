// Just enough manifest parsing to validate pushes and answer the referrers API.

import { INDEX_MANIFEST_TYPES, IMAGE_MANIFEST_TYPES } from './constants.js';
import { looksLikeDigest } from './digest.js';
import { RegistryError } from './errors.js';

/** An OCI content descriptor, as the registry reads and writes it. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** The fields of an image manifest or index the registry looks at. */
export interface ManifestFields {
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** What a manifest references, by kind, for the existence checks of a PUT. */
export type ManifestKind = 'image' | 'index' | 'other';

/** The validation rule set for a manifest `mediaType` (parameters ignored). */
export function manifestKind(mediaType: string): ManifestKind {
  const base = baseMediaType(mediaType);
  if (IMAGE_MANIFEST_TYPES.has(base)) return 'image';
  if (INDEX_MANIFEST_TYPES.has(base)) return 'index';
  return 'other';
}

/** A media type without parameters, lower case: `a/b; charset=x` → `a/b`. */
export function baseMediaType(mediaType: string): string {
  return (mediaType.split(';')[0] ?? '').trim().toLowerCase();
}

function invalid(message: string): RegistryError {
  return new RegistryError(400, 'MANIFEST_INVALID', `manifest invalid: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw invalid(`${where} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(`${where} must be a string`);
  return value;
}

/** Validates one descriptor object; `where` names it in the error (e.g. `layers[2]`). */
export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) throw invalid(`${where} must be an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`${where}.mediaType missing`);
  if (typeof digest !== 'string' || !looksLikeDigest(digest)) throw invalid(`${where}.digest invalid`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw invalid(`${where}.size invalid`);
  const descriptor: Descriptor = { mediaType, digest, size };
  const artifactType = optionalString(value.artifactType, `${where}.artifactType`);
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  const annotations = stringMap(value.annotations, `${where}.annotations`);
  if (annotations !== undefined) descriptor.annotations = annotations;
  if (Array.isArray(value.urls)) descriptor.urls = value.urls.filter((u): u is string => typeof u === 'string');
  return descriptor;
}

function descriptorList(value: unknown, where: string): Descriptor[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((item, i) => parseDescriptor(item, `${where}[${i}]`));
}

/**
 * Parses manifest bytes as JSON and validates the fields its kind requires: image manifests need `schemaVersion: 2`,
 * a `config` and a `layers` array; indexes need `schemaVersion: 2` and a `manifests` array. Other kinds only need to
 * be a JSON object. Throws 400 MANIFEST_INVALID.
 */
export function parseManifest(bytes: Uint8Array, kind: ManifestKind): ManifestFields {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw invalid('not JSON');
  }
  if (!isRecord(json)) throw invalid('not a JSON object');
  if (kind !== 'other' && json.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const fields: ManifestFields = {};
  const mediaType = optionalString(json.mediaType, 'mediaType');
  if (mediaType !== undefined) fields.mediaType = mediaType;
  const artifactType = optionalString(json.artifactType, 'artifactType');
  if (artifactType !== undefined) fields.artifactType = artifactType;
  if (json.config !== undefined) fields.config = parseDescriptor(json.config, 'config');
  const layers = descriptorList(json.layers, 'layers');
  if (layers) fields.layers = layers;
  const manifests = descriptorList(json.manifests, 'manifests');
  if (manifests) fields.manifests = manifests;
  if (json.subject !== undefined) fields.subject = parseDescriptor(json.subject, 'subject');
  const annotations = stringMap(json.annotations, 'annotations');
  if (annotations) fields.annotations = annotations;
  if (kind === 'image' && (!fields.config || !fields.layers)) throw invalid('image manifest needs config and layers');
  if (kind === 'index' && !fields.manifests) throw invalid('index needs manifests');
  return fields;
}

/** Parses stored manifest bytes without throwing: seeded content may be anything. */
export function tryParseManifest(bytes: Uint8Array): ManifestFields | undefined {
  try {
    return parseManifest(bytes, 'other');
  } catch {
    return undefined;
  }
}

/**
 * The descriptor of a referrer, as the referrers API and the tag-schema fallback list it: the manifest's media type,
 * digest and size, `artifactType` = the manifest's `artifactType`, else its `config.mediaType`, and all its
 * annotations.
 */
export function referrerDescriptor(
  mediaType: string,
  digest: string,
  size: number,
  fields: ManifestFields,
): Descriptor {
  const descriptor: Descriptor = { mediaType, digest, size };
  const artifactType = fields.artifactType ?? fields.config?.mediaType;
  if (artifactType !== undefined) descriptor.artifactType = artifactType;
  if (fields.annotations) descriptor.annotations = fields.annotations;
  return descriptor;
}
