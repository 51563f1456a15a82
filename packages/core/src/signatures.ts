/**
 * Signatures as referrers: attaching what a {@link Signer} produced to the manifest it signs, and the verification
 * gate that discovers a manifest's referrers and asks the configured {@link Verifier}s about them before any
 * content is read. Core knows only the interfaces; the plugins do the cryptography.
 */
import type { CallOptions, GraphTarget, Target } from './content.js';
import { parseManifest, type Descriptor } from './descriptor.js';
import { descriptorFor, fetchAll } from './digest.js';
import { ErrorCodes, isLadingError, LadingError } from './errors.js';
import { EmptyJSON, ManifestMediaTypes, MediaTypeCosignSimpleSigning, MediaTypeImageManifest } from './media-types.js';
import type {
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
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypeImageManifest,
      artifactType: signed.artifactType,
      config,
      layers,
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: signed.annotations,
    }),
  );
  const desc = descriptorFor(MediaTypeImageManifest, manifest);
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
   * The verifiers; each one must accept at least one signature (one valid signature per required authority).
   * At least one verifier is required.
   */
  verifiers: readonly Verifier[];
  /** Largest signature layer read, in bytes. Default 4 MiB. */
  maxSignatureSize?: number;
  /**
   * Most signature candidates read per manifest (referrers plus legacy layers); the rest are skipped, which can only
   * make verification fail, never pass. Default 128.
   */
  maxCandidates?: number;
  /** Receives every signature that verified, for `--json` output. */
  onVerified?: (signatures: VerifiedSignature[]) => void;
}

const defaultMaxSignature = 4 * 1024 * 1024;
const defaultMaxCandidates = 128;
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

/** Reads a referrer and its single layer, checked by digest; undefined with a reason when it is not a candidate. */
async function loadCandidate(
  target: GraphTarget,
  reference: string,
  signed: Signed,
  referrer: Descriptor,
  max: number,
  options: CallOptions,
): Promise<{ candidate?: SignatureCandidate; skipped?: string }> {
  if (!ManifestMediaTypes.includes(referrer.mediaType)) return { skipped: `${referrer.digest}: not a manifest` };
  if (referrer.size > defaultMaxSignature) return { skipped: `${referrer.digest}: manifest too large` };
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
    layers.push({ descriptor, content: await fetchAll(target, descriptor, where, options, max) });
  }
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
  room: number,
  options: CallOptions,
): Promise<Found> {
  const found: Found = { candidates: [], notes: [], listed: 0 };
  const tag = legacySignatureTag(signed.descriptor.digest);
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
  const bytes = await fetchAll(target, desc, where, options);
  const parsed = parseManifest(bytes, desc.mediaType, where);
  if (parsed.kind !== 'manifest') {
    found.notes.push(`${tag}: an index`);
    return found;
  }
  const referrer: Descriptor = { ...desc, artifactType: MediaTypeCosignSimpleSigning };
  for (const layer of parsed.manifest.layers) {
    if (layer.mediaType !== MediaTypeCosignSimpleSigning) continue;
    if (found.candidates.length >= room) {
      found.notes.push(`${tag}: more legacy signatures than the gate reads`);
      break;
    }
    if (layer.size > max) {
      found.notes.push(`${tag}: layer ${layer.digest} larger than ${max} bytes`);
      continue;
    }
    const content = await fetchAll(target, layer, where, options, max);
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

/** Every candidate signature of `signed`: its referrers (referrers API or tag fallback), then legacy signatures. */
async function findCandidates(
  target: GraphTarget,
  reference: string,
  signed: Signed,
  max: number,
  limit: number,
  options: CallOptions,
): Promise<Found> {
  const referrers = await target.referrers(signed.descriptor, options);
  const found: Found = { candidates: [], notes: [], listed: referrers.length };
  for (const referrer of referrers) {
    if (found.candidates.length >= limit) {
      found.notes.push(`${referrers.length - limit} more referrer(s) not read`);
      break;
    }
    const { candidate, skipped } = await loadCandidate(target, reference, signed, referrer, max, options);
    if (candidate) found.candidates.push(candidate);
    else if (skipped) found.notes.push(skipped);
  }
  const legacy = await loadLegacy(target, reference, signed, max, limit - found.candidates.length, options);
  found.candidates.push(...legacy.candidates);
  found.notes.push(...legacy.notes);
  found.listed += legacy.listed;
  return found;
}

/**
 * The verification gate for signatures: lists the referrers of the manifest being read (referrers API or tag
 * fallback) and its legacy cosign `sha256-<hex>.sig` signatures, reads each one and its layer (digest-checked,
 * size-capped; a referrer's own `subject` must be the manifest — listings are never trusted), and offers them to
 * the verifiers. When the subject is an index read through one platform manifest (`GateSubject.platform`), the
 * signatures of both count: the index pins the platform manifest by digest. Each verifier must accept at least
 * one; otherwise the read stops with `ERR_LADING_VERIFICATION` saying, per candidate, why it was refused. Every
 * accepted signature is reported, each with the digest it is about. It fails closed: no referrers, no verifiers,
 * or any error means no read; a verifier error other than `ERR_LADING_VERIFICATION` (say, a trusted root that
 * cannot be fetched: `ERR_LADING_NETWORK`) stops the read with that error rather than counting as a refusal.
 */
export function signatureGate(options: SignatureGateOptions): VerificationGate {
  if (options.verifiers.length === 0) {
    throw new LadingError(ErrorCodes.usage, 'signature gate: at least one verifier is required');
  }
  const max = options.maxSignatureSize ?? defaultMaxSignature;
  const limit = options.maxCandidates ?? defaultMaxCandidates;
  return {
    async verify(subject: GateSubject, call: CallOptions = {}): Promise<void> {
      const where = `verify ${subject.reference}@${subject.descriptor.digest}`;
      const signed: Signed[] = [{ descriptor: subject.descriptor, manifest: subject.manifest }];
      if (subject.platform) signed.push(subject.platform);
      const candidates: SignatureCandidate[] = [];
      const notes: string[] = [];
      let listed = 0;
      for (const one of signed) {
        const found = await findCandidates(subject.target, subject.reference, one, max, limit, call);
        candidates.push(...found.candidates);
        notes.push(...found.notes);
        listed += found.listed;
      }
      const about = subject.platform
        ? ` (index ${subject.descriptor.digest} or platform manifest ${subject.platform.descriptor.digest})`
        : '';
      const verified: VerifiedSignature[] = [];
      for (const verifier of options.verifiers) {
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
              ? `no ${verifier.name} signature among ${listed} referrer(s)${about}${notes.length ? ` (${notes.join('; ')})` : ''}`
              : `none of the ${mine.length} ${verifier.name} signature(s)${about} is acceptable: ${reasons.join('; ')}`;
          throw new LadingError(ErrorCodes.verification, `${where}: ${found}; nothing was read`);
        }
        verified.push(...accepted);
      }
      options.onVerified?.(verified);
    },
  };
}
