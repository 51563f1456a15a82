/**
 * The signing and verification options shared by the commands: one flag set for signing (`push --sign`, `sign`)
 * and one for verifying (`pull`, `ls`, `cat`), and how each becomes a `@lading/sigstore` signer or a verification
 * gate. The commands only spread the flags and call {@link createSignerFromFlags} or
 * {@link createVerificationFromFlags}.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

import {
  ErrorCodes,
  LadingError,
  signatureGate,
  type PullOptions,
  type Signer,
  type VerifiedSignature,
} from '@lading/core';
import {
  ambientIdentityToken,
  createKeySigner,
  createKeylessSigner,
  createSigstoreVerifier,
  loadTrustedRoot,
  type CertificateIdentity,
  type KeylessSignerOptions,
  type SigstoreVerifierPolicy,
} from '@lading/sigstore';
import { Flags } from '@oclif/core';

import { readPassword } from './base-command.js';

const signingGroup = 'SIGNING';
const verifyGroup = 'VERIFICATION';

/** Environment variable holding the password of a cosign key, as cosign reads it. */
export const CosignPasswordEnv = 'COSIGN_PASSWORD';

/**
 * Flags choosing how to sign: a cosign key file (`--key`), else keyless (an OIDC identity token for Fulcio, Rekor
 * and/or a timestamp authority from a signing config or URLs). Used by `push --sign` and `sign`.
 */
export const signingFlags = {
  key: Flags.string({
    helpGroup: signingGroup,
    description:
      'Sign with this private key (cosign.key, or PEM PKCS#8/SEC 1/PKCS#1). Its password comes from COSIGN_PASSWORD or --key-password-stdin. Without --key, signing is keyless.',
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
      'Keyless: the OIDC identity token (or a file holding it). Default: SIGSTORE_ID_TOKEN, else GitHub Actions.',
    exclusive: ['key'],
  }),
  'signing-config': Flags.string({
    helpGroup: signingGroup,
    description: 'Keyless: a Sigstore signing config file naming Fulcio, Rekor and the TSA. Default: the public good.',
    exclusive: ['key'],
  }),
  'fulcio-url': Flags.string({
    helpGroup: signingGroup,
    description: 'Keyless: Fulcio URL (overrides the signing config). Default https://fulcio.sigstore.dev.',
    exclusive: ['key'],
  }),
  'rekor-url': Flags.string({
    helpGroup: signingGroup,
    description: 'Keyless: Rekor URL (overrides the signing config). Default https://rekor.sigstore.dev.',
    exclusive: ['key'],
  }),
  'tsa-url': Flags.string({
    helpGroup: signingGroup,
    description: 'Keyless: RFC 3161 timestamp authority URL (overrides the signing config). Default none.',
    exclusive: ['key'],
  }),
};

/** The parsed {@link signingFlags}. */
export interface SigningFlagValues {
  key?: string | undefined;
  'key-password-stdin'?: boolean | undefined;
  'identity-token'?: string | undefined;
  'signing-config'?: string | undefined;
  'fulcio-url'?: string | undefined;
  'rekor-url'?: string | undefined;
  'tsa-url'?: string | undefined;
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
 * `COSIGN_PASSWORD`, else none (an unencrypted key, or cosign's empty password). Without: a keyless signer, with
 * the token from `--identity-token` or else the environment (`SIGSTORE_ID_TOKEN`, GitHub Actions), fetched once now.
 * Throws `ERR_LADING_USAGE` for unreadable files, a wrong password or bad URLs, `ERR_LADING_AUTH` for no token.
 */
export async function createSignerFromFlags(flags: SigningFlagValues, context: SignerContext): Promise<Signer> {
  const env = context.env ?? process.env;
  if (flags.key !== undefined) {
    const key = await readFlagFile(flags.key, '--key');
    let password = env[CosignPasswordEnv];
    if (flags['key-password-stdin'] === true) {
      if (context.stdinTaken) {
        throw new LadingError(ErrorCodes.usage, '--key-password-stdin: standard input is already in use');
      }
      password = await readPassword(context.stdin ?? process.stdin, '--key-password-stdin');
    }
    try {
      return await createKeySigner(password === undefined ? { key } : { key, password });
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
    options.identityToken = existsSync(token) ? await readFlagFile(token, '--identity-token', 'utf8') : token;
  } else {
    // Fetch one token now, so that a missing one fails before the push (exit 4) rather than after it; signing
    // asks again, as tokens are short-lived.
    const tokens = ambientIdentityToken();
    await tokens();
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
 * Flags that make `pull`, `ls` and `cat` require a valid signature before any content is read: trusted keys, or
 * a keyless identity (exact or by regular expression) checked against a trusted root.
 */
export const verificationFlags = {
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
  'verify-unsafe': Flags.boolean({
    helpGroup: verifyGroup,
    description:
      'Accept a keyless signature by ANY identity that chains to the trusted root. Unsafe: anyone can sign. Prints a warning.',
  }),
};

/** The parsed {@link verificationFlags}. */
export interface VerificationFlagValues {
  'verify-key'?: string[] | undefined;
  'verify-issuer'?: string | undefined;
  'verify-issuer-regexp'?: string | undefined;
  'verify-subject'?: string | undefined;
  'verify-subject-regexp'?: string | undefined;
  'trusted-root'?: string | undefined;
  'verify-unsafe'?: boolean | undefined;
}

/** A verification gate for a read, and what it vouched for once it has run. */
export interface Verification {
  /** Pass as `gate` to `pullArtifact`, `listArtifact` or `catArtifact`. */
  gate: NonNullable<PullOptions['gate']>;
  /** Filled by the gate when it lets the read through: one entry per verifier. */
  verified: VerifiedSignature[];
}

/**
 * The gate the verification flags ask for, or undefined when none is given (then nothing is checked, as before).
 * Keys, files and regular expressions are read and checked now (`ERR_LADING_USAGE`); a read through the gate then
 * fails with `ERR_LADING_VERIFICATION` (exit 5) unless a signature satisfies the policy. `warn` receives the
 * `--verify-unsafe` warning.
 */
export async function createVerificationFromFlags(
  flags: VerificationFlagValues,
  warn: (message: string) => void,
  options: { predicateType?: string } = {},
): Promise<Verification | undefined> {
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
  const keyless = hasIssuer || unsafe;
  if (keyFiles.length === 0 && !keyless) {
    if (flags['trusted-root'] !== undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        '--trusted-root: say whom to trust with --verify-issuer and --verify-subject (or --verify-key)',
      );
    }
    return undefined;
  }
  const policy: SigstoreVerifierPolicy = {
    keys: await Promise.all(keyFiles.map((file) => readFlagFile(file, '--verify-key', 'utf8'))),
  };
  if (hasIssuer) policy.identities = [identity];
  if (options.predicateType !== undefined) policy.predicateType = options.predicateType;
  if (unsafe) {
    policy.unsafeAnyIdentity = true;
    warn(
      '--verify-unsafe: any keyless signature chaining to the trusted root is accepted, whoever made it; this proves nothing about who shipped the artifact',
    );
  }
  const rootFile = flags['trusted-root'];
  if (rootFile !== undefined) policy.trustedRoot = await loadTrustedRoot(rootFile);
  else if (keyless) policy.tuf = true;
  const verifier = createSigstoreVerifier(policy);
  const verification: Verification = {
    verified: [],
    gate: signatureGate({
      verifiers: [verifier],
      onVerified: (signatures) => {
        verification.verified.push(...signatures);
      },
    }),
  };
  return verification;
}

/** One line for standard error about a signature the gate accepted. */
export function describeVerified(signature: VerifiedSignature): string {
  const who =
    signature.identity !== undefined
      ? `${signature.identity}${signature.issuer === undefined ? '' : ` (issuer ${signature.issuer})`}`
      : `key ${signature.keyHint ?? 'unknown'}`;
  return `Verified signature by ${who}, referrer ${signature.referrer}`;
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
 * else must be a URI and is taken as is.
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
