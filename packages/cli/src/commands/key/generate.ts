import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ErrorCodes, LadingError } from '@lading/core';
import type { SSHKeyType } from '@lading/ssh';
import type { Interfaces } from '@oclif/core';
import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';

import { readPassword, reportStandaloneFailure } from '../../base-command.js';
import { canPrompt, promptSecret } from '../../prompt.js';
import { CosignPasswordEnv } from '../../signing-flags.js';
import { SshPassphraseEnv } from '../../ssh-flags.js';

/** The file name ssh-keygen gives each SSH key type lading signs with: the default prefix of `--type ssh-…`. */
const sshDefaultNames: Record<SSHKeyType, string> = {
  'ssh-ed25519': 'id_ed25519',
  'ecdsa-sha2-nistp256': 'id_ecdsa',
  'ecdsa-sha2-nistp384': 'id_ecdsa',
  'ecdsa-sha2-nistp521': 'id_ecdsa',
  'ssh-rsa': 'id_rsa',
};
/**
 * `--type` values besides `cosign`: every SSH key type (the `Record` above must name each of `@lading/ssh`'s, and
 * only those; the type import loads nothing, so `@lading/ssh` is still loaded only to generate).
 */
const sshTypes = Object.keys(sshDefaultNames) as SSHKeyType[];

/** What `lading key generate --json` prints. */
export interface KeyGenerateResult {
  /** Path of the private key file written (cosign: `<prefix>.key`; SSH: `<prefix>`), mode 0600. */
  privateKey: string;
  /** Path of the public key file written (`<prefix>.pub`). */
  publicKey: string;
  /**
   * cosign: base64 SHA-256 of the DER SubjectPublicKeyInfo, as written in every bundle. SSH: the fingerprint,
   * `SHA256:…` as `ssh-keygen -l` prints it.
   */
  keyHint: string;
  /** `cosign`, or the SSH key type. */
  type: string;
  /** SSH: whether the private key is encrypted with a passphrase. */
  encrypted?: boolean;
}

/** `lading key generate`: writes a cosign key pair (`cosign.key`, `cosign.pub`), or an OpenSSH one. */
export class KeyGenerate extends Command {
  static override summary = 'Generate a key pair for signing: cosign (<prefix>.key, <prefix>.pub) or OpenSSH.';
  static override description = `Writes an ECDSA P-256 key pair in cosign's formats: the private key encrypted with a password (ENCRYPTED SIGSTORE PRIVATE KEY, mode 0600), which cosign sign --key and lading push --sign --key read, and the public key (PEM), which cosign verify --key and lading pull --verify-key take.

The password comes from COSIGN_PASSWORD (which may be empty, as with cosign), with --password-stdin from standard input, or else, at a terminal, it is asked for twice (as cosign does). Existing files are never overwritten.

With --type ssh-ed25519 (or ecdsa-sha2-nistp256/384/521, ssh-rsa: 3072 bits), writes an OpenSSH key pair as ssh-keygen does: the private key <prefix> (mode 0600; default prefix id_ed25519, id_ecdsa or id_rsa) and <prefix>.pub, for lading push --sign --ssh-key and allowed_signers files. The passphrase comes from LADING_SSH_PASSPHRASE, with --password-stdin from standard input, or else, at a terminal, it is asked for twice; an empty passphrase, or none given, leaves the key unencrypted (as ssh-keygen -N ''). An encrypted key uses bcrypt-pbkdf and aes256-ctr, ssh-keygen's default.`;

  static override examples = [
    {
      description: 'Write cosign.key and cosign.pub in the current folder.',
      command: 'COSIGN_PASSWORD=… <%= config.bin %> key generate',
    },
    {
      description: 'Read the password from standard input and write release.key and release.pub.',
      command: 'pass show signing | <%= config.bin %> key generate --password-stdin --output-key-prefix release',
    },
    {
      description: 'Write an OpenSSH Ed25519 key pair release_ssh and release_ssh.pub, encrypted with a passphrase.',
      command:
        'LADING_SSH_PASSPHRASE=… <%= config.bin %> key generate --type ssh-ed25519 --output-key-prefix release_ssh',
    },
  ];

  static override enableJsonFlag = true;

  static override flags = {
    type: Flags.string({
      options: ['cosign', ...sshTypes],
      default: 'cosign',
      description: "The key: cosign (ECDSA P-256 in cosign's formats), or an OpenSSH key of this type.",
    }),
    'output-key-prefix': Flags.string({
      description:
        'Path prefix of the files written: <prefix>.key and <prefix>.pub (cosign; default cosign), <prefix> and <prefix>.pub (SSH; default id_ed25519, id_ecdsa or id_rsa).',
    }),
    'password-stdin': Flags.boolean({
      description: `Read the password of the private key from standard input (one line) instead of ${CosignPasswordEnv} (SSH: ${SshPassphraseEnv}).`,
    }),
    comment: Flags.string({ description: 'SSH: the comment stored with the key (ssh-keygen -C). Default none.' }),
  };

  override async run(): Promise<KeyGenerateResult> {
    const { flags } = await this.parse(KeyGenerate);
    if (flags.type !== 'cosign') return this.generateSsh(flags.type as SSHKeyType, flags);
    if (flags.comment !== undefined) {
      throw new LadingError(ErrorCodes.usage, 'key generate: --comment is for SSH keys (--type ssh-…)');
    }
    const prefix = flags['output-key-prefix'] ?? 'cosign';
    const keyFile = `${prefix}.key`;
    const pubFile = `${prefix}.pub`;
    for (const file of [keyFile, pubFile]) {
      if (existsSync(file)) {
        throw new LadingError(ErrorCodes.usage, `key generate: ${file} exists; it is not overwritten`);
      }
    }
    let password = process.env[CosignPasswordEnv];
    if (flags['password-stdin']) password = await readPassword(process.stdin);
    if (password === undefined && canPrompt()) {
      // As cosign generate-key-pair: a person at a terminal chooses the password, typed twice.
      password = await promptSecret('Enter password for private key: ');
      if ((await promptSecret('Enter password for private key again: ')) !== password) {
        throw new LadingError(ErrorCodes.usage, 'key generate: the two passwords differ; nothing was written');
      }
    }
    if (password === undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        `key generate: no password: set ${CosignPasswordEnv} (it may be empty), pass --password-stdin, or run at a terminal to be asked`,
      );
    }
    const { generateKeyPair } = await import('@lading/sigstore');
    const pair = await generateKeyPair({ password });
    // Exclusive creation ('wx'): a file appearing meanwhile is not overwritten either.
    await writeFile(keyFile, pair.privateKey, { mode: 0o600, flag: 'wx' });
    await writeFile(pubFile, pair.publicKey, { mode: 0o644, flag: 'wx' });
    process.stderr.write(`Private key written to ${keyFile}\nPublic key written to ${pubFile}\n`);
    return {
      privateKey: path.resolve(keyFile),
      publicKey: path.resolve(pubFile),
      keyHint: pair.keyHint,
      type: 'cosign',
    };
  }

  /** `--type ssh-…`: an OpenSSH pair, `<prefix>` (0600) and `<prefix>.pub`, never overwriting a file. */
  private async generateSsh(
    type: SSHKeyType,
    flags: {
      'output-key-prefix'?: string | undefined;
      'password-stdin'?: boolean | undefined;
      comment?: string | undefined;
    },
  ): Promise<KeyGenerateResult> {
    const keyFile = flags['output-key-prefix'] ?? sshDefaultNames[type];
    const pubFile = `${keyFile}.pub`;
    for (const file of [keyFile, pubFile]) {
      if (existsSync(file)) {
        throw new LadingError(ErrorCodes.usage, `key generate: ${file} exists; it is not overwritten`);
      }
    }
    let passphrase = process.env[SshPassphraseEnv];
    if (flags['password-stdin'] === true) passphrase = await readPassword(process.stdin);
    if (passphrase === undefined && canPrompt()) {
      // As ssh-keygen: typed twice at a terminal; an empty one leaves the key unencrypted.
      passphrase = await promptSecret('Enter passphrase (empty for no passphrase): ');
      if ((await promptSecret('Enter same passphrase again: ')) !== passphrase) {
        throw new LadingError(ErrorCodes.usage, 'key generate: the two passphrases differ; nothing was written');
      }
    }
    const { generateSshKeyPair } = await import('@lading/ssh');
    const pair = generateSshKeyPair({
      type,
      ...(passphrase === undefined ? {} : { passphrase }),
      ...(flags.comment === undefined ? {} : { comment: flags.comment }),
    });
    await writeFile(keyFile, pair.privateKey, { mode: 0o600, flag: 'wx' });
    await writeFile(pubFile, pair.publicKey, { mode: 0o644, flag: 'wx' });
    const encrypted = passphrase !== undefined && passphrase !== '';
    process.stderr.write(
      `${encrypted ? 'Encrypted private' : 'Private'} key written to ${keyFile}\nPublic key written to ${pubFile}\n${pair.fingerprint}\n`,
    );
    return {
      privateKey: path.resolve(keyFile),
      publicKey: path.resolve(pubFile),
      keyHint: pair.fingerprint,
      type,
      encrypted,
    };
  }

  protected override async catch(error: Interfaces.CommandError): Promise<void> {
    reportStandaloneFailure(error, this.jsonEnabled(), (out) => {
      this.logJson(out);
    });
    await Promise.resolve();
  }
}
