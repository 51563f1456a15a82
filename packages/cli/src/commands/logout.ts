import { eraseCredentials, loginRegistry } from '@lading/core';
import type { Interfaces } from '@oclif/core';
import * as Args from '@oclif/core/args';
import { Command } from '@oclif/core/command';

import { reportStandaloneFailure } from '../base-command.js';
import { terminalSafe } from '../format.js';

/** What `lading logout --json` prints. */
export interface LogoutCommandResult {
  /** The registry, normalised (`docker.io` for Docker Hub). */
  registry: string;
  /** Where credentials were removed from (helper programs, the docker config); empty when there were none. */
  erasedFrom: string[];
}

/** `lading logout`: removes a registry's stored credentials, as `docker logout` does. */
export class Logout extends Command {
  static override summary = 'Log out of a registry: remove its stored credentials.';
  static override description = `Removes the registry's credentials where lading login, docker login and oras login store them: through the credential helper the docker config names for it (credHelpers), else its credential store (credsStore), and its entries in the config's "auths". Not being logged in is not an error.`;

  static override examples = ['<%= config.bin %> logout ghcr.io', '<%= config.bin %> logout localhost:5000 --json'];

  // Logout talks to no registry: none of the registry commands' transport flags.
  static override enableJsonFlag = true;

  static override args = {
    registry: Args.string({ required: true, description: 'The registry: host[:port] (docker.io for Docker Hub).' }),
  };

  override async run(): Promise<LogoutCommandResult> {
    const { args } = await this.parse(Logout);
    const registry = loginRegistry(args.registry);
    const result = await eraseCredentials(registry);
    this.log(
      result.erasedFrom.length === 0
        ? `Not logged in to ${result.registry}: no stored credentials`
        : `Logged out of ${result.registry}: credentials removed from ${result.erasedFrom.map((p) => terminalSafe(p)).join(', ')}`,
    );
    return { registry: result.registry, erasedFrom: result.erasedFrom };
  }

  /** Errors as every lading command reports them (`Error:`/`Hint:`, or JSON), with the exit codes of docs/cli.md. */
  protected override async catch(error: Interfaces.CommandError): Promise<void> {
    reportStandaloneFailure(error, this.jsonEnabled(), (out) => {
      this.logJson(out);
    });
    await Promise.resolve();
  }
}
