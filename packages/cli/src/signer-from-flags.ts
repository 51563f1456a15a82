/**
 * How the signing flags become a signer: a cosign key (with its password from a flag, the environment or a prompt),
 * keyless (an identity token from a flag, the environment or a browser login), or an SSH key (ssh-flags.ts).
 * `@lading/sigstore` is imported only here, when a signer is built, so a command that does not sign never loads it.
 */
import { ErrorCodes, LadingError, type Signer } from '@lading/core';
// Types only: @lading/sigstore (and sigstore-js under it) is imported where a signer is built (start-up).
import type { KeylessSignerOptions, KeySignerOptions } from '@lading/sigstore';

import { readPassword } from './base-command.js';
import { canPrompt, promptSecret } from './prompt.js';
import { checkIdentityToken, identityTokenFromFlag } from './sign-preconditions.js';
import { CosignPasswordEnv, readFlagFile, sigstoreSigningFlags, type SigningFlagValues } from './signing-flags.js';
import { checkSshSigningFlags, createSshSignerFromFlags, wantsSshSigner } from './ssh-flags.js';

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

/** True for a PEM private key that needs a password: cosign's, encrypted PKCS#8, or OpenSSL's legacy encryption. */
function isEncryptedKey(pem: Buffer): boolean {
  return /-----BEGIN ENCRYPTED |Proc-Type: 4,ENCRYPTED/.test(pem.toString('latin1'));
}
