/**
 * Signatures as referrers: attaching what a {@link Signer} produced to the manifest it signs, and the verification
 * gate that discovers a manifest's referrers and asks the configured {@link Verifier}s about them before any
 * content is read. Core knows only the interfaces; the plugins do the cryptography.
 */
import type { CallOptions, GraphTarget, Target } from './content.js';
import { parseManifest, type Descriptor } from './descriptor.js';
import { descriptorFor, readAll, verifyContent } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';
import { EmptyJSON, ManifestMediaTypes, MediaTypeImageManifest } from './media-types.js';
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
  const layer = descriptorFor(signed.layerMediaType, signed.content);
  const empty = Buffer.from('{}');
  const config: Descriptor = { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size };
  if (!(await target.exists(config, options))) await target.push(config, empty, options);
  if (!(await target.exists(layer, options))) await target.push(layer, signed.content, options);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypeImageManifest,
      artifactType: signed.artifactType,
      config,
      layers: [layer],
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
  /** Receives what was verified, for `--json` output. */
  onVerified?: (signatures: VerifiedSignature[]) => void;
}

const defaultMaxSignature = 4 * 1024 * 1024;

/** Reads a referrer and its single layer, checked by digest; undefined with a reason when it is not a candidate. */
async function loadCandidate(
  target: GraphTarget,
  subject: GateSubject,
  referrer: Descriptor,
  max: number,
  options: CallOptions,
): Promise<{ candidate?: SignatureCandidate; skipped?: string }> {
  if (!ManifestMediaTypes.includes(referrer.mediaType)) return { skipped: `${referrer.digest}: not a manifest` };
  if (referrer.size > defaultMaxSignature) return { skipped: `${referrer.digest}: manifest too large` };
  const where = `verify ${subject.reference}: referrer ${referrer.digest}`;
  const bytes = await readAll(
    verifyContent(referrer, await target.fetch(referrer, options), where),
    referrer.size,
    where,
  );
  const parsed = parseManifest(bytes, referrer.mediaType, where);
  if (parsed.kind !== 'manifest') return { skipped: `${referrer.digest}: an index` };
  // Never trust listing metadata: the referrer itself must name this exact manifest.
  if (parsed.manifest.subject?.digest !== subject.descriptor.digest) {
    return { skipped: `${referrer.digest}: its subject is not ${subject.descriptor.digest}` };
  }
  const [layer, ...more] = parsed.manifest.layers;
  if (!layer || more.length > 0) return { skipped: `${referrer.digest}: not exactly one layer` };
  if (layer.size > max) return { skipped: `${referrer.digest}: signature layer larger than ${max} bytes` };
  const content = await readAll(verifyContent(layer, await target.fetch(layer, options), where), layer.size, where);
  const described: Descriptor = { ...referrer };
  const artifactType = parsed.manifest.artifactType ?? parsed.manifest.config.mediaType;
  described.artifactType = artifactType;
  return {
    candidate: {
      subject: subject.descriptor,
      subjectBytes: subject.manifest,
      referrer: described,
      manifest: bytes,
      layer,
      content,
    },
  };
}

/**
 * The verification gate for signatures: lists the referrers of the manifest being read (referrers API or tag
 * fallback), reads each one and its single layer (digest-checked, size-capped, and its own `subject` must be the
 * manifest — listings are never trusted), and offers them to the verifiers. Each verifier must accept at least
 * one; otherwise the read stops with `ERR_LADING_VERIFICATION` saying, per candidate, why it was refused. It fails
 * closed: no referrers, no verifiers, or any error means no read.
 */
export function signatureGate(options: SignatureGateOptions): VerificationGate {
  if (options.verifiers.length === 0) {
    throw new LadingError(ErrorCodes.usage, 'signature gate: at least one verifier is required');
  }
  const max = options.maxSignatureSize ?? defaultMaxSignature;
  return {
    async verify(subject: GateSubject, call: CallOptions = {}): Promise<void> {
      const where = `verify ${subject.reference}@${subject.descriptor.digest}`;
      const referrers = await subject.target.referrers(subject.descriptor, call);
      const candidates: SignatureCandidate[] = [];
      const notes: string[] = [];
      for (const referrer of referrers) {
        const { candidate, skipped } = await loadCandidate(subject.target, subject, referrer, max, call);
        if (candidate) candidates.push(candidate);
        else if (skipped) notes.push(skipped);
      }
      const verified: VerifiedSignature[] = [];
      for (const verifier of options.verifiers) {
        const mine = candidates.filter((c) => verifier.accepts(c));
        const reasons: string[] = [];
        let accepted: VerifiedSignature | undefined;
        for (const candidate of mine) {
          try {
            accepted = await verifier.verify(candidate, call);
            break;
          } catch (error) {
            reasons.push(error instanceof Error ? error.message : String(error));
          }
        }
        if (!accepted) {
          const found =
            mine.length === 0
              ? `no ${verifier.name} signature among ${referrers.length} referrer(s)${notes.length ? ` (${notes.join('; ')})` : ''}`
              : `none of the ${mine.length} ${verifier.name} signature(s) is acceptable: ${reasons.join('; ')}`;
          throw new LadingError(ErrorCodes.verification, `${where}: ${found}; nothing was read`);
        }
        verified.push(accepted);
      }
      options.onVerified?.(verified);
    },
  };
}
