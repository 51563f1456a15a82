/**
 * Opening the target a reference names: a repository on a registry, or a local OCI image layout (`oci:<dir>`).
 */
import type { GraphTarget } from '../content.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { OCILayout } from '../oci-layout.js';
import { formatTarget, parseTarget } from '../reference.js';
import type { RegistryClient } from '../registry/client.js';

/**
 * A target opened from a reference, and the tag or digest the reference named. Pass it whole to
 * `pushArtifact` so the reference's tag is pushed (`target` alone knows no tag).
 */
export interface OpenedTarget {
  target: GraphTarget;
  /** The digest when the reference had one, else the tag, else undefined. */
  reference?: string;
  /** All tags the reference named (`:t1,t2` is split by the CLI before this). */
  tag?: string;
  digest?: string;
  /** The normalised reference, for messages. */
  display: string;
}

/** Options of {@link openTarget}. */
export interface OpenTargetOptions {
  /** The client used for registry references. */
  client: RegistryClient;
  /** Create the layout folder when it does not exist (push). Default false. */
  create?: boolean;
}

/**
 * Opens `input`: `oci:<dir>[:tag|@digest]` gives an {@link OCILayout}, anything else a remote repository. The tag or
 * digest is returned beside the target, not kept in it: give the whole result to `pushArtifact` (which pushes the
 * tag and refuses a digest), and `reference` to pull, list or cat. Throws
 * `ERR_LADING_INVALID_REFERENCE` on a malformed reference, `ERR_LADING_NOT_FOUND` for a missing layout when not
 * creating.
 */
export async function openTarget(input: string, options: OpenTargetOptions): Promise<OpenedTarget> {
  const parsed = parseTarget(input);
  const out: OpenedTarget = { target: undefined as unknown as GraphTarget, display: formatTarget(parsed) };
  if (parsed.tag !== undefined) out.tag = parsed.tag;
  if (parsed.digest !== undefined) out.digest = parsed.digest;
  const ref = parsed.digest ?? parsed.tag;
  if (ref !== undefined) out.reference = ref;
  if (parsed.kind === 'layout') {
    try {
      out.target = await OCILayout.open(parsed.path, { create: options.create ?? false });
    } catch (cause) {
      if (cause instanceof LadingError) throw cause;
      throw new LadingError(ErrorCodes.notFound, `open layout ${parsed.path}: not an OCI image layout`, { cause });
    }
  } else {
    out.target = options.client.repository(parsed);
  }
  return out;
}
