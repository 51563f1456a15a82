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
