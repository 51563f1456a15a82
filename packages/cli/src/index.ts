/**
 * @lading/cli: the `lading` command. The commands are thin adapters over `@lading/core` and the signing plugins.
 * @packageDocumentation
 */
export { commands } from './commands.js';
export { ExitCodes } from './exit-codes.js';
export type { ExitCode, Failure } from './exit-codes.js';
export type { ErrorJSON } from './base-command.js';
export type { AttestCommandResult } from './commands/attest.js';
export type { CatCommandResult } from './commands/cat.js';
export type { ConfigPathResult } from './commands/config/path.js';
export type { ConfigRegistryJSON, ConfigSettingJSON, ConfigShowResult } from './commands/config/show.js';
export type { DeleteCommandResult } from './commands/delete.js';
export type { DiscoverCommandResult, DiscoveredReferrer } from './commands/discover.js';
export type { ListCommandResult } from './commands/ls.js';
export type { LoginCommandResult } from './commands/login.js';
export type { LogoutCommandResult } from './commands/logout.js';
export type { PullCommandResult, PulledEntryJSON } from './commands/pull.js';
export type { KeyGenerateResult } from './commands/key/generate.js';
export type {
  PushCommandResult,
  PushedLayer,
  PushFailureJSON,
  SignatureJSON,
  UnsignedPushJSON,
} from './commands/push.js';
export type { SignCommandResult } from './commands/sign.js';
export type { TagCommandResult } from './commands/tag.js';
export type { TrustExportResult } from './commands/trust/export.js';
export type { VerifyCommandResult } from './commands/verify.js';
export type { VersionResult } from './commands/version.js';
export type { CopiedReferrer, CopyCommandResult } from './commands/copy.js';
export type { InspectCommandResult } from './commands/inspect.js';
export type { ManifestFetchCommandResult } from './commands/manifest/fetch.js';
export type { ReferrersRepairCommandResult } from './commands/referrers/repair.js';
