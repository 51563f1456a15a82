/**
 * Shared pieces of the `@lading/sigstore` interop tests: manifests to sign, the candidate the gate would offer for
 * a signed referrer, and cosign 3.1.1 run offline against the Sigstore harness.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  EmptyJSON,
  descriptorFor,
  isLadingError,
  packManifest,
  type Descriptor,
  type SignatureCandidate,
  type SignedReferrer,
  type VerifiedSignature,
  type Verifier,
} from '@lading/core';
import { PredicateTypeCosignSign } from '@lading/sigstore';
import { expect } from 'vitest';
import type { SigstoreHarness } from '../sigstore-harness/index.js';
import { run, type RunResult } from '../testbed/tools.js';

// One `expectOK` for every test: the CLI runner's, which takes lading's and peer tools' runs alike.
export { expectOK } from '../cli-runner.js';

/** The OCI empty config `{}`, as the config descriptor of every manifest made here. */
const emptyConfig: Descriptor = { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size };

/** A manifest to sign: its bytes, its descriptor, and the file holding the bytes (the "blob" cosign checks). */
export interface SignedSubject {
  bytes: Buffer;
  descriptor: Descriptor;
  file: string;
}

/** An OCI artifact manifest (empty config, no layers) made unique by `note`, written to `<dir>/<note>.json`. */
export async function makeSubject(dir: string, note: string): Promise<SignedSubject> {
  const { bytes, descriptor } = packManifest({
    artifactType: 'application/vnd.lading.test',
    config: emptyConfig,
    layers: [],
    annotations: { note },
  });
  const file = path.join(dir, `${note}.json`);
  await writeFile(file, bytes);
  return { bytes, descriptor, file };
}

/**
 * The candidate the verification gate offers for `signed` attached to `subject`: the referrer manifest core's
 * `attachSignature` writes (artifactType, empty config, the bundle as the one layer, subject, annotations).
 */
export function candidateFor(signed: SignedReferrer, subject: SignedSubject): SignatureCandidate {
  const layer = descriptorFor(signed.layerMediaType, signed.content);
  const { bytes: manifest, descriptor } = packManifest({
    artifactType: signed.artifactType,
    config: emptyConfig,
    layers: [layer],
    subject: subject.descriptor,
    annotations: signed.annotations,
  });
  return {
    subject: subject.descriptor,
    subjectBytes: subject.bytes,
    referrer: { ...descriptor, artifactType: signed.artifactType },
    manifest,
    layer,
    content: signed.content,
  };
}

/** A bundle file cosign wrote, as the referrer cosign 3 would attach (layer and artifactType from its media type). */
export async function referrerFromBundleFile(file: string): Promise<SignedReferrer> {
  const content = await readFile(file);
  const { mediaType } = JSON.parse(content.toString()) as { mediaType: string };
  return { artifactType: mediaType, layerMediaType: mediaType, content, annotations: {} };
}

/** The candidate with other layer bytes (tampering), layer descriptor recomputed as the gate would. */
export function withContent(candidate: SignatureCandidate, content: Uint8Array): SignatureCandidate {
  return { ...candidate, content, layer: descriptorFor(candidate.layer.mediaType, content) };
}

/**
 * What the verifier reports, at the least, for a keyless cosign signature (predicate type `sign/v1`) on
 * `candidate` by `identity` from the harness's OIDC issuer.
 */
export function keylessSignatureOf(
  harness: SigstoreHarness,
  candidate: SignatureCandidate,
  identity: string,
): Partial<VerifiedSignature> {
  return {
    verifier: 'sigstore',
    predicateType: PredicateTypeCosignSign,
    identity,
    issuer: harness.oidcIssuer,
    referrer: candidate.referrer.digest,
  };
}

/** Expects `verifier` to refuse `candidate` with ERR_LADING_VERIFICATION "verify <referrer>: …"; returns the why. */
export async function expectRefused(verifier: Verifier, candidate: SignatureCandidate): Promise<string> {
  const error = await verifier.verify(candidate).then(
    (accepted) => new Error(`accepted: ${JSON.stringify(accepted)}`),
    (e: unknown) => e as Error,
  );
  expect(isLadingError(error, 'ERR_LADING_VERIFICATION'), error.message).toBe(true);
  const prefix = `verify ${candidate.referrer.digest}: `;
  expect(error.message.startsWith(prefix), error.message).toBe(true);
  return error.message.slice(prefix.length);
}

/** A temporary folder for one test file; `cleanup` removes it. */
export async function workFolder(name: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `lading-${name}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs cosign offline in the harness's tool environment (plus `extraEnv`), in `cwd`; never throws on exit code. */
export function cosign(
  harness: SigstoreHarness,
  cwd: string,
  args: readonly string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<RunResult> {
  return run('cosign', args, { env: { ...harness.toolEnv, ...extraEnv }, cwd, check: false });
}

/**
 * cosign's flags to sign or attest with `key` (a file in cosign's working folder, its password in COSIGN_PASSWORD)
 * under `signingConfig` (offline: {@link writeEmptySigningConfig}), to a plain-HTTP registry, without prompting.
 */
export function cosignKeyFlags(key: string, signingConfig: string): string[] {
  return ['--key', key, '--signing-config', signingConfig, '--allow-http-registry', '--yes'];
}

/** `cosign verify --key <publicKey>` of `ref` (a plain-HTTP registry) with no log entry required. */
export function cosignVerifyKeyArgs(publicKey: string, ref: string): string[] {
  return ['verify', '--key', publicKey, '--insecure-ignore-tlog', '--allow-http-registry', ref];
}

/** cosign's flags to trust a keyless `identity` from `issuer` (default: the harness's) under the harness's root. */
export function cosignIdentityFlags(
  harness: SigstoreHarness,
  identity: string,
  issuer: string = harness.oidcIssuer,
): string[] {
  return [
    '--trusted-root',
    harness.trustedRootPath,
    '--certificate-identity',
    identity,
    '--certificate-oidc-issuer',
    issuer,
  ];
}

/** cosign's flags to sign or attest keyless with `token` against the harness (its signing config and root), no prompt. */
export function cosignKeylessFlags(harness: SigstoreHarness, token: string): string[] {
  return [
    '--yes',
    '--signing-config',
    harness.signingConfigPath,
    '--trusted-root',
    harness.trustedRootPath,
    '--identity-token',
    token,
  ];
}

/** lading's flags to sign or attest keyless with `token` against the harness's signing config (add `--sign` to push). */
export function ladingKeylessFlags(harness: SigstoreHarness, token: string): string[] {
  return ['--identity-token', token, '--signing-config', harness.signingConfigPath];
}

/**
 * lading's `--verify-*` flags that trust a keyless `subject` from `issuer` (default: the harness's) under the
 * harness's trusted root.
 */
export function ladingIdentityFlags(
  harness: SigstoreHarness,
  subject: string,
  issuer: string = harness.oidcIssuer,
): string[] {
  return ['--trusted-root', harness.trustedRootPath, '--verify-issuer', issuer, '--verify-subject', subject];
}

/**
 * A signing config with no services at all: with it (and `--trusted-root`) cosign signs with a key without
 * contacting Rekor, a TSA or TUF (docs/interop.md, "Offline cosign").
 */
export async function writeEmptySigningConfig(dir: string): Promise<string> {
  const file = path.join(dir, 'empty-signing-config.json');
  await writeFile(
    file,
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
      caUrls: [],
      oidcUrls: [],
      rekorTlogUrls: [],
      tsaUrls: [],
      rekorTlogConfig: { selector: 'ANY' },
      tsaConfig: { selector: 'ANY' },
    }),
  );
  return file;
}
