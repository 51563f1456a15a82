/**
 * discover: the referrers of an artifact as a tree, as `oras discover` shows them (signatures, attestations, SBOMs,
 * and their own referrers), plus cosign's legacy signature tag. Nothing is verified: `verifyArtifact` does that.
 * `lading discover` is an adapter of it.
 */
import type { CallOptions, GraphTarget } from '../content.js';
import type { Descriptor } from '../descriptor.js';
import { ErrorCodes, isLadingError, LadingError } from '../errors.js';
import { MediaTypeCosignSimpleSigning } from '../media-types.js';
import { legacySignatureTag } from '../signatures.js';

/** A referrer, and (down to the depth asked) the referrers of it. */
export interface DiscoveredReferrer extends Descriptor {
  /** Its own referrers (a signature of an SBOM…), when the depth reached them; absent at the last level. */
  referrers?: DiscoveredReferrer[];
}

/** Default of {@link DiscoverOptions.depth}: the artifact's referrers and theirs, three levels. */
export const DefaultDiscoverDepth = 3;

/** Most referrers {@link discoverReferrers} lists in all, whatever the depth: a bound on requests for a hostile graph. */
export const MaxDiscoveredReferrers = 1000;

/** Options of {@link discoverReferrers}. */
export interface DiscoverOptions extends CallOptions {
  /** Levels of referrers to list (1: the artifact's own only). Default {@link DefaultDiscoverDepth}. */
  depth?: number;
  /** Only referrers of this artifact type, at every level. Default: all. */
  artifactType?: string;
  /** The reference as the user wrote it, for messages. Default `reference`. */
  display?: string;
}

/** What {@link discoverReferrers} found. */
export interface DiscoverResult {
  /** The manifest (or index) the reference resolved to, whose referrers are listed. */
  descriptor: Descriptor;
  /** Its referrers as the registry (or the tag fallback) lists them, each with its own down to the depth asked. */
  referrers: DiscoveredReferrer[];
  /**
   * cosign's legacy signatures (the manifest tagged `sha256-<hex>.sig`, not a referrer), when there is one and the
   * `artifactType` filter (if any) is cosign's simple-signing type.
   */
  legacySignatures?: { tag: string; digest: string };
}

/**
 * Resolves `reference` in `target` and lists its referrers, and theirs down to `depth` levels, each referrer once
 * (a cycle or a repeat is skipped). Throws `ERR_LADING_PROTOCOL` past {@link MaxDiscoveredReferrers} referrers in
 * all (lower the depth or filter by artifact type), `ERR_LADING_USAGE` for a depth below 1, and whatever the target
 * throws (`ERR_LADING_NOT_FOUND` for a reference that names nothing).
 */
export async function discoverReferrers(
  target: GraphTarget,
  reference: string,
  options: DiscoverOptions = {},
): Promise<DiscoverResult> {
  const { depth = DefaultDiscoverDepth, artifactType, display = reference } = options;
  const where = `discover ${display}`;
  if (!Number.isInteger(depth) || depth < 1) {
    throw new LadingError(ErrorCodes.usage, `${where}: the depth must be a whole number from 1 (got ${depth})`);
  }
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  const descriptor = await target.resolve(reference, call);
  let left = MaxDiscoveredReferrers;
  const seen = new Set([descriptor.digest]);
  const list = async (subject: Descriptor, level: number): Promise<DiscoveredReferrer[]> => {
    const found = await target.referrers(subject, { ...call, ...(artifactType === undefined ? {} : { artifactType }) });
    const out: DiscoveredReferrer[] = [];
    for (const referrer of found) {
      if (seen.has(referrer.digest)) continue; // a cycle, or listed twice
      if (left-- <= 0) {
        throw new LadingError(
          ErrorCodes.protocol,
          `${where}: more than ${MaxDiscoveredReferrers} referrers; lower the depth or filter by artifact type`,
        );
      }
      seen.add(referrer.digest);
      const node: DiscoveredReferrer = { ...referrer };
      if (level < depth) node.referrers = await list(referrer, level + 1);
      out.push(node);
    }
    return out;
  };
  const result: DiscoverResult = { descriptor, referrers: await list(descriptor, 1) };
  if (artifactType === undefined || artifactType === MediaTypeCosignSimpleSigning) {
    const tag = legacySignatureTag(descriptor.digest);
    try {
      result.legacySignatures = { tag, digest: (await target.resolve(tag, call)).digest };
    } catch (error) {
      if (!isLadingError(error, ErrorCodes.notFound)) throw error;
    }
  }
  return result;
}
