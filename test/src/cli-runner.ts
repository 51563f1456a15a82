// Runs the built `lading` binary for the CLI tests, with the Node that runs the tests.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

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

/** Runs `lading args…` to completion, stdout decoded as UTF-8. */
export async function runLading(
  args: readonly string[],
  options: LadingOptions,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await collectLading(startLading(args, options));
  return { code, stdout: stdout.toString('utf8'), stderr };
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
