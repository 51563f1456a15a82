/**
 * The base of every command that talks to a registry: the common flags (transport, credentials, output), one
 * `RegistryClient` per run, progress on standard error, signal handling, and the mapping of errors to exit codes.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';

import {
  ErrorCodes,
  LadingError,
  parseTarget,
  RegistryClient,
  type RegistryClientOptions,
  type RegistryErrorDetail,
} from '@lading/core';
import type { Interfaces } from '@oclif/core';
import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';

import {
  configLocation,
  EffectiveConfig,
  formatSource,
  loadConfig,
  type TransportFlags,
  transportSettingNames,
  verificationChoiceFlags,
  verifyDefaultArguments,
  verifyDefaultFlags,
} from './config.js';
import { ConfiguredRegistryClient, type MirrorSpec, parseMirror } from './config-client.js';
import { traceRegistry } from './debug.js';
import { describeFailure, type Failure, type FailureContext } from './exit-codes.js';
import { terminalSafe } from './format.js';
import { parseErrorMessage } from './help.js';
import { Progress, progressMode } from './progress.js';

/** The parsed flags of a command `T`: its own and the base flags. */
export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof RegistryCommand)['baseFlags'] & T['flags']
>;
/** The parsed arguments of a command `T`. */
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * The JSON printed on standard output for a failed command run with `--json`: the failure, plus the HTTP `status`
 * and the registry's `registryErrors` (`errors[]` code and message) when the error came from a registry answer.
 */
export interface ErrorJSON {
  error: Failure & { status?: number; registryErrors?: readonly RegistryErrorDetail[] };
}

/** The HTTP status and registry error entries of the first lading error in `error`'s cause chain that has them. */
function registryFields(error: unknown): { status?: number; registryErrors?: readonly RegistryErrorDetail[] } {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof LadingError && e.status !== undefined) {
      return { status: e.status, ...(e.registryErrors === undefined ? {} : { registryErrors: e.registryErrors }) };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return {};
}

const registryGroup = 'REGISTRY';
/**
 * The commands that read artifacts: they read from a registry's configured mirror first. Writes (push, tag,
 * delete, sign, attest) always go to the registry named; `copy` reads its source through the mirror and opens its
 * destination without it (`MirroredRepository.registryRepository`).
 */
const mirroredCommands: ReadonlySet<string> = new Set([
  'copy',
  'pull',
  'ls',
  'cat',
  'inspect',
  'manifest:fetch',
  'verify',
  'discover',
]);
const outputGroup = 'OUTPUT';

/**
 * Base class of the registry commands (push, pull, ls, cat). Subclasses implement `run` with `this.flags`,
 * `this.args` and `this.argvRest` parsed, and get their client from {@link RegistryCommand.registryClient}; the
 * client, progress and signal handlers are cleaned up whatever happens.
 *
 * Errors never reach oclif's handler: `catch` prints `Error: <message>` and a one-line suggestion on standard
 * error (or, with `--json`, `{"error": {code, message, exitCode, suggestion?, status?, registryErrors?}}` on
 * standard output) and sets the exit code from `exit-codes.ts`; a stack trace only with `--debug`.
 */
export abstract class RegistryCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    'plain-http': Flags.boolean({
      allowNo: true,
      helpGroup: registryGroup,
      description:
        'Talk plain HTTP to the registry. Default: on for localhost, 127.0.0.0/8 and [::1], off elsewhere; --no-plain-http forces HTTPS.',
    }),
    insecure: Flags.boolean({
      helpGroup: registryGroup,
      description: 'Accept any TLS certificate (no verification). Dangerous: prints a warning.',
    }),
    'ca-file': Flags.string({
      helpGroup: registryGroup,
      description: 'PEM file of CA certificates to trust besides the system ones (a private registry CA).',
    }),
    'cert-file': Flags.string({
      helpGroup: registryGroup,
      description: 'PEM client certificate for mutual TLS (with --key-file).',
      dependsOn: ['key-file'],
    }),
    'key-file': Flags.string({
      helpGroup: registryGroup,
      description: 'PEM private key of the client certificate (with --cert-file).',
      dependsOn: ['cert-file'],
    }),
    username: Flags.string({
      char: 'u',
      helpGroup: registryGroup,
      description:
        'Registry user name (with --password-stdin or --password). Default: credentials from the docker config and helpers.',
    }),
    password: Flags.string({
      char: 'p',
      helpGroup: registryGroup,
      description: 'Registry password. Visible to other users and kept in shell history: prefer --password-stdin.',
      dependsOn: ['username'],
      exclusive: ['password-stdin'],
    }),
    'password-stdin': Flags.boolean({
      helpGroup: registryGroup,
      description: 'Read the password from standard input (one line).',
      dependsOn: ['username'],
    }),
    progress: Flags.boolean({
      allowNo: true,
      default: true,
      helpGroup: outputGroup,
      description: 'Show progress bars on standard error when it is a terminal; --no-progress prints plain lines.',
    }),
    config: Flags.string({
      helpGroup: registryGroup,
      description:
        'The configuration file to read (empty: none). Default: LADING_CONFIG, else $XDG_CONFIG_HOME/lading/config.yaml.',
    }),
    debug: Flags.boolean({
      helpGroup: outputGroup,
      description:
        'Print every registry request (method, redacted URL, status, time) and error stack traces on standard error.',
    }),
  };

  protected flags!: CommandFlags<T>;
  protected args!: CommandArgs<T>;
  /** Every positional argument, in order (for variadic commands such as push). */
  protected argvRest: string[] = [];
  /** Set by a command that reads standard input itself (`push -`), so `--password-stdin` is refused. */
  protected stdinTaken = false;
  /** Set by commands that write files: their error messages then say that nothing was written. */
  protected writesFiles = false;

  private client: RegistryClient | undefined;
  private progressRenderer: Progress | undefined;
  private untrace: (() => void) | undefined;
  private debugEnabled = false;
  private effective: EffectiveConfig | undefined;
  private insecureWarned = false;
  /** Credentials were given on the command line: an auth failure is then about them (see exit-codes.ts). */
  protected explicitCredentials = false;
  private readonly controller = new AbortController();
  private interruptedBy: NodeJS.Signals | undefined;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.interruptedBy = signal;
    this.controller.abort();
  };

  /** Lets a command rewrite its raw arguments before oclif parses them. Default: unchanged. */
  protected beforeParse(argv: readonly string[]): string[] {
    return [...argv];
  }

  private async parseArgv(argv: string[]): Promise<void> {
    const {
      args,
      flags,
      argv: rest,
    } = await this.parse(
      {
        flags: this.ctor.flags,
        baseFlags: this.ctor.baseFlags,
        enableJsonFlag: this.ctor.enableJsonFlag,
        args: this.ctor.args,
        strict: this.ctor.strict,
      },
      argv,
    );
    this.flags = flags as CommandFlags<T>;
    this.args = args as CommandArgs<T>;
    this.argvRest = rest.map(String);
  }

  /**
   * The configuration in effect for this run (flags, `LADING_*` environment, configuration file), loaded once.
   * Throws `ERR_LADING_USAGE` for an invalid file.
   */
  protected async effectiveConfig(): Promise<EffectiveConfig> {
    if (this.effective === undefined) {
      const location = configLocation(process.env, this.flags.config);
      const loaded = await loadConfig(location);
      const given = this.flags as unknown as Record<string, string | boolean | undefined>;
      const flags: TransportFlags = {};
      for (const name of transportSettingNames) if (given[name] !== undefined) flags[name] = given[name];
      this.effective = new EffectiveConfig(location, loaded, flags, process.env);
    }
    return this.effective;
  }

  /**
   * The registry host this command addresses (its `reference` or `registry` argument), or undefined (an OCI
   * layout, no such argument, or a malformed reference, which the command reports itself).
   */
  protected commandRegistry(): string | undefined {
    const args = this.args as Record<string, unknown>;
    try {
      if (typeof args.reference === 'string') {
        const target = parseTarget(args.reference);
        return target.kind === 'registry' ? target.registry : undefined;
      }
      if (typeof args.registry === 'string') {
        const target = parseTarget(`${args.registry}/x`);
        return target.kind === 'registry' ? target.registry : undefined;
      }
    } catch {
      return undefined;
    }
    return undefined;
  }

  /**
   * The configuration file's verification defaults as arguments, when this command takes verification flags, none
   * was given (nor `LADING_POLICY`), and the file has `verify` for the command's registry (or at the top level).
   */
  private async verifyDefaults(): Promise<{ argv: string[]; from: string } | undefined> {
    // A command without flags of its own has no static `flags` at run time, whatever the type says.
    const own = new Set(Object.keys((this.ctor.flags as Record<string, unknown> | undefined) ?? {}));
    if (!Object.values(verifyDefaultFlags).some((flag) => own.has(flag))) return undefined;
    const given = this.flags as unknown as Record<string, unknown>;
    if (verificationChoiceFlags.some((flag) => given[flag] !== undefined && given[flag] !== false)) return undefined;
    if ((process.env.LADING_POLICY ?? '') !== '' && own.has('policy')) return undefined;
    const defaults = (await this.effectiveConfig()).verify(this.commandRegistry());
    if (defaults === undefined) return undefined;
    const argv = verifyDefaultArguments(defaults.value, own);
    if (argv.length === 0) return undefined;
    return { argv, from: `${argv.join(' ')} (${formatSource(defaults.source)})` };
  }

  /** Aborted on SIGINT or SIGTERM: pass it to every library call. */
  protected get signal(): AbortSignal {
    return this.controller.signal;
  }

  override async init(): Promise<void> {
    await super.init();
    const raw = this.beforeParse(this.argv);
    await this.parseArgv(raw);
    this.debugEnabled = this.flags.debug;
    const defaults = await this.verifyDefaults();
    if (defaults !== undefined) {
      // Parsed again with the file's flags in front, so oclif checks them (exclusive, depends-on) as typed ones.
      await this.parseArgv([...defaults.argv, ...raw]);
      if (!this.jsonEnabled()) process.stderr.write(`Verification from the config: ${defaults.from}\n`);
    }
    if (this.debugEnabled) this.untrace = traceRegistry((line) => process.stderr.write(line));
    // A second signal, with the handler gone, kills the process the default way: an escape hatch if a pull hangs.
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /**
   * The registry client for this run, built once from the flags: TLS files read, the password read from standard
   * input when asked, warnings printed for `--insecure` and `--password`. Closed when the command ends.
   */
  protected async registryClient(): Promise<RegistryClient> {
    if (this.client) return this.client;
    const flags = this.flags;
    const config = await this.effectiveConfig();
    const base = this.transportFor(undefined);
    const credential: Pick<RegistryClientOptions, 'credential'> = {};
    if (flags.username !== undefined) {
      const password = await this.passwordFromFlags(flags.username);
      credential.credential = { kind: 'basic', username: flags.username, password };
      this.explicitCredentials = true;
    }
    const configured = new Set(config.registries);
    if (configured.size === 0) {
      this.client = new RegistryClient({ ...base, ...credential });
      return this.client;
    }
    // The file's registry entries: each registry dialled with its own settings (read when first dialled, so an
    // entry for a registry this run never talks to costs nothing), and a mirror read first by read commands.
    const mirrors = new Map<string, MirrorSpec>();
    if (mirroredCommands.has(this.id ?? '')) {
      for (const registry of configured) {
        const mirror = config.mirror(registry);
        if (mirror !== undefined) mirrors.set(registry, parseMirror(mirror.value));
      }
    }
    const mirrorHosts = new Set([...mirrors.values()].map((m) => m.registry));
    this.client = new ConfiguredRegistryClient({
      base: { ...base, ...credential },
      optionsFor: (registry) => {
        if (!configured.has(registry) && !mirrorHosts.has(registry)) return undefined;
        // An explicit -u credential is for the registry named on the command line, never for a mirror.
        return mirrorHosts.has(registry)
          ? this.transportFor(registry)
          : { ...this.transportFor(registry), ...credential };
      },
      mirrors,
      onFallback: ({ mirror, registry, reason, down }) => {
        if (down) this.warn(`mirror ${mirror} of ${registry} is unreachable, reading from ${registry}: ${reason}`);
        else if (this.debugEnabled)
          process.stderr.write(`debug: mirror ${mirror}: ${reason}; reading from ${registry}\n`);
      },
    });
    return this.client;
  }

  /**
   * The client options for `registry` (default: the command's, see {@link commandRegistry}; `null`: flags and
   * environment only): plain HTTP, `--insecure` with its warning, CA and client certificate, each from the flag,
   * else its `LADING_*` variable, else the configuration file's entry for the registry; files read. No credential.
   */
  protected async transportOptions(
    registry: string | null = this.commandRegistry() ?? null,
  ): Promise<RegistryClientOptions> {
    await this.effectiveConfig();
    return this.transportFor(registry ?? undefined);
  }

  /** {@link transportOptions} once the configuration is loaded; PEM files read synchronously (they are small). */
  private transportFor(registry: string | undefined): RegistryClientOptions {
    const config = this.effective;
    if (config === undefined) throw new Error('transportFor before effectiveConfig');
    const options: RegistryClientOptions = { userAgent: `lading/${this.config.version}` };
    // Absent everywhere: the core's default applies (plain HTTP for loopback registries only).
    const plainHTTP = config.transport('plain-http', registry);
    if (plainHTTP !== undefined) options.plainHTTP = plainHTTP.value === true;
    const insecure = config.transport('insecure', registry);
    if (insecure?.value === true) {
      options.insecureSkipTLSVerify = true;
      if (!this.insecureWarned) {
        this.insecureWarned = true;
        this.warn(
          `--insecure${insecure.source.kind === 'flag' ? '' : ` (${formatSource(insecure.source)})`}: TLS certificates are not verified; anyone on the network path can read and change what is transferred`,
        );
      }
    }
    for (const [name, key] of [
      ['ca-file', 'ca'],
      ['cert-file', 'cert'],
      ['key-file', 'key'],
    ] as const) {
      const file = config.transport(name, registry);
      if (file === undefined) continue;
      const where = file.source.kind === 'flag' ? `--${name}` : `${name} (${formatSource(file.source)})`;
      options[key] = readPEM(String(file.value), where);
    }
    return options;
  }

  /**
   * The password for `-u username`: `--password` (with a warning), else standard input with `--password-stdin`;
   * a usage error otherwise.
   */
  protected async passwordFromFlags(username: string): Promise<string> {
    const flags = this.flags;
    if (flags.password !== undefined) {
      this.warn(
        '--password on the command line is visible to other users and kept in shell history; prefer --password-stdin',
      );
      return flags.password;
    }
    if (flags['password-stdin']) {
      if (this.stdinTaken) {
        throw new LadingError(ErrorCodes.usage, '--password-stdin: standard input is already the content to push (-)');
      }
      return readPassword(process.stdin);
    }
    throw new LadingError(ErrorCodes.usage, `--username ${username}: give the password with --password-stdin`);
  }

  /** Progress on standard error in the mode the flags and the terminal call for. */
  protected progress(): Progress {
    this.progressRenderer ??= new Progress({
      output: process.stderr,
      mode: progressMode(process.stderr, { json: this.jsonEnabled(), noProgress: !this.flags.progress }),
    });
    return this.progressRenderer;
  }

  /** Writes a warning on standard error (also with `--json`: standard output stays clean JSON). */
  override warn(input: Error | string): Error | string {
    process.stderr.write(`Warning: ${terminalSafe(input instanceof Error ? input.message : input)}\n`);
    return input;
  }

  protected override async catch(error: Interfaces.CommandError): Promise<void> {
    this.progressRenderer?.finish();
    const context: FailureContext = {
      writes: this.writesFiles,
      explicitCredentials: this.explicitCredentials,
      ...(this.interruptedBy && { signal: this.interruptedBy }),
    };
    reportFailure(this.withParseAdvice(error), context, {
      json: this.jsonEnabled(),
      debug: this.debugEnabled,
      logJson: (out) => {
        this.logJson(out);
      },
    });
    await Promise.resolve();
  }

  /**
   * An argument-parser error with its message made accurate (see {@link parseErrorMessage}): an unknown flag gets
   * "did you mean --x?" from this command's flags. Other errors are returned as they are.
   */
  private withParseAdvice(error: Interfaces.CommandError): Interfaces.CommandError {
    const parse = error as Interfaces.CommandError & { oclif?: { exit?: unknown }; flags?: unknown };
    if (typeof parse.oclif?.exit !== 'number') return error;
    const unknown = Array.isArray(parse.flags) ? parse.flags.map(String) : [];
    const names = Object.entries({ ...this.ctor.baseFlags, ...this.ctor.flags }).map(([name]) => name);
    parse.message = parseErrorMessage(parse.message, unknown, names);
    return parse;
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.progressRenderer?.finish();
    this.untrace?.();
    await this.client?.close();
    await super.finally(error);
  }
}

/** How {@link reportFailure} prints. */
export interface ReportOptions {
  /** Print the error as `{"error": …}` JSON on standard output. */
  json: boolean;
  /** Also print the stack trace (and causes) on standard error. */
  debug: boolean;
  /** Prints JSON on standard output (the command's `logJson`). */
  logJson: (out: ErrorJSON) => void;
}

/**
 * {@link reportFailure} for a command that does not extend {@link BaseCommand} (no transport, no debug flag):
 * prints the error (or its `--json` document through `logJson`) and sets the exit code.
 */
export function reportStandaloneFailure(error: unknown, json: boolean, logJson: (out: unknown) => void): void {
  reportFailure(error, {}, { json, debug: false, logJson });
}

/**
 * Prints a failed command's error the way every lading command does (`Error:`/`Hint:` on standard error, or JSON on
 * standard output) and sets `process.exitCode` from `exit-codes.ts`.
 */
export function reportFailure(error: unknown, context: FailureContext, options: ReportOptions): void {
  const failure = describeFailure(error, context);
  process.exitCode = failure.exitCode;
  if (options.json) {
    options.logJson({ error: { ...failure, ...registryFields(error) } });
  } else {
    const lines = [`Error: ${failure.message}`];
    if (failure.suggestion !== undefined) lines.push(`Hint: ${failure.suggestion}`);
    process.stderr.write(`${terminalSafe(lines.join('\n'), { keepNewlines: true })}\n`);
  }
  if (options.debug) process.stderr.write(`${stackOf(error)}\n`);
}

/** The stack of `error` and of each cause below it. */
function stackOf(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const text = current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : inspect(current);
    parts.push(depth === 0 ? text : `Caused by: ${text}`);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

function readPEM(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new LadingError(ErrorCodes.usage, `${flag} ${file}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Reads standard input to the end and drops one trailing newline (`\n` or `\r\n`), as `docker login` does. `flag`
 * names the option in the error for empty input. Default `--password-stdin`.
 */
export async function readPassword(
  input: AsyncIterable<Uint8Array | string>,
  flag = '--password-stdin',
): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (text === '') throw new LadingError(ErrorCodes.usage, `${flag}: standard input was empty`);
  return text;
}
