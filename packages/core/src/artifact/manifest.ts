/**
 * readManifest: the bytes of a manifest or index exactly as stored, digest-checked, optionally one platform's manifest
 * of an index, past the verification gate (`lading manifest fetch`).
 */
import type { CallOptions, GraphTarget } from '../content.js';
import { parseManifest, type Descriptor, type Platform } from '../descriptor.js';
import { fetchAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import type { VerificationGate, VerifiedSignature } from '../trust.js';
import { parsePlatform, resolvePlatformManifest } from './platform.js';

/** Options of {@link readManifest}. */
export interface ReadManifestOptions extends CallOptions {
  /** Signature check before the bytes are returned. Default none. */
  gate?: VerificationGate;
  /**
   * For an image index: return this platform's manifest (`os/arch[/variant]`, chosen as `resolvePlatformManifest`
   * chooses) instead of the index. A single manifest with `platform` is `ERR_LADING_USAGE`. Default: what the
   * reference names, index or not.
   */
  platform?: string;
  /** The reference as the user wrote it, for messages. Default `reference`. */
  display?: string;
}

/** What {@link readManifest} returns. */
export interface ReadManifestResult {
  /** The manifest's descriptor (with `platform`, the platform manifest's, as the index lists it). */
  descriptor: Descriptor;
  /** Its bytes as stored, verified against `descriptor` (size and digest). */
  bytes: Uint8Array;
  /** With `platform`: the index the manifest was chosen from. */
  index?: Descriptor;
  /** With `platform`: the platform the index gives the manifest. */
  platform?: Platform;
  /** The signatures the gate let the read through on (empty without a gate). */
  verified: VerifiedSignature[];
  /** What the gate warned about (empty without a gate or when it had nothing to say). */
  warnings: string[];
}

/**
 * Resolves `reference` in `target` and returns the manifest's bytes exactly as stored, checked against the digest
 * (and size-capped at 4 MiB), after the gate when one is given: nothing is returned for a manifest the gate refuses.
 * The bytes are parsed only to check they are a manifest or index (and, with `platform`, to choose from the index).
 */
export async function readManifest(
  target: GraphTarget,
  reference: string,
  options: ReadManifestOptions = {},
): Promise<ReadManifestResult> {
  const { gate, platform, display = reference, ...rest } = options;
  const call: CallOptions = rest.signal ? { signal: rest.signal } : {};
  const where = `fetch manifest ${display}`;
  if (platform !== undefined) parsePlatform(platform);
  const resolved = await target.resolve(reference, call);
  const bytes = await fetchAll(target, resolved, where, call);
  const parsed = parseManifest(bytes, resolved.mediaType, where);
  if (platform === undefined) {
    const passed = await gate?.verify({ target, reference: display, descriptor: resolved, manifest: bytes }, call);
    return { descriptor: resolved, bytes, verified: passed?.verified ?? [], warnings: passed?.warnings ?? [] };
  }
  if (parsed.kind !== 'index') {
    throw new LadingError(
      ErrorCodes.usage,
      `${where}: --platform ${platform}: it is a single manifest (${resolved.digest}), not an image index; drop --platform`,
    );
  }
  const chosen = await resolvePlatformManifest(
    target,
    { descriptor: resolved, manifests: parsed.index.manifests },
    display,
    { ...call, platform },
  );
  const passed = await gate?.verify(
    {
      target,
      reference: display,
      descriptor: resolved,
      manifest: bytes,
      platform: { descriptor: chosen.descriptor, manifest: chosen.bytes },
    },
    call,
  );
  const result: ReadManifestResult = {
    descriptor: chosen.descriptor,
    bytes: chosen.bytes,
    index: resolved,
    verified: passed?.verified ?? [],
    warnings: passed?.warnings ?? [],
  };
  if (chosen.platform) result.platform = chosen.platform;
  return result;
}
