import { createRequire } from 'node:module';

import { Command } from '@oclif/core/command';

/** Versions reported by `lading version`. */
export interface VersionResult {
  /** Version of the `@lading/cli` package. */
  lading: string;
  /** Version of the `@lading/core` package the CLI runs with. */
  core: string;
  /** Node.js version (without the leading `v`). */
  node: string;
  /** `process.platform`-`process.arch`. */
  platform: string;
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  const manifest = require(`${name}/package.json`) as { version?: unknown };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

/** `lading version`: prints the versions of lading, its core library and Node. */
export class Version extends Command {
  static override description = 'Show the versions of lading, @lading/core and Node.js.';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];
  static override enableJsonFlag = true;

  override async run(): Promise<VersionResult> {
    await this.parse(Version);
    const result: VersionResult = {
      lading: packageVersion('@lading/cli'),
      core: packageVersion('@lading/core'),
      node: process.versions.node,
      platform: `${process.platform}-${process.arch}`,
    };
    this.log(`lading ${result.lading} (core ${result.core}) node ${result.node} ${result.platform}`);
    return result;
  }
}
