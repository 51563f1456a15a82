/**
 * The signing and verification flags shared by the commands: one set for signing (`push --sign`, `sign`, `attest`)
 * and one for verifying (`verify`, `pull`, `ls`, `cat`), each with its parsed values' type. How the flags become a
 * signer is in signer-from-flags.ts, how they become a verification gate in verification-from-flags.ts; the SSH
 * flags are in ssh-flags.ts.
 */
import { readFile } from 'node:fs/promises';

import { ErrorCodes, LadingError } from '@lading/core';
import * as Flags from '@oclif/core/flags';

import { offlineFlags, type GitHubFlagValues, type OfflineFlagValues } from './github-flags.js';
import { policyFlags, type PolicyFlagValues } from './policy-flags.js';
import {
  sshSigningFlags,
  sshVerificationFlags,
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
export const sigstoreSigningFlags = {
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

/**
 * `--tuf-mirror` and `--tuf-root`: not with `--trusted-root` (a root given is not fetched), and only with a flag that
 * verifies against the trusted root.
 */
const tufRelationships: { type: 'none' | 'some'; flags: string[] }[] = [
  { type: 'none', flags: ['trusted-root'] },
  {
    type: 'some',
    flags: ['verify-key', 'verify-issuer', 'verify-issuer-regexp', 'verify-unsafe', 'github-repo', 'github-owner'],
  },
];

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
    relationships: tufRelationships,
  }),
  'tuf-root': Flags.string({
    helpGroup: verifyGroup,
    description:
      "The initial root.json of the TUF repository (--tuf-mirror's, else the public good's): the keys trusted first, from which root rotations are followed.",
    relationships: tufRelationships,
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

/** The Sigstore and SSH verification flags. */
export const verificationFlags = {
  ...sigstoreVerificationFlags,
  ...sshVerificationFlags,
  ...offlineFlags,
  ...policyFlags,
};

/**
 * The names of the verification flags that say whom to trust or how (everything but `--policy`, `--trust` and
 * `--offline`): with a policy they are a usage error, as the policy alone says whom to trust.
 */
export const trustFlagNames: readonly string[] = [
  ...Object.keys(sigstoreVerificationFlags),
  ...Object.keys(sshVerificationFlags),
];

/** The parsed {@link verificationFlags}. */
export interface VerificationFlagValues
  extends SshVerificationFlagValues, OfflineFlagValues, GitHubFlagValues, PolicyFlagValues {
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

/** The bytes (or, with `encoding`, the text) of the file a flag names; `ERR_LADING_USAGE` naming the flag when unreadable. */
export function readFlagFile(file: string, flag: string): Promise<Buffer>;
export function readFlagFile(file: string, flag: string, encoding: 'utf8'): Promise<string>;
export async function readFlagFile(file: string, flag: string, encoding?: 'utf8'): Promise<Buffer | string> {
  try {
    return encoding === undefined ? await readFile(file) : await readFile(file, encoding);
  } catch (cause) {
    throw new LadingError(ErrorCodes.usage, `${flag} ${file}: ${(cause as Error).message}`, { cause });
  }
}
