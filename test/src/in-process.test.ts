// The in-process runner (in-process.ts) against the spawned binary: the same exit code, stdout and stderr for runs
// that end in each of the ways a run can end (success with JSON, a usage error caught by the command, a parse
// error, an error left to oclif's handler, an unknown command handled by the hook, help), and the test process's globals as they were afterwards.

import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { runLading, type LadingOptions } from './cli-runner.js';
import { runLadingInProcess } from './in-process.js';
import { makeToolHome, testbed } from './testbed/index.js';

let options: LadingOptions;

/** The test process's globals before any run of this file. */
const before = {
  cwd: process.cwd(),
  env: { ...process.env },
  argv: [...process.argv],
  exitCode: process.exitCode,
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  console: globalThis.console,
};

beforeAll(async () => {
  const bed = testbed();
  const { env } = await makeToolHome(bed.dir);
  const cwd = await mkdtemp(path.join(bed.dir, 'in-process-'));
  await writeFile(path.join(cwd, 'notes.txt'), 'notes\n');
  options = { cwd, env };
});

describe('runLadingInProcess', () => {
  it.each([
    [['version', '--json']],
    [['push', '--json', 'oci:nowhere', 'missing.txt']],
    [['push', 'oci:layout:v1', 'notes.txt', '--no-such-flag']],
    [['psuh']],
    [['version', '--bogus']],
    [['pull', '--help']],
    [['ls', '--json', 'oci:no-layout-here:v1']],
  ])('gives what the spawned binary gives: %j', async (args) => {
    const spawned = await runLading(args, options);
    const inProcess = await runLadingInProcess(args, options);
    expect(inProcess.code).toBe(spawned.code);
    expect(inProcess.stdout.toString('utf8')).toBe(spawned.stdout);
    expect(inProcess.stderr).toBe(spawned.stderr);
    expect(inProcess.signal).toBeNull();
  });

  it('reads the given standard input; cwd, env, argv, exit code, streams and console are as before any run', async () => {
    const result = await runLadingInProcess(['login', '--json', '127.0.0.1:1', '-u', 'u', '--password-stdin'], {
      ...options,
      input: '',
    });
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout.toString('utf8'))).toMatchObject({
      error: { code: 'ERR_LADING_USAGE', message: expect.stringContaining('standard input was empty') as string },
    });
    expect(process.cwd()).toBe(before.cwd);
    expect(process.env).toEqual(before.env);
    expect(process.argv).toEqual(before.argv);
    expect(process.exitCode).toBe(before.exitCode);
    expect(process.stdout).toBe(before.stdout);
    expect(process.stderr).toBe(before.stderr);
    expect(process.stdin).toBe(before.stdin);
    expect(globalThis.console).toBe(before.console);
  });
});
