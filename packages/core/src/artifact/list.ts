/**
 * ls: what an artifact holds, from its manifest and table of contents only (no layer bytes).
 */
import type { CallOptions, GraphTarget } from '../content.js';
import type { Descriptor, Platform } from '../descriptor.js';
import type { VerificationGate, VerifiedSignature } from '../trust.js';
import { layerKind, loadArtifact } from './load.js';
import type { EntryType } from './toc.js';

/** One entry of a listing. */
export interface ListedEntry {
  path: string;
  type: EntryType;
  /** Permission bits, when known (lading artifacts). */
  mode?: number;
  /** Content size (files). */
  size?: number;
  /** `sha256:<hex>` of the content (files), when known. */
  digest?: string;
  /** Symlink target. */
  target?: string;
  /** Index of the layer holding it. */
  layer: number;
}

/** What {@link listArtifact} found. */
export interface ListResult {
  /** The manifest listed (for an image index, the chosen platform manifest). */
  descriptor: Descriptor;
  /** When the reference resolved to an image index: the index. */
  index?: Descriptor;
  /** When the reference resolved to an image index: the platform of the manifest listed, when the index gives one. */
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** True when the artifact has lading's table of contents (so every file is listed). */
  hasTOC: boolean;
  entries: ListedEntry[];
  /** Folder layers without a TOC: their contents are not listed (that would need downloading them). */
  unlisted: { layer: number; title?: string; size: number }[];
  /** The signatures the gate vouched for, each with the digest it is about; empty without a gate. */
  verified: VerifiedSignature[];
  /** The gate's warnings; empty without a gate. */
  warnings: string[];
}

/** Options of {@link listArtifact}. */
export interface ListOptions extends CallOptions {
  /** Signature check before the table of contents is read. Default none. */
  gate?: VerificationGate;
  /** The reference as the user wrote it, for messages. Default `reference`. */
  display?: string;
  /** For an image index: the platform manifest to list, `os/arch[/variant]`. Default as `loadArtifact`. */
  platform?: string;
}

/**
 * Lists the artifact `reference` names: every entry of its table of contents, or, for artifacts without one (ORAS
 * and others), the titled file layers, with folder layers reported as unlisted. Reads no layer bytes.
 */
export async function listArtifact(
  target: GraphTarget,
  reference: string,
  options: ListOptions = {},
): Promise<ListResult> {
  const { gate, display, platform, ...call } = options;
  const artifact = await loadArtifact(target, reference, display ?? reference, {
    ...call,
    ...(gate && { gate }),
    ...(platform !== undefined && { platform }),
  });
  const result: ListResult = {
    descriptor: artifact.descriptor,
    ...(artifact.index && { index: artifact.index }),
    ...(artifact.platform && { platform: artifact.platform }),
    hasTOC: artifact.toc !== undefined,
    entries: [],
    unlisted: [],
    verified: artifact.verified,
    warnings: artifact.warnings,
  };
  if (artifact.manifest.artifactType) result.artifactType = artifact.manifest.artifactType;
  if (artifact.manifest.annotations) result.annotations = artifact.manifest.annotations;
  if (artifact.toc) {
    result.entries = artifact.toc.entries.map((e) => {
      const out: ListedEntry = { path: e.path, type: e.type, mode: e.mode, layer: e.layer };
      if (e.size !== undefined) out.size = e.size;
      if (e.sha256 !== undefined) out.digest = `sha256:${e.sha256}`;
      if (e.target !== undefined) out.target = e.target;
      return out;
    });
    return result;
  }
  artifact.manifest.layers.forEach((layer, index) => {
    const kind = layerKind(layer);
    if (kind.kind === 'file') {
      result.entries.push({ path: kind.path, type: 'file', size: layer.size, digest: layer.digest, layer: index });
    } else if (kind.kind === 'tar') {
      const item: ListResult['unlisted'][number] = { layer: index, size: layer.size };
      if (kind.title !== undefined) item.title = kind.title;
      result.unlisted.push(item);
    }
  });
  return result;
}
