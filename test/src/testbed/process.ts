import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { freePort, waitFor } from './net.js';

/**
 * `setpriv --pdeathsig SIGKILL` makes the kernel kill a server when the process that started it dies, even by
 * SIGKILL, when no exit handler runs. It execs the server in place, so the pid we hold is the server's own.
 */
const SETPRIV = '/usr/bin/setpriv';

/** Children still running, killed synchronously if this process exits before their `stop()`. */
const live = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** Human name used in error messages, e.g. `distribution (token)`. */
  name: string;
  /** Absolute path of the executable. */
  command: string;
  args: readonly string[];
  /** File that receives the server's stdout and stderr (created or truncated). */
  logFile: string;
  /** Environment of the server. Default: `{ PATH, HOME: cwd }` only, so no user configuration leaks in. */
  env?: NodeJS.ProcessEnv;
  cwd: string;
  /** Resolves true once the server answers; polled by {@link waitFor} (50 ms period, about 10 s at most). */
  ready: () => Promise<boolean>;
}

/** A server process started by {@link startServer}. */
export interface RunningServer {
  readonly pid: number;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 3000). Resolves once the process is gone; idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** The last `bytes` (default 4 KiB) of a log file, or a note saying it is missing. */
export function logTail(file: string, bytes = 4096): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  const text = readFileSync(file, 'utf8');
  return text.length > bytes ? `…${text.slice(-bytes)}` : text;
}

/**
 * Starts a long-running server with its output in `logFile` and waits until `ready()` says it answers.
 * Fails with the log's tail when the process exits first or never becomes ready; the process is killed then.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const child = spawnLogged(options);
  const server = wrap(child, options.logFile);
  // Once the child has exited, `exited` has already rejected the race; the probe just ends the polling.
  const ready = async () => child.exitCode !== null || child.signalCode !== null || (await options.ready());
  try {
    await Promise.race([waitFor(options.name, ready), exited(child, options.name)]);
  } catch (e) {
    await server.stop(0);
    throw new Error(`${(e as Error).message}\n--- ${options.logFile}\n${logTail(options.logFile)}`, { cause: e });
  }
  return server;
}

function spawnLogged(options: ServerOptions): ChildProcess {
  const fd = openSync(options.logFile, 'w');
  const viaSetpriv = existsSync(SETPRIV);
  const file = viaSetpriv ? SETPRIV : options.command;
  const args = viaSetpriv ? ['--pdeathsig', 'SIGKILL', options.command, ...options.args] : [...options.args];
  try {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? { PATH: process.env.PATH, HOME: options.cwd },
      stdio: ['ignore', fd, fd],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Rejects when the child exits (or fails to spawn); never resolves. */
function exited(child: ChildProcess, name: string): Promise<never> {
  return new Promise((_resolve, reject) => {
    child.once('error', (e) => {
      reject(new Error(`test bed: ${name} failed to start: ${e.message}`, { cause: e }));
    });
    child.once('exit', (code, signal) => {
      reject(new Error(`test bed: ${name} exited early (code ${String(code)}, signal ${String(signal)})`));
    });
  });
}

function wrap(child: ChildProcess, logFile: string): RunningServer {
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    logFile,
    stop(graceMs = 3000) {
      stopping ??= terminate(child, graceMs);
      return stopping;
    },
  };
}

async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = once(child, 'exit');
  child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  const timer = delay(graceMs, 'timeout' as const);
  if ((await Promise.race([gone, timer])) === 'timeout') {
    child.kill('SIGKILL');
    await gone;
  }
}

/** Options of {@link answersHTTP}. */
export interface ProbeOptions {
  /** PEM CA bundle trusted for `https:` URLs. Default: Node's built-in roots. */
  ca?: string;
}

/**
 * True when `url` answers an HTTP GET with any status below 500 (a registry's `/v2/` answers 200 or 401).
 * Connection errors reject, which {@link waitFor} treats as "not yet".
 */
export async function answersHTTP(url: string, options: ProbeOptions = {}): Promise<boolean> {
  const dispatcher = new Agent(options.ca === undefined ? {} : { connect: { ca: options.ca } });
  try {
    const res = await request(url, { dispatcher, signal: AbortSignal.timeout(2000) });
    await res.body.dump();
    return res.statusCode < 500;
  } finally {
    await dispatcher.close();
  }
}

/**
 * Calls `start(port)` with a fresh free port, retrying up to `attempts` times (default 3) when the server lost
 * the race for the port to another process (its log says "address already in use").
 */
export async function withFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start(await freePort());
    } catch (e) {
      if (i >= attempts || !/address already in use/i.test((e as Error).message)) throw e;
    }
  }
}
