import { ErrorCodes, LadingError, login, loginRegistry, type RegistryCredential } from '@lading/core';
import * as Args from '@oclif/core/args';
import * as Flags from '@oclif/core/flags';

import { readPassword, RegistryCommand } from '../base-command.js';
import { terminalSafe } from '../format.js';

/** What `lading login --json` prints. */
export interface LoginCommandResult {
  /** The registry logged in to, normalised (`docker.io` for Docker Hub). */
  registry: string;
  /** The user name (absent for an identity token). */
  username?: string;
  /** The key the credential is stored under (`https://index.docker.io/v1/` for Docker Hub, else the registry). */
  key: string;
  /** The credential helper (`docker-credential-pass`) or docker config file (`~/.docker/config.json`) holding it. */
  destination: string;
}

/** `lading login`: checks credentials against a registry, then stores them where docker and oras read them. */
export class Login extends RegistryCommand<typeof Login> {
  static override summary = 'Log in to a registry: check the credentials, then store them for lading, docker and oras.';
  static override description = `The credentials are checked against the registry's /v2/ endpoint first; a refusal is exit 4 and nothing is stored. They are then stored as docker login stores them: through the credential helper the docker config names for the registry (credHelpers), else its credential store (credsStore), else in the config's "auths" (file mode 0600, other entries kept). The docker config is $DOCKER_CONFIG/config.json, else ~/.docker/config.json.

Give the password on standard input (--password-stdin) so it stays out of the shell history and the process list; an identity token (an OAuth2 refresh token, what some registries hand out instead of a password) with --identity-token-stdin.`;

  static override examples = [
    {
      description: 'Log in in CI with a token from the environment.',
      command: 'echo "$GITHUB_TOKEN" | <%= config.bin %> login ghcr.io -u "$GITHUB_ACTOR" --password-stdin',
    },
    {
      description: 'Log in to a local registry with a password kept in a file.',
      command: '<%= config.bin %> login localhost:5000 -u alice --password-stdin < ./password.txt',
    },
    {
      description: 'Log in with an identity (refresh) token.',
      command: '<%= config.bin %> login registry.example.com --identity-token-stdin < ./token.txt',
    },
  ];

  static override args = {
    registry: Args.string({
      required: true,
      description: 'The registry: host[:port] (e.g. ghcr.io, localhost:5000; docker.io for Docker Hub).',
    }),
  };

  static override flags = {
    'identity-token-stdin': Flags.boolean({
      description: 'Read an identity token (OAuth2 refresh token) from standard input instead of a user and password.',
      exclusive: ['username', 'password', 'password-stdin'],
    }),
  };

  override async run(): Promise<LoginCommandResult> {
    const registry = loginRegistry(this.args.registry);
    const credential = await this.credential(registry);
    const result = await login(registry, credential, {
      transport: await this.transportOptions(),
      signal: this.signal,
    });
    const json: LoginCommandResult = {
      registry: result.registry,
      ...(result.username === undefined ? {} : { username: result.username }),
      key: result.key,
      destination: result.destination,
    };
    const who = result.username === undefined ? 'with an identity token' : `as ${terminalSafe(result.username)}`;
    this.log(`Logged in to ${result.registry} ${who}: credentials stored in ${terminalSafe(result.destination)}`);
    return json;
  }

  private async credential(registry: string): Promise<RegistryCredential> {
    const { flags } = this;
    this.explicitCredentials = true;
    if (flags['identity-token-stdin']) {
      return { kind: 'identityToken', identityToken: await readPassword(process.stdin, '--identity-token-stdin') };
    }
    if (flags.username === undefined) {
      throw new LadingError(
        ErrorCodes.usage,
        `login ${registry}: give -u <user> with --password-stdin, or --identity-token-stdin`,
      );
    }
    return { kind: 'basic', username: flags.username, password: await this.passwordFromFlags(flags.username) };
  }
}
