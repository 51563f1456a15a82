// What the `lading` binary loads at start-up: a command imports only what it needs (docs/cli.md, "Start-up").
// `lading version` and `lading --help` load no command module but version's and neither @lading/core nor
// @lading/sigstore; `ls`, `cat` and `pull` without a verification flag load @lading/core but not @lading/sigstore,
// sigstore-js nor @lading/ssh; with --verify-key they load sigstore, with --allowed-signers @lading/ssh only (the
// controls that prove the probe sees them). The probe is a module hook (node:module registerHooks) preloaded with
// --import into the real child process, recording every file URL the process loads: behaviour, not timing.

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { commands } from '@lading/cli';
import { beforeAll, describe, expect, it } from 'vitest';

import { runLading } from './cli-runner.js';
import { makeToolHome, repoRoot, testbed } from './testbed/index.js';

// Runs in the child before the CLI: appends the URL of every module file loaded to LADING_TEST_MODULE_LOG.
const probe = `
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
const log = process.env.LADING_TEST_MODULE_LOG;
registerHooks({
  load(url, context, next) {
    if (url.startsWith('file:')) appendFileSync(log, url + '\\n');
    return next(url, context);
  },
});
`;

let env: NodeJS.ProcessEnv;
let work: string;
let layout: string;
let registryRef: string;
let runs = 0;

/** Runs `lading args…` under the probe; its exit code, output and the files it loaded (paths from the repository). */
async function loaded(args: readonly string[]): Promise<{ code: number | null; stderr: string; modules: string[] }> {
  const log = path.join(work, `modules-${++runs}.txt`);
  await writeFile(log, '');
  const result = await runLading(args, {
    cwd: work,
    env: {
      ...env,
      LADING_TEST_MODULE_LOG: log,
      NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(probe)}`,
    },
  });
  const modules = (await readFile(log, 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((url) => path.relative(repoRoot, new URL(url).pathname));
  return { code: result.code, stderr: result.stderr, modules };
}

const sigstorePackages = (modules: string[]): string[] =>
  modules.filter((m) => m.startsWith('packages/sigstore/') || /node_modules\/(@sigstore|sigstore)\//.test(m));
const sshPackage = (modules: string[]): string[] =>
  modules.filter((m) => m.startsWith('packages/ssh/') || m.includes('node_modules/bcrypt-pbkdf/'));
const corePackage = (modules: string[]): string[] =>
  modules.filter((m) => m.startsWith('packages/core/') && !m.endsWith('package.json'));
const commandModules = (modules: string[]): string[] =>
  modules.filter((m) => m.startsWith('packages/cli/dist/commands/'));

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'startup-'));
  await writeFile(path.join(work, 'app.conf'), 'port = 8080\n');
  layout = `oci:${path.join(work, 'layout')}:v1`;
  registryRef = `${bed.registries.anonymous.host}/startup/config-${process.pid}:v1`;
  for (const ref of [layout, registryRef]) {
    const pushed = await runLading(['push', '--no-progress', ref, 'app.conf'], { cwd: work, env });
    expect(pushed.stderr).toContain('Pushed');
    expect(pushed.code).toBe(0);
  }
});

describe('start-up: a command loads only what it needs', () => {
  it('version loads its own command module only: no other command, no @lading/core code, no @lading/sigstore', async () => {
    const run = await loaded(['version']);
    expect(run.code).toBe(0);
    expect(commandModules(run.modules)).toEqual(['packages/cli/dist/commands/version.js']);
    expect(corePackage(run.modules)).toEqual([]);
    expect(sigstorePackages(run.modules)).toEqual([]);
  });

  it('--help loads no command module (help comes from the oclif manifest)', async () => {
    const run = await loaded(['--help']);
    expect(run.code).toBe(0);
    expect(commandModules(run.modules)).toEqual([]);
    expect(corePackage(run.modules)).toEqual([]);
    expect(sigstorePackages(run.modules)).toEqual([]);
  });

  // ls and cat borrow pull's --platform flag, hence load pull's module too.
  it.each([
    ['ls (OCI layout)', () => ['ls', layout], ['ls', 'pull']],
    ['pull (OCI layout)', () => ['pull', '--no-progress', layout, path.join(work, `out-${runs}`)], ['pull']],
    ['ls (registry)', () => ['ls', registryRef], ['ls', 'pull']],
    ['cat (registry)', () => ['cat', registryRef, 'app.conf'], ['cat', 'pull']],
    ['pull (registry)', () => ['pull', '--no-progress', registryRef, path.join(work, `out-${runs}`)], ['pull']],
  ])(
    '%s without a verification flag does not load @lading/sigstore, sigstore-js nor @lading/ssh',
    async (_name, args, commands) => {
      const run = await loaded(args());
      expect(run.stderr).not.toContain('Error');
      expect(run.code).toBe(0);
      expect(corePackage(run.modules).length).toBeGreaterThan(0);
      expect(sigstorePackages(run.modules)).toEqual([]);
      expect(sshPackage(run.modules)).toEqual([]);
      expect(commandModules(run.modules).sort()).toEqual(commands.map((c) => `packages/cli/dist/commands/${c}.js`));
    },
  );

  it('pull --allowed-signers loads @lading/ssh (the probe sees it) and not @lading/sigstore; refuses the unsigned artifact', async () => {
    const allowed = path.join(work, 'allowed_signers');
    await writeFile(
      allowed,
      'alice@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n',
    );
    const run = await loaded([
      'pull',
      '--no-progress',
      '--allowed-signers',
      allowed,
      '--verify-principal',
      'alice@example.com',
      registryRef,
      path.join(work, 'refused-ssh'),
    ]);
    expect(run.code, run.stderr).toBe(5);
    expect(run.modules).toContain('packages/ssh/dist/index.js');
    expect(sigstorePackages(run.modules)).toEqual([]);
  });

  it('pull --verify-key loads @lading/sigstore (the probe sees it) and refuses the unsigned artifact', async () => {
    const key = path.join(repoRoot, 'testdata/sigstore/cosign-p256.pub');
    const run = await loaded(['pull', '--no-progress', '--verify-key', key, registryRef, path.join(work, 'refused')]);
    expect(run.code).toBe(5);
    expect(run.modules).toContain('packages/sigstore/dist/index.js');
    expect(sigstorePackages(run.modules).some((m) => m.includes('node_modules/@sigstore/verify/'))).toBe(true);
  });
});

describe('oclif.manifest.json (written by the build)', () => {
  it('describes every command with the flags and arguments its class declares', async () => {
    const manifest = JSON.parse(await readFile(path.join(repoRoot, 'packages/cli/oclif.manifest.json'), 'utf8')) as {
      version: string;
      commands: Record<string, { flags: Record<string, unknown>; args: Record<string, unknown>; aliases: string[] }>;
    };
    const cli = JSON.parse(await readFile(path.join(repoRoot, 'packages/cli/package.json'), 'utf8')) as {
      version: string;
    };
    expect(manifest.version).toBe(cli.version);
    expect(Object.keys(manifest.commands).sort()).toEqual(Object.keys(commands).sort());
    for (const [id, command] of Object.entries(commands)) {
      const cached = manifest.commands[id];
      // oclif adds --json to the flags of a command with enableJsonFlag.
      const flags = Object.keys({
        ...command.baseFlags,
        ...command.flags,
        ...(command.enableJsonFlag ? { json: true } : {}),
      }).sort();
      expect(Object.keys(cached?.flags ?? {}).sort(), id).toEqual(flags);
      expect(Object.keys(cached?.args ?? {}), id).toEqual(Object.keys(command.args));
      expect(cached?.aliases, id).toEqual(command.aliases);
    }
  });
});
