import { MediaTypeCosignSimpleSigning, type ImageManifest } from '@lading/core';
import { AnnotationBundlePredicateType, PredicateTypeCosignSign, SigstoreBundleMediaTypes } from '@lading/sigstore';
import { ArtifactTypeSSHSIG } from '@lading/ssh';
import { describe, expect, it } from 'vitest';

import {
  BundlePredicateTypeAnnotation,
  describeSignatureArtifact,
  PlainSignaturePredicateType,
  SigstoreBundleMediaTypePrefix,
  signatureArtifact,
  SSHSignatureArtifactType,
} from './attestation-notice.js';

const subject = `sha256:${'a'.repeat(64)}`;
const bundle = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const config = { mediaType: 'application/vnd.oci.empty.v1+json', digest: subject, size: 2 };
const layer = (mediaType: string) => ({ mediaType, digest: subject, size: 1 });
const manifest = (fields: Partial<ImageManifest>): ImageManifest => ({
  schemaVersion: 2,
  config,
  layers: [],
  ...fields,
});

describe('signatureArtifact', () => {
  it('restates the plugins’ constants exactly', () => {
    expect(PlainSignaturePredicateType).toBe(PredicateTypeCosignSign);
    expect(BundlePredicateTypeAnnotation).toBe(AnnotationBundlePredicateType);
    expect(SSHSignatureArtifactType).toBe(ArtifactTypeSSHSIG);
    for (const type of SigstoreBundleMediaTypes) expect(type.startsWith(SigstoreBundleMediaTypePrefix)).toBe(true);
  });

  it('recognises bundles (by artifact type or layer), SSH and cosign signatures; nothing else', () => {
    expect(
      signatureArtifact(
        manifest({
          artifactType: bundle,
          layers: [layer(bundle)],
          subject: { ...config, digest: subject },
          annotations: { [AnnotationBundlePredicateType]: 'https://slsa.dev/provenance/v1' },
        }),
      ),
    ).toEqual({
      kind: 'Sigstore bundle',
      artifactType: bundle,
      predicateType: 'https://slsa.dev/provenance/v1',
      subject,
    });
    expect(
      signatureArtifact(manifest({ layers: [layer('application/vnd.dev.sigstore.bundle+json;version=0.1')] })),
    ).toEqual({
      kind: 'Sigstore bundle',
      artifactType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    });
    expect(signatureArtifact(manifest({ artifactType: ArtifactTypeSSHSIG, subject: config }))?.kind).toBe(
      'SSH signature',
    );
    expect(signatureArtifact(manifest({ layers: [layer(MediaTypeCosignSimpleSigning)] }))?.kind).toBe(
      'cosign signature',
    );
    expect(signatureArtifact(manifest({ artifactType: 'application/vnd.acme.config' }))).toBeUndefined();
    expect(
      signatureArtifact(manifest({ layers: [layer('application/vnd.oci.image.layer.v1.tar+gzip')] })),
    ).toBeUndefined();
  });

  it('describes an attestation with the command that reads it, a signature with the one that checks it', () => {
    const attestation = {
      kind: 'Sigstore bundle',
      artifactType: bundle,
      predicateType: 'https://slsa.dev/provenance/v1',
      subject,
    };
    expect(describeSignatureArtifact(attestation, 'r.example/app')).toEqual([
      `This is an attestation (predicate type https://slsa.dev/provenance/v1) about r.example/app@${subject}: a Sigstore bundle (${bundle}), not files, so nothing was written.`,
      `Read it verified: lading verify --attestation-type https://slsa.dev/provenance/v1 --output-predicate <trust flags> r.example/app@${subject}`,
    ]);
    expect(
      describeSignatureArtifact({ ...attestation, predicateType: PredicateTypeCosignSign }, 'r.example/app'),
    ).toEqual([
      `This is a signature about r.example/app@${subject}: a Sigstore bundle (${bundle}), not files, so nothing was written.`,
      `Check it: lading verify <trust flags> r.example/app@${subject}`,
    ]);
    expect(
      describeSignatureArtifact({ kind: 'SSH signature', artifactType: ArtifactTypeSSHSIG }, 'r.example/app'),
    ).toHaveLength(1);
  });
});
