/**
 * `lading verify`'s GitHub artifact attestation flags, as `gh attestation verify` names them (`--github-repo`,
 * `--github-owner`, `--signer-workflow`, `--signer-repo`, `--cert-identity`, `--cert-identity-regex`, `--source-ref`, `--source-digest`, `--signer-digest`,
 * `--deny-self-hosted-runners`, `--cert-oidc-issuer`, `--predicate-type`, `--limit`, `--bundle`), `--output-predicate`,
 * and `--offline`
 * (every verifying command). signing.ts spreads `offlineFlags` into the verification flags and calls
 * {@link createGitHubVerifierFromFlags}; `@lading/sigstore` is loaded only when a GitHub flag is given.
 */
import { readFile, stat } from 'node:fs/promises';

import {
  ErrorCodes,
  LadingError,
  type GivenSignature,
  type SignatureGateOptions,
  type VerifiedSignature,
  type Verifier,
} from '@lading/core';
import type { GitHubAttestationPolicy, SigstoreVerifierPolicy } from '@lading/sigstore';
import * as Flags from '@oclif/core/flags';

const verifyGroup = 'VERIFICATION';
const githubGroup = 'GITHUB ATTESTATIONS';

/** The OIDC issuer of GitHub Actions, `--cert-oidc-issuer`'s default (as gh's). */
export const GitHubActionsIssuer = 'https://token.actions.githubusercontent.com';
/** SLSA provenance v1, `--predicate-type`'s default (as gh's). */
export const SLSAProvenanceV1 = 'https://slsa.dev/provenance/v1';

/** The other authorities, which a GitHub attestation check replaces rather than joins. */
const otherAuthorities = [
  'verify-key',
  'verify-issuer',
  'verify-issuer-regexp',
  'verify-subject',
  'verify-subject-regexp',
  'verify-unsafe',
  'verify-repository',
  'verify-signer-workflow',
  'verify-source-ref',
  'verify-source-digest',
  'allowed-signers',
  'verify-principal',
];

/** gh's bound for `--limit`. */
const maxLimit = 1000;
/** The signature gate's own `maxCandidates` and `maxRequests` defaults (core signatures.ts), `--limit`'s default. */
const defaultGateCandidates = 64;
const defaultGateRequests = 128;
/**
 * Requests one candidate may cost the gate: its referrer manifest and up to 4 layers. `--limit` raises the request
 * bound with the candidate bound, so that `--limit N` reads N candidates rather than stopping at the default requests.
 */
const requestsPerCandidate = 5;

const needsGitHub = [{ type: 'some' as const, flags: ['github-repo', 'github-owner'] }];

/** Who signed, as gh names it: these four are mutually exclusive (gh's MarkFlagsMutuallyExclusive). */
const signerFlags = ['signer-workflow', 'signer-repo', 'cert-identity', 'cert-identity-regex'];
const otherSigners = (flag: string) => signerFlags.filter((f) => f !== flag);

/** `--offline`: for every command that verifies (pull, ls, cat, verify). */
export const offlineFlags = {
  offline: Flags.boolean({
    helpGroup: verifyGroup,
    description:
      'Use no network but the registry: no TUF fetch or refresh of the trusted root (give --trusted-root, or a policy whose keyless authorities name a trustedRoot, such as a --trust folder from lading trust export), no Rekor or Fulcio look-up. Refused, naming the flag or the policy line, when the verification flags or the policy would need the network.',
  }),
};

/** The parsed {@link offlineFlags}. */
export interface OfflineFlagValues {
  offline?: boolean | undefined;
}

/** `lading verify`'s GitHub attestation flags and `--output-predicate`. */
export const githubFlags = {
  'github-repo': Flags.string({
    helpGroup: githubGroup,
    description:
      'Require a GitHub artifact attestation (keyless, by GitHub Actions) built from this repository, owner/repo, as gh attestation verify --repo: the certificate identity is a workflow of it and its source repository is it (any case).',
    exclusive: ['github-owner', ...otherAuthorities],
  }),
  'github-owner': Flags.string({
    helpGroup: githubGroup,
    description:
      'Like --github-repo, for any repository of this owner (user or organization), as gh attestation verify --owner.',
    exclusive: ['github-repo', ...otherAuthorities],
  }),
  'signer-workflow': Flags.string({
    helpGroup: githubGroup,
    description:
      'The workflow that signed: owner/repo/.github/workflows/file.yml at any ref, or …/file.yml@refs/tags/v1 at that ref only (a reusable workflow may live in another repository).',
    exclusive: otherSigners('signer-workflow'),
    relationships: needsGitHub,
  }),
  'signer-repo': Flags.string({
    helpGroup: githubGroup,
    description: 'The repository, owner/repo, of the workflow that signed (a reusable workflow).',
    exclusive: otherSigners('signer-repo'),
    relationships: needsGitHub,
  }),
  'cert-identity': Flags.string({
    helpGroup: githubGroup,
    description:
      "The certificate identity (the signer workflow's URI), exactly, e.g. https://github.com/acme/ci/.github/workflows/build.yml@refs/heads/main; instead of the repository's workflows. The source repository is still --github-repo's (or --github-owner's).",
    exclusive: otherSigners('cert-identity'),
    relationships: needsGitHub,
  }),
  'cert-identity-regex': Flags.string({
    helpGroup: githubGroup,
    description:
      "Like --cert-identity, a JavaScript regular expression the whole identity must match (anchored at both ends; gh's matches anywhere unless anchored), e.g. 'https://github\\.com/acme/ci/\\.github/workflows/build\\.yml@refs/tags/v.*'.",
    exclusive: otherSigners('cert-identity-regex'),
    relationships: needsGitHub,
  }),
  'source-ref': Flags.string({
    helpGroup: githubGroup,
    description: 'The git ref the run built, exactly, e.g. refs/tags/v1.2.0 (a branch is not a tag).',
    relationships: needsGitHub,
  }),
  'source-digest': Flags.string({
    helpGroup: githubGroup,
    description: 'The git commit the run built.',
    relationships: needsGitHub,
  }),
  'signer-digest': Flags.string({
    helpGroup: githubGroup,
    description: 'The git commit of the workflow that signed.',
    relationships: needsGitHub,
  }),
  'deny-self-hosted-runners': Flags.boolean({
    helpGroup: githubGroup,
    description: 'Refuse attestations made on self-hosted runners: the certificate must say github-hosted.',
    relationships: needsGitHub,
  }),
  'cert-oidc-issuer': Flags.string({
    helpGroup: githubGroup,
    description: `The OIDC issuer of the certificate, exactly. Default ${GitHubActionsIssuer}.`,
    relationships: needsGitHub,
  }),
  'predicate-type': Flags.string({
    helpGroup: githubGroup,
    description: `The attestation's predicate type (a URI or one of cosign's names). Default ${SLSAProvenanceV1}; SLSA v1 provenance must agree with its certificate (repository, workflow, ref, commit, runner).`,
    exclusive: ['attestation-type'],
    relationships: needsGitHub,
  }),
  bundle: Flags.string({
    helpGroup: githubGroup,
    description:
      "Verify with the Sigstore bundles of this file instead of the registry's referrers, as gh attestation verify --bundle: one bundle (JSON) or one per line (JSON lines, as gh attestation download writes). The artifact's manifest is still resolved in the registry, and a bundle must be about its digest.",
    exclusive: ['limit'],
    relationships: needsGitHub,
  }),
  limit: Flags.integer({
    helpGroup: githubGroup,
    description: `Read at most this many attestations (signature candidates: referrers and legacy signatures) of the artifact, 1 to ${maxLimit}, as gh attestation verify --limit; the rest are not read, which can only make verification fail. Default ${defaultGateCandidates} (gh's is 30).`,
    min: 1,
    max: maxLimit,
    relationships: needsGitHub,
  }),
  'output-predicate': Flags.boolean({
    helpGroup: verifyGroup,
    description:
      "Print the verified attestation's predicate as JSON on standard output (only once verified; nothing on failure). With --attestation-type, or --github-repo/--github-owner.",
    exclusive: ['json'],
  }),
};

/** The parsed {@link githubFlags}. */
export interface GitHubFlagValues {
  'github-repo'?: string | undefined;
  'github-owner'?: string | undefined;
  'signer-workflow'?: string | undefined;
  'signer-repo'?: string | undefined;
  'cert-identity'?: string | undefined;
  'cert-identity-regex'?: string | undefined;
  'source-ref'?: string | undefined;
  'source-digest'?: string | undefined;
  'signer-digest'?: string | undefined;
  'deny-self-hosted-runners'?: boolean | undefined;
  'cert-oidc-issuer'?: string | undefined;
  'predicate-type'?: string | undefined;
  limit?: number | undefined;
  bundle?: string | undefined;
  'output-predicate'?: boolean | undefined;
}

/** True when `--github-repo` or `--github-owner` is given. */
export function wantsGitHub(flags: GitHubFlagValues): boolean {
  return flags['github-repo'] !== undefined || flags['github-owner'] !== undefined;
}

/**
 * The verifier of the GitHub flags, or undefined without `--github-repo`/`--github-owner`. `trust` is the trusted
 * root of the verification flags (`--trusted-root`, else TUF with `--tuf-mirror`/`--tuf-root`, else the public good's
 * TUF); with `--offline`, TUF is refused. `predicateType` (`--predicate-type`/`--attestation-type`, already resolved)
 * defaults to SLSA v1. `ERR_LADING_USAGE` for a malformed value.
 */
export async function createGitHubVerifierFromFlags(
  flags: GitHubFlagValues & OfflineFlagValues & TrustFlagValues,
  predicateType: string | undefined,
): Promise<Verifier | undefined> {
  if (!wantsGitHub(flags)) return undefined;
  const { compileGitHubPolicy, createSigstoreVerifier, loadTrustedRoot } = await import('@lading/sigstore');
  const github: GitHubAttestationPolicy = {};
  const set = <K extends keyof GitHubAttestationPolicy>(key: K, value: GitHubAttestationPolicy[K] | undefined) => {
    if (value !== undefined) github[key] = value;
  };
  set('repository', flags['github-repo']);
  set('owner', flags['github-owner']);
  set('signerWorkflow', flags['signer-workflow']);
  set('signerRepository', flags['signer-repo']);
  set('certIdentity', flags['cert-identity']);
  set('certIdentityRegExp', flags['cert-identity-regex']);
  set('sourceRef', flags['source-ref']);
  set('sourceDigest', flags['source-digest']);
  set('signerDigest', flags['signer-digest']);
  set('issuer', flags['cert-oidc-issuer']);
  if (flags['deny-self-hosted-runners'] === true) github.denySelfHostedRunners = true;
  try {
    // Checked first, so a malformed value is reported before any file is read.
    compileGitHubPolicy(github);
  } catch (e) {
    // The library names its options; say which flags they are.
    if (e instanceof LadingError && e.code === ErrorCodes.usage) {
      throw new LadingError(ErrorCodes.usage, flagNames(e.message), { cause: e });
    }
    throw e;
  }
  const trust: Pick<SigstoreVerifierPolicy, 'trustedRoot' | 'tuf'> = {};
  const rootFile = flags['trusted-root'];
  if (rootFile !== undefined) trust.trustedRoot = await loadTrustedRoot(rootFile);
  else if (flags.offline === true) throw offlineRefusal(tufSource(flags));
  else {
    trust.tuf = {
      ...(flags['tuf-mirror'] === undefined ? {} : { mirrorURL: flags['tuf-mirror'] }),
      ...(flags['tuf-root'] === undefined ? {} : { rootPath: flags['tuf-root'] }),
    };
  }
  const policy: SigstoreVerifierPolicy = { github, ...trust, predicateType: predicateType ?? SLSAProvenanceV1 };
  const thresholds: NonNullable<SigstoreVerifierPolicy['thresholds']> = {};
  if (flags['verify-tlog-threshold'] !== undefined) thresholds.tlog = flags['verify-tlog-threshold'];
  if (flags['verify-timestamp-threshold'] !== undefined) thresholds.timestamp = flags['verify-timestamp-threshold'];
  if (flags['verify-ctlog-threshold'] !== undefined) thresholds.ctlog = flags['verify-ctlog-threshold'];
  if (Object.keys(thresholds).length > 0) policy.thresholds = thresholds;
  if (flags.offline === true) policy.offline = true;
  return createSigstoreVerifier(policy);
}

/**
 * The signature gate's bounds for `--limit N`: `maxCandidates` N, and `maxRequests` raised to what N candidates may
 * cost (never below the gate's default 128); `{}` without `--limit` (the gate's defaults: 64 candidates). The byte
 * bound (32 MiB) is unchanged. `ERR_LADING_USAGE` for N outside 1 to 1000 (oclif checks it first on the command line).
 */
export function gateLimitsFromFlags(
  flags: GitHubFlagValues,
): Pick<SignatureGateOptions, 'maxCandidates' | 'maxRequests'> {
  const limit = flags.limit;
  if (limit === undefined) return {};
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw new LadingError(ErrorCodes.usage, `--limit ${limit}: give a whole number from 1 to ${maxLimit}`);
  }
  return {
    maxCandidates: limit,
    // The legacy .sig tag lookup and its manifest come on top of the candidates.
    maxRequests: Math.max(defaultGateRequests, limit * requestsPerCandidate + 2),
  };
}

/** Largest `--bundle` file read: the gate's byte bound per check (32 MiB). */
const maxBundleFile = 32 * 1024 * 1024;
/** What a Sigstore bundle's `mediaType` starts with (v0.1 to v0.3 and later). */
const bundleMediaTypePrefix = 'application/vnd.dev.sigstore.bundle';

/**
 * The signatures of `--bundle FILE` for the gate (`SignatureGateOptions.given`), or `{}` without it. The file holds
 * one Sigstore bundle (a JSON object) or several, one per line (JSON lines; blank lines are skipped). Each must be a
 * JSON object whose `mediaType` is a Sigstore bundle's; its bytes are passed as they are, so the verifier parses and
 * checks them exactly as it would a bundle referrer. `ERR_LADING_USAGE` naming the file (and line) for a file that
 * cannot be read, is larger than 32 MiB, holds no bundle, or holds something else.
 */
export async function givenSignaturesFromFlags(flags: GitHubFlagValues): Promise<{ given?: GivenSignature[] }> {
  const file = flags.bundle;
  if (file === undefined) return {};
  const refuse = (why: string, cause?: unknown) =>
    new LadingError(ErrorCodes.usage, `--bundle ${file}: ${why}`, cause === undefined ? {} : { cause });
  let bytes: Buffer;
  try {
    const { size } = await stat(file);
    if (size > maxBundleFile) throw refuse(`${size} bytes, more than the ${maxBundleFile} a bundle file may have`);
    bytes = await readFile(file);
  } catch (e) {
    if (e instanceof LadingError) throw e;
    throw refuse((e as Error).message, e);
  }
  const text = bytes.toString('utf8');
  // One bundle, pretty-printed or not, or JSON lines: a file that parses whole is one bundle.
  let whole: unknown;
  try {
    whole = JSON.parse(text);
  } catch {
    whole = undefined;
  }
  const entries: { name: string; text: string }[] =
    whole === undefined
      ? text
          .split('\n')
          .map((line, index) => ({ name: `${file} line ${index + 1}`, text: line.trim() }))
          .filter((entry) => entry.text !== '')
      : [{ name: file, text }];
  if (entries.length === 0) throw refuse('holds no bundle');
  return {
    given: entries.map((entry) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(entry.text);
      } catch (e) {
        throw new LadingError(ErrorCodes.usage, `--bundle ${entry.name}: not JSON: ${(e as Error).message}`, {
          cause: e,
        });
      }
      const mediaType = (parsed as { mediaType?: unknown } | null)?.mediaType;
      if (typeof mediaType !== 'string' || !mediaType.startsWith(bundleMediaTypePrefix)) {
        throw new LadingError(
          ErrorCodes.usage,
          `--bundle ${entry.name}: not a Sigstore bundle (its mediaType is ${JSON.stringify(mediaType ?? null)}, not ${bundleMediaTypePrefix}…)`,
        );
      }
      return { name: entry.name, mediaType, content: Buffer.from(entry.text) };
    }),
  };
}

/** The library's option names in a message, as the flags that set them. */
function flagNames(message: string): string {
  return message
    .replace(/^github policy: /, '')
    .replace(/^give the repository \(owner\/repo\) or the owner/, 'give --github-repo owner/repo or --github-owner')
    .replace(/\bsignerWorkflow\b/g, '--signer-workflow')
    .replace(/\bsignerRepository\b/g, '--signer-repo')
    .replace(/\bcertIdentityRegExp\b/g, '--cert-identity-regex')
    .replace(/\bcertIdentity\b/g, '--cert-identity')
    .replace(/\bsourceRef\b/g, '--source-ref')
    .replace(/\bsourceDigest\b/g, '--source-digest')
    .replace(/\bsignerDigest\b/g, '--signer-digest')
    .replace(/\bissuer is empty\b/g, '--cert-oidc-issuer is empty')
    .replace(/\brepository "/g, '--github-repo "')
    .replace(/\bowner "/g, '--github-owner "');
}

/** The trusted-root and evidence flags of signing.ts the GitHub verifier shares. */
export interface TrustFlagValues {
  'trusted-root'?: string | undefined;
  'tuf-mirror'?: string | undefined;
  'tuf-root'?: string | undefined;
  'verify-tlog-threshold'?: number | undefined;
  'verify-timestamp-threshold'?: number | undefined;
  'verify-ctlog-threshold'?: number | undefined;
}

/** What would fetch the trusted root with TUF: the flag given, or the default. */
export function tufSource(flags: TrustFlagValues): string {
  if (flags['tuf-mirror'] !== undefined) return `--tuf-mirror ${flags['tuf-mirror']}`;
  if (flags['tuf-root'] !== undefined) return '--tuf-root';
  return 'the trusted root, by default the public good instance fetched and refreshed with TUF,';
}

/**
 * The error `--offline` gives for what would need the network, naming the flag (or the default) that asks for it.
 */
export function offlineRefusal(what: string): LadingError {
  return new LadingError(
    ErrorCodes.usage,
    `--offline: ${what} needs the network (TUF); give the trusted root with --trusted-root instead (a trusted_root.json saved beforehand)`,
  );
}

/**
 * The predicate of the first verified signature that carries an in-toto statement, as `--output-predicate` prints
 * it (pretty JSON and a newline). `ERR_LADING_VERIFICATION` when none carries one (a plain signature, not an
 * attestation).
 */
export function predicateOutput(verified: readonly VerifiedSignature[]): string {
  const statement = verified.find((s) => s.statement !== undefined)?.statement;
  if (statement === undefined) {
    throw new LadingError(
      ErrorCodes.verification,
      '--output-predicate: the verified signature carries no in-toto statement (a message signature), so there is no predicate to print',
    );
  }
  return `${JSON.stringify(statement.predicate ?? null, null, 2)}\n`;
}
