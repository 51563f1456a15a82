import { stat } from 'node:fs/promises';

import { Command } from '@oclif/core/command';

import { reportStandaloneFailure } from '../../base-command.js';
import { configLocation } from '../../config.js';

/** What `lading config path --json` prints. */
export interface ConfigPathResult {
  /** The configuration file lading reads (absolute), or null when `LADING_CONFIG` is set empty (none). */
  path: string | null;
  /** `env LADING_CONFIG`, or `default` ($XDG_CONFIG_HOME/lading/config.yaml, else ~/.config/lading/config.yaml). */
  source: string;
  /** Whether the file exists. */
  exists: boolean;
}

/** `lading config path`: where the configuration file is. */
export class ConfigPath extends Command {
  static override summary = 'Print the path of the configuration file.';
  static override description = `Prints the file lading reads its settings from: the file LADING_CONFIG names (empty: none), else $XDG_CONFIG_HOME/lading/config.yaml, else ~/.config/lading/config.yaml. The file need not exist; the format is in docs/config.md.`;

  static override examples = [
    '<%= config.bin %> config path',
    { description: 'Open it in an editor.', command: '"$EDITOR" "$(<%= config.bin %> config path)"' },
  ];

  static override enableJsonFlag = true;

  override async run(): Promise<ConfigPathResult> {
    await this.parse(ConfigPath);
    const location = configLocation(process.env);
    let exists = false;
    if (location.file !== undefined) {
      try {
        exists = (await stat(location.file)).isFile();
      } catch {
        exists = false;
      }
    }
    if (location.file !== undefined) this.log(location.file);
    else process.stderr.write('No configuration file: LADING_CONFIG is set empty\n');
    return { path: location.file ?? null, source: location.source, exists };
  }

  protected override async catch(error: Error & { exitCode?: number }): Promise<void> {
    reportStandaloneFailure(error, this.jsonEnabled(), (out) => {
      this.logJson(out);
    });
    await Promise.resolve();
  }
}
