/**
 * Reading an artifact's metadata: the manifest (digest-checked), the verification gate, and the table of contents
 * when there is one. pull, ls and cat all start here, so nothing reads content before the gate has passed.
 */
import type { CallOptions, GraphTarget } from '../content.js';
import { parseManifest, type Descriptor, type ImageManifest } from '../descriptor.js';
import { readAll, verifyContent } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import {
  AnnotationTitle,
  AnnotationUnpack,
  DefaultManifestSizeLimit,
  IndexMediaTypes,
  MediaTypeImageLayer,
  MediaTypeImageLayerGzip,
} from '../media-types.js';
import type { VerificationGate } from '../trust.js';
import { MediaTypeTOC, parseTOC, type TOC } from './toc.js';

/** An artifact's manifest and table of contents, verified and past the gate. */
export interface LoadedArtifact {
  /** The manifest's descriptor: every read is pinned to its digest. */
  descriptor: Descriptor;
  manifest: ImageManifest;
  /** The manifest bytes, verified. */
  bytes: Uint8Array;
  /** The table of contents, when the artifact is lading's (config media type `application/vnd.lading.toc.v1+json`). */
  toc?: TOC;
}

/** Options of {@link loadArtifact}. */
export interface LoadOptions extends CallOptions {
  /** Runs after the manifest is verified and before anything else is read. Default: none (no signature check). */
  gate?: VerificationGate;
}

/**
 * Resolves `reference` in `target`, fetches and verifies the manifest, runs the gate, then fetches and checks the
 * TOC. An image index is refused with `ERR_LADING_USAGE` (select a platform manifest by digest).
 */
export async function loadArtifact(
  target: GraphTarget,
  reference: string,
  display: string,
  options: LoadOptions = {},
): Promise<LoadedArtifact> {
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  const descriptor = await target.resolve(reference, call);
  if (IndexMediaTypes.includes(descriptor.mediaType)) {
    throw new LadingError(
      ErrorCodes.usage,
      `read ${display}: it is an image index (several manifests); name one manifest by digest`,
    );
  }
  const where = `read ${display}`;
  if (descriptor.size > DefaultManifestSizeLimit) {
    throw new LadingError(ErrorCodes.protocol, `${where}: manifest larger than ${DefaultManifestSizeLimit} bytes`);
  }
  const bytes = await readAll(
    verifyContent(descriptor, await target.fetch(descriptor, call), where),
    descriptor.size,
    where,
  );
  const parsed = parseManifest(bytes, descriptor.mediaType, where);
  if (parsed.kind !== 'manifest') {
    throw new LadingError(ErrorCodes.usage, `${where}: it is an image index; name one manifest by digest`);
  }
  await options.gate?.verify({ target, reference: display, descriptor, manifest: bytes }, call);
  const loaded: LoadedArtifact = { descriptor, manifest: parsed.manifest, bytes };
  const config = parsed.manifest.config;
  if (config.mediaType === MediaTypeTOC) {
    if (config.size > DefaultManifestSizeLimit * 16) {
      throw new LadingError(ErrorCodes.integrity, `${where}: table of contents of ${config.size} bytes is too large`);
    }
    const toc = await readAll(
      verifyContent(config, await target.fetch(config, call), `${where}: table of contents`),
      config.size,
      where,
    );
    loaded.toc = parseTOC(toc, parsed.manifest.layers, where);
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

/**
 * Turns a decompression failure into `ERR_LADING_INTEGRITY` (the layer is corrupt or tampered with); other errors
 * pass through unchanged.
 */
export function decompressionError(error: unknown, where: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (!(error instanceof LadingError) && typeof code === 'string' && code.startsWith('Z_')) {
    return new LadingError(
      ErrorCodes.integrity,
      `${where}: the data does not decompress (${code}): corrupt or tampered with`,
      {
        cause: error,
      },
    );
  }
  return error;
}
