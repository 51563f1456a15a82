/**
 * The verification gate: the one place pull, ls and cat pass through before reading any content. Signing plugins
 * (`@lading/sigstore`, `@lading/ssh`) implement it; core only knows this interface.
 */
import type { CallOptions, GraphTarget } from './content.js';
import type { Descriptor } from './descriptor.js';

/** What the gate is asked to vouch for: a manifest, resolved and digest-checked. */
export interface GateSubject {
  /** Where the artifact lives (referrers are discovered there). */
  target: GraphTarget;
  /** The reference as the user gave it, for messages. */
  reference: string;
  /** The manifest's descriptor; every later read is pinned to `descriptor.digest`. */
  descriptor: Descriptor;
  /** The manifest's bytes, already verified against `descriptor.digest`. */
  manifest: Uint8Array;
  /**
   * When `descriptor` is an image index and the read goes on to one platform manifest chosen from it: that
   * manifest, digest-checked. A valid signature on the index (which pins the platform manifest by digest) or on
   * the platform manifest itself satisfies the gate; signatures on either are reported.
   */
  platform?: { descriptor: Descriptor; manifest: Uint8Array };
}

/**
 * Decides whether an artifact may be read. `verify` resolves when it may; it rejects (with
 * `ERR_LADING_VERIFICATION` for a missing or invalid signature) to stop the read before any content is fetched or
 * written. Implementations must fail closed: any doubt is a rejection.
 */
export interface VerificationGate {
  verify(subject: GateSubject, options?: CallOptions): Promise<void>;
}

/** What a {@link Signer} is asked to sign: a manifest, and what to state about it. */
export interface SignRequest {
  /** The signed manifest's descriptor (`mediaType`, `digest`, `size`); the signature's subject. */
  subject: Descriptor;
  /**
   * The in-toto predicate type. Default for signatures: `https://sigstore.dev/cosign/sign/v1` (cosign's).
   * Attestations pass their own (`https://slsa.dev/provenance/v1`, …).
   */
  predicateType?: string;
  /** The predicate. Default `{}` (a plain signature). */
  predicate?: unknown;
}

/**
 * A signature ready to attach as a referrer of its subject: the single layer's media type and bytes (a Sigstore
 * bundle, an SSH signature…), the referrer's `artifactType`, and the annotations to put on the referrer manifest.
 */
export interface SignedReferrer {
  artifactType: string;
  layerMediaType: string;
  content: Uint8Array;
  annotations: Record<string, string>;
  /** Annotations of the signature layer (say `org.opencontainers.image.title`). Default none. */
  layerAnnotations?: Record<string, string>;
  /**
   * Layers placed before the signature layer, in order: a signed payload kept as its own file (SSH signatures sign
   * `statement.json`, stored beside `statement.json.sig`). Default none: the signature is the only layer.
   */
  payloadLayers?: readonly ReferrerLayer[];
}

/** One payload layer of a {@link SignedReferrer}: media type, bytes, annotations. */
export interface ReferrerLayer {
  mediaType: string;
  content: Uint8Array;
  annotations?: Record<string, string>;
}

/** Produces signatures. Plugins implement it (`@lading/sigstore`, `@lading/ssh`); core never signs by itself. */
export interface Signer {
  sign(request: SignRequest, options?: CallOptions): Promise<SignedReferrer>;
}

/** One referrer offered to a {@link Verifier}: its manifest and its single layer, both already digest-checked. */
export interface SignatureCandidate {
  /** The manifest the signature must be about (pinned by digest). */
  subject: Descriptor;
  /** The subject manifest's bytes, verified (message-signature bundles sign these bytes directly). */
  subjectBytes: Uint8Array;
  /** The referrer manifest's descriptor. */
  referrer: Descriptor;
  /** The referrer manifest's bytes. */
  manifest: Uint8Array;
  /** The referrer's layer descriptor; for a referrer with several layers, the last one (the signature). */
  layer: Descriptor;
  /** The layer's bytes (size-capped by the gate). */
  content: Uint8Array;
  /** Every layer of the referrer in order, each digest-checked and size-capped (the last is `layer`). */
  layers?: readonly { descriptor: Descriptor; content: Uint8Array }[];
}

/** What a verifier vouches for after checking a candidate. Plain data, for `--json` output. */
export interface VerifiedSignature {
  /** The verifier that accepted it, e.g. `sigstore` or `ssh`. */
  verifier: string;
  /** The in-toto predicate type the signature states. */
  predicateType: string;
  /** Certificate identity (keyless) or key principal (SSH), when there is one. */
  identity?: string;
  /** OIDC issuer (keyless). */
  issuer?: string;
  /** Key hint or fingerprint (key-based). */
  keyHint?: string;
  /** Key type (SSH: `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512` as signed…). */
  keyType?: string;
  /** Signature namespace (SSH signatures: `lading` by default). */
  namespace?: string;
  /** Transparency log index, when the signature is logged. */
  tlogIndex?: string;
  /** Trusted time of signing (RFC 3339), from a log entry or a timestamp authority. */
  timestamp?: string;
  /** The referrer manifest's digest (for a legacy cosign signature, the `sha256-<hex>.sig` manifest's). */
  referrer: string;
  /** The digest of the manifest the signature is about (the index or the platform manifest); set by the gate. */
  subject?: string;
  /**
   * Keyless: the Fulcio certificate extensions that were present, by name (`sourceRepositoryURI`,
   * `buildSignerURI`, `sourceRepositoryRef`, `sourceRepositoryDigest`, `runInvocationURI`, …).
   */
  extensions?: Record<string, string>;
  /** The verified in-toto statement (parsed JSON) when the signature carries one (DSSE); absent otherwise. */
  statement?: Record<string, unknown>;
}

/**
 * Checks signatures of one kind. `verify` resolves with what it vouches for, or rejects with
 * `ERR_LADING_VERIFICATION` saying why (wrong identity, bad signature, subject mismatch, predicate type…). It must
 * check that the signature is about `candidate.subject.digest` and states the predicate type it was configured to
 * require: the gate does not look inside signatures.
 */
export interface Verifier {
  /** Short name for messages and results, e.g. `sigstore`. */
  readonly name: string;
  /** True when the candidate is of a kind this verifier reads (by artifact type or layer media type). */
  accepts(candidate: Pick<SignatureCandidate, 'referrer' | 'layer'>): boolean;
  verify(candidate: SignatureCandidate, options?: CallOptions): Promise<VerifiedSignature>;
}
