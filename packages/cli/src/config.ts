/**
 * The configuration file and the `LADING_*` environment: where the file is, loading it (YAML, validated against
 * schemas/config.v1.json, errors naming the file, line and field), and the effective value of each setting with
 * where it came from. Precedence: command-line flag > `LADING_*` environment variable > file > default.
 *
 * The YAML parser and the schema validator are imported only when a configuration file exists: a run without one
 * pays one `stat`.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { ErrorCodes, LadingError } from '@lading/core';

/** The `LADING_*` environment variables lading reads, with what each does (the documented list). */
export const LadingEnvironment = {
  LADING_CONFIG: 'The configuration file to read instead of $XDG_CONFIG_HOME/lading/config.yaml; empty: none.',
  LADING_PLAIN_HTTP: 'true or false: as --plain-http / --no-plain-http, for every registry.',
  LADING_INSECURE: 'true or false: as --insecure (accept any TLS certificate; prints a warning).',
  LADING_CA_FILE: 'As --ca-file: PEM CA certificates to trust besides the system ones.',
  LADING_CERT_FILE: 'As --cert-file: PEM client certificate for mutual TLS (with LADING_KEY_FILE).',
  LADING_KEY_FILE: 'As --key-file: PEM private key of the client certificate (with LADING_CERT_FILE).',
  LADING_POLICY: 'As --policy: the verification policy file of the read commands.',
  LADING_SSH_PASSPHRASE: 'The passphrase of an encrypted SSH signing key (--ssh-key), instead of a prompt.',
} as const;

/** A `LADING_*` variable name. */
export type LadingEnvironmentName = keyof typeof LadingEnvironment;

/** The verification defaults of the file (`verify:`, top level or per registry). */
export interface VerifyDefaults {
  key?: string | string[];
  issuer?: string;
  'issuer-regexp'?: string;
  subject?: string;
  'subject-regexp'?: string;
  'trusted-root'?: string;
  'allowed-signers'?: string;
  policy?: string;
}

/** One registry's settings in the file. */
export interface RegistrySettings {
  'plain-http'?: boolean;
  insecure?: boolean;
  'ca-file'?: string;
  'cert-file'?: string;
  'key-file'?: string;
  mirror?: string;
  verify?: VerifyDefaults;
}

/** The file's content, as schemas/config.v1.json describes it. */
export interface ConfigDocument {
  version: 1;
  registries?: Record<string, RegistrySettings>;
  verify?: VerifyDefaults;
}

/** Where the configuration file is, and why there. */
export interface ConfigLocation {
  /** Absolute path, or undefined when `LADING_CONFIG` is set empty (no file). */
  file: string | undefined;
  /**
   * `flag --config`, `env LADING_CONFIG`, or `default` ($XDG_CONFIG_HOME/lading/config.yaml, else
   * ~/.config/lading/config.yaml).
   */
  source: 'flag --config' | 'env LADING_CONFIG' | 'default';
}

/**
 * Where the configuration file is: `flag` (`--config`) when given, else `LADING_CONFIG` when set (empty means none
 * for both), else `$XDG_CONFIG_HOME/lading/config.yaml`, else `~/.config/lading/config.yaml` (`HOME` from `env`,
 * then the OS).
 */
export function configLocation(env: NodeJS.ProcessEnv = process.env, flag?: string): ConfigLocation {
  if (flag !== undefined) return { file: flag === '' ? undefined : path.resolve(flag), source: 'flag --config' };
  const named = env.LADING_CONFIG;
  if (named !== undefined) {
    return { file: named === '' ? undefined : path.resolve(named), source: 'env LADING_CONFIG' };
  }
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(env.HOME ?? os.homedir(), '.config');
  return { file: path.join(base, 'lading', 'config.yaml'), source: 'default' };
}

/** A loaded configuration file: its content and the line of each value. */
export interface LoadedConfig {
  /** Absolute path of the file. */
  file: string;
  /** The validated content. */
  document: ConfigDocument;
  /**
   * The 1-based line of the value at `keys` (e.g. `['registries', 'ghcr.io', 'mirror']`), or undefined when the
   * file does not set it.
   */
  lineOf(keys: readonly string[]): number | undefined;
}

/**
 * Reads and validates the configuration file at `location`. Returns undefined when there is none: `LADING_CONFIG`
 * empty, or the default file missing. A file `LADING_CONFIG` names must exist. Throws `ERR_LADING_USAGE` naming
 * the file, line, column and field for YAML syntax errors, schema violations (unknown keys included) and
 * duplicate keys.
 */
export async function loadConfig(location: ConfigLocation): Promise<LoadedConfig | undefined> {
  const file = location.file;
  if (file === undefined) return undefined;
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new LadingError(ErrorCodes.usage, `config ${file}: not a file`);
    text = await readFile(file, 'utf8');
  } catch (cause) {
    if (cause instanceof LadingError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && location.source === 'default') return undefined;
    const named = {
      default: '',
      'env LADING_CONFIG': ' (named by LADING_CONFIG: fix it, or unset it for the default file)',
      'flag --config': ' (named by --config)',
    }[location.source];
    throw new LadingError(ErrorCodes.usage, `config ${file}: ${(cause as Error).message}${named}`, { cause });
  }
  return parseConfig(file, text);
}

/**
 * Parses and validates configuration text read from `file` (named in errors). Throws `ERR_LADING_USAGE` as
 * {@link loadConfig} does.
 */
export async function parseConfig(file: string, text: string): Promise<LoadedConfig> {
  const YAML = await import('yaml');
  const lines = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const syntax = doc.errors[0];
  if (syntax !== undefined) {
    throw new LadingError(ErrorCodes.usage, `config ${at(syntax.pos[0])}: ${firstLine(syntax.message)}`);
  }
  const value: unknown = doc.toJS();
  const schemaErrors = await validate(value ?? {});
  const first = schemaErrors[0];
  if (first !== undefined) {
    const keys = pointerKeys(first.instancePath);
    let offset = nodeOffset(doc, keys);
    let field = keys.join('.');
    let message = first.message ?? 'is not valid';
    const params = first.params as { additionalProperty?: string; missingProperty?: string; allowedValue?: unknown };
    if (first.keyword === 'additionalProperties' && params.additionalProperty !== undefined) {
      offset = keyOffset(doc, keys, params.additionalProperty) ?? offset;
      field = [...keys, params.additionalProperty].join('.');
      const allowed = allowedKeys(first);
      message = `unknown key${allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : ''}`;
    } else if (first.keyword === 'propertyNames') {
      const name = (first.params as { propertyName?: string }).propertyName ?? '';
      offset = keyOffset(doc, keys, name) ?? offset;
      field = [...keys, name].join('.');
      message = 'is not a registry host[:port] (lower case, as in references)';
    } else if (first.keyword === 'const' && params.allowedValue !== undefined) {
      message = `must be ${JSON.stringify(params.allowedValue)}`;
    } else if (first.keyword === 'required' && params.missingProperty !== undefined) {
      field = [...keys, params.missingProperty].join('.');
      message = 'is required';
    }
    throw new LadingError(
      ErrorCodes.usage,
      `config ${at(offset)}: ${field === '' ? 'the file' : field} ${message} (the format: docs/config.md)`,
    );
  }
  return {
    file,
    document: value as ConfigDocument,
    lineOf: (keys) => {
      const offset = rangeStart(doc.getIn(keys.map(asKey), true));
      return offset === undefined ? undefined : lines.linePos(offset).line;
    },
  };
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  message?: string | undefined;
  params: unknown;
  /** The schema object holding the failed keyword (ajv's `verbose`). */
  parentSchema?: object | undefined;
}

/** A compiled validator of schemas/config.v1.json: true, or false with `errors` set. */
interface ConfigValidator {
  (value: unknown): boolean;
  errors?: SchemaError[] | null;
}

/**
 * The validator: dist/config-validator.js, compiled at build time (scripts/write-config-validator.js), else the
 * schema compiled now with ajv (the unit tests run the sources, where there is no compiled one). The same ajv options
 * either way.
 */
async function configValidator(): Promise<ConfigValidator> {
  try {
    const compiled = (await import(new URL('./config-validator.js', import.meta.url).href)) as {
      validate: ConfigValidator;
    };
    return compiled.validate;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
  }
  const [{ Ajv }, schemaText] = await Promise.all([
    import('ajv'),
    readFile(new URL('../schemas/config.v1.json', import.meta.url), 'utf8'),
  ]);
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
  return ajv.compile(JSON.parse(schemaText) as object) as ConfigValidator;
}

/** The schema's errors for `value`, most specific first (draft-07, every error). */
async function validate(value: unknown): Promise<SchemaError[]> {
  const check = await configValidator();
  if (check(value)) return [];
  const errors = [...(check.errors ?? [])];
  // A bad registry name reports `pattern` and then `propertyNames` (which names the key): the latter first.
  const rank = (e: SchemaError): number =>
    pointerKeys(e.instancePath).length * 2 + (e.keyword === 'propertyNames' ? 1 : 0);
  errors.sort((a, b) => rank(b) - rank(a));
  return errors;
}

/** The keys the schema allows where `error` (an `additionalProperties` error) was found. */
function allowedKeys(error: SchemaError): string[] {
  const properties = (error.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return Object.keys(properties ?? {});
}

function pointerKeys(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((k) => k.replaceAll('~1', '/').replaceAll('~0', '~'));
}

interface YAMLDocumentLike {
  getIn(path: Iterable<unknown>, keepScalar?: boolean): unknown;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range?.[0];
}

/** Offset of the value at `keys` in the document, or undefined. */
function nodeOffset(doc: YAMLDocumentLike, keys: readonly string[]): number | undefined {
  for (let n = keys.length; n >= 0; n--) {
    const offset = rangeStart(doc.getIn(keys.slice(0, n).map(asKey), true));
    if (offset !== undefined) return offset;
  }
  return undefined;
}

/** Offset of the key `name` in the mapping at `keys`. */
function keyOffset(doc: YAMLDocumentLike, keys: readonly string[], name: string): number | undefined {
  const map = (keys.length === 0 ? (doc as { contents?: unknown }).contents : doc.getIn(keys.map(asKey), true)) as
    { items?: { key?: unknown }[] } | undefined;
  for (const pair of map?.items ?? []) {
    const key = pair.key as { value?: unknown } | undefined;
    if (key !== undefined && String(key.value) === name) return rangeStart(key);
  }
  return undefined;
}

/** An array index in a JSON pointer is a number for the YAML document. */
function asKey(key: string): string | number {
  return /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : key;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** Where an effective value came from. */
export type SettingSource =
  | { kind: 'flag'; name: string }
  | { kind: 'env'; name: LadingEnvironmentName }
  | { kind: 'file'; file: string; line: number | undefined }
  | { kind: 'default' };

/** `flag --x`, `env LADING_X`, `file <path>:<line>` or `default`. */
export function formatSource(source: SettingSource): string {
  switch (source.kind) {
    case 'flag':
      return `flag --${source.name}`;
    case 'env':
      return `env ${source.name}`;
    case 'file':
      return `file ${source.file}${source.line === undefined ? '' : `:${source.line}`}`;
    default:
      return 'default';
  }
}

/** An effective value and where it came from. */
export interface Setting<T> {
  value: T;
  source: SettingSource;
}

/** The transport settings the file and environment may give, as flag names. */
export type TransportSettingName = 'plain-http' | 'insecure' | 'ca-file' | 'cert-file' | 'key-file';

const transportEnv: Record<TransportSettingName, LadingEnvironmentName> = {
  'plain-http': 'LADING_PLAIN_HTTP',
  insecure: 'LADING_INSECURE',
  'ca-file': 'LADING_CA_FILE',
  'cert-file': 'LADING_CERT_FILE',
  'key-file': 'LADING_KEY_FILE',
};

/** The transport settings' names, in the order `config show` prints them. */
export const transportSettingNames: readonly TransportSettingName[] = [
  'plain-http',
  'insecure',
  'ca-file',
  'cert-file',
  'key-file',
];

/** Parses a boolean `LADING_*` value (`true`/`1`/`yes`/`on`, `false`/`0`/`no`/`off`); a usage error otherwise. */
export function parseEnvBoolean(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new LadingError(ErrorCodes.usage, `environment ${name}=${raw}: not a boolean (use true or false, or unset it)`);
}

/** The given flags (absent ones undefined), as `RegistryCommand` parsed them. */
export type TransportFlags = Partial<Record<TransportSettingName, string | boolean | undefined>>;

/**
 * Effective configuration of one run: command-line flags, the `LADING_*` environment, and the file. Resolves each
 * setting for a registry with its source.
 */
export class EffectiveConfig {
  /** Where the file is (or would be). */
  readonly location: ConfigLocation;
  /** The loaded file, or undefined when there is none. */
  readonly loaded: LoadedConfig | undefined;
  private readonly flags: TransportFlags;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    location: ConfigLocation,
    loaded: LoadedConfig | undefined,
    flags: TransportFlags,
    env: NodeJS.ProcessEnv,
  ) {
    this.location = location;
    this.loaded = loaded;
    this.flags = flags;
    this.env = env;
  }

  /** The registries the file has settings for, in file order. */
  get registries(): string[] {
    return Object.keys(this.loaded?.document.registries ?? {});
  }

  /**
   * The effective transport setting `name` for `registry` (`host[:port]`, or undefined for settings not tied to a
   * registry): the flag, else the environment variable, else the file's registry entry, else undefined (the
   * built-in default applies). File paths are made absolute against the file's folder. Throws `ERR_LADING_USAGE`
   * for a malformed boolean in the environment.
   */
  transport(name: TransportSettingName, registry: string | undefined): Setting<string | boolean> | undefined {
    const flag = this.flags[name];
    if (flag !== undefined && flag !== false) return { value: flag, source: { kind: 'flag', name } };
    if (name === 'plain-http' && flag === false) return { value: false, source: { kind: 'flag', name } };
    const envName = transportEnv[name];
    const raw = this.env[envName];
    if (raw !== undefined && raw !== '') {
      const value = name === 'plain-http' || name === 'insecure' ? parseEnvBoolean(envName, raw) : raw;
      return { value, source: { kind: 'env', name: envName } };
    }
    if (registry === undefined || this.loaded === undefined) return undefined;
    const entry = this.loaded.document.registries?.[registry];
    const value = entry?.[name];
    if (value === undefined) return undefined;
    return {
      value: typeof value === 'string' ? this.filePath(value) : value,
      source: this.fileSource(['registries', registry, name]),
    };
  }

  /** The mirror of `registry` from the file, or undefined. */
  mirror(registry: string): Setting<string> | undefined {
    const value = this.loaded?.document.registries?.[registry]?.mirror;
    if (value === undefined) return undefined;
    return { value, source: this.fileSource(['registries', registry, 'mirror']) };
  }

  /**
   * The verification defaults for `registry` (undefined: an OCI layout): the registry's `verify`, else the
   * top-level `verify`, else undefined; paths made absolute against the file's folder. `LADING_POLICY` in the
   * environment replaces the file's `policy`.
   */
  verify(registry: string | undefined): Setting<VerifyDefaults> | undefined {
    const doc = this.loaded?.document;
    const own = registry === undefined ? undefined : doc?.registries?.[registry]?.verify;
    const keys = own === undefined ? ['verify'] : ['registries', registry ?? '', 'verify'];
    const chosen = own ?? doc?.verify;
    if (chosen === undefined) return undefined;
    const resolved: VerifyDefaults = { ...chosen };
    if (chosen.key !== undefined) {
      resolved.key = Array.isArray(chosen.key) ? chosen.key.map((k) => this.filePath(k)) : this.filePath(chosen.key);
    }
    for (const name of ['trusted-root', 'allowed-signers', 'policy'] as const) {
      const value = chosen[name];
      if (value !== undefined) resolved[name] = this.filePath(value);
    }
    return { value: resolved, source: this.fileSource(keys) };
  }

  /** A file value's source: the file and the value's line. */
  fileSource(keys: readonly string[]): SettingSource {
    const loaded = this.loaded;
    if (loaded === undefined) return { kind: 'default' };
    return { kind: 'file', file: loaded.file, line: loaded.lineOf(keys) };
  }

  private filePath(value: string): string {
    const loaded = this.loaded;
    if (loaded === undefined || path.isAbsolute(value)) return value;
    if (value === '~' || value.startsWith('~/')) return path.join(this.env.HOME ?? os.homedir(), value.slice(1));
    return path.resolve(path.dirname(loaded.file), value);
  }
}

/** The command-line flag each `verify:` key of the file stands for. */
export const verifyDefaultFlags: Readonly<Record<keyof VerifyDefaults, string>> = {
  key: 'verify-key',
  issuer: 'verify-issuer',
  'issuer-regexp': 'verify-issuer-regexp',
  subject: 'verify-subject',
  'subject-regexp': 'verify-subject-regexp',
  'trusted-root': 'trusted-root',
  'allowed-signers': 'allowed-signers',
  policy: 'policy',
};

/**
 * Flags that say, on the command line, what must have signed: when one of them (or `LADING_POLICY`) is given, the
 * file's `verify` defaults are not applied at all, so the command line never gets conditions added to it.
 */
export const verificationChoiceFlags: readonly string[] = [
  'verify-key',
  'verify-issuer',
  'verify-issuer-regexp',
  'verify-subject',
  'verify-subject-regexp',
  'verify-unsafe',
  'allowed-signers',
  'verify-principal',
  'policy',
  'trust',
  'github-repo',
  'github-owner',
];

/**
 * The arguments that apply `defaults` to a command whose flags are `commandFlags`: `--verify-key <file>`… for
 * each default the command has a flag for. Keys the command has no flag for are left out.
 */
export function verifyDefaultArguments(defaults: VerifyDefaults, commandFlags: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [key, flag] of Object.entries(verifyDefaultFlags) as [keyof VerifyDefaults, string][]) {
    const value = defaults[key];
    if (value === undefined || !commandFlags.has(flag)) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.push(`--${flag}=${v}`);
  }
  return out;
}
