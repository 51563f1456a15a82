/**
 * `repairReferrers`: the workflow behind `lading referrers repair`, from a reference to a repaired fallback referrers
 * index (see `Referrers.repairFallback` for the repair itself).
 */
import type { Resolver } from '../content.js';
import type { Descriptor } from '../descriptor.js';
import { ErrorCodes, LadingError } from '../errors.js';
import type { RepairReferrersOptions, RepairReferrersResult } from './referrers.js';

/** A target whose fallback referrers index can be repaired: a remote repository (`RemoteRepository`). */
export interface ReferrersRepairer extends Resolver {
  repairReferrers(subject: Descriptor, options?: RepairReferrersOptions): Promise<RepairReferrersResult>;
}

/** What {@link repairReferrers} returns: the subject, and what the repair found and did. */
export interface RepairReferrersReport extends RepairReferrersResult {
  /** The manifest whose referrers index was repaired. */
  subject: Descriptor;
}

/**
 * Resolves `reference` (a tag or digest) in `target` and repairs the fallback referrers index of the manifest it
 * names: entries lacking `artifactType` or annotations are filled in from the referrer manifests and the index is
 * written back with `If-Match` (nothing is written with `dryRun`). `target` must be a remote repository; anything
 * else (an OCI layout lists referrers from its own index, with nothing to repair) is `ERR_LADING_USAGE`.
 */
export async function repairReferrers(
  target: unknown,
  reference: string,
  options: RepairReferrersOptions & { display?: string } = {},
): Promise<RepairReferrersReport> {
  const { display = reference, ...repair } = options;
  if (typeof (target as Partial<ReferrersRepairer>).repairReferrers !== 'function') {
    throw new LadingError(
      ErrorCodes.usage,
      `referrers repair ${display}: only a registry keeps a fallback referrers index (an OCI layout lists referrers from its index.json); name a registry reference`,
    );
  }
  const repairer = target as ReferrersRepairer;
  const subject = await repairer.resolve(reference, options.signal ? { signal: options.signal } : {});
  return { subject, ...(await repairer.repairReferrers(subject, repair)) };
}
