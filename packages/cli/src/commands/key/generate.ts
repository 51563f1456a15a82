import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ErrorCodes, LadingError } from '@lading/core';
import { generateKeyPair } from '@lading/sigstore';
import type { Interfaces } from '@oclif/core';
import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';

import { readPassword, reportFailure } from '../../base-command.js';
import { canPrompt, promptSecret } from '../../prompt.js';
import { CosignPasswordEnv } from '../../signing.js';

/** What `lading key generate --json` prints. */
export interface KeyGenerateResult {
  /** Path of the private key file written (`<prefix>.key`, mode 0600). */
  privateKey: string;
  /** Path of the public key file written (`<prefix>.pub`). */
  publicKey: string;
  /** cosign's hint of the key: base64 SHA-256 of the DER SubjectPublicKeyInfo, as written in every bundle. */
  keyHint: string;
}

/** `lading key generate`: writes a cosign key pair (`cosign.key`, `cosign.pub`). */
export class KeyGenerate extends Command {
  static override summary = 'Generate a cosign key pair for signing: <prefix>.key and <prefix>.pub.';
  static override description = `Writes an ECDSA P-256 key pair in cosign's formats: the private key encrypted with a password (ENCRYPTED SIGSTORE PRIVATE KEY, mode 0600), which cosign sign --key and lading push --sign --key read, and the public key (PEM), which cosign verify --key and lading pull --verify-key take.

The password comes from COSIGN_PASSWORD (which may be empty, as with cosign), with --password-stdin from standard input, or else, at a terminal, it is asked for twice (as cosign does). Existing files are never overwritten.`;

  static override examples = [
    {
      description: 'Write cosign.key and cosign.pub in the current folder.',
      command: 'COSIGN_PASSWORD=… <%= config.bin %> key generate',
    },
    {
      description: 'Read the password from standard input and write release.key and release.pub.',
      command: 'pass show signing | <%= config.bin %> key generate --password-stdin --output-key-prefix release',
    },
  ];

  static override enableJsonFlag = true;

  static override flags = {
    'output-key-prefix': Flags.string({
      default: 'cosign',
      description: 'Path prefix of the files written: <prefix>.key and <prefix>.pub.',
    }),
    'password-stdin': Flags.boolean({
      description: 'Read the password of the private key from standard input (one line) instead of COSIGN_PASSWORD.',
    }),
  };

  override async run(): Promise<KeyGenerateResult> {
    const { flags } = await this.parse(KeyGenerate);
    const prefix = flags['output-key-prefix'];
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
    const pair = await generateKeyPair({ password });
    // Exclusive creation ('wx'): a file appearing meanwhile is not overwritten either.
    await writeFile(keyFile, pair.privateKey, { mode: 0o600, flag: 'wx' });
    await writeFile(pubFile, pair.publicKey, { mode: 0o644, flag: 'wx' });
    process.stderr.write(`Private key written to ${keyFile}\nPublic key written to ${pubFile}\n`);
    return { privateKey: path.resolve(keyFile), publicKey: path.resolve(pubFile), keyHint: pair.keyHint };
  }

  protected override async catch(error: Interfaces.CommandError): Promise<void> {
    reportFailure(
      error,
      {},
      {
        json: this.jsonEnabled(),
        debug: false,
        logJson: (out) => {
          this.logJson(out);
        },
      },
    );
    await Promise.resolve();
  }
}
