/**
 * What `lading pull` says when the artifact it pulled holds no files because it is a signature or an attestation
 * (a referrer carrying a Sigstore bundle, an SSH signature or a cosign signature), instead of a bare "0 files":
 * what it is, what it is about, and the command that verifies it and prints its predicate.
 */
import { MediaTypeCosignSimpleSigning, type ImageManifest } from '@lading/core';

/** What a pulled manifest is when it is a signature or an attestation. */
export interface SignatureArtifact {
  /** `Sigstore bundle`, `SSH signature` or `cosign signature`. */
  kind: string;
  /** The referrer's artifact type, or the signature layer's media type. */
  artifactType: string;
  /** The predicate type the referrer's annotations state (`dev.sigstore.bundle.predicateType`), when they do. */
  predicateType?: string;
  /** The digest of the manifest it is about (its `subject`), when it names one. */
  subject?: string;
}

// The plugins' constants, restated: pull must not load @lading/sigstore or @lading/ssh to print a hint (start-up),
// and core does not know them. attestation-notice.test.ts checks each against the plugin's own.
/** `@lading/sigstore`'s `PredicateTypeCosignSign`: a plain signature, not an attestation. */
export const PlainSignaturePredicateType = 'https://sigstore.dev/cosign/sign/v1';
/** The prefix of every Sigstore bundle media type (`@lading/sigstore`'s `SigstoreBundleMediaTypes`). */
export const SigstoreBundleMediaTypePrefix = 'application/vnd.dev.sigstore.bundle';
/** `@lading/ssh`'s `ArtifactTypeSSHSIG`. */
export const SSHSignatureArtifactType = 'application/vnd.lading.sshsig.v1';
/** `@lading/sigstore`'s `AnnotationBundlePredicateType`. */
export const BundlePredicateTypeAnnotation = 'dev.sigstore.bundle.predicateType';

/**
 * Tells what `manifest` (as the pull parsed it from digest-checked bytes, `PullResult.manifest`) is when it is a
 * signature or an attestation; undefined for anything else. Sigstore bundles are recognised by
 * `application/vnd.dev.sigstore.bundle…` as the artifact type or a layer's media type, SSH signatures by
 * `application/vnd.lading.sshsig.v1`, cosign's legacy signatures by their simple-signing layer.
 */
export function signatureArtifact(manifest: ImageManifest): SignatureArtifact | undefined {
  const types = [manifest.artifactType, ...manifest.layers.map((l) => l.mediaType)].filter(
    (t): t is string => t !== undefined,
  );
  const found =
    pick(types, (t) => t.toLowerCase().startsWith(SigstoreBundleMediaTypePrefix), 'Sigstore bundle') ??
    pick(types, (t) => t === SSHSignatureArtifactType, 'SSH signature') ??
    pick(types, (t) => t === MediaTypeCosignSimpleSigning, 'cosign signature');
  if (found === undefined) return undefined;
  const predicateType = manifest.annotations?.[BundlePredicateTypeAnnotation];
  const subject = manifest.subject?.digest;
  return {
    ...found,
    ...(predicateType === undefined ? {} : { predicateType }),
    ...(subject === undefined ? {} : { subject }),
  };
}

function pick(types: string[], test: (t: string) => boolean, kind: string): SignatureArtifact | undefined {
  const artifactType = types.find(test);
  return artifactType === undefined ? undefined : { kind, artifactType };
}

/**
 * The lines `pull` prints about a {@link SignatureArtifact} pulled from `repository` (the reference without tag or
 * digest): what it is and, when it names its subject, how to verify it and read its predicate.
 */
export function describeSignatureArtifact(artifact: SignatureArtifact, repository: string): string[] {
  const attestation = artifact.predicateType !== undefined && artifact.predicateType !== PlainSignaturePredicateType;
  const what = attestation ? `an attestation (predicate type ${artifact.predicateType})` : 'a signature';
  const about = artifact.subject === undefined ? '' : ` about ${repository}@${artifact.subject}`;
  const lines = [
    `This is ${what}${about}: a ${artifact.kind} (${artifact.artifactType}), not files, so nothing was written.`,
  ];
  if (artifact.subject !== undefined) {
    lines.push(
      attestation
        ? `Read it verified: lading verify --attestation-type ${artifact.predicateType} --output-predicate <trust flags> ${repository}@${artifact.subject}`
        : `Check it: lading verify <trust flags> ${repository}@${artifact.subject}`,
    );
  }
  return lines;
}
