import { Attest } from './commands/attest.js';
import { Cat } from './commands/cat.js';
import { Discover } from './commands/discover.js';
import { KeyGenerate } from './commands/key/generate.js';
import { Ls } from './commands/ls.js';
import { Pull } from './commands/pull.js';
import { Push } from './commands/push.js';
import { Sign } from './commands/sign.js';
import { Verify } from './commands/verify.js';
import { Version } from './commands/version.js';

/**
 * Every `lading` command, discovered explicitly by oclif (`oclif.commands.strategy: explicit` in package.json):
 * no directory scanning at start-up. Aliases (`list` for `ls`) are declared on the command classes.
 */
export const commands = {
  attest: Attest,
  cat: Cat,
  discover: Discover,
  'key:generate': KeyGenerate,
  ls: Ls,
  pull: Pull,
  push: Push,
  sign: Sign,
  verify: Verify,
  version: Version,
};
