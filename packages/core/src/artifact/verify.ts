/**
 * Verifying an artifact without reading its content, as one call: resolve, fetch and check the manifest, and ask
 * the gate, exactly as pull, ls and cat do before they read anything. `lading verify` is an adapter of it.
 */
import type { CallOptions, GraphTarget } from '../content.js';
import { parseManifest, type Descriptor, type Platform } from '../descriptor.js';
import { fetchAll } from '../digest.js';
import type { VerificationGate, VerifiedSignature } from '../trust.js';
import { loadArtifact } from './load.js';

/** Options of {@link verifyArtifact}. */
export interface VerifyOptions extends CallOptions {
  /** The gate to pass: `signatureGate(…)`, or a policy's. Required. */
  gate: VerificationGate;
  /**
   * For an image index: verify as a pull of this platform would, `os/arch[/variant]`: a valid signature on the index
   * or on that platform's manifest. Default: the index's own signatures (as `cosign verify`). Given for a single
   * manifest, `ERR_LADING_USAGE`.
   */
  platform?: string;
  /** The reference as the user wrote it, for messages. Default `reference`. */
  display?: string;
}

/** What {@link verifyArtifact} vouched for. */
export interface VerifyResult {
  /** What the reference resolved to; with `platform`, the chosen platform manifest. */
  descriptor: Descriptor;
  /** With `platform`, when the reference is an image index: the index. */
  index?: Descriptor;
  /** With `platform`: the platform the index gives the chosen manifest, when it gives one. */
  platform?: Platform;
  /** The signatures the gate accepted, each with the digest it is about (`subject`). */
  verified: VerifiedSignature[];
  /** The gate's warnings. */
  warnings: string[];
}

/**
 * Resolves `reference` in `target`, fetches its manifest (size-capped, digest-checked, its structure checked) and
 * passes it through `options.gate`; nothing else is read. Resolves with what the gate vouched for; rejects as the
 * gate does (`ERR_LADING_VERIFICATION`, exit 5 in the CLI, for no acceptable signature) or with the error of the
 * read (`ERR_LADING_NOT_FOUND`, `ERR_LADING_INTEGRITY`…). An image index is verified by its own signatures unless
 * `platform` is given.
 */
export async function verifyArtifact(
  target: GraphTarget,
  reference: string,
  options: VerifyOptions,
): Promise<VerifyResult> {
  const { gate, platform, display = reference, ...rest } = options;
  const call: CallOptions = rest.signal ? { signal: rest.signal } : {};
  if (platform !== undefined) {
    // The check pull makes, without reading the table of contents or any layer.
    const loaded = await loadArtifact(target, reference, display, { ...call, gate, platform, readTOC: false });
    return {
      descriptor: loaded.descriptor,
      ...(loaded.index && { index: loaded.index }),
      ...(loaded.platform && { platform: loaded.platform }),
      verified: loaded.verified,
      warnings: loaded.warnings,
    };
  }
  const where = `verify ${display}`;
  const descriptor = await target.resolve(reference, call);
  const manifest = await fetchAll(target, descriptor, where, call);
  // Checks the structure; an image index is verified by its own signatures (as cosign verify does).
  parseManifest(manifest, descriptor.mediaType, where);
  const passed = await gate.verify({ target, reference: display, descriptor, manifest }, call);
  return { descriptor, verified: passed.verified, warnings: passed.warnings };
}
