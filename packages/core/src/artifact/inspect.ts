/**
 * inspect: what an artifact is, from its manifest, its table of contents (when it is lading's) and its referrers,
 * without reading any layer. Works on any OCI manifest or index (an image pushed by crane, an oras artifact).
 */
import type { CallOptions, GraphTarget } from '../content.js';
import { parseManifest, type Descriptor, type Platform } from '../descriptor.js';
import { fetchAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { IndexMediaTypes } from '../media-types.js';
import type { VerificationGate, VerifiedSignature } from '../trust.js';
import { parsePlatform } from './platform.js';
import { loadArtifact } from './load.js';

/** Options of {@link inspectArtifact}. */
export interface InspectOptions extends CallOptions {
  /** Signature check after the manifest is read and before the table of contents or referrers are. Default none. */
  gate?: VerificationGate;
  /**
   * For an image index: inspect this platform's manifest (`os/arch[/variant]`) instead of the index. Default: the
   * index itself is inspected (its entries listed). A single manifest with `platform` is `ERR_LADING_USAGE`.
   */
  platform?: string;
  /** The reference as the user wrote it, for messages. Default `reference`. */
  display?: string;
  /** List the referrers and count them by artifact type. Default true. */
  referrers?: boolean;
}

/** The table of contents of a lading artifact, summed up. */
export interface TOCSummary {
  files: number;
  directories: number;
  symlinks: number;
  /** Total size of the files' content, in bytes (what a pull writes). */
  size: number;
}

/** What {@link inspectArtifact} found. */
export interface InspectResult {
  /** The manifest or index inspected (with `platform`, the platform manifest). */
  descriptor: Descriptor;
  /** `manifest` or `index`. */
  kind: 'manifest' | 'index';
  /** The `artifactType` the manifest or index states. */
  artifactType?: string;
  /** A manifest's config descriptor. */
  config?: Descriptor;
  /** A manifest's layers, in order. */
  layers?: Descriptor[];
  /** An index's entries, in order (not followed into nested indexes). */
  manifests?: Descriptor[];
  /** The manifest's or index's own annotations. */
  annotations?: Record<string, string>;
  /** The `subject` it refers to, when it is a referrer itself (a signature, an attestation). */
  subject?: Descriptor;
  /** For a lading artifact: its table of contents summed up. */
  toc?: TOCSummary;
  /** With `platform`: the index the manifest was chosen from. */
  index?: Descriptor;
  /** With `platform`: the platform the index gives the manifest. */
  platform?: Platform;
  /**
   * Referrers of the inspected manifest counted by artifact type (`unknown` when a fallback entry states none),
   * sorted by type; absent with `referrers: false`.
   */
  referrers?: { artifactType: string; count: number }[];
  /** The signatures the gate let the inspection through on (empty without a gate). */
  verified: VerifiedSignature[];
  /** What the gate warned about (empty without a gate or when it had nothing to say). */
  warnings: string[];
}

/**
 * Describes the artifact `reference` names in `target`: manifest (digest-checked, size-capped) or index, past the
 * gate when one is given, then the table of contents for a lading artifact (checked as `loadArtifact` checks it)
 * and the referrers. No layer is read.
 */
export async function inspectArtifact(
  target: GraphTarget,
  reference: string,
  options: InspectOptions = {},
): Promise<InspectResult> {
  const { gate, platform, display = reference, referrers = true, ...rest } = options;
  const call: CallOptions = rest.signal ? { signal: rest.signal } : {};
  const where = `inspect ${display}`;
  if (platform !== undefined) parsePlatform(platform);
  const resolved = await target.resolve(reference, call);
  let result: InspectResult;
  if (IndexMediaTypes.includes(resolved.mediaType) && platform === undefined) {
    const bytes = await fetchAll(target, resolved, where, call);
    const parsed = parseManifest(bytes, resolved.mediaType, where);
    if (parsed.kind !== 'index') {
      throw new LadingError(
        ErrorCodes.protocol,
        `${where}: ${resolved.digest} is served as an index but is a manifest`,
      );
    }
    const passed = await gate?.verify({ target, reference: display, descriptor: resolved, manifest: bytes }, call);
    const index = parsed.index;
    result = {
      descriptor: resolved,
      kind: 'index',
      manifests: index.manifests,
      verified: passed?.verified ?? [],
      warnings: passed?.warnings ?? [],
    };
    if (index.artifactType !== undefined) result.artifactType = index.artifactType;
    if (index.annotations !== undefined) result.annotations = index.annotations;
    if (index.subject !== undefined) result.subject = index.subject;
  } else {
    const loaded = await loadArtifact(target, resolved.digest, display, {
      ...call,
      ...(gate && { gate }),
      ...(platform === undefined ? {} : { platform }),
    });
    const manifest = loaded.manifest;
    result = {
      descriptor: loaded.descriptor,
      kind: 'manifest',
      config: manifest.config,
      layers: manifest.layers,
      verified: loaded.verified,
      warnings: loaded.warnings,
    };
    if (manifest.artifactType !== undefined) result.artifactType = manifest.artifactType;
    if (manifest.annotations !== undefined) result.annotations = manifest.annotations;
    if (manifest.subject !== undefined) result.subject = manifest.subject;
    if (loaded.index) result.index = loaded.index;
    if (loaded.platform) result.platform = loaded.platform;
    if (loaded.toc) {
      const toc: TOCSummary = { files: 0, directories: 0, symlinks: 0, size: 0 };
      for (const entry of loaded.toc.entries) {
        if (entry.type === 'file') {
          toc.files++;
          toc.size += entry.size ?? 0;
        } else if (entry.type === 'dir') toc.directories++;
        else toc.symlinks++;
      }
      result.toc = toc;
    }
  }
  if (referrers) {
    const counts = new Map<string, number>();
    for (const referrer of await target.referrers(result.descriptor, call)) {
      const type = referrer.artifactType ?? 'unknown';
      counts.set(type, (counts.get(type) ?? 0) + 1);
    }
    result.referrers = [...counts.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([artifactType, count]) => ({ artifactType, count }));
  }
  return result;
}
