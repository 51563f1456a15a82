/**
 * Registry credentials, looked up where docker, oras and podman keep them: docker's `config.json` (credential
 * helpers, the default credential store, inline `auths`) and the containers `auth.json`. Secrets never reach
 * messages, logs, `JSON.stringify` or `util.inspect`.
 * https://docs.docker.com/reference/cli/docker/login/#credential-stores
 * https://github.com/containers/image/blob/main/docs/containers-auth.json.5.md
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { homedir as osHomedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { inspect } from 'node:util';

import type { CallOptions } from './content.js';
import { ErrorCodes, LadingError } from './errors.js';
import { DockerHub, credentialKey } from './reference.js';

/**
 * A registry credential. Exactly one kind:
 * - `basic`: username and password (also what a registry's token endpoint takes for Basic auth);
 * - `identityToken`: an OAuth2 refresh token (docker config `identitytoken`, helper username `<token>`), exchanged at
 *   the token realm;
 * - `registryToken`: a bearer access token sent as is (docker config `registrytoken`).
 */
export type RegistryCredential =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  | { readonly kind: 'identityToken'; readonly identityToken: string; readonly username?: string }
  | { readonly kind: 'registryToken'; readonly registryToken: string };

/** What {@link findCredentials} found, and where it looked. Holds no secret in any printable form. */
export interface CredentialSearch {
  /** The registry asked about, normalised (`docker.io` for Docker Hub). */
  readonly registry: string;
  /** The credential, when one was found; a redacting object (see {@link createCredential}). */
  readonly credential?: RegistryCredential;
  /** Where the credential came from, e.g. `~/.docker/config.json` or `docker-credential-pass`; `explicit` for options. */
  readonly source?: string;
  /** Every place looked in, in order: config files (`~` for the home directory) and helper programs. */
  readonly searched: string[];
}

/** Options of {@link findCredentials}. */
export interface CredentialOptions extends CallOptions {
  /** A credential given by the caller (flags, `--password-stdin`); when set, nothing else is read. Default none. */
  credential?: RegistryCredential;
  /** The repository (e.g. `acme/app`), so containers `auth.json` entries scoped to it (`quay.io/acme/app`) match. */
  repository?: string;
  /** Environment for `DOCKER_CONFIG`, `REGISTRY_AUTH_FILE`, `XDG_*`, and the helpers' `PATH`. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Home directory for `~/.docker` and `~/.config`. Default `os.homedir()`. */
  homedir?: string;
  /** How long a credential helper may take before it is killed, in milliseconds. Default 60 000 (it may prompt). */
  helperTimeout?: number;
}

const redacted = '[redacted]';
const defaultHelperTimeout = 60_000;
/** Helpers answer a few hundred bytes; anything near this is not a credential helper answer. */
const maxHelperOutput = 1024 * 1024;

/**
 * Returns a copy of `credential` that never shows its secret when printed: the secret property is non-enumerable (so
 * `{...c}`, `Object.keys` and `JSON.stringify` skip it), and `toJSON`, `toString` and `util.inspect.custom` render
 * `kind`, `username` and `[redacted]`. Read the secret by name (`c.password`) only where it goes on the wire.
 * Throws `ERR_LADING_USAGE` when a field is empty or a Basic username contains `:` (RFC 7617 forbids it).
 */
export function createCredential(credential: RegistryCredential): RegistryCredential {
  const [secretName, secret] = secretOf(credential);
  const username = 'username' in credential ? credential.username : undefined;
  if (secret === '') throw new LadingError(ErrorCodes.usage, `credential ${credential.kind}: ${secretName} is empty`);
  if (credential.kind === 'basic' && (credential.username === '' || credential.username.includes(':'))) {
    throw new LadingError(ErrorCodes.usage, 'credential basic: the username must be non-empty and contain no ":"');
  }
  const shown = { kind: credential.kind, ...(username === undefined ? {} : { username }), [secretName]: redacted };
  const render = (): string => `Credential ${inspect(shown)}`;
  const result = { kind: credential.kind, ...(username === undefined ? {} : { username }) };
  Object.defineProperties(result, {
    [secretName]: { value: secret, enumerable: false },
    toJSON: { value: () => ({ ...shown }), enumerable: false },
    toString: { value: render, enumerable: false },
    [inspect.custom]: { value: render, enumerable: false },
  });
  return Object.freeze(result) as RegistryCredential;
}

function secretOf(credential: RegistryCredential): [string, string] {
  switch (credential.kind) {
    case 'basic':
      return ['password', credential.password];
    case 'identityToken':
      return ['identityToken', credential.identityToken];
    case 'registryToken':
      return ['registryToken', credential.registryToken];
  }
}

/**
 * Finds the credential for `registry` (a registry name such as `ghcr.io`, `localhost:5000` or `docker.io`, or a
 * docker-config key such as `https://index.docker.io/v1/`). Order, first found wins:
 * 1. `options.credential`;
 * 2. the docker config, `$DOCKER_CONFIG/config.json` else `~/.docker/config.json`: the `credHelpers` helper for the
 *    registry, then the `credsStore` helper, then the inline `auths` entry;
 * 3. the containers auth file: `$REGISTRY_AUTH_FILE` alone when set, else `$XDG_RUNTIME_DIR/containers/auth.json`
 *    then `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json` (read the same way, as podman also honours
 *    `credHelpers` there).
 *
 * A helper answering "credentials not found", a missing file or a missing entry means "look further". Resolves with
 * no `credential` when nothing matched. Rejects with `ERR_LADING_AUTH` naming the file or helper and the registry
 * (never a secret) when a file cannot be read or parsed or a helper fails, and with the signal's reason on abort.
 */
export async function findCredentials(registry: string, options: CredentialOptions = {}): Promise<CredentialSearch> {
  options.signal?.throwIfAborted();
  const name = registryName(registry);
  if (options.credential) {
    return { registry: name, credential: createCredential(options.credential), source: 'explicit', searched: [] };
  }
  const context = lookupContext(name, options);
  for (const file of credentialFiles(context)) {
    const found = await searchFile(context, file);
    if (found) {
      return { registry: name, credential: found.credential, source: found.source, searched: context.searched };
    }
  }
  return { registry: name, searched: context.searched };
}

/**
 * A function with the `(registry, { signal }) => Promise<CredentialSearch>` shape the registry client takes, calling
 * {@link findCredentials} with `options` (and the per-call signal, when given).
 */
export function credentialProvider(
  options: Omit<CredentialOptions, 'signal'> = {},
): (registry: string, call?: CallOptions) => Promise<CredentialSearch> {
  return (registry, call) => findCredentials(registry, call?.signal ? { ...options, signal: call.signal } : options);
}

/**
 * "no credentials for ghcr.io in ~/.docker/config.json, docker-credential-pass": what to say when a registry wants
 * credentials and `search` found none. Callers add how to log in.
 */
export function noCredentialsMessage(search: CredentialSearch): string {
  const where = search.searched.length > 0 ? ` in ${search.searched.join(', ')}` : '';
  return `no credentials for ${search.registry}${where}`;
}

/**
 * The docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. For `lading login`, which writes
 * where docker reads. `env` and `homedir` default to `process.env` and `os.homedir()`.
 */
export function dockerConfigPath(options: Pick<CredentialOptions, 'env' | 'homedir'> = {}): string {
  const env = options.env ?? process.env;
  const dir = env.DOCKER_CONFIG ? resolve(env.DOCKER_CONFIG) : join(options.homedir ?? osHomedir(), '.docker');
  return join(dir, 'config.json');
}

/** Options of {@link storeCredentials} and {@link eraseCredentials}. */
export type CredentialStoreOptions = Pick<CredentialOptions, 'env' | 'homedir' | 'helperTimeout' | 'signal'>;

/** Where {@link storeCredentials} put a credential. */
export interface StoredCredential {
  /** The registry, normalised (`docker.io` for Docker Hub). */
  readonly registry: string;
  /** The key it is stored under (`https://index.docker.io/v1/` for Docker Hub, else the registry). */
  readonly key: string;
  /** The credential helper program (`docker-credential-pass`) or the docker config file (`~` for home). */
  readonly destination: string;
}

/** What {@link eraseCredentials} removed. */
export interface ErasedCredential {
  /** The registry, normalised. */
  readonly registry: string;
  /** Where a credential was removed from (helper programs, the docker config); empty when there was none. */
  readonly erasedFrom: string[];
}

/**
 * Stores `credential` for `registry` where docker and oras look first, as `docker login` does: through the
 * `credHelpers` helper configured for the registry in the docker config ({@link dockerConfigPath}), else through
 * its `credsStore` helper, else as the registry's `auths` entry of that file (`auth` = base64 `user:password`,
 * `identitytoken` for identity tokens, `registrytoken` for registry tokens). The key is docker's
 * (`https://index.docker.io/v1/` for Docker Hub). When a helper holds the secret, an inline `auths` entry under the
 * same key is removed so no stale secret stays in the file.
 *
 * The file is rewritten whole, other entries and fields kept, through a temporary file renamed into place (a
 * symbolic link is followed), with mode 0600; its folder is created (0700) when missing. Rejects with
 * `ERR_LADING_AUTH` naming the file or helper (never the secret) when the file cannot be read, parsed or written, or
 * the helper fails; with `ERR_LADING_USAGE` for a registry token and a helper (helpers hold user/secret pairs only).
 */
export async function storeCredentials(
  registry: string,
  credential: RegistryCredential,
  options: CredentialStoreOptions = {},
): Promise<StoredCredential> {
  const context = lookupContext(registryName(registry), options);
  const key = credentialKey(context.registry);
  const file = await configTarget(context);
  const config = await readWritableConfig(file, context);
  const helper = storeHelper(config.parsed, context);
  if (helper !== undefined) {
    if (credential.kind === 'registryToken') {
      throw new LadingError(
        ErrorCodes.usage,
        `store credentials ${context.registry}: a registry token cannot be stored through ${helperProgram(helper.name)}`,
      );
    }
    const username = credential.kind === 'basic' ? credential.username : '<token>';
    const secret = credential.kind === 'basic' ? credential.password : credential.identityToken;
    await callHelper(context, helper, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: secret }));
    const auths = config.parsed.auths;
    if (auths !== undefined && Object.hasOwn(auths, key) && hasSecret(auths[key])) {
      const { [key]: _dropped, ...rest } = auths;
      await writeConfig(file, { ...config.raw, auths: rest }, context, 'store');
    }
    return { registry: context.registry, key, destination: helperProgram(helper.name) };
  }
  const entry: Record<string, string> = {};
  if (credential.kind === 'basic') {
    entry.auth = Buffer.from(`${credential.username}:${credential.password}`).toString('base64');
  } else if (credential.kind === 'identityToken') {
    entry.identitytoken = credential.identityToken;
  } else {
    entry.registrytoken = credential.registryToken;
  }
  await writeConfig(file, { ...config.raw, auths: { ...config.parsed.auths, [key]: entry } }, context, 'store');
  return { registry: context.registry, key, destination: displayPath(file, context.homedir) };
}

/**
 * Removes the credential for `registry` the way `docker logout` does: `erase` through the registry's `credHelpers`
 * helper, else the `credsStore` helper, and the registry's inline `auths` entry from the docker config (docker's
 * key and any other key naming the same host). A helper answering "credentials not found" and a missing file or
 * entry are not errors: the result then lists fewer places (none when there was nothing to remove). Rejects with
 * `ERR_LADING_AUTH` naming the file or helper when a helper fails or the file cannot be read or written.
 */
export async function eraseCredentials(
  registry: string,
  options: CredentialStoreOptions = {},
): Promise<ErasedCredential> {
  const context = lookupContext(registryName(registry), options);
  const key = credentialKey(context.registry);
  const file = await configTarget(context);
  const config = await readWritableConfig(file, context);
  const erasedFrom: string[] = [];
  const helper = storeHelper(config.parsed, context);
  if (helper !== undefined && (await callHelper(context, helper, 'erase', key))) {
    erasedFrom.push(helperProgram(helper.name));
  }
  const auths = config.parsed.auths ?? {};
  const hosts = context.registry === DockerHub.registry ? dockerHubHosts : new Set([context.registry]);
  const keep = Object.entries(auths).filter(([name]) => name !== key && !hosts.has(keyHost(name) ?? ''));
  if (keep.length !== Object.keys(auths).length) {
    await writeConfig(file, { ...config.raw, auths: Object.fromEntries(keep) }, context, 'erase');
    erasedFrom.push(displayPath(file, context.homedir));
  }
  return { registry: context.registry, erasedFrom };
}

function hasSecret(entry: AuthEntry | undefined): boolean {
  return entry !== undefined && ['auth', 'password', 'identitytoken', 'registrytoken'].some((f) => f in entry);
}

/** The docker config to write: {@link dockerConfigPath}, through a symbolic link to its target. */
async function configTarget(context: LookupContext): Promise<string> {
  const file = dockerConfigPath(context);
  try {
    return await realpath(file);
  } catch {
    return file; // not there yet (or a dangling link: written as a file in its place)
  }
}

/** The docker config as parsed (`{}` when missing) and as raw JSON, so unknown fields are written back as read. */
async function readWritableConfig(
  file: string,
  context: LookupContext,
): Promise<{ parsed: ConfigFile; raw: Record<string, unknown> }> {
  const parsed = (await readConfig(file, displayPath(file, context.homedir), context.registry, context.signal)) ?? {};
  return { parsed, raw: parsed as Record<string, unknown> };
}

/** The helper that holds the registry's secret, as `docker login` picks it: `credHelpers`, else `credsStore`. */
function storeHelper(config: ConfigFile, context: LookupContext): { name: string; configuredBy: string } | undefined {
  const shown = displayPath(dockerConfigPath(context), context.homedir);
  const helper = lookupKey(config.credHelpers, context);
  if (helper) return { name: helper, configuredBy: `credHelpers in ${shown}` };
  if (config.credsStore) return { name: config.credsStore, configuredBy: `credsStore in ${shown}` };
  return undefined;
}

/**
 * Runs `docker-credential-<name> store|erase` with `input` on standard input. Resolves true when it succeeded,
 * false when an erase found nothing; rejects with `ERR_LADING_AUTH` quoting the first line of its standard error.
 */
async function callHelper(
  context: LookupContext,
  helper: { name: string; configuredBy: string },
  action: 'store' | 'erase',
  input: string,
): Promise<boolean> {
  const program = helperProgram(helper.name);
  const what = `${program} ${action} (${helper.configuredBy})`;
  const fail = (reason: string, cause?: unknown): LadingError =>
    credentialError(context.registry, `${what} ${reason}`, cause, action);
  if (!/^[A-Za-z0-9][\w.-]*$/.test(helper.name)) {
    throw fail(`is not run: the helper name ${JSON.stringify(helper.name)} is invalid`);
  }
  const result = await spawnHelper(program, action, input, context);
  context.signal?.throwIfAborted();
  if (result.kind === 'missing') throw fail('failed: the helper is not on PATH');
  if (result.kind === 'timeout') throw fail(`did not answer within ${context.helperTimeout} ms`);
  if (result.kind === 'overflow') throw fail(`answered with more than ${maxHelperOutput} bytes`);
  if (result.kind === 'error') throw fail('could not run', result.cause);
  if (result.code === 0) return true;
  if (action === 'erase' && /credentials not found/i.test(`${result.stdout}\n${result.stderr}`)) return false;
  // Standard error only: a helper may echo its input (the secret) in what it prints on standard output.
  const line = result.stderr.trim().split('\n')[0]?.slice(0, 200);
  const status =
    result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.code}`;
  throw fail(`${status}${line ? `: ${line}` : ''}`);
}

/** Writes `config` to `file` with mode 0600 through a temporary file in the same folder, renamed into place. */
async function writeConfig(
  file: string,
  config: Record<string, unknown>,
  context: LookupContext,
  operation: 'store' | 'erase',
): Promise<void> {
  const shown = displayPath(file, context.homedir);
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(temporary, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temporary, 0o600); // the umask may have cleared bits, never added: this is for the record
    await rename(temporary, file);
  } catch (cause) {
    await rm(temporary, { force: true }).catch(() => undefined);
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw credentialError(context.registry, `cannot write ${shown} (${code})`, cause, operation);
  }
}

interface LookupContext {
  registry: string;
  repository: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  homedir: string;
  helperTimeout: number;
  signal: AbortSignal | undefined;
  /** Places looked in so far, for messages; appended as the search goes. */
  searched: string[];
}

function lookupContext(registry: string, options: CredentialOptions): LookupContext {
  return {
    registry,
    repository: options.repository,
    env: options.env ?? process.env,
    homedir: options.homedir ?? osHomedir(),
    helperTimeout: options.helperTimeout ?? defaultHelperTimeout,
    signal: options.signal,
    searched: [],
  };
}

/** The files to read, in order, without duplicates (REGISTRY_AUTH_FILE may point at the docker config). */
function credentialFiles(context: LookupContext): string[] {
  const { env, homedir } = context;
  const files = [dockerConfigPath({ env, homedir })];
  if (env.REGISTRY_AUTH_FILE) {
    files.push(resolve(env.REGISTRY_AUTH_FILE));
  } else {
    if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
    files.push(join(env.XDG_CONFIG_HOME || join(homedir, '.config'), 'containers', 'auth.json'));
  }
  return [...new Set(files)];
}

/** `ghcr.io`, `https://ghcr.io/v1/`, `index.docker.io` → the registry name (`docker.io` for Docker Hub). */
function registryName(registry: string): string {
  const host = keyHost(registry) ?? registry.toLowerCase();
  return dockerHubHosts.has(host) ? DockerHub.registry : host;
}

const dockerHubHosts: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The host a config key names, as docker's `ConvertToHostname` reads it: `https://host/v1/` → `host`. Keys without a
 * scheme that contain `/` are containers-style repository scopes (`quay.io/acme/app`): no host, they match only
 * through {@link scopedKeys}.
 */
function keyHost(key: string): string | undefined {
  const lower = key.toLowerCase();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//.exec(lower);
  if (scheme) return lower.slice(scheme[0].length).split('/')[0];
  return lower.includes('/') ? undefined : lower;
}

/** `registry/a/b/c`, `registry/a/b`, `registry/a`: the scoped keys to try first, most specific first. */
function scopedKeys(context: LookupContext): string[] {
  const components = context.repository?.split('/') ?? [];
  return components.map((_, i) => `${context.registry}/${components.slice(0, components.length - i).join('/')}`);
}

/** The value in `map` for the registry: a scoped key, then the exact key docker writes, then any key for the host. */
function lookupKey<T>(map: Readonly<Record<string, T>> | undefined, context: LookupContext): T | undefined {
  if (!map) return undefined;
  const own = (key: string): boolean => Object.hasOwn(map, key);
  const exact = [...scopedKeys(context), credentialKey(context.registry), context.registry].find(own);
  if (exact !== undefined) return map[exact];
  const hosts = context.registry === DockerHub.registry ? dockerHubHosts : new Set([context.registry]);
  const byHost = Object.keys(map).find((key) => hosts.has(keyHost(key) ?? ''));
  return byHost === undefined ? undefined : map[byHost];
}

/** The parts of a docker config / containers auth file lading reads. */
interface ConfigFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

interface Found {
  credential: RegistryCredential;
  source: string;
}

/** Looks in one file: its helper for the registry, its default store, then its inline entry. */
async function searchFile(context: LookupContext, file: string): Promise<Found | undefined> {
  const shown = displayPath(file, context.homedir);
  context.searched.push(shown);
  const config = await readConfig(file, shown, context.registry, context.signal);
  if (!config) return undefined;
  const helper = lookupKey(config.credHelpers, context);
  for (const [name, field] of [
    [helper, 'credHelpers'],
    [config.credsStore, 'credsStore'],
  ] as const) {
    if (!name) continue;
    const credential = await runHelper(context, name, `${field} in ${shown}`);
    if (credential) return { credential, source: helperProgram(name) };
  }
  const entry = lookupKey(config.auths, context);
  const credential = entry && credentialFromEntry(entry, shown, context.registry);
  return credential ? { credential, source: shown } : undefined;
}

function displayPath(file: string, home: string): string {
  return home !== '' && file.startsWith(home + sep) ? `~${file.slice(home.length)}` : file;
}

function credentialError(registry: string, reason: string, cause?: unknown, operation = 'get'): LadingError {
  return new LadingError(
    ErrorCodes.auth,
    `${operation} credentials ${registry}: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}

/** Reads and checks one config file; `undefined` when it does not exist. */
async function readConfig(
  file: string,
  shown: string,
  registry: string,
  signal: AbortSignal | undefined,
): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, signal ? { encoding: 'utf8', signal } : 'utf8');
  } catch (cause) {
    signal?.throwIfAborted();
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw credentialError(registry, `cannot read ${shown} (${code ?? 'error'})`, cause);
  }
  if (text.trim() === '') return {}; // docker treats an empty config file as an empty config
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    // V8's message quotes the file's text, which may hold secrets: keep only the position, and no cause.
    const at = /position \d+(?: \(line \d+ column \d+\))?/.exec(String(cause))?.[0];
    throw credentialError(registry, `${shown} is not valid JSON${at ? ` (at ${at})` : ''}`);
  }
  return checkConfig(parsed, shown, registry);
}

function checkConfig(parsed: unknown, shown: string, registry: string): ConfigFile {
  const bad = (what: string): LadingError => credentialError(registry, `${shown}: ${what}`);
  if (!isRecord(parsed)) throw bad('expected a JSON object');
  const { auths, credHelpers, credsStore } = parsed;
  if (auths !== undefined && !(isRecord(auths) && Object.values(auths).every(isRecord))) {
    throw bad('"auths" must be an object of objects');
  }
  if (credHelpers !== undefined && !(isRecord(credHelpers) && Object.values(credHelpers).every(isString))) {
    throw bad('"credHelpers" must be an object of helper names');
  }
  if (credsStore !== undefined && !isString(credsStore)) throw bad('"credsStore" must be a helper name');
  return parsed;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/**
 * Decodes an `auths` entry, preferring what docker prefers: `registrytoken`, then `identitytoken`, then `auth`
 * (base64 `user:password`), then `username` + `password`. Entries with none (docker writes `{}` when a credential
 * store holds the secret) give `undefined`.
 */
function credentialFromEntry(entry: AuthEntry, shown: string, registry: string): RegistryCredential | undefined {
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
  const registryToken = text(entry.registrytoken);
  if (registryToken) return createCredential({ kind: 'registryToken', registryToken });
  const basic = text(entry.auth) ? decodeAuth(text(entry.auth) ?? '', shown, registry) : undefined;
  const username = basic?.username ?? text(entry.username);
  const identityToken = text(entry.identitytoken);
  if (identityToken) {
    return createCredential({ kind: 'identityToken', identityToken, ...(username ? { username } : {}) });
  }
  const password = basic?.password ?? text(entry.password);
  if (username && password) return createCredential({ kind: 'basic', username, password });
  return undefined;
}

function decodeAuth(auth: string, shown: string, registry: string): { username: string; password: string } {
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(auth) ? Buffer.from(auth, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    throw credentialError(registry, `${shown}: the "auth" entry for ${registry} is not base64 of "user:password"`);
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function helperProgram(name: string): string {
  return `docker-credential-${name}`;
}

/**
 * Runs `docker-credential-<name> get` with the server URL on stdin, the way docker does
 * (https://github.com/docker/docker-credential-helpers#development). `undefined` when the helper says it has no
 * credentials; an `ERR_LADING_AUTH` error for any other failure. Error messages quote the first line of the helper's
 * stderr, never its stdout (which carries the secret).
 */
async function runHelper(
  context: LookupContext,
  name: string,
  configuredBy: string,
): Promise<RegistryCredential | undefined> {
  const program = helperProgram(name);
  const what = `${program} (${configuredBy})`;
  // The name is pasted into a program name: refuse paths so a config file cannot run an arbitrary executable.
  if (!/^[A-Za-z0-9][\w.-]*$/.test(name)) {
    throw credentialError(
      context.registry,
      `credential helper name ${JSON.stringify(name)} in ${configuredBy} is invalid`,
    );
  }
  context.searched.push(program);
  const result = await spawnHelper(program, 'get', credentialKey(context.registry), context);
  context.signal?.throwIfAborted(); // an abort surfaces as the signal's reason, not as a helper failure
  const fail = (reason: string): LadingError => credentialError(context.registry, `${what} ${reason}`);
  if (result.kind === 'missing') throw fail('is not on PATH');
  if (result.kind === 'timeout') throw fail(`did not answer within ${context.helperTimeout} ms`);
  if (result.kind === 'overflow') throw fail(`answered with more than ${maxHelperOutput} bytes`);
  if (result.kind === 'error') throw credentialError(context.registry, `${what} could not run`, result.cause);
  if (result.code !== 0) {
    // docker-credential-helpers report a miss as "credentials not found in native keychain" on stdout, exit 1.
    if (/credentials not found/i.test(result.stdout) || /credentials not found/i.test(result.stderr)) return undefined;
    const line = result.stderr.trim().split('\n')[0]?.slice(0, 200);
    const status =
      result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with code ${result.code}`;
    throw fail(`${status}${line ? `: ${line}` : ''}`);
  }
  return parseHelperAnswer(result.stdout, fail);
}

function parseHelperAnswer(stdout: string, fail: (reason: string) => LadingError): RegistryCredential | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(stdout);
  } catch {
    throw fail('answered with something other than JSON'); // not quoted: it may be a secret
  }
  if (!isRecord(answer)) throw fail('answered with something other than a JSON object');
  const { Username: username, Secret: secret } = answer;
  if (!isString(username) || !isString(secret)) throw fail('answered without string "Username" and "Secret"');
  if (secret === '') return undefined;
  // A helper's username `<token>` marks the secret as an identity (refresh) token, as docker defines it.
  if (username === '<token>') return createCredential({ kind: 'identityToken', identityToken: secret });
  if (username === '') throw fail('answered with an empty "Username"');
  return createCredential({ kind: 'basic', username, password: secret });
}

type HelperResult =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { kind: 'missing' }
  | { kind: 'timeout' }
  | { kind: 'overflow' }
  | { kind: 'error'; cause: unknown };

/** Spawns the helper, feeds stdin, collects bounded output; kills it on timeout or abort (the caller rethrows). */
function spawnHelper(
  program: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  context: Pick<LookupContext, 'env' | 'signal' | 'helperTimeout'>,
): Promise<HelperResult> {
  const { signal } = context;
  signal?.throwIfAborted();
  return new Promise((settle) => {
    const child = spawn(program, [action], { env: { ...context.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const output = { stdout: '', stderr: '' };
    let outcome: HelperResult | undefined;
    const stop = (result: HelperResult): void => {
      outcome ??= result;
      child.kill('SIGKILL');
      // A grandchild (`sleep`, `gpg`) may still hold the pipes open: stop waiting for them, or 'close' never comes.
      child.stdout.destroy();
      child.stderr.destroy();
    };
    const timer = setTimeout(() => {
      stop({ kind: 'timeout' });
    }, context.helperTimeout);
    const onAbort = (): void => {
      stop({ kind: 'error', cause: signal?.reason });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8');
      child[stream].on('data', (chunk: string) => {
        output[stream] += chunk;
        if (output[stream].length > maxHelperOutput) stop({ kind: 'overflow' });
      });
    }
    // A helper that exits without reading stdin makes the write fail with EPIPE: its exit status is what counts.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('error', (err: NodeJS.ErrnoException) => {
      outcome ??= err.code === 'ENOENT' ? { kind: 'missing' } : { kind: 'error', cause: err };
    });
    child.on('close', (code, exitSignal) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle(outcome ?? { kind: 'exited', code, signal: exitSignal, ...output });
    });
  });
}
