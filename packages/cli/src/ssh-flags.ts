/**
 * The SSH signing and verifying flags (`--ssh-key`, `--ssh-agent`, `--allowed-signers`, `--verify-principal`, …) and
 * how they become an `@lading/ssh` signer or verifier. signing-flags.ts spreads these flags into its own sets, and
 * signer-from-flags.ts and verification-from-flags.ts call here; `@lading/ssh` is imported only when an SSH flag is
 * given (start-up, as for `@lading/sigstore`).
 */
import { ErrorCodes, LadingError, type Signer, type Verifier } from '@lading/core';
// Types only: the package is loaded where a signer or verifier is built.
import type { SshSignerOptions, SshVerifierPolicy } from '@lading/ssh';
import * as Flags from '@oclif/core/flags';

import { canPrompt, promptSecret } from './prompt.js';

const signingGroup = 'SIGNING';
const verifyGroup = 'VERIFICATION';

/** Environment variable holding the passphrase of an encrypted `--ssh-key` (as `@lading/ssh` reads it). */
export const SshPassphraseEnv = 'LADING_SSH_PASSPHRASE';

/** Flags choosing an SSH key to sign with: `push --sign`, `sign` and `attest`. */
export const sshSigningFlags = {
  'ssh-key': Flags.string({
    helpGroup: signingGroup,
    description: `Sign with this OpenSSH private key (SSHSIG, as ssh-keygen -Y sign) instead of Sigstore. An encrypted key's passphrase comes from ${SshPassphraseEnv}, else is asked for at a terminal.`,
    exclusive: ['ssh-agent'],
  }),
  'ssh-agent': Flags.boolean({
    helpGroup: signingGroup,
    description:
      'Sign with a key held by ssh-agent (SSH_AUTH_SOCK): hardware and keychain keys too. With several keys, choose one with --ssh-key-fingerprint.',
    exclusive: ['ssh-key'],
  }),
  'ssh-key-fingerprint': Flags.string({
    helpGroup: signingGroup,
    description:
      'The SSH key to sign with, SHA256:… as ssh-add -l prints it: chooses among the agent keys; with --ssh-key, checked against the file.',
  }),
  'ssh-namespace': Flags.string({
    helpGroup: signingGroup,
    description: 'SSH signing: the SSHSIG namespace (ssh-keygen -Y sign -n). Default lading.',
  }),
  'ssh-certificate': Flags.string({
    helpGroup: signingGroup,
    description:
      'SSH signing: an OpenSSH certificate (…-cert.pub) of the key, carried in the signature for allowed_signers cert-authority lines.',
  }),
  'git-commit': Flags.string({
    helpGroup: signingGroup,
    description:
      'SSH signing: record this git commit (full id) in the signed statement, for verify --require-signed-commit.',
  }),
};

/** The parsed {@link sshSigningFlags}. */
export interface SshSigningFlagValues {
  'ssh-key'?: string | undefined;
  'ssh-agent'?: boolean | undefined;
  'ssh-key-fingerprint'?: string | undefined;
  'ssh-namespace'?: string | undefined;
  'ssh-certificate'?: string | undefined;
  'git-commit'?: string | undefined;
}

/** True when an SSH key source is given (`--ssh-key` or `--ssh-agent`). */
export function wantsSshSigner(flags: SshSigningFlagValues): boolean {
  return flags['ssh-key'] !== undefined || flags['ssh-agent'] === true;
}

/**
 * The SSH signer the flags ask for, built now so that an unreadable key, a wrong passphrase, an agent without the key
 * or a certificate for another key fails before anything is uploaded (`ERR_LADING_USAGE`, exit 2, with
 * `@lading/ssh`'s message). The passphrase of an encrypted key comes from `LADING_SSH_PASSPHRASE`, else, at a
 * terminal (and when standard input is not already used), from a prompt without echo. `sigstoreFlags` names the
 * Sigstore signing flags given, which make no sense with an SSH key: a usage error. The SSH options without a key
 * source are a usage error too.
 */
export async function createSshSignerFromFlags(
  flags: SshSigningFlagValues,
  context: { stdinTaken: boolean; env?: NodeJS.ProcessEnv; sigstoreFlags: readonly string[] },
): Promise<Signer> {
  const env = context.env ?? process.env;
  const [sigstore] = context.sigstoreFlags;
  if (sigstore !== undefined) {
    throw new LadingError(
      ErrorCodes.usage,
      `--${sigstore}: a Sigstore signing flag; it does not go with --ssh-key/--ssh-agent (one signature, one kind)`,
    );
  }
  const { createSshSigner } = await import('@lading/ssh');
  const options: SshSignerOptions = { env };
  const keyFile = flags['ssh-key'];
  if (keyFile !== undefined) {
    options.keyFile = keyFile;
    if (env[SshPassphraseEnv] === undefined && !context.stdinTaken && canPrompt()) {
      // Asked only when the key turns out to be encrypted; never echoed.
      options.passphrase = (file) => promptSecret(`Enter passphrase for ${file}: `);
    }
  } else options.agent = true;
  if (flags['ssh-key-fingerprint'] !== undefined) options.fingerprint = flags['ssh-key-fingerprint'];
  if (flags['ssh-namespace'] !== undefined) options.namespace = flags['ssh-namespace'];
  if (flags['ssh-certificate'] !== undefined) options.certificateFile = flags['ssh-certificate'];
  if (flags['git-commit'] !== undefined) options.gitCommit = flags['git-commit'];
  return createSshSigner(options);
}

/** Refuses the SSH signing options when no SSH key source is given (they would do nothing). */
export function checkSshSigningFlags(flags: SshSigningFlagValues): void {
  if (wantsSshSigner(flags)) return;
  for (const name of ['ssh-key-fingerprint', 'ssh-namespace', 'ssh-certificate', 'git-commit'] as const) {
    if (flags[name] !== undefined) {
      throw new LadingError(ErrorCodes.usage, `--${name}: SSH signing only; give --ssh-key or --ssh-agent`);
    }
  }
}

/** Flags that make `verify`, `pull`, `ls` and `cat` require an SSH signature allowed by an allowed_signers file. */
export const sshVerificationFlags = {
  'allowed-signers': Flags.string({
    helpGroup: verifyGroup,
    description:
      'Require an SSH signature (SSHSIG) by a key this OpenSSH allowed_signers file allows for a --verify-principal, as ssh-keygen -Y verify checks it.',
  }),
  'verify-principal': Flags.string({
    helpGroup: verifyGroup,
    multiple: true,
    multipleNonGreedy: true,
    description:
      'With --allowed-signers: a principal the SSH signature may be for (ssh-keygen -Y verify -I). Repeatable: any one.',
  }),
  'ssh-namespace': Flags.string({
    helpGroup: verifyGroup,
    description: 'With --allowed-signers: the SSHSIG namespace required. Default lading.',
  }),
  'ssh-revoked': Flags.string({
    helpGroup: verifyGroup,
    description:
      'With --allowed-signers: refuse keys listed in this file (public keys one per line, or a KRL from ssh-keygen -k), as ssh-keygen -Y verify -r.',
  }),
};

/** The parsed {@link sshVerificationFlags}. */
export interface SshVerificationFlagValues {
  'allowed-signers'?: string | undefined;
  'verify-principal'?: string[] | undefined;
  'ssh-namespace'?: string | undefined;
  'ssh-revoked'?: string | undefined;
}

/**
 * The SSH verifier the flags ask for, or undefined without `--allowed-signers`. The allowed_signers and revoked
 * files are read and checked now (`ERR_LADING_USAGE`, exit 2, naming the file and line). `--verify-principal`,
 * `--ssh-namespace`, `--ssh-revoked` and `git` without `--allowed-signers`, and `--allowed-signers` without a
 * principal, are usage errors.
 */
export async function createSshVerifierFromFlags(
  flags: SshVerificationFlagValues,
  options: { predicateType?: string; git?: { gitDir: string } } = {},
): Promise<Verifier | undefined> {
  const file = flags['allowed-signers'];
  const principals = flags['verify-principal'] ?? [];
  if (file === undefined) {
    const [alone] = [
      ...(principals.length > 0 ? ['verify-principal'] : []),
      ...(['ssh-namespace', 'ssh-revoked'] as const).filter((name) => flags[name] !== undefined),
      ...(options.git === undefined ? [] : ['require-signed-commit']),
    ];
    if (alone !== undefined) {
      throw new LadingError(ErrorCodes.usage, `--${alone}: give the allowed_signers file too, with --allowed-signers`);
    }
    return undefined;
  }
  if (principals.length === 0) {
    throw new LadingError(
      ErrorCodes.usage,
      `--allowed-signers ${file}: say which signer to accept with --verify-principal (repeatable), as ssh-keygen -Y verify -I`,
    );
  }
  const { createSshVerifier } = await import('@lading/ssh');
  const policy: SshVerifierPolicy = { allowedSigners: file, principals };
  if (flags['ssh-namespace'] !== undefined) policy.namespace = flags['ssh-namespace'];
  if (flags['ssh-revoked'] !== undefined) policy.revoked = flags['ssh-revoked'];
  if (options.predicateType !== undefined) policy.predicateType = options.predicateType;
  if (options.git !== undefined) policy.git = options.git;
  return createSshVerifier(policy);
}
