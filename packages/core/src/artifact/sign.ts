/**
 * Signing an artifact already in a target, as one call: resolve the reference, have a {@link Signer} sign the
 * manifest (and with `recursive` every manifest an image index lists), attach each signature as a referrer of what
 * it signs, and only then move the tags. `lading sign`, `lading attest` and `lading push --sign` are adapters of
 * these functions.
 */
import type { CallOptions, GraphTarget } from '../content.js';
import { parseManifest, type Descriptor, type Platform } from '../descriptor.js';
import { fetchAll } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { attachSignature } from '../signatures.js';
import type { Signer, SignRequest } from '../trust.js';
import { indexEntries, MaxRecursiveManifests } from './platform.js';
import { tagArtifact } from './push.js';

export { MaxRecursiveManifests } from './platform.js';

/** What {@link signArtifact} and {@link attestArtifact} report as they go; the library never prints. */
export type SignEvent =
  /** A signature of `subject` is attached as the referrer `referrer` (the {@link SignedManifest} of the result). */
  | ({ type: 'signed' } & SignedManifest)
  /** A tag now names the signed manifest (after every signature was attached). */
  | { type: 'tagged'; tag: string };

/** Options of {@link signArtifact}. */
export interface SignOptions extends CallOptions {
  /**
   * For an image index: also sign every manifest it lists (nested indexes and their manifests included), each
   * signature a referrer of its own manifest, as `cosign sign --recursive`. Everything is listed (each nested index
   * read and digest-checked) before the first signature is made; more than {@link MaxRecursiveManifests} manifests
   * is `ERR_LADING_USAGE` and nothing is signed. Default false: only the manifest (or index) the reference names.
   */
  recursive?: boolean;
  /**
   * Tags to point at the signed manifest once every signature is attached, so that a tag never names an unsigned
   * artifact (see `tagArtifact`). Default none.
   */
  tags?: readonly string[];
  /** The reference as the user wrote it, for messages. Default `reference`. */
  display?: string;
  /** Receives a `signed` event per signature and a `tagged` event per tag. */
  onEvent?: (event: SignEvent) => void;
}

/** One signature {@link signArtifact} made and attached. */
export interface SignedManifest {
  /** The signed manifest (or image index). */
  subject: Descriptor;
  /** With `recursive`: the platform the index gives this manifest, when it gives one. */
  platform?: Platform;
  /** The referrer manifest holding the signature. */
  referrer: Descriptor;
  /** The referrer's artifact type (the signature's kind: a Sigstore bundle, an SSH signature…). */
  artifactType: string;
}

/** What {@link signArtifact} did. */
export interface SignResult {
  /** The manifest (or index) the reference resolved to. */
  descriptor: Descriptor;
  /** Every signature made, the reference's own first, then (with `recursive`) one per listed manifest. */
  signatures: SignedManifest[];
  /** The tags now naming `descriptor` (empty without `tags`). */
  tags: string[];
}

/**
 * Signs the artifact `reference` names in `target` (a tag or a digest) with `signer` and attaches each signature as
 * an OCI referrer of the manifest it signs (registries without the referrers API get the tag fallback). With
 * `recursive`, an image index's listed manifests are signed too; with `tags`, the tags move last. A failure stops
 * at once: the signatures already attached stay (they are valid), and no tag has moved unless every signature was
 * attached. Throws `ERR_LADING_USAGE` for a reference without tag or digest, and whatever the signer or the target
 * throws (`ERR_LADING_AUTH` for an identity token refused, `ERR_LADING_NETWORK`…).
 */
export async function signArtifact(
  target: GraphTarget,
  reference: string,
  signer: Signer,
  options: SignOptions = {},
): Promise<SignResult> {
  return signWith(target, reference, signer, {}, options, 'sign');
}

/** Options of {@link attestArtifact}. */
export interface AttestOptions extends Omit<SignOptions, 'recursive'> {
  /** The in-toto predicate type: `https://slsa.dev/provenance/v1`, `https://cyclonedx.org/bom`… Required. */
  predicateType: string;
  /** The predicate: a JSON object (`cosign verify-attestation` reads no other). Required. */
  predicate: object;
}

/**
 * Attests to the artifact `reference` names: `signer` signs an in-toto statement about the manifest digest with
 * `predicateType` and `predicate`, attached as a referrer as {@link signArtifact} does (and `tags` moved after).
 * The result's `signatures` holds the one attestation. `ERR_LADING_USAGE` for an empty predicate type or a
 * predicate that is not a JSON object.
 */
export async function attestArtifact(
  target: GraphTarget,
  reference: string,
  signer: Signer,
  options: AttestOptions,
): Promise<SignResult> {
  const { predicateType, predicate, ...rest } = options;
  const where = `attest ${options.display ?? reference}`;
  if (predicateType === '') throw new LadingError(ErrorCodes.usage, `${where}: the predicate type is empty`);
  const given: unknown = predicate; // callers in plain JavaScript may pass anything
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new LadingError(ErrorCodes.usage, `${where}: the predicate must be a JSON object`);
  }
  return signWith(target, reference, signer, { predicateType, predicate }, rest, 'attest');
}

async function signWith(
  target: GraphTarget,
  reference: string,
  signer: Signer,
  statement: Omit<SignRequest, 'subject'>,
  options: SignOptions,
  verb: string,
): Promise<SignResult> {
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  const where = `${verb} ${options.display ?? reference}`;
  if (reference === '') throw new LadingError(ErrorCodes.usage, `${where}: name a tag or a digest`);
  const descriptor = await target.resolve(reference, call);
  let bytes: Uint8Array | undefined;
  const toSign: { subject: Descriptor; platform?: Platform }[] = [{ subject: descriptor }];
  if (options.recursive === true) {
    bytes = await fetchAll(target, descriptor, where, call);
    const parsed = parseManifest(bytes, descriptor.mediaType, where);
    if (parsed.kind === 'index') {
      const seen = new Set([descriptor.digest]);
      for (const { descriptor: listed, platform } of await indexEntries(target, parsed.index.manifests, where, call)) {
        if (seen.has(listed.digest)) continue;
        seen.add(listed.digest);
        toSign.push(platform ? { subject: listed, platform } : { subject: listed });
        if (toSign.length > MaxRecursiveManifests) {
          throw new LadingError(
            ErrorCodes.usage,
            `${where}: the index lists more than ${MaxRecursiveManifests} manifests; nothing was signed`,
          );
        }
      }
    }
  }
  const signatures: SignedManifest[] = [];
  for (const item of toSign) {
    // Only what a signature is about: an index entry's annotations and platform are not part of the subject.
    const subject: Descriptor = {
      mediaType: item.subject.mediaType,
      digest: item.subject.digest,
      size: item.subject.size,
    };
    const signed = await signer.sign({ subject, ...statement }, call);
    const referrer = await attachSignature(target, subject, signed, call);
    const made: SignedManifest = { subject, referrer, artifactType: signed.artifactType };
    if (item.platform) made.platform = item.platform;
    signatures.push(made);
    options.onEvent?.({ type: 'signed', ...made });
  }
  let tags: string[] = [];
  if (options.tags !== undefined && options.tags.length > 0) {
    bytes ??= await fetchAll(target, descriptor, where, call);
    ({ tags } = await tagArtifact(target, { descriptor, bytes }, options.tags, {
      ...call,
      onEvent: (event) => {
        if (event.type === 'tagged') options.onEvent?.({ type: 'tagged', tag: event.tag });
      },
    }));
  }
  return { descriptor, signatures, tags };
}
