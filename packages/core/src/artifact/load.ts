/**
 * Loading an artifact: the manifest (digest-checked by the fetcher), the verification gate, and the table of
 * contents when there is one, plus how each layer is read (`layerKind`). pull, ls and cat all start here, so nothing
 * reads content before the gate has passed.
 */
import type { CallOptions, GraphTarget } from '../content.js';
import { parseManifest, type Descriptor, type ImageManifest, type Platform } from '../descriptor.js';
import { fetchAll, readAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import {
  AnnotationTitle,
  AnnotationUnpack,
  DefaultManifestSizeLimit,
  MediaTypeImageLayer,
  MediaTypeImageLayerGzip,
} from '../media-types.js';
import type { GateResult, VerificationGate } from '../trust.js';
import { parsePlatform, resolvePlatformManifest } from './platform.js';
import { MediaTypeTOC, parseTOC, type TOC } from './toc.js';

/** An artifact's manifest and table of contents, verified and past the gate. */
export interface LoadedArtifact {
  /** The manifest's descriptor (for an image index, the chosen platform manifest's): every read is pinned to its digest. */
  descriptor: Descriptor;
  manifest: ImageManifest;
  /** The manifest bytes, verified. */
  bytes: Uint8Array;
  /** The table of contents, when the artifact is lading's (config media type `application/vnd.lading.toc.v1+json`). */
  toc?: TOC;
  /** When the reference resolved to an image index (or Docker manifest list): that index's descriptor. */
  index?: Descriptor;
  /** When the reference resolved to an image index: the platform its entry gives the chosen manifest, if any. */
  platform?: Platform;
  /** What the gate vouched for (`GateResult.verified`); empty without a gate. */
  verified: GateResult['verified'];
  /** The gate's warnings; empty without a gate. */
  warnings: string[];
}

/** Options of {@link loadArtifact}. */
export interface LoadOptions extends CallOptions {
  /** Runs after the manifest is verified and before anything else is read. Default: none (no signature check). */
  gate?: VerificationGate;
  /**
   * For a reference that resolves to an image index: the platform manifest to read, `os/arch[/variant]` (as
   * `oras pull --platform`). Default: the index's only manifest, else the one for this machine's platform. Given
   * for a reference that is a single manifest, it is `ERR_LADING_USAGE`.
   */
  platform?: string;
  /** Read the table of contents after the gate. Default true; `false` stops after the gate (`lading verify`). */
  readTOC?: boolean;
}

/**
 * Resolves `reference` in `target`, fetches and verifies the manifest (size-capped, digest-checked), runs the gate,
 * then fetches and checks the TOC. When the reference is an image index or Docker manifest list, one platform
 * manifest is chosen (`options.platform`, else the only one, else this machine's: see
 * {@link resolvePlatformManifest}) and fetched, digest-checked, through the index; the gate is asked once about
 * the index with the chosen manifest as `platform` (a valid signature on either satisfies it), and everything
 * after is pinned to the platform manifest's digest.
 */
export async function loadArtifact(
  target: GraphTarget,
  reference: string,
  display: string,
  options: LoadOptions = {},
): Promise<LoadedArtifact> {
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  const where = `read ${display}`;
  // A malformed --platform is a usage error before anything is fetched.
  if (options.platform !== undefined) parsePlatform(options.platform);
  const resolved = await target.resolve(reference, call);
  const resolvedBytes = await fetchAll(target, resolved, where, call);
  const parsed = parseManifest(resolvedBytes, resolved.mediaType, where);
  let loaded: LoadedArtifact;
  const passed: GateResult = { verified: [], warnings: [] };
  if (parsed.kind === 'index') {
    const chosen = await resolvePlatformManifest(
      target,
      { descriptor: resolved, manifests: parsed.index.manifests },
      display,
      { ...call, ...(options.platform === undefined ? {} : { platform: options.platform }) },
    );
    const vouched = await options.gate?.verify(
      {
        target,
        reference: display,
        descriptor: resolved,
        manifest: resolvedBytes,
        platform: { descriptor: chosen.descriptor, manifest: chosen.bytes },
      },
      call,
    );
    loaded = {
      descriptor: chosen.descriptor,
      manifest: chosen.manifest,
      bytes: chosen.bytes,
      index: resolved,
      ...passed,
    };
    if (vouched) Object.assign(loaded, vouched);
    if (chosen.platform) loaded.platform = chosen.platform;
  } else {
    if (options.platform !== undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        `${where}: --platform ${options.platform}: it is a single manifest (${resolved.digest}), not an image index; drop --platform`,
      );
    }
    const vouched = await options.gate?.verify(
      { target, reference: display, descriptor: resolved, manifest: resolvedBytes },
      call,
    );
    loaded = { descriptor: resolved, manifest: parsed.manifest, bytes: resolvedBytes, ...(vouched ?? passed) };
  }
  const config = loaded.manifest.config;
  if (options.readTOC !== false && config.mediaType === MediaTypeTOC) {
    if (config.size > DefaultManifestSizeLimit * 16) {
      throw new LadingError(ErrorCodes.integrity, `${where}: table of contents of ${config.size} bytes is too large`);
    }
    const toc = await readAll(await target.fetch(config, call), config.size, `${where}: table of contents`);
    loaded.toc = parseTOC(toc, loaded.manifest.layers, where);
  }
  return loaded;
}

/** How a layer is read. */
export type LayerKind =
  /** A file: the layer's bytes, written under its title. */
  | { kind: 'file'; path: string }
  /** A tar (gzip-compressed or not) to extract; `folder` when titled with the ORAS unpack annotation. */
  | { kind: 'tar'; gzip: boolean; title?: string }
  /** Not a user file (untitled and not a tar): skipped, as oras does. */
  | { kind: 'skip' };

const tarTypes = new Set([MediaTypeImageLayer, 'application/vnd.docker.image.rootfs.diff.tar']);
const tarGzipTypes = new Set([MediaTypeImageLayerGzip, 'application/vnd.docker.image.rootfs.diff.tar.gzip']);

/**
 * Classifies a layer by its annotations and media type: titled + `io.deis.oras.content.unpack` → folder tar;
 * titled → file; untitled tar / tar+gzip image layers → tar extracted at the root; anything else → skip.
 */
export function layerKind(layer: Descriptor): LayerKind {
  const title = layer.annotations?.[AnnotationTitle];
  const unpack = layer.annotations?.[AnnotationUnpack] === 'true';
  const gzip =
    tarGzipTypes.has(layer.mediaType) || layer.mediaType.endsWith('+gzip') || layer.mediaType.endsWith('.gzip');
  if (title !== undefined && unpack) return { kind: 'tar', gzip, title };
  if (title !== undefined) return { kind: 'file', path: title };
  if (tarTypes.has(layer.mediaType) || tarGzipTypes.has(layer.mediaType)) return { kind: 'tar', gzip };
  return { kind: 'skip' };
}
