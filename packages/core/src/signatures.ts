/**
 * Signatures as referrers: attaching what a {@link Signer} produced to the manifest it signs, and the verification
 * gate that discovers a manifest's referrers and asks the configured {@link Verifier}s about them before any
 * content is read. Core knows only the interfaces; the plugins do the cryptography.
 */
import { packManifest } from './artifact/pack.js';
import { requiredVerifiers, type Authority } from './authorities.js';
import type { CallOptions, GraphTarget, Target } from './content.js';
import { parseManifest, type Descriptor } from './descriptor.js';
import { descriptorFor, fetchAll } from './digest.js';
import { ErrorCodes, isLadingError, LadingError } from './errors.js';
import { EmptyJSON, ManifestMediaTypes, MediaTypeCosignSimpleSigning } from './media-types.js';
import type {
  GateResult,
  GateSubject,
  SignatureCandidate,
  SignedReferrer,
  VerificationGate,
  VerifiedSignature,
  Verifier,
} from './trust.js';

interface ManifestPusher {
  pushManifest(desc: Descriptor, bytes: Uint8Array, tags: readonly string[], options?: CallOptions): Promise<void>;
}

/**
 * Attaches a signature to `subject` in `target` as an OCI 1.1 referrer: the signature as the single layer, the
 * empty config, `subject` pointing at the signed manifest, the signer's annotations (interop.md, "Sigstore bundle
 * referrers"). Registries without the referrers API get the tag-schema fallback (the remote repository handles
 * it). Returns the referrer manifest's descriptor.
 */
export async function attachSignature(
  target: Target,
  subject: Descriptor,
  signed: SignedReferrer,
  options: CallOptions = {},
): Promise<Descriptor> {
  const parts = [...(signed.payloadLayers ?? [])];
  parts.push({ mediaType: signed.layerMediaType, content: signed.content, annotations: signed.layerAnnotations ?? {} });
  const empty = Buffer.from('{}');
  const config: Descriptor = { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size };
  if (!(await target.exists(config, options))) await target.push(config, empty, options);
  const layers: Descriptor[] = [];
  for (const part of parts) {
    const layer = descriptorFor(part.mediaType, part.content);
    if (part.annotations && Object.keys(part.annotations).length > 0) layer.annotations = part.annotations;
    if (!(await target.exists(layer, options))) await target.push(layer, part.content, options);
    layers.push(layer);
  }
  const { bytes: manifest, descriptor: desc } = packManifest({
    artifactType: signed.artifactType,
    config,
    layers,
    subject,
    annotations: signed.annotations,
  });
  if (typeof (target as Partial<ManifestPusher>).pushManifest === 'function') {
    await (target as unknown as ManifestPusher).pushManifest(desc, manifest, [], options);
  } else {
    await target.push(desc, manifest, options);
  }
  return desc;
}

/** Options of {@link signatureGate}. */
export interface SignatureGateOptions {
  /**
   * Whom to trust. Every entry must be satisfied: `verifiers: [a, b]` means all (a valid signature `a` accepts and
   * one `b` accepts), as does `[allOf([a, b])]`; `[anyOf([a, b])]` means either. A verifier is satisfied by at least
   * one signature it accepts. At least one is required.
   */
  verifiers: readonly Authority[];
  /** Largest signature layer read, in bytes. Default 4 MiB. */
  maxSignatureSize?: number;
  /**
   * Most signature candidates read per check (referrers plus legacy layers, of the manifest and of the platform
   * manifest together); the rest are not read, which can only make verification fail, never pass. Default 64.
   */
  maxCandidates?: number;
  /**
   * Most requests the gate spends reading candidates per check: each referrer manifest, each signature layer, the
   * legacy `.sig` tag and its manifest (listing the referrers is one request more). A referrer that turns out not
   * to be a candidate (another subject, not one layer) counts too. Default 128.
   */
  maxRequests?: number;
  /** Most bytes of referrer manifests and signature layers read per check. Default 32 MiB. */
  maxBytes?: number;
  /**
   * Signatures given beside the artifact instead of those in the registry (`lading verify --bundle FILE`, as
   * `gh attestation verify --bundle`): when set, the gate reads no referrer and no legacy signature, and offers each
   * given signature to the verifiers as about the manifest (and, read through a platform, about the platform
   * manifest too). The verifiers check, as always, that a signature is about that digest. Default: none, the
   * registry's signatures.
   */
  given?: readonly GivenSignature[];
}

/** A signature from outside the registry, e.g. one Sigstore bundle of a bundle file (see `given`). */
export interface GivenSignature {
  /** Where it comes from, for messages, e.g. `bundle.jsonl line 2`. */
  name: string;
  /** Its media type, e.g. `application/vnd.dev.sigstore.bundle.v0.3+json`: what verifiers choose by. */
  mediaType: string;
  /**
   * Its bytes. The candidate offered has no referrer manifest: `referrer` and `layer` are both the descriptor of
   * these bytes, so a verified signature's `referrer` is their digest.
   */
  content: Uint8Array;
}

const defaultMaxSignature = 4 * 1024 * 1024;
const defaultMaxCandidates = 64;
const defaultMaxRequests = 128;
const defaultMaxBytes = 32 * 1024 * 1024;
/** Refusal reasons quoted in a verification error; the rest are counted. */
const quotedReasons = 5;
/** Most layers a referrer may have to be a signature candidate (payload layers plus the signature). */
const maxReferrerLayers = 4;

/** A manifest the gate looks for signatures of: its descriptor and its verified bytes. */
interface Signed {
  descriptor: Descriptor;
  manifest: Uint8Array;
}

interface Found {
  candidates: SignatureCandidate[];
  notes: string[];
  listed: number;
}

/**
 * What one check of the gate may still spend. Each read is paid for before it is made, with the size its
 * descriptor declares (the read is then held to that size), so a bound is never overshot.
 */
class Budget {
  requests = 0;
  bytes = 0;
  candidates = 0;
  /** Referrers (and legacy tags) listed but not read because a bound was reached. */
  unread = 0;
  /** The bound that stopped the search, for the message. */
  stoppedBy: string | undefined;

  constructor(private readonly limits: { requests: number; bytes: number; candidates: number }) {}

  /** True when one more candidate fits (else records why not). */
  roomForCandidate(): boolean {
    if (this.candidates < this.limits.candidates) return true;
    this.stoppedBy ??= `reads at most ${this.limits.candidates} signature candidates`;
    return false;
  }

  /** Pays for one request of `size` bytes; false (nothing paid) when it would pass a bound. */
  pay(size: number): boolean {
    if (this.requests + 1 > this.limits.requests) {
      this.stoppedBy ??= `makes at most ${this.limits.requests} requests`;
      return false;
    }
    if (this.bytes + size > this.limits.bytes) {
      this.stoppedBy ??= `reads at most ${this.limits.bytes} bytes`;
      return false;
    }
    this.requests += 1;
    this.bytes += size;
    return true;
  }

  get exhausted(): boolean {
    return this.stoppedBy !== undefined;
  }
}

/**
 * Reads a referrer and its single layer, checked by digest; undefined with a reason when it is not a candidate, or
 * `unread` when the budget does not cover it.
 */
async function loadCandidate(
  target: GraphTarget,
  reference: string,
  signed: Signed,
  referrer: Descriptor,
  max: number,
  budget: Budget,
  options: CallOptions,
): Promise<{ candidate?: SignatureCandidate; skipped?: string; unread?: true }> {
  if (!ManifestMediaTypes.includes(referrer.mediaType)) return { skipped: `${referrer.digest}: not a manifest` };
  if (referrer.size > defaultMaxSignature) return { skipped: `${referrer.digest}: manifest too large` };
  if (!budget.roomForCandidate() || !budget.pay(referrer.size)) return { unread: true };
  const where = `verify ${reference}: referrer ${referrer.digest}`;
  const bytes = await fetchAll(target, referrer, where, options);
  const parsed = parseManifest(bytes, referrer.mediaType, where);
  if (parsed.kind !== 'manifest') return { skipped: `${referrer.digest}: an index` };
  // Never trust listing metadata: the referrer itself must name this exact manifest.
  if (parsed.manifest.subject?.digest !== signed.descriptor.digest) {
    return { skipped: `${referrer.digest}: its subject is not ${signed.descriptor.digest}` };
  }
  // A signature is one layer (a bundle), or a few: a payload beside its detached signature (SSH), signature last.
  const all = parsed.manifest.layers;
  const layer = all.at(-1);
  if (!layer || all.length > maxReferrerLayers) return { skipped: `${referrer.digest}: not 1 to 4 layers` };
  if (all.some((l) => l.size > max)) return { skipped: `${referrer.digest}: signature layer larger than ${max} bytes` };
  const layers: { descriptor: Descriptor; content: Uint8Array }[] = [];
  for (const descriptor of all) {
    if (!budget.pay(descriptor.size)) return { unread: true };
    layers.push({ descriptor, content: await fetchAll(target, descriptor, where, options, max) });
  }
  budget.candidates += 1;
  const content = layers.at(-1)?.content ?? new Uint8Array();
  const described: Descriptor = { ...referrer };
  const artifactType = parsed.manifest.artifactType ?? parsed.manifest.config.mediaType;
  described.artifactType = artifactType;
  return {
    candidate: {
      subject: signed.descriptor,
      subjectBytes: signed.manifest,
      referrer: described,
      manifest: bytes,
      layer,
      content,
      layers,
    },
  };
}

/**
 * The tag under which legacy cosign stores the signatures of `digest`: `<alg>-<hex>.sig` (cosign's "triangulation").
 */
export function legacySignatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/**
 * Legacy cosign signatures of `signed`: the manifest tagged `sha256-<hex>.sig`, one candidate per simple-signing
 * layer. That manifest has no `subject`; the verifier must check the digest its payload names. No tag, no
 * candidates; any other failure to read it is an error (the gate fails closed).
 */
async function loadLegacy(
  target: GraphTarget,
  reference: string,
  signed: Signed,
  max: number,
  budget: Budget,
  options: CallOptions,
): Promise<Found> {
  const found: Found = { candidates: [], notes: [], listed: 0 };
  const tag = legacySignatureTag(signed.descriptor.digest);
  if (!budget.pay(0)) {
    budget.unread += 1;
    found.notes.push(`${tag}: not looked up`);
    return found;
  }
  let desc: Descriptor;
  try {
    desc = await target.resolve(tag, options);
  } catch (error) {
    if (isLadingError(error, ErrorCodes.notFound)) return found;
    throw error;
  }
  found.listed = 1;
  const where = `verify ${reference}: legacy signature tag ${tag}`;
  if (!ManifestMediaTypes.includes(desc.mediaType) || desc.size > defaultMaxSignature) {
    found.notes.push(`${tag}: not a signature manifest`);
    return found;
  }
  if (!budget.pay(desc.size)) {
    budget.unread += 1;
    return found;
  }
  const bytes = await fetchAll(target, desc, where, options);
  const parsed = parseManifest(bytes, desc.mediaType, where);
  if (parsed.kind !== 'manifest') {
    found.notes.push(`${tag}: an index`);
    return found;
  }
  const referrer: Descriptor = { ...desc, artifactType: MediaTypeCosignSimpleSigning };
  const layers = parsed.manifest.layers.filter((layer) => layer.mediaType === MediaTypeCosignSimpleSigning);
  for (const [index, layer] of layers.entries()) {
    if (layer.size > max) {
      found.notes.push(`${tag}: layer ${layer.digest} larger than ${max} bytes`);
      continue;
    }
    if (!budget.roomForCandidate() || !budget.pay(layer.size)) {
      budget.unread += layers.length - index;
      break;
    }
    const content = await fetchAll(target, layer, where, options, max);
    budget.candidates += 1;
    found.candidates.push({
      subject: signed.descriptor,
      subjectBytes: signed.manifest,
      referrer,
      manifest: bytes,
      layer,
      content,
    });
  }
  return found;
}

/**
 * The referrers worth reading first: listed once each (a listing may repeat a digest), those whose listed
 * `artifactType` some verifier reads first, then the others, each group in listing order. A verifier is asked as if
 * the artifact type were also the layer's media type, as in cosign's bundle referrers. The order only decides what
 * is read before a bound stops the search: whatever is read is still checked against its own manifest.
 */
function readingOrder(listed: readonly Descriptor[], verifiers: readonly Verifier[]): Descriptor[] {
  const seen = new Set<string>();
  const preferred: Descriptor[] = [];
  const others: Descriptor[] = [];
  for (const referrer of listed) {
    if (seen.has(referrer.digest)) continue;
    seen.add(referrer.digest);
    const type = referrer.artifactType ?? '';
    const layer: Descriptor = { mediaType: type, digest: referrer.digest, size: 0 };
    (verifiers.some((v) => v.accepts({ referrer, layer })) ? preferred : others).push(referrer);
  }
  return [...preferred, ...others];
}

/**
 * Every candidate signature of `signed` the budget allows: its legacy signatures (one tag, a few requests), then
 * its referrers (referrers API or tag fallback) in {@link readingOrder}. Legacy candidates come last in the result.
 */
async function findCandidates(
  target: GraphTarget,
  reference: string,
  signed: Signed,
  max: number,
  verifiers: readonly Verifier[],
  budget: Budget,
  options: CallOptions,
): Promise<Found> {
  const legacy = await loadLegacy(target, reference, signed, max, budget, options);
  const referrers = readingOrder(await target.referrers(signed.descriptor, options), verifiers);
  const found: Found = { candidates: [], notes: [], listed: referrers.length + legacy.listed };
  for (const [index, referrer] of referrers.entries()) {
    if (budget.exhausted) {
      budget.unread += referrers.length - index;
      break;
    }
    const { candidate, skipped, unread } = await loadCandidate(
      target,
      reference,
      signed,
      referrer,
      max,
      budget,
      options,
    );
    if (candidate) found.candidates.push(candidate);
    else if (skipped) found.notes.push(skipped);
    else if (unread) budget.unread += 1;
  }
  found.candidates.push(...legacy.candidates);
  found.notes.push(...legacy.notes);
  return found;
}

/** A {@link GivenSignature} as a candidate about `signed`: no referrer manifest, the signature its own layer. */
function givenCandidate(signed: Signed, given: GivenSignature): SignatureCandidate {
  const layer = descriptorFor(given.mediaType, given.content);
  return {
    subject: signed.descriptor,
    subjectBytes: signed.manifest,
    referrer: { ...layer, artifactType: given.mediaType },
    manifest: new Uint8Array(),
    layer,
    content: given.content,
    layers: [{ descriptor: layer, content: given.content }],
  };
}

/** Up to {@link quotedReasons} distinct reasons, and how many more there were. */
function quote(reasons: readonly string[]): string {
  const shown = reasons.slice(0, quotedReasons);
  const more = reasons.length - shown.length;
  return `${shown.join('; ')}${more > 0 ? `; and ${more} more` : ''}`;
}

/**
 * The verification gate for signatures: lists the referrers of the manifest being read (referrers API or tag
 * fallback) and its legacy cosign `sha256-<hex>.sig` signatures, reads each one and its layer (digest-checked,
 * size-capped; a referrer's own `subject` must be the manifest — listings are never trusted), and offers them to
 * the verifiers. When the subject is an index read through one platform manifest (`GateSubject.platform`), the
 * signatures of both count: the index pins the platform manifest by digest. Each verifier must accept at least
 * one; otherwise the read stops with `ERR_LADING_VERIFICATION` saying, per candidate, why it was refused. Every
 * accepted signature is returned (`GateResult.verified`), each with the digest it is about; `warnings` is always
 * empty (a signature either verifies or does not). It fails closed: no referrers, no verifiers,
 * or any error means no read; a verifier error other than `ERR_LADING_VERIFICATION` (say, a trusted root that
 * cannot be fetched: `ERR_LADING_NETWORK`) stops the read with that error rather than counting as a refusal.
 *
 * With `given` signatures (a bundle file), those are the candidates and the registry is not asked for any.
 *
 * What one check spends is bounded (`maxCandidates`, `maxRequests`, `maxBytes`), so a crowd of referrers cannot
 * make it read without end: a listing is read once per digest, legacy signatures first, then referrers whose listed
 * artifact type a verifier reads, then the rest. When a bound stops the search and no signature was accepted, the
 * error says how many listed signatures were not read.
 */
export function signatureGate(options: SignatureGateOptions): VerificationGate {
  const verifiers = requiredVerifiers(options.verifiers);
  if (verifiers.length === 0) {
    throw new LadingError(ErrorCodes.usage, 'signature gate: at least one verifier is required');
  }
  const max = options.maxSignatureSize ?? defaultMaxSignature;
  const limits = {
    candidates: options.maxCandidates ?? defaultMaxCandidates,
    requests: options.maxRequests ?? defaultMaxRequests,
    bytes: options.maxBytes ?? defaultMaxBytes,
  };
  return {
    async verify(subject: GateSubject, call: CallOptions = {}): Promise<GateResult> {
      const where = `verify ${subject.reference}@${subject.descriptor.digest}`;
      const signed: Signed[] = [{ descriptor: subject.descriptor, manifest: subject.manifest }];
      if (subject.platform) signed.push(subject.platform);
      const budget = new Budget(limits);
      const candidates: SignatureCandidate[] = [];
      const notes: string[] = [];
      let listed = 0;
      const given = options.given;
      for (const one of signed) {
        if (given !== undefined) {
          candidates.push(...given.map((g) => givenCandidate(one, g)));
          listed = given.length;
          continue;
        }
        const found = await findCandidates(subject.target, subject.reference, one, max, verifiers, budget, call);
        candidates.push(...found.candidates);
        notes.push(...found.notes);
        listed += found.listed;
      }
      const listing = given === undefined ? 'referrer(s)' : 'given signature(s)';
      const about = subject.platform
        ? ` (index ${subject.descriptor.digest} or platform manifest ${subject.platform.descriptor.digest})`
        : '';
      // When a bound stopped the search, a valid signature may be among what was not read: say so, never imply
      // that none was valid.
      const unread =
        budget.unread > 0
          ? `; ${budget.unread} listed signature(s) were not read, as the gate ${budget.stoppedBy ?? 'stopped'}`
          : '';
      const verified: VerifiedSignature[] = [];
      for (const verifier of verifiers) {
        const mine = candidates.filter((c) => verifier.accepts(c));
        const reasons: string[] = [];
        const accepted: VerifiedSignature[] = [];
        for (const candidate of mine) {
          call.signal?.throwIfAborted();
          try {
            const result = await verifier.verify(candidate, call);
            accepted.push({ ...result, subject: candidate.subject.digest });
          } catch (error) {
            // Only a refused signature is a reason to try the next one; anything else (the trusted root cannot
            // be fetched, an abort) stops the read as it is, with its own code.
            if (call.signal?.aborted === true || !isLadingError(error, ErrorCodes.verification)) throw error;
            reasons.push(error.message);
          }
        }
        if (accepted.length === 0) {
          const found =
            mine.length === 0
              ? `no ${verifier.name} signature among ${listed} ${listing}${about}${notes.length ? ` (${quote(notes)})` : ''}`
              : `none of the ${mine.length} ${verifier.name} signature(s)${about} is acceptable: ${quote(reasons)}`;
          throw new LadingError(ErrorCodes.verification, `${where}: ${found}${unread}; nothing was read`);
        }
        verified.push(...accepted);
      }
      return { verified, warnings: [] };
    },
  };
}
