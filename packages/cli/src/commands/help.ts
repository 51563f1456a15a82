import * as Args from '@oclif/core/args';
import { Command } from '@oclif/core/command';
import { toStandardizedId } from '@oclif/core/util/ids';

import { commandNotFoundMessage, LadingHelp } from '../help.js';

/** `lading help [COMMAND]`: the same help as `lading COMMAND --help` (or the command list without a command). */
export class HelpCommand extends Command {
  static override summary = 'Show help for lading or for one command.';
  static override description =
    'The same text as `lading COMMAND --help` (or `-h`); without a command, the list of commands.';
  static override examples = [
    '<%= config.bin %> help',
    '<%= config.bin %> help push',
    '<%= config.bin %> help key generate',
  ];
  static override strict = false;
  static override args = {
    command: Args.string({ required: false, description: 'The command to explain, e.g. push or key generate.' }),
  };

  override async run(): Promise<void> {
    const { argv } = await this.parse(HelpCommand);
    const words = argv.map(String).filter((word) => !word.startsWith('-'));
    if (words.length > 0) {
      const id = toStandardizedId(words.join(':'), this.config);
      if (!this.config.findCommand(id) && !this.config.findTopic(id)) {
        const names = this.config.commands.flatMap((c) => [c.id, ...c.aliases]);
        process.stderr.write(
          `Error: ${commandNotFoundMessage(id, names)}\nHint: run \`${this.config.bin} help\` for the list of commands\n`,
        );
        process.exitCode = 2;
        return;
      }
    }
    await new LadingHelp(this.config).showHelp(words);
  }
}
