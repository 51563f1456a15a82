/**
 * The signing and verification options shared by the commands: one flag set for signing (`push --sign`, `sign`)
 * and one for verifying (`pull`, `ls`, `cat`), and how each becomes a `@lading/sigstore` signer or a verification
 * gate. The commands only spread the flags and call {@link createSignerFromFlags} or
 * {@link createVerificationFromFlags}.
 */
import { readFile } from 'node:fs/promises';

import {
  ErrorCodes,
  LadingError,
  signatureGate,
  type PolicyEvaluation,
  type PullOptions,
  type Signer,
  type VerifiedSignature,
  type Verifier,
} from '@lading/core';
// Types only: @lading/sigstore (and sigstore-js under it) is imported where a signer or verifier is built, so a
// command given no signing or --verify-* flag never loads it (start-up: `lading pull` of a small artifact).
import type {
  CertificateIdentity,
  KeylessSignerOptions,
  KeySignerOptions,
  SigstoreVerifierPolicy,
  Thresholds,
} from '@lading/sigstore';
import * as Flags from '@oclif/core/flags';

import { readPassword } from './base-command.js';
import { createPolicyVerification, policyFlags, type PolicyFlagValues } from './policy-flags.js';
import { terminalSafe } from './format.js';
import { canPrompt, promptSecret } from './prompt.js';
import { checkIdentityToken, identityTokenFromFlag } from './sign-preconditions.js';
import {
  anyOf,
  checkSshSigningFlags,
  createSshSignerFromFlags,
  createSshVerifierFromFlags,
  sshSigningFlags,
  sshVerificationFlags,
  wantsSshSigner,
  type SshSigningFlagValues,
  type SshVerificationFlagValues,
} from './ssh-flags.js';

const signingGroup = 'SIGNING';
const verifyGroup = 'VERIFICATION';

/** Environment variable holding the password of a cosign key, as cosign reads it. */
export const CosignPasswordEnv = 'COSIGN_PASSWORD';

/**
 * Flags choosing how to sign: a cosign key file (`--key`), else keyless (an OIDC identity token for Fulcio, Rekor
 * and/or a timestamp authority from a signing config or URLs), or an SSH key (ssh-flags.ts). Used by `push --sign`,
 * `sign` and `attest`.
 */
const sigstoreSigningFlags = {
  key: Flags.string({
    helpGroup: signingGroup,
    description:
      'Sign with this private key (cosign.key, or PEM PKCS#8/SEC 1/PKCS#1). Its password comes from COSIGN_PASSWORD or --key-password-stdin, else is asked for at a terminal. Without --key, signing is keyless.',
  }),
  'key-password-stdin': Flags.boolean({
    helpGroup: signingGroup,
    description: 'Read the password of --key from standard input (one line) instead of COSIGN_PASSWORD.',
    dependsOn: ['key'],
    exclusive: ['password-stdin'],
  }),
  'identity-token': Flags.string({
    helpGroup: signingGroup,
    description:
      'Keyless: the OIDC identity token (or a file holding it). Default: SIGSTORE_ID_TOKEN, else GitHub Actions, else Buildkite.',
    exclusive: ['key'],
  }),
  'signing-config': Flags.string({
    helpGroup: signingGroup,
    description:
      'A Sigstore signing config file naming Fulcio, Rekor and the TSA (keyless; with --key --tlog-upload, its Rekor). Default: the public good.',
  }),
  'fulcio-url': Flags.string({
    helpGroup: signingGroup,
    description: 'Keyless: Fulcio URL (overrides the signing config). Default https://fulcio.sigstore.dev.',
    exclusive: ['key'],
  }),
  'rekor-url': Flags.string({
    helpGroup: signingGroup,
    description:
      'Rekor URL (overrides the signing config), keyless or with --key --tlog-upload. Default https://rekor.sigstore.dev.',
  }),
  'tlog-upload': Flags.boolean({
    helpGroup: signingGroup,
    description:
      'With --key: log the signature in Rekor (--rekor-url, else the --signing-config one, else the public good) and put the entry in the bundle. Default: a key signature is not logged.',
    dependsOn: ['key'],
  }),
  'tsa-url': Flags.string({
    helpGroup: signingGroup,
    description: 'Keyless: RFC 3161 timestamp authority URL (overrides the signing config). Default none.',
    exclusive: ['key'],
  }),
  'oidc-browser': Flags.boolean({
    helpGroup: signingGroup,
    description:
      'Keyless: sign in with a browser (OIDC, PKCE) for the identity token, even when standard input is not a terminal or an ambient token is there. Without it, the browser login runs when no token is given or found and standard input is a terminal.',
    exclusive: ['key', 'identity-token'],
  }),
  'oidc-issuer': Flags.string({
    helpGroup: signingGroup,
    description: 'Keyless browser login: the OIDC issuer. Default https://oauth2.sigstore.dev/auth.',
    exclusive: ['key', 'identity-token'],
  }),
  'oidc-client-id': Flags.string({
    helpGroup: signingGroup,
    description: 'Keyless browser login: the OAuth client ID. Default sigstore.',
    exclusive: ['key', 'identity-token'],
  }),
};

/** The Sigstore and SSH signing flags. */
export const signingFlags = { ...sigstoreSigningFlags, ...sshSigningFlags };

/** The parsed {@link signingFlags}. */
export interface SigningFlagValues extends SshSigningFlagValues {
  key?: string | undefined;
  'key-password-stdin'?: boolean | undefined;
  'identity-token'?: string | undefined;
  'signing-config'?: string | undefined;
  'fulcio-url'?: string | undefined;
  'rekor-url'?: string | undefined;
  'tsa-url'?: string | undefined;
  'oidc-browser'?: boolean | undefined;
  'oidc-issuer'?: string | undefined;
  'oidc-client-id'?: string | undefined;
  'tlog-upload'?: boolean | undefined;
}

/** What {@link createSignerFromFlags} needs from the command. */
export interface SignerContext {
  /** Standard input is already used (content to push, or the registry password): `--key-password-stdin` is refused. */
  stdinTaken: boolean;
  /** Where to read `--key-password-stdin`. Default `process.stdin`. */
  stdin?: AsyncIterable<Uint8Array | string>;
  /** The environment (`COSIGN_PASSWORD`). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The signer the flags ask for, built now so that a wrong key password or a bad signing config fails before
 * anything is pushed. With `--key`: a cosign key signer, the password from `--key-password-stdin`, else
 * `COSIGN_PASSWORD`, else none (an unencrypted key, or cosign's empty password); it logs nothing, unless
 * `--tlog-upload` (Rekor from `--rekor-url`, else the signing config, else the public good; `--rekor-url` and
 * `--signing-config` without `--tlog-upload` are usage errors, as they would do nothing). Without: a keyless
 * signer, with the token from `--identity-token` or else the environment (`SIGSTORE_ID_TOKEN`, GitHub Actions, Buildkite),
 * fetched once now; a browser login gets it instead with `--oidc-browser`, or when there is no ambient token and
 * standard input is a terminal. The token is checked now (sign-preconditions.ts: a JWT with issuer and subject,
 * not expired; `--identity-token` naming no file and not a JWT is a usage error).
 * With `--ssh-key` or `--ssh-agent`: an SSH signer instead (ssh-flags.ts), and any Sigstore flag is a usage error.
 * Throws `ERR_LADING_USAGE` for unreadable files, a wrong password or bad URLs, `ERR_LADING_AUTH` for no token.
 */
export async function createSignerFromFlags(flags: SigningFlagValues, context: SignerContext): Promise<Signer> {
  checkSshSigningFlags(flags);
  if (wantsSshSigner(flags)) {
    const given = flags as Record<string, unknown>;
    const sigstoreFlags = Object.keys(sigstoreSigningFlags).filter(
      (name) => given[name] !== undefined && given[name] !== false,
    );
    return createSshSignerFromFlags(flags, {
      stdinTaken: context.stdinTaken,
      sigstoreFlags,
      ...(context.env === undefined ? {} : { env: context.env }),
    });
  }
  const {
    ambientIdentityToken,
    hasAmbientIdentityToken,
    IdentityProviderService,
    createKeySigner,
    createKeylessSigner,
  } = await import('@lading/sigstore');
  const env = context.env ?? process.env;
  if (flags.key !== undefined) {
    const tlog = await keyTlogFromFlags(flags);
    const key = await readFlagFile(flags.key, '--key');
    let password = env[CosignPasswordEnv];
    if (flags['key-password-stdin'] === true) {
      if (context.stdinTaken) {
        throw new LadingError(ErrorCodes.usage, '--key-password-stdin: standard input is already in use');
      }
      password = await readPassword(context.stdin ?? process.stdin, '--key-password-stdin');
    } else if (password === undefined && !context.stdinTaken && isEncryptedKey(key) && canPrompt()) {
      // As cosign: a person at a terminal is asked (an empty answer is cosign's empty password).
      password = await promptSecret(`Enter password for private key ${flags.key}: `);
    }
    try {
      return await createKeySigner({
        key,
        ...(password === undefined ? {} : { password }),
        ...(tlog === undefined ? {} : { tlog }),
      });
    } catch (cause) {
      if (cause instanceof LadingError) {
        throw new LadingError(cause.code, `--key ${flags.key}: ${cause.message}`, { cause });
      }
      throw cause;
    }
  }
  const options: KeylessSignerOptions = {};
  const token = flags['identity-token'];
  if (token !== undefined) {
    // A token is never a path that exists; a file keeps the token out of the process list.
    options.identityToken = await identityTokenFromFlag(token);
  } else if (flags['oidc-browser'] === true || (!hasAmbientIdentityToken(env) && process.stdin.isTTY)) {
    // A person at a terminal: one token now, valid long enough for this command's signature.
    options.identityToken = checkIdentityToken(await browserLogin(flags, env), 'browser login');
  } else if (!hasAmbientIdentityToken(env)) {
    throw new LadingError(
      ErrorCodes.auth,
      'identity token: none in the environment (set SIGSTORE_ID_TOKEN, run in GitHub Actions with permissions ' +
        'id-token: write or in a Buildkite job, or pass --identity-token), and standard input is not a terminal for a browser login: ' +
        'pass --oidc-browser to sign in with a browser anyway',
      { service: IdentityProviderService },
    );
  } else {
    // Fetch one token now, so that a missing one fails before the push (exit 4) rather than after it; signing
    // asks again, as tokens are short-lived.
    const tokens = ambientIdentityToken({ env });
    checkIdentityToken(await tokens(), 'from the environment');
    options.tokenProvider = tokens;
  }
  if (flags['signing-config'] !== undefined) {
    await readFlagFile(flags['signing-config'], '--signing-config');
    options.signingConfig = flags['signing-config'];
  }
  if (flags['fulcio-url'] !== undefined) options.fulcioURL = flags['fulcio-url'];
  if (flags['rekor-url'] !== undefined) options.rekorURL = flags['rekor-url'];
  if (flags['tsa-url'] !== undefined) options.tsaURL = flags['tsa-url'];
  return createKeylessSigner(options);
}

/**
 * The interactive login: the URL goes to standard error (the browser may not open, or be on another screen), the
 * browser comes from `BROWSER` or the platform. SIGINT/SIGTERM abort the wait (the command's own handler then
 * reports the interruption), and the loopback server is closed whatever happens.
 */
async function browserLogin(flags: SigningFlagValues, env: NodeJS.ProcessEnv): Promise<string> {
  const { browserIdentityToken } = await import('@lading/sigstore');
  const controller = new AbortController();
  const abort = (signal: NodeJS.Signals) => {
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    return await browserIdentityToken({
      env,
      signal: controller.signal,
      ...(flags['oidc-issuer'] === undefined ? {} : { issuer: flags['oidc-issuer'] }),
      ...(flags['oidc-client-id'] === undefined ? {} : { clientID: flags['oidc-client-id'] }),
      onAuthorizationURL: (url) => {
        process.stderr.write(
          `Sign in with your browser to get a signing identity. If it does not open, visit:\n${url}\n`,
        );
      },
      onBrowserError: (error) => {
        process.stderr.write(`Warning: could not open a browser (${error.message}); open the URL above yourself\n`);
      },
    });
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}

/**
 * The Rekor a key signature goes to: none without `--tlog-upload` (then `--rekor-url` and `--signing-config` are
 * refused); with it, `--rekor-url` (API v1), else the Rekor the signing config selects, else the public good.
 */
async function keyTlogFromFlags(flags: SigningFlagValues): Promise<KeySignerOptions['tlog']> {
  const { loadSigningConfig, PublicGoodRekorURL, selectRekor } = await import('@lading/sigstore');
  if (flags['tlog-upload'] !== true) {
    for (const flag of ['rekor-url', 'signing-config'] as const) {
      if (flags[flag] !== undefined) {
        throw new LadingError(
          ErrorCodes.usage,
          `--${flag}: with --key, a signature is logged only with --tlog-upload; add it, or drop --${flag}`,
        );
      }
    }
    return undefined;
  }
  const rekorURL = flags['rekor-url'];
  if (rekorURL !== undefined) return { rekorURL };
  const file = flags['signing-config'];
  if (file === undefined) return { rekorURL: PublicGoodRekorURL };
  const rekor = selectRekor(await loadSigningConfig(file), new Date());
  if (rekor === undefined) {
    throw new LadingError(ErrorCodes.usage, `--signing-config ${file}: names no Rekor for --tlog-upload`);
  }
  return { rekorURL: rekor.url, majorApiVersion: rekor.majorApiVersion };
}

/**
 * Flags that make `pull`, `ls` and `cat` require a valid signature before any content is read: trusted keys, or
 * a keyless identity (exact or by regular expression, optionally with the Fulcio extensions a GitHub Actions
 * certificate carries: repository, signer workflow, source ref and digest) checked against a trusted root, and the
 * minimum evidence (log entries, timestamps, SCTs). The SSH flags (`--allowed-signers`…) are in ssh-flags.ts.
 */
const sigstoreVerificationFlags = {
  'verify-key': Flags.string({
    helpGroup: verifyGroup,
    multiple: true,
    multipleNonGreedy: true,
    description: 'Require a signature by this public key (cosign.pub, PEM). Repeatable: any one of the keys.',
  }),
  'verify-issuer': Flags.string({
    helpGroup: verifyGroup,
    description: 'Require a keyless signature whose OIDC issuer is exactly this (with --verify-subject[-regexp]).',
    exclusive: ['verify-issuer-regexp'],
  }),
  'verify-issuer-regexp': Flags.string({
    helpGroup: verifyGroup,
    description: 'Like --verify-issuer, with a regular expression the whole issuer must match.',
  }),
  'verify-subject': Flags.string({
    helpGroup: verifyGroup,
    description: 'Require a keyless signature whose certificate identity (email or URI) is exactly this.',
    exclusive: ['verify-subject-regexp'],
  }),
  'verify-subject-regexp': Flags.string({
    helpGroup: verifyGroup,
    description: 'Like --verify-subject, with a regular expression the whole identity must match.',
  }),
  'trusted-root': Flags.string({
    helpGroup: verifyGroup,
    description:
      'Keyless: the Sigstore trusted_root.json to verify against. Default: the public good, fetched with TUF.',
  }),
  'tuf-mirror': Flags.string({
    helpGroup: verifyGroup,
    description:
      'Fetch the trusted root with TUF from this repository instead of the public good (https://tuf-repo-cdn.sigstore.dev). Give its initial root.json with --tuf-root.',
    relationships: [
      { type: 'none', flags: ['trusted-root'] },
      { type: 'some', flags: ['verify-key', 'verify-issuer', 'verify-issuer-regexp', 'verify-unsafe'] },
    ],
  }),
  'tuf-root': Flags.string({
    helpGroup: verifyGroup,
    description:
      "The initial root.json of the TUF repository (--tuf-mirror's, else the public good's): the keys trusted first, from which root rotations are followed.",
    relationships: [
      { type: 'none', flags: ['trusted-root'] },
      { type: 'some', flags: ['verify-key', 'verify-issuer', 'verify-issuer-regexp', 'verify-unsafe'] },
    ],
  }),
  'verify-unsafe': Flags.boolean({
    helpGroup: verifyGroup,
    description:
      'Accept a keyless signature by ANY identity that chains to the trusted root. Unsafe: anyone can sign. Prints a warning.',
  }),
  'verify-repository': Flags.string({
    helpGroup: verifyGroup,
    description:
      "Keyless: require the certificate's source repository (Fulcio extension) to be this: owner/repo (https://github.com/owner/repo) or a full URI.",
  }),
  'verify-signer-workflow': Flags.string({
    helpGroup: verifyGroup,
    description:
      "Keyless: require the certificate's build signer (the workflow that signed): a full URI exactly, or owner/repo/.github/workflows/file.yml at any @ref.",
  }),
  'verify-source-ref': Flags.string({
    helpGroup: verifyGroup,
    description: "Keyless: require the certificate's source repository ref to be exactly this, e.g. refs/heads/main.",
  }),
  'verify-source-digest': Flags.string({
    helpGroup: verifyGroup,
    description: "Keyless: require the certificate's source repository digest (commit) to be exactly this.",
  }),
  'verify-tlog-threshold': Flags.integer({
    helpGroup: verifyGroup,
    min: 0,
    description: 'Minimum verified transparency log entries. Default 1 keyless, 0 with --verify-key.',
  }),
  'verify-timestamp-threshold': Flags.integer({
    helpGroup: verifyGroup,
    min: 0,
    description:
      'Minimum trusted timestamps (TSA, or log entries with a promise). Default 1 keyless, 0 with --verify-key.',
  }),
  'verify-ctlog-threshold': Flags.integer({
    helpGroup: verifyGroup,
    min: 0,
    description: 'Keyless: minimum verified certificate transparency (SCT) entries. Default 1.',
  }),
};

/** The Sigstore and SSH verification flags, and the verification policy (`--policy`, `--trust`: policy-flags.ts). */
export const verificationFlags = { ...sigstoreVerificationFlags, ...sshVerificationFlags, ...policyFlags };

/** The parsed {@link verificationFlags}. */
export interface VerificationFlagValues extends SshVerificationFlagValues, PolicyFlagValues {
  'verify-key'?: string[] | undefined;
  'verify-issuer'?: string | undefined;
  'verify-issuer-regexp'?: string | undefined;
  'verify-subject'?: string | undefined;
  'verify-subject-regexp'?: string | undefined;
  'trusted-root'?: string | undefined;
  'tuf-mirror'?: string | undefined;
  'tuf-root'?: string | undefined;
  'verify-unsafe'?: boolean | undefined;
  'verify-repository'?: string | undefined;
  'verify-signer-workflow'?: string | undefined;
  'verify-source-ref'?: string | undefined;
  'verify-source-digest'?: string | undefined;
  'verify-tlog-threshold'?: number | undefined;
  'verify-timestamp-threshold'?: number | undefined;
  'verify-ctlog-threshold'?: number | undefined;
}

/** A verification gate for a read, and what it vouched for once it has run. */
export interface Verification {
  /** Pass as `gate` to `pullArtifact`, `listArtifact` or `catArtifact`. */
  gate: NonNullable<PullOptions['gate']>;
  /** Filled by the gate when it lets the read through: one entry per verifier. */
  verified: VerifiedSignature[];
  /** With `--policy`/`--trust`: the policy evaluation, once the gate has run (for `--json`). */
  policy?: PolicyEvaluation;
}

/**
 * The gate the verification flags ask for, or undefined when none is given (then nothing is checked, as before).
 * Keys, files and regular expressions are read and checked now (`ERR_LADING_USAGE`, also for the certificate
 * extension flags without `--verify-issuer`/`--verify-subject`, and for thresholds or `--trusted-root` with nobody
 * to trust); a read through the gate then fails with `ERR_LADING_VERIFICATION` (exit 5) unless a signature satisfies
 * the policy, extensions and thresholds included. `warn` receives the `--verify-unsafe` warning. With
 * `--allowed-signers` (ssh-flags.ts) an SSH signature allowed for a `--verify-principal` also satisfies it: any one
 * of the authorities given suffices. `options.git` (verify `--require-signed-commit`) adds the SSH git anchor.
 * With `--policy`, `LADING_POLICY` or `--trust`, the policy file's gate instead (policy-flags.ts); any other
 * verification flag is then a usage error.
 */
export async function createVerificationFromFlags(
  flags: VerificationFlagValues,
  warn: (message: string) => void,
  options: { predicateType?: string; git?: { gitDir: string } } = {},
): Promise<Verification | undefined> {
  const given = flags as Record<string, unknown>;
  const others = [...Object.keys(sigstoreVerificationFlags), ...Object.keys(sshVerificationFlags)]
    .filter((name) => given[name] !== undefined && given[name] !== false)
    .concat(options.predicateType === undefined ? [] : ['attestation-type'])
    .concat(options.git === undefined ? [] : ['require-signed-commit']);
  const policy = await createPolicyVerification(flags, others, warn);
  if (policy) return policy;
  const ssh = await createSshVerifierFromFlags(flags, options);
  const sigstore = await createSigstoreVerifierFromFlags(flags, warn, options, ssh !== undefined);
  const verifiers = [...(sigstore === undefined ? [] : [sigstore]), ...(ssh === undefined ? [] : [ssh])];
  if (verifiers.length === 0) return undefined;
  const verification: Verification = {
    verified: [],
    gate: signatureGate({
      verifiers: [anyOf(verifiers)],
      onVerified: (signatures) => {
        verification.verified.push(...signatures);
      },
    }),
  };
  return verification;
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
    if (alone !== undefined) {
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
  if (rootFile !== undefined) policy.trustedRoot = await loadTrustedRoot(rootFile);
  else if (keyless || flags['tuf-mirror'] !== undefined || flags['tuf-root'] !== undefined) {
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

/** True for a PEM private key that needs a password: cosign's, encrypted PKCS#8, or OpenSSL's legacy encryption. */
function isEncryptedKey(pem: Buffer): boolean {
  return /-----BEGIN ENCRYPTED |Proc-Type: 4,ENCRYPTED/.test(pem.toString('latin1'));
}

function readFlagFile(file: string, flag: string): Promise<Buffer>;
function readFlagFile(file: string, flag: string, encoding: 'utf8'): Promise<string>;
async function readFlagFile(file: string, flag: string, encoding?: 'utf8'): Promise<Buffer | string> {
  try {
    return encoding === undefined ? await readFile(file) : await readFile(file, encoding);
  } catch (cause) {
    throw new LadingError(ErrorCodes.usage, `${flag} ${file}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * cosign's `--type` short names for in-toto predicate types (`cosign attest`, `cosign verify-attestation`); anything
 * else must be a URI and is taken as is. The same names and types as cosign 3.1.1's `options.PredicateTypeMap`, each
 * checked both ways against cosign by test/src/sigstore/attest-interop.test.ts.
 */
export const AttestationTypes: Readonly<Record<string, string>> = {
  slsaprovenance: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  slsaprovenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
};

/** The predicate type `type` names: a cosign short name or a URI. `ERR_LADING_USAGE` for anything else. */
export function predicateTypeFor(type: string, flag: string): string {
  const known = AttestationTypes[type];
  if (known !== undefined) return known;
  if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(type)) return type;
  throw new LadingError(
    ErrorCodes.usage,
    `${flag} ${type}: not a URI nor one of ${Object.keys(AttestationTypes).join(', ')}`,
  );
}
