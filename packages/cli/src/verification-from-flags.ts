/**
 * How the verification flags become a verification gate: a Sigstore verifier (keys, or a keyless identity with
 * Fulcio extensions and thresholds, against a trusted root) and an SSH verifier (ssh-flags.ts), combined with
 * `anyOf`: any one of the authorities given suffices. `@lading/sigstore` is imported only when a Sigstore flag is
 * given (start-up).
 */
import {
  anyOf,
  ErrorCodes,
  LadingError,
  signatureGate,
  type VerificationGate,
  type VerifiedSignature,
  type Verifier,
} from '@lading/core';
// Types only: the package is loaded where a verifier is built.
import type { CertificateIdentity, SigstoreVerifierPolicy, Thresholds } from '@lading/sigstore';

import { terminalSafe } from './format.js';
import { createPolicyVerification } from './policy-flags.js';
import { readFlagFile, trustFlagNames, type VerificationFlagValues } from './signing-flags.js';
import {
  createGitHubVerifierFromFlags,
  gateLimitsFromFlags,
  givenSignaturesFromFlags,
  offlineRefusal,
  tufSource,
  wantsGitHub,
} from './github-flags.js';
import { createSshVerifierFromFlags } from './ssh-flags.js';

/**
 * The gate the verification flags ask for, or undefined when none is given (then nothing is checked, as before).
 * Keys, files and regular expressions are read and checked now (`ERR_LADING_USAGE`, also for the certificate
 * extension flags without `--verify-issuer`/`--verify-subject`, and for thresholds or `--trusted-root` with nobody
 * to trust); a read through the gate then fails with `ERR_LADING_VERIFICATION` (exit 5) unless a signature satisfies
 * the policy, extensions and thresholds included. `warn` receives the `--verify-unsafe` warning. With
 * `--allowed-signers` (ssh-flags.ts) an SSH signature allowed for a `--verify-principal` also satisfies it: the
 * authorities given are `anyOf` them. `options.git` (verify `--require-signed-commit`) adds the SSH git anchor.
 * What the gate vouched for comes back in the result of the read (`verified`).
 * With `--policy`, `LADING_POLICY` or `--trust`, the policy file's gate instead (policy-flags.ts); any other
 * verification flag is then a usage error.
 */
export async function createVerificationFromFlags(
  flags: VerificationFlagValues,
  warn: (message: string) => void,
  options: { predicateType?: string; git?: { gitDir: string } } = {},
): Promise<VerificationGate | undefined> {
  const given = flags as Record<string, unknown>;
  const others = trustFlagNames
    .filter((name) => given[name] !== undefined && given[name] !== false)
    .concat(wantsGitHub(flags) ? ['github-repo'] : [])
    .concat(options.predicateType === undefined ? [] : ['attestation-type'])
    .concat(options.git === undefined ? [] : ['require-signed-commit']);
  const policy = await createPolicyVerification(flags, others);
  if (policy) return policy;
  const ssh = await createSshVerifierFromFlags(flags, options);
  const sigstore = await createSigstoreVerifierFromFlags(flags, warn, options, ssh !== undefined);
  const github = await createGitHubVerifierFromFlags(flags, options.predicateType);
  const verifiers = [sigstore, ssh, github].filter((v) => v !== undefined);
  if (verifiers.length === 0) return undefined;
  // --limit (verify, with --github-repo/--github-owner) bounds the candidates read, as gh's bounds the attestations;
  // --bundle gives them from a file instead of the registry.
  return signatureGate({
    verifiers: [anyOf(verifiers)],
    ...gateLimitsFromFlags(flags),
    ...(await givenSignaturesFromFlags(flags)),
  });
}

/**
 * The Sigstore verifier of the `--verify-*` flags, or undefined when they name nobody to trust. `sshGiven`: an SSH
 * authority is given too, so thresholds or `--trusted-root` alone still name nobody Sigstore should trust.
 */
async function createSigstoreVerifierFromFlags(
  flags: VerificationFlagValues,
  warn: (message: string) => void,
  options: { predicateType?: string },
  sshGiven: boolean,
): Promise<Verifier | undefined> {
  const keyFiles = flags['verify-key'] ?? [];
  const identity: CertificateIdentity = {};
  if (flags['verify-issuer'] !== undefined) identity.issuer = flags['verify-issuer'];
  if (flags['verify-issuer-regexp'] !== undefined) identity.issuerRegExp = flags['verify-issuer-regexp'];
  if (flags['verify-subject'] !== undefined) identity.subject = flags['verify-subject'];
  if (flags['verify-subject-regexp'] !== undefined) identity.subjectRegExp = flags['verify-subject-regexp'];
  const hasIssuer = identity.issuer !== undefined || identity.issuerRegExp !== undefined;
  const hasSubject = identity.subject !== undefined || identity.subjectRegExp !== undefined;
  const unsafe = flags['verify-unsafe'] === true;
  if (hasIssuer !== hasSubject) {
    throw new LadingError(
      ErrorCodes.usage,
      hasIssuer
        ? '--verify-issuer: give the signer too, with --verify-subject or --verify-subject-regexp'
        : '--verify-subject: give the OIDC issuer too, with --verify-issuer or --verify-issuer-regexp',
    );
  }
  if (unsafe && hasIssuer) {
    throw new LadingError(ErrorCodes.usage, '--verify-unsafe: contradicts --verify-issuer/--verify-subject');
  }
  const extensionFlags = extensionRequirementsFromFlags(flags, identity);
  if (extensionFlags.length > 0 && !hasIssuer) {
    throw new LadingError(
      ErrorCodes.usage,
      `--${extensionFlags[0]}: give the keyless identity too, with --verify-issuer[-regexp] and --verify-subject[-regexp]`,
    );
  }
  const thresholds = thresholdsFromFlags(flags);
  const keyless = hasIssuer || unsafe;
  if (keyFiles.length === 0 && !keyless) {
    const alone = flags['trusted-root'] !== undefined ? 'trusted-root' : thresholds.given[0];
    // --github-repo/--github-owner name whom to trust; github-flags.ts reads the trust and threshold flags for it.
    if (alone !== undefined && !wantsGitHub(flags)) {
      throw new LadingError(
        ErrorCodes.usage,
        `--${alone}: say whom to trust with --verify-issuer and --verify-subject (or --verify-key)${sshGiven ? '; it does not apply to SSH signatures' : ''}`,
      );
    }
    return undefined;
  }
  const { createSigstoreVerifier, loadTrustedRoot } = await import('@lading/sigstore');
  const policy: SigstoreVerifierPolicy = {
    keys: await Promise.all(keyFiles.map((file) => readFlagFile(file, '--verify-key', 'utf8'))),
  };
  if (hasIssuer) policy.identities = [identity];
  if (Object.keys(thresholds.values).length > 0) policy.thresholds = thresholds.values;
  if (options.predicateType !== undefined) policy.predicateType = options.predicateType;
  if (unsafe) {
    policy.unsafeAnyIdentity = true;
    warn(
      '--verify-unsafe: any keyless signature chaining to the trusted root is accepted, whoever made it; this proves nothing about who shipped the artifact',
    );
  }
  const rootFile = flags['trusted-root'];
  if (flags.offline === true) policy.offline = true;
  if (rootFile !== undefined) policy.trustedRoot = await loadTrustedRoot(rootFile);
  else if (keyless || flags['tuf-mirror'] !== undefined || flags['tuf-root'] !== undefined) {
    if (flags.offline === true) throw offlineRefusal(tufSource(flags));
    policy.tuf = {
      ...(flags['tuf-mirror'] === undefined ? {} : { mirrorURL: flags['tuf-mirror'] }),
      ...(flags['tuf-root'] === undefined ? {} : { rootPath: flags['tuf-root'] }),
    };
  }
  return createSigstoreVerifier(policy);
}

/**
 * Adds the Fulcio extension requirements of `--verify-repository`, `--verify-signer-workflow`,
 * `--verify-source-ref` and `--verify-source-digest` to `identity`; returns the names of the flags given.
 * `ERR_LADING_USAGE` for a repository or workflow in neither accepted form.
 */
function extensionRequirementsFromFlags(flags: VerificationFlagValues, identity: CertificateIdentity): string[] {
  const exact: NonNullable<CertificateIdentity['extensions']> = {};
  const patterns: NonNullable<CertificateIdentity['extensionRegExps']> = {};
  const given: string[] = [];
  const repository = flags['verify-repository'];
  if (repository !== undefined) {
    given.push('verify-repository');
    exact.sourceRepositoryURI = githubURI(repository, '--verify-repository', /^[\w.-]+\/[\w.-]+$/, 'owner/repo');
  }
  const workflow = flags['verify-signer-workflow'];
  if (workflow !== undefined) {
    given.push('verify-signer-workflow');
    const uri = githubURI(
      workflow,
      '--verify-signer-workflow',
      /^[\w.-]+\/[\w.-]+\/\S+$/,
      'owner/repo/path/to/workflow.yml',
    );
    // Without a scheme and without @ref (gh attestation --signer-workflow): any ref of that workflow file.
    if (isURI(workflow) || workflow.includes('@')) exact.buildSignerURI = uri;
    else patterns.buildSignerURI = `${escapeRegExp(uri)}@.+`;
  }
  for (const [flag, name] of [
    ['verify-source-ref', 'sourceRepositoryRef'],
    ['verify-source-digest', 'sourceRepositoryDigest'],
  ] as const) {
    const value = flags[flag];
    if (value === undefined) continue;
    given.push(flag);
    if (value === '') throw new LadingError(ErrorCodes.usage, `--${flag}: empty`);
    exact[name] = value;
  }
  if (Object.keys(exact).length > 0) identity.extensions = exact;
  if (Object.keys(patterns).length > 0) identity.extensionRegExps = patterns;
  return given;
}

/** `value` when it is a URI (has a scheme), else `https://github.com/<value>` when it matches `shape`. */
function githubURI(value: string, flag: string, shape: RegExp, form: string): string {
  if (isURI(value)) return value;
  if (!shape.test(value)) {
    throw new LadingError(ErrorCodes.usage, `${flag} ${value}: give ${form} (on github.com) or a full URI`);
  }
  return `https://github.com/${value}`;
}

function isURI(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The `--verify-*-threshold` values given, and the names of those flags. */
function thresholdsFromFlags(flags: VerificationFlagValues): { values: Partial<Thresholds>; given: string[] } {
  const values: Partial<Thresholds> = {};
  const given: string[] = [];
  for (const [flag, name] of [
    ['verify-tlog-threshold', 'tlog'],
    ['verify-timestamp-threshold', 'timestamp'],
    ['verify-ctlog-threshold', 'ctlog'],
  ] as const) {
    const value = flags[flag];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 0) {
      throw new LadingError(ErrorCodes.usage, `--${flag} ${value}: not a non-negative integer`);
    }
    values[name] = value;
    given.push(flag);
  }
  return { values, given };
}

/** One line for standard error about a signature the gate accepted (with its source repository, when known). */
export function describeVerified(signature: VerifiedSignature): string {
  const who =
    signature.identity !== undefined
      ? `${signature.identity}${signature.issuer === undefined ? '' : ` (issuer ${signature.issuer})`}`
      : `key ${signature.keyHint ?? 'unknown'}`;
  const repository = signature.extensions?.sourceRepositoryURI;
  const from = repository === undefined ? '' : `, repository ${repository}`;
  // SSH: the principal alone does not say which key; the fingerprint is what ssh-keygen -l and ssh-add -l show.
  const key =
    signature.verifier === 'ssh'
      ? ` (${signature.keyType ?? 'ssh'} key ${signature.keyHint ?? 'unknown'}, namespace ${signature.namespace ?? 'unknown'})`
      : '';
  // Identities, issuers and repositories come from certificates and allowed_signers files: escape what a terminal
  // would act on.
  return terminalSafe(`Verified signature by ${who}${key}${from}, referrer ${signature.referrer}`);
}
