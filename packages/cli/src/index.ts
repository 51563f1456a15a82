/**
 * @lading/cli: the `lading` command. The commands are thin adapters over `@lading/core` and the signing plugins.
 * @packageDocumentation
 */
export { commands } from './commands.js';
export type { VersionResult } from './commands/version.js';
