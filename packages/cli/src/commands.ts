import { Version } from './commands/version.js';

/**
 * Every `lading` command, discovered explicitly by oclif (`oclif.commands.strategy: explicit` in package.json):
 * no directory scanning at start-up.
 */
export const commands = {
  version: Version,
};
