import { createRequire } from 'node:module';

import type { Attest } from './commands/attest.js';
import type { Cat } from './commands/cat.js';
import type { Completion } from './commands/completion.js';
import type { ConfigPath } from './commands/config/path.js';
import type { ConfigShow } from './commands/config/show.js';
import type { Copy } from './commands/copy.js';
import type { Delete } from './commands/delete.js';
import type { Discover } from './commands/discover.js';
import type { HelpCommand } from './commands/help.js';
import type { Inspect } from './commands/inspect.js';
import type { KeyGenerate } from './commands/key/generate.js';
import type { Login } from './commands/login.js';
import type { Logout } from './commands/logout.js';
import type { PolicyTest } from './commands/policy/test.js';
import type { PolicyValidate } from './commands/policy/validate.js';
import type { Ls } from './commands/ls.js';
import type { ManifestFetch } from './commands/manifest/fetch.js';
import type { Pull } from './commands/pull.js';
import type { Push } from './commands/push.js';
import type { ReferrersRepair } from './commands/referrers/repair.js';
import type { Sign } from './commands/sign.js';
import type { Tag } from './commands/tag.js';
import type { TrustExport } from './commands/trust/export.js';
import type { Verify } from './commands/verify.js';
import type { Version } from './commands/version.js';

// Each command module is loaded when its class is first asked for, not when this module is: `lading version` then
// loads neither @lading/core nor @lading/sigstore (and sigstore-js, undici…), only what the version command imports.
// oclif asks for exactly one class per run (the invoked one); help and command listing come from
// oclif.manifest.json, written by the build. `require` of an ES module is synchronous and shares the ESM cache
// (Node >= 22.12), which is what a property getter needs; none of these modules uses top-level await.
const load = createRequire(import.meta.url);

/**
 * Every `lading` command, discovered explicitly by oclif (`oclif.commands.strategy: explicit` in package.json):
 * no directory scanning at start-up. Aliases (`list` for `ls`) are declared on the command classes.
 *
 * Each property is a getter that loads its command's module on first access, so that a run loads only the command
 * it invokes. Enumerating the object (`Object.entries`, as oclif does when there is no manifest) loads them all.
 */
export const commands = {
  get attest(): typeof Attest {
    return (load('./commands/attest.js') as typeof import('./commands/attest.js')).Attest;
  },
  get cat(): typeof Cat {
    return (load('./commands/cat.js') as typeof import('./commands/cat.js')).Cat;
  },
  get completion(): typeof Completion {
    return (load('./commands/completion.js') as typeof import('./commands/completion.js')).Completion;
  },
  get 'config:path'(): typeof ConfigPath {
    return (load('./commands/config/path.js') as typeof import('./commands/config/path.js')).ConfigPath;
  },
  get 'config:show'(): typeof ConfigShow {
    return (load('./commands/config/show.js') as typeof import('./commands/config/show.js')).ConfigShow;
  },
  get copy(): typeof Copy {
    return (load('./commands/copy.js') as typeof import('./commands/copy.js')).Copy;
  },
  get delete(): typeof Delete {
    return (load('./commands/delete.js') as typeof import('./commands/delete.js')).Delete;
  },
  get discover(): typeof Discover {
    return (load('./commands/discover.js') as typeof import('./commands/discover.js')).Discover;
  },
  get help(): typeof HelpCommand {
    return (load('./commands/help.js') as typeof import('./commands/help.js')).HelpCommand;
  },
  get inspect(): typeof Inspect {
    return (load('./commands/inspect.js') as typeof import('./commands/inspect.js')).Inspect;
  },
  get 'key:generate'(): typeof KeyGenerate {
    return (load('./commands/key/generate.js') as typeof import('./commands/key/generate.js')).KeyGenerate;
  },
  get login(): typeof Login {
    return (load('./commands/login.js') as typeof import('./commands/login.js')).Login;
  },
  get logout(): typeof Logout {
    return (load('./commands/logout.js') as typeof import('./commands/logout.js')).Logout;
  },
  get ls(): typeof Ls {
    return (load('./commands/ls.js') as typeof import('./commands/ls.js')).Ls;
  },
  get 'manifest:fetch'(): typeof ManifestFetch {
    return (load('./commands/manifest/fetch.js') as typeof import('./commands/manifest/fetch.js')).ManifestFetch;
  },
  get 'policy:test'(): typeof PolicyTest {
    return (load('./commands/policy/test.js') as typeof import('./commands/policy/test.js')).PolicyTest;
  },
  get 'policy:validate'(): typeof PolicyValidate {
    return (load('./commands/policy/validate.js') as typeof import('./commands/policy/validate.js')).PolicyValidate;
  },
  get pull(): typeof Pull {
    return (load('./commands/pull.js') as typeof import('./commands/pull.js')).Pull;
  },
  get push(): typeof Push {
    return (load('./commands/push.js') as typeof import('./commands/push.js')).Push;
  },
  get 'referrers:repair'(): typeof ReferrersRepair {
    return (load('./commands/referrers/repair.js') as typeof import('./commands/referrers/repair.js')).ReferrersRepair;
  },
  get sign(): typeof Sign {
    return (load('./commands/sign.js') as typeof import('./commands/sign.js')).Sign;
  },
  get tag(): typeof Tag {
    return (load('./commands/tag.js') as typeof import('./commands/tag.js')).Tag;
  },
  get 'trust:export'(): typeof TrustExport {
    return (load('./commands/trust/export.js') as typeof import('./commands/trust/export.js')).TrustExport;
  },
  get verify(): typeof Verify {
    return (load('./commands/verify.js') as typeof import('./commands/verify.js')).Verify;
  },
  get version(): typeof Version {
    return (load('./commands/version.js') as typeof import('./commands/version.js')).Version;
  },
};
