/**
 * The base of every command that talks to a registry: the common flags (transport, credentials, output), one
 * `RegistryClient` per run, progress on standard error, signal handling, and the mapping of errors to exit codes.
 */
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';

import {
  ErrorCodes,
  LadingError,
  RegistryClient,
  type RegistryClientOptions,
  type RegistryErrorDetail,
} from '@lading/core';
import type { Interfaces } from '@oclif/core';
import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';

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

  /** Aborted on SIGINT or SIGTERM: pass it to every library call. */
  protected get signal(): AbortSignal {
    return this.controller.signal;
  }

  override async init(): Promise<void> {
    await super.init();
    const { args, flags, argv } = await this.parse(
      {
        flags: this.ctor.flags,
        baseFlags: this.ctor.baseFlags,
        enableJsonFlag: this.ctor.enableJsonFlag,
        args: this.ctor.args,
        strict: this.ctor.strict,
      },
      this.beforeParse(this.argv),
    );
    this.flags = flags as CommandFlags<T>;
    this.args = args as CommandArgs<T>;
    this.argvRest = argv.map(String);
    this.debugEnabled = this.flags.debug;
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
    const options = await this.transportOptions();
    if (flags.username !== undefined) {
      const password = await this.passwordFromFlags(flags.username);
      options.credential = { kind: 'basic', username: flags.username, password };
      this.explicitCredentials = true;
    }
    this.client = new RegistryClient(options);
    return this.client;
  }

  /**
   * The client options the transport flags ask for (plain HTTP, `--insecure` with its warning, CA, client
   * certificate), files read; no credential.
   */
  protected async transportOptions(): Promise<RegistryClientOptions> {
    const flags = this.flags;
    const options: RegistryClientOptions = { userAgent: `lading/${this.config.version}` };
    // oclif types a boolean flag as boolean, but one without a default is undefined when absent: then the core's
    // default applies (plain HTTP for loopback registries only).
    const plainHTTP = flags['plain-http'] as boolean | undefined;
    if (plainHTTP !== undefined) options.plainHTTP = plainHTTP;
    if (flags.insecure) {
      options.insecureSkipTLSVerify = true;
      this.warn(
        '--insecure: TLS certificates are not verified; anyone on the network path can read and change what is transferred',
      );
    }
    if (flags['ca-file'] !== undefined) options.ca = await readPEM(flags['ca-file'], '--ca-file');
    if (flags['cert-file'] !== undefined) options.cert = await readPEM(flags['cert-file'], '--cert-file');
    if (flags['key-file'] !== undefined) options.key = await readPEM(flags['key-file'], '--key-file');
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

async function readPEM(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
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
