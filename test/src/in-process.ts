// Runs the built `lading` CLI inside the test process, the way oclif's own tests do: each run is what `bin/run.js`
// does (oclif's `execute`, errors through oclif's `handle`), with the process-global state a run sees — argv,
// working folder, environment, standard streams, console, exit code — swapped in for the run and restored after it.
//
// Why: a spawned run pays Node's start-up and the CLI's imports (0.3–0.6 s of CPU) every time; in process the
// modules load once per test file. What it cannot stand in for: signals, a real stdin pipe or terminal, the exit
// of the process itself, start-up; tests of those keep {@link startLading}/{@link runLading}.
import { Console } from 'node:console';
import { createRequire } from 'node:module';
import { Readable, Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';

import { ladingBin, type LadingOptions, type LadingRun } from './cli-runner.js';

interface OclifExecute {
  execute: (options: { args: string[]; dir: string }) => Promise<unknown>;
}
interface OclifHandle {
  Exit: { exit: (code?: number) => void };
}

/** oclif, loaded from where the CLI loads it (the same module instances, so `Exit` below is the one it calls). */
let oclif: Promise<{ execute: OclifExecute['execute']; Exit: OclifHandle['Exit'] }> | undefined;

function loadOclif(): Promise<{ execute: OclifExecute['execute']; Exit: OclifHandle['Exit'] }> {
  oclif ??= (async () => {
    const require = createRequire(ladingBin);
    const executeModule = (await import(pathToFileURL(require.resolve('@oclif/core/execute')).href)) as OclifExecute;
    const handleModule = (await import(pathToFileURL(require.resolve('@oclif/core/handle')).href)) as OclifHandle;
    return { execute: executeModule.execute, Exit: handleModule.Exit };
  })();
  return oclif;
}

/** A standard output or error stream that keeps what is written. */
class CapturedStream extends Writable {
  readonly chunks: Buffer[] = [];
  /** Like a pipe: not a terminal (progress bars, colours and prompts check this). */
  readonly isTTY = false;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    callback();
  }

  text(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** The end of the previous run: runs share the process's globals, so they take turns. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `lading args…` in this process and resolves with what a spawned run of `bin/run.js` would have given: the
 * exit code (`process.exitCode` set by the command, or the code oclif's error handler would have exited with), no
 * signal, stdout as bytes and stderr. Runs are serialised; `options.input` (default: none) is standard input, read
 * to its end.
 */
export function runLadingInProcess(args: readonly string[], options: LadingOptions): Promise<LadingRun> {
  const run = queue.then(() => runOnce(args, options));
  queue = run.catch(() => undefined);
  return run;
}

const streamNames = ['stdin', 'stdout', 'stderr'] as const;

async function runOnce(args: readonly string[], options: LadingOptions): Promise<LadingRun> {
  const { execute, Exit } = await loadOclif();
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const stdin = Readable.from(options.input === undefined ? [] : [Buffer.from(options.input)]);

  const saved = {
    argv: process.argv,
    cwd: process.cwd(),
    env: { ...process.env },
    exitCode: process.exitCode,
    console: globalThis.console,
    exit: Exit.exit,
    streams: streamNames.map((name) => Object.getOwnPropertyDescriptor(process, name)),
  };
  let exitedWith: number | undefined;
  try {
    process.argv = [process.execPath, ladingBin, ...args];
    process.chdir(options.cwd);
    replaceEnv(options.env);
    process.exitCode = undefined;
    const replacements = { stdin, stdout, stderr };
    for (const name of streamNames) {
      Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => replacements[name] });
    }
    globalThis.console = new Console({ stdout, stderr });
    // oclif's handler ends the process with Exit.exit (its documented seam for tests): keep the first code instead.
    Exit.exit = (code = 0) => {
      exitedWith ??= code;
    };
    await execute({ args: [...args], dir: pathToFileURL(ladingBin).href });
    const code = exitedWith ?? exitCodeSet();
    return { code, signal: null, stdout: stdout.text(), stderr: stderr.text().toString('utf8') };
  } finally {
    Exit.exit = saved.exit;
    globalThis.console = saved.console;
    streamNames.forEach((name, i) => {
      const descriptor = saved.streams[i];
      if (descriptor !== undefined) Object.defineProperty(process, name, descriptor);
    });
    process.exitCode = saved.exitCode;
    replaceEnv(saved.env);
    process.chdir(saved.cwd);
    process.argv = saved.argv;
  }
}

/** The exit code the run set (`process.exitCode`, read afresh: TypeScript would narrow it to the reset value). */
function exitCodeSet(): number {
  const code: unknown = process.exitCode;
  return code === undefined || code === null ? 0 : Number(code);
}

/** Makes `process.env` hold exactly `env` (in place: the object stays the one Node and libraries hold). */
function replaceEnv(env: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) {
    if (!(key in env)) Reflect.deleteProperty(process.env, key);
  }
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) process.env[key] = value;
  }
}
