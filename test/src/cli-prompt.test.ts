// Passwords asked at a terminal, as cosign asks them: `lading key generate` (twice) and signing with an encrypted
// `--key`, run in a pseudo-terminal (util-linux `script`), answering each prompt when it appears.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { runLading, runLadingAtTerminal, type TerminalRun } from './cli-runner.js';
import { makeToolHome, testbed } from './testbed/index.js';

let env: NodeJS.ProcessEnv;
let work: string;

/** Runs `lading args…` at a terminal in the work folder, answering the password prompts. */
function atTerminal(args: readonly string[], answers: readonly string[]): Promise<TerminalRun> {
  return runLadingAtTerminal(args, { cwd: work, env, answers });
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  delete env.COSIGN_PASSWORD;
  work = await mkdtemp(path.join(bed.dir, 'cli-prompt-'));
  await mkdir(path.join(work, 'config'));
  await writeFile(path.join(work, 'config/app.yaml'), 'name: app\n');
});

describe('passwords asked at a terminal', () => {
  it('key generate asks twice, without echo, and writes a key that password opens', async () => {
    const run = await atTerminal(['key', 'generate', '--output-key-prefix', 'tty'], ['s3cret-tty', 's3cret-tty']);
    expect(run.code, run.screen).toBe(0);
    expect(run.answered).toBe(2);
    expect(run.screen).toContain('Enter password for private key: ');
    expect(run.screen).toContain('Enter password for private key again: ');
    expect(run.screen).not.toContain('s3cret-tty');
    expect(await readFile(path.join(work, 'tty.key'), 'utf8')).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY/);
    // Outside a terminal the same password, from COSIGN_PASSWORD, opens it.
    const host = testbed().registries.anonymous.host;
    const signed = await runLading(['push', '--sign', '--key', 'tty.key', `${host}/cli/prompt-env:v1`, 'config'], {
      cwd: work,
      env: { ...env, COSIGN_PASSWORD: 's3cret-tty' },
    });
    expect(signed.code, signed.stderr).toBe(0);
  });

  it('key generate refuses two different answers (exit 2) and writes nothing', async () => {
    const run = await atTerminal(['key', 'generate', '--output-key-prefix', 'differ'], ['one', 'two']);
    expect(run.code, run.screen).toBe(2);
    expect(run.screen).toContain('the two passwords differ; nothing was written');
    expect(existsSync(path.join(work, 'differ.key'))).toBe(false);
    expect(existsSync(path.join(work, 'differ.pub'))).toBe(false);
  });

  it('push --sign --key asks for the key password; the signature verifies; a wrong answer is exit 2', async () => {
    const made = await runLading(['key', 'generate', '--output-key-prefix', 'prompted'], {
      cwd: work,
      env: { ...env, COSIGN_PASSWORD: 'right-pw' },
    });
    expect(made.code, made.stderr).toBe(0);
    const ref = `${testbed().registries.anonymous.host}/cli/prompt-sign:v1`;
    const run = await atTerminal(['push', '--sign', '--key', 'prompted.key', ref, 'config'], ['right-pw']);
    expect(run.code, run.screen).toBe(0);
    expect(run.answered).toBe(1);
    expect(run.screen).toContain('Enter password for private key prompted.key: ');
    expect(run.screen).not.toContain('right-pw');
    const verified = await runLading(['verify', '--verify-key', 'prompted.pub', ref], { cwd: work, env });
    expect(verified.code, verified.stderr).toBe(0);

    const wrong = await atTerminal(['push', '--sign', '--key', 'prompted.key', ref, 'config'], ['wrong-pw']);
    expect(wrong.code, wrong.screen).toBe(2);
    expect(wrong.screen).toMatch(/--key prompted\.key: .*password/);
  });
});
