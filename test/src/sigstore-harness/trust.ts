import {
  HashAlgorithm,
  PublicKeyDetails,
  ServiceSelector,
  type CertificateAuthority,
  type SigningConfig,
  type TransparencyLogInstance,
  type TrustedRoot,
} from '@sigstore/protobuf-specs';
import type { FulcioMaterial } from './fulcio.js';
import { MediaTypeSigningConfig, MediaTypeTrustedRoot, PathTimestamp } from './media-types.js';
import type { RekorMaterial } from './rekor.js';
import type { TSAMaterial } from './tsa.js';

/** Name written as `operator` of every harness service in the trusted root and signing config. */
export const HarnessOperator = 'lading-test-harness';

/** Where the harness services listen and what they sign with. */
export interface TrustInputs {
  fulcioURL: string;
  ctLogURL: string;
  rekorURL: string;
  tsaURL: string;
  fulcio: FulcioMaterial;
  rekor: RekorMaterial;
  tsa: TSAMaterial;
  /**
   * Start of every validity window. Must not be later than the CA and TSA roots' `notBefore` (whole seconds):
   * clients check that certificates, log entries and timestamps fall inside the window.
   */
  validFrom: Date;
}

/**
 * The trusted root (protobuf-specs `TrustedRoot`, media type {@link MediaTypeTrustedRoot}) of the harness: the
 * Fulcio CA (root only), the CT log key, the Rekor key and the TSA chain (signing certificate, then root). Every
 * window starts at `validFrom` and has no end.
 */
export function buildTrustedRoot(inputs: TrustInputs): TrustedRoot {
  const validFor = { start: inputs.validFrom };
  return {
    mediaType: MediaTypeTrustedRoot,
    tlogs: [logInstance(inputs.rekorURL, inputs.rekor.publicKey, inputs.rekor.logID, inputs.validFrom)],
    ctlogs: [logInstance(inputs.ctLogURL, inputs.fulcio.ctLogPublicKey, inputs.fulcio.ctLogID, inputs.validFrom)],
    certificateAuthorities: [authority(inputs.fulcioURL, 'sigstore', [inputs.fulcio.rootCertificate], validFor.start)],
    timestampAuthorities: [
      authority(inputs.tsaURL, 'tsa', [inputs.tsa.signingCertificate, inputs.tsa.rootCertificate], validFor.start),
    ],
  };
}

function logInstance(baseUrl: string, publicKey: Buffer, logID: Buffer, start: Date): TransparencyLogInstance {
  return {
    baseUrl,
    hashAlgorithm: HashAlgorithm.SHA2_256,
    publicKey: { rawBytes: publicKey, keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor: { start } },
    logId: { keyId: logID },
    checkpointKeyId: undefined,
    operator: HarnessOperator,
  };
}

function authority(uri: string, commonName: string, chain: Buffer[], start: Date): CertificateAuthority {
  return {
    subject: { organization: 'sigstore.mock', commonName },
    uri,
    certChain: { certificates: chain.map((rawBytes) => ({ rawBytes })) },
    validFor: { start },
    operator: HarnessOperator,
  };
}

/** Where the signing config sends a signer. */
export interface SigningConfigInputs {
  fulcioURL: string;
  rekorURL: string;
  tsaURL: string;
  oidcIssuer: string;
  validFrom: Date;
}

/**
 * The cosign signing config (protobuf-specs `SigningConfig`, media type {@link MediaTypeSigningConfig}) of the
 * harness: one CA, one OIDC issuer, one Rekor v1 log and one TSA (full URL of its timestamp endpoint, as the
 * format wants), each API version 1, with selector `ANY` for logs and TSAs.
 */
export function buildSigningConfig(inputs: SigningConfigInputs): SigningConfig {
  const service = (url: string) => ({
    url,
    majorApiVersion: 1,
    validFor: { start: inputs.validFrom },
    operator: HarnessOperator,
  });
  return {
    mediaType: MediaTypeSigningConfig,
    caUrls: [service(inputs.fulcioURL)],
    oidcUrls: [service(inputs.oidcIssuer)],
    rekorTlogUrls: [service(inputs.rekorURL)],
    rekorTlogConfig: { selector: ServiceSelector.ANY, count: 0 },
    tsaUrls: [service(`${inputs.tsaURL}${PathTimestamp}`)],
    tsaConfig: { selector: ServiceSelector.ANY, count: 0 },
  };
}
