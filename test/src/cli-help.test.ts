// Help and the conventions a new user expects, run as the built `lading` binary: `-h`, `--help` and `help <cmd>`,
// "did you mean" for a mistyped command or flag, readable usage lines, the headline examples, parse errors without
// oclif's false note, and the step lines of a verified pull in the order things happen (offline: an OCI layout).

import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { expectOK, ladingIn } from './cli-runner.js';
import { makeToolHome, repoRoot, testbed } from './testbed/index.js';

let env: NodeJS.ProcessEnv;
let work: string;

const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

/**
 * Every command id of the built CLI (its oclif manifest), space-separated as typed; not help (`help -h` is the
 * command list, as `-h` alone). A new command is in this list without anyone adding it.
 */
const commands = Object.keys(
  (JSON.parse(readFileSync(path.join(repoRoot, 'packages/cli/oclif.manifest.json'), 'utf8')) as { commands: object })
    .commands,
)
  .filter((id) => id !== 'help')
  .map((id) => id.replace(/:/g, ' '))
  .sort();

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-help-'));
});

describe('help', () => {
  it('lading -h, --help and help list the commands', async () => {
    for (const args of [['-h'], ['--help'], ['help'], []]) {
      const result = await lading(args);
      expectOK(result, args.join(' '));
      expect(result.stdout).toMatch(/^COMMANDS$/m);
      expect(result.stdout).toMatch(/^ {2}push +Push files and folders/m);
    }
  });

  it('help push, push -h and push --help print the same help', async () => {
    const outputs = await Promise.all(
      [
        ['help', 'push'],
        ['push', '-h'],
        ['push', '--help'],
      ].map((a) => lading(a)),
    );
    for (const result of outputs) expectOK(result);
    const [first] = outputs;
    expect(first?.stdout).toMatch(/^USAGE\n {2}\$ lading push REFERENCE PATH\.\.\. \[FLAGS\]$/m);
    for (const result of outputs) expect(result.stdout).toBe(first?.stdout);
  });

  it('every command has -h help with a usage line oclif did not garble, and examples', async () => {
    expect(commands).toEqual(expect.arrayContaining(['completion', 'config show', 'copy', 'pull', 'trust export']));
    for (const command of commands) {
      const result = await lading([...command.split(' '), '-h']);
      expectOK(result, `${command} -h`);
      const text = result.stdout;
      const usage = /^USAGE\n {2}\$ (lading [^\n]*(?:\n {4}[^\n]*)*)/m.exec(text)?.[1];
      expect(usage, command).toBeDefined();
      expect(usage, command).toMatch(new RegExp(`^lading ${command}\\b`));
      expect(usage, command).not.toMatch(/\| \]|\|\s+\||\[\s*\]/);
      expect(text, command).toMatch(/^EXAMPLES$/m);
    }
  });

  it('sign and attest show one short usage line; push marks only PATH as variadic', async () => {
    const sign = (await lading(['sign', '--help'])).stdout;
    expect(sign).toMatch(/^ {2}\$ lading sign REFERENCE \[FLAGS\]$/m);
    const attest = (await lading(['attest', '--help'])).stdout;
    expect(attest).toMatch(/^ {2}\$ lading attest REFERENCE --predicate <value> --type <value>\s+\[FLAGS\]$/m);
    const push = (await lading(['push', '--help'])).stdout;
    expect(push).toMatch(/^ {2}REFERENCE {2}Where to push/m);
    expect(push).toMatch(/^ {2}PATH\.\.\. {4}Files and folders/m);
    expect(push).not.toMatch(/REFERENCE\.\.\./);
  });

  it('pull --help shows a --verify-* example and push --help a --sign example', async () => {
    const pull = (await lading(['pull', '--help'])).stdout;
    expect(pull).toMatch(
      /^ {4}\$ lading pull --verify-issuer \\*\s+https:\/\/token\.actions\.githubusercontent\.com /m,
    );
    expect(pull).toMatch(/^ {4}\$ lading pull --verify-key cosign\.pub /m);
    const push = (await lading(['push', '--help'])).stdout;
    expect(push).toMatch(/^ {4}\$ lading push --sign ghcr\.io\/acme\/config:v1 \.\/config$/m);
  });
});

describe('did you mean', () => {
  it('an unknown command suggests the closest one, exit 2', async () => {
    for (const [args, message] of [
      [['psuh'], 'command psuh not found: did you mean push?'],
      [['psuh', 'localhost:5000/a:b', '.'], 'command psuh not found: did you mean push?'],
      [['key', 'generat'], 'command key generat not found: did you mean key generate?'],
      [['help', 'pul'], 'command pul not found: did you mean pull?'],
    ] as const) {
      const result = await lading(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toBe(`Error: ${message}\nHint: run \`lading help\` for the list of commands\n`);
      expect(result.stdout).toBe('');
    }
    const far = await lading(['frobnicate']);
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/^Error: command frobnicate not found\n/);
  });

  it('an unknown flag suggests the closest flag of the command, exit 2', async () => {
    const result = await lading(['push', '--tga', 'v2', 'oci:./x:v1', '.']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'Error: Nonexistent flag: --tga (did you mean --tag?)\nHint: see --help for the usage\n',
    );
    const pull = await lading(['pull', '--verify-kye', 'k.pub', 'oci:./x:v1']);
    expect(pull.code).toBe(2);
    expect(pull.stderr).toMatch(/^Error: Nonexistent flag: --verify-kye \(did you mean --verify-key\?\)$/m);
  });

  it('a missing argument is said without the note about multi-value flags', async () => {
    const result = await lading(['pull']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Error: Missing 1 required arg:\nreference +What to pull/);
    expect(result.stderr).not.toMatch(/Note:|multiple values|See more help/);
    expect(result.stderr).toMatch(/\nHint: see --help for the usage\n$/);
  });
});

describe('step lines', () => {
  it('a verified pull prints Verified signature before Downloaded', async () => {
    const dir = await mkdtemp(path.join(work, 'steps-'));
    await mkdir(path.join(dir, 'config'));
    await writeFile(path.join(dir, 'config/app.yaml'), 'name: app\n');
    const inDir = { cwd: dir };
    expectOK(await lading(['key', 'generate'], { COSIGN_PASSWORD: 'pw' }, inDir), 'key generate');
    expectOK(
      await lading(
        ['push', '--sign', '--key', 'cosign.key', 'oci:./layout:v1', './config'],
        { COSIGN_PASSWORD: 'pw' },
        inDir,
      ),
      'push --sign',
    );
    const pulled = await lading(
      ['pull', '--no-progress', '--verify-key', 'cosign.pub', 'oci:./layout:v1', './out'],
      {},
      inDir,
    );
    expectOK(pulled, 'pull --verify-key');
    const steps = pulled.stderr.split('\n').map((line) => line.split(' ')[0]);
    const verified = steps.indexOf('Verified');
    const downloaded = steps.indexOf('Downloaded');
    expect(verified, pulled.stderr).toBeGreaterThanOrEqual(0);
    expect(downloaded, pulled.stderr).toBeGreaterThan(verified);
    expect(steps.indexOf('Resolved'), pulled.stderr).toBeLessThan(verified);
  });
});
