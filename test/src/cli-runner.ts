// Runs the built `lading` binary for the CLI tests, with the Node that runs the tests.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

import type { ErrorJSON } from '@lading/cli';
import { expect } from 'vitest';

import { runLadingInProcess } from './in-process.js';
import { repoRoot } from './testbed/index.js';

/** The CLI entry point. */
export const ladingBin = path.join(repoRoot, 'packages/cli/bin/run.js');

/** How a run ended and what it printed (stdout as bytes: `cat` is binary-safe). */
export interface LadingRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Where and how to run. */
export interface LadingOptions {
  /** Working folder. */
  cwd: string;
  /** The whole environment of the child (tests pass an isolated one). */
  env: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. Default: closed at once. */
  input?: string | Buffer;
}

/** A running child process of the binary. */
export type LadingChild = ChildProcessByStdio<Writable, Readable, Readable>;

/** Starts `lading args…`; stdin is written and closed. */
export function startLading(args: readonly string[], options: LadingOptions): LadingChild {
  const child = spawn(process.execPath, [ladingBin, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.input);
  return child;
}

/** Waits for a child to end, collecting its output. */
export function collectLading(child: LadingChild): Promise<LadingRun> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** How a run of {@link runLading} ended and what it printed, stdout decoded as UTF-8. */
export interface LadingTextRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `lading args…` to completion, stdout decoded as UTF-8. */
export async function runLading(args: readonly string[], options: LadingOptions): Promise<LadingTextRun> {
  const { code, stdout, stderr } = await collectLading(startLading(args, options));
  return { code, stdout: stdout.toString('utf8'), stderr };
}

/** Where the runner of {@link ladingIn} runs: the working folder and the whole environment of the child. */
export interface LadingPlace {
  cwd: string;
  env: NodeJS.ProcessEnv;
}

/** One call of the runner of {@link ladingIn}: another working folder, and stdin (default: closed at once). */
export interface LadingCallOptions {
  cwd?: string;
  input?: string | Buffer;
}

/** `lading args…` run to completion by {@link ladingIn}: `extraEnv` is added to the place's environment. */
export type LadingRunner = (
  args: readonly string[],
  extraEnv?: NodeJS.ProcessEnv,
  options?: LadingCallOptions,
) => Promise<LadingTextRun>;

/** How the runner of {@link ladingIn} runs the CLI. */
export interface LadingRunnerOptions {
  /**
   * Run inside the test process ({@link runLadingInProcess}: modules load once per file, runs take turns) instead
   * of spawning `bin/run.js` for each run. For tests of arguments, output and exit codes; tests of signals, a real
   * stdin pipe or terminal, or the process's own exit keep the default. Default: false.
   */
  inProcess?: boolean;
}

/**
 * The `lading(args, extraEnv, options)` of a test file: {@link runLading} (or, with `runner.inProcess`,
 * {@link runLadingInProcess}) in `place().cwd` (or `options.cwd`) with `place().env` plus `extraEnv` (whose entries
 * win). `place` is called at each run, so it may read the folder and environment a `beforeAll` sets up.
 */
export function ladingIn(place: () => LadingPlace, runner: LadingRunnerOptions = {}): LadingRunner {
  return async (args, extraEnv = {}, options = {}) => {
    const { cwd, env } = place();
    const runOptions: LadingOptions = {
      cwd: options.cwd ?? cwd,
      env: { ...env, ...extraEnv },
      ...(options.input === undefined ? {} : { input: options.input }),
    };
    if (runner.inProcess !== true) return runLading(args, runOptions);
    const { code, stdout, stderr } = await runLadingInProcess(args, runOptions);
    return { code, stdout: stdout.toString('utf8'), stderr };
  };
}

/** The JSON a run printed on stdout (bytes read as UTF-8); the type parameter names the documented result type. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- a typed JSON.parse, on purpose
export function json<T>(result: { stdout: string | Buffer }): T {
  return JSON.parse(result.stdout.toString()) as T;
}

/** Expects a run (of lading or of a peer tool) to have exited 0; on failure shows `what`, stdout and stderr. */
export function expectOK(
  result: { code: number | null; stdout: string | Buffer; stderr: string },
  what?: string,
): void {
  const output = `${result.stdout.toString()}\n${result.stderr}`;
  expect(result.code, what === undefined ? output : `${what}\n${output}`).toBe(0);
}

/**
 * Expects a `--json` run refused by verification: exit 5, and `ERR_LADING_VERIFICATION` with exit code 5 in the
 * JSON error on stdout. Returns that error.
 */
export function expectVerificationRefused(result: LadingTextRun): ErrorJSON['error'] {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(5);
  const error = json<ErrorJSON>(result).error;
  expect(error.code).toBe('ERR_LADING_VERIFICATION');
  expect(error.exitCode).toBe(5);
  return error;
}

/**
 * A new destination folder `<parent>/<name>-XXXXXX` holding one file (keep.txt), and its {@link snapshot}, to
 * compare with after a refusal that must leave it as it was.
 */
export async function occupiedDestination(parent: string, name: string): Promise<{ dir: string; before: string[] }> {
  const dir = await mkdtemp(path.join(parent, `${name}-`));
  await writeFile(path.join(dir, 'keep.txt'), 'already here\n');
  return { dir, before: await snapshot(dir) };
}

/** The files directly in `dir` as sorted `name:content` lines (UTF-8); a folder among them makes it throw. */
export async function snapshot(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(names.map(async (n) => `${n}:${await readFile(path.join(dir, n), 'utf8')}`));
}

/** How a run at a terminal ended. */
export interface TerminalRun {
  code: number | null;
  /** Everything the terminal showed (stdout and stderr together). */
  screen: string;
  /** How many prompts were answered. */
  answered: number;
}

const shellQuote = (arg: string): string => `'${arg.replaceAll("'", "'\\''")}'`;

/**
 * Runs `lading args…` with its standard streams on a pseudo-terminal (util-linux `script`), as a person at a
 * terminal would; each time the screen shows `prompt` once more, types the next of `answers` and Enter.
 */
export function runLadingAtTerminal(
  args: readonly string[],
  options: Omit<LadingOptions, 'input'> & { answers?: readonly string[]; prompt?: string },
): Promise<TerminalRun> {
  const answers = options.answers ?? [];
  const prompt = options.prompt ?? 'Enter password';
  const command = [process.execPath, ladingBin, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    cwd: options.cwd,
    env: { ...options.env, TERM: 'dumb' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.on('error', () => undefined);
  let screen = '';
  let answered = 0;
  const onOutput = (chunk: Buffer): void => {
    screen += chunk.toString('utf8');
    const prompts = screen.split(prompt).length - 1;
    while (answered < prompts && answered < answers.length) {
      child.stdin.write(`${answers[answered] ?? ''}\r`);
      answered += 1;
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      child.stdin.destroy();
      resolve({ code, screen, answered });
    });
  });
}
