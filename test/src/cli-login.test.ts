// `lading login` and `lading logout` as the built binary against the test bed: credentials checked at /v2/ before
// anything is stored, written where docker keeps them (a credential helper, else the docker config with mode 0600),
// and used by the peer tools (oras, crane) as their oracle; lading in turn reads what `oras login` wrote.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON, LoginCommandResult, LogoutCommandResult } from '@lading/cli';
import { beforeAll, describe, expect, it } from 'vitest';

import { expectOK, json, ladingIn } from './cli-runner.js';
import { makeToolHome, run, testbed, type TestBed } from './testbed/index.js';

let bed: TestBed;
let work: string;

const unique = (what: string): string => `login/${what}-${randomBytes(4).toString('hex')}`;

/** A fresh home (own DOCKER_CONFIG) and a lading runner in it. */
async function home(): Promise<{ env: NodeJS.ProcessEnv; config: string; lading: ReturnType<typeof ladingIn> }> {
  const made = await makeToolHome(bed.dir);
  const env = made.env;
  return {
    env,
    config: path.join(env.DOCKER_CONFIG ?? '', 'config.json'),
    lading: ladingIn(() => ({ cwd: work, env }), { inProcess: true }),
  };
}

async function readJSON(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
}

beforeAll(async () => {
  bed = testbed();
  work = await mkdtemp(path.join(bed.dir, 'cli-login-'));
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
});

describe('lading login (docker config)', () => {
  it('a wrong password is exit 4 and stores nothing', async () => {
    const r = bed.registries.htpasswd;
    const { config, lading } = await home();
    const before = JSON.stringify({ auths: { 'other.example': { auth: 'eDp5' } }, psFormat: 'table' });
    await writeFile(config, before, { mode: 0o600 });
    const refused = await lading(
      ['login', r.host, '-u', r.credentials.username, '--password-stdin'],
      {},
      {
        input: 'not-the-password-7c1e\n',
      },
    );
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toMatch(
      new RegExp(`^Error: login ${r.host}: the registry refused the credentials \\(HTTP 401\\)$`, 'm'),
    );
    expect(refused.stderr).not.toContain('not-the-password-7c1e');
    expect(await readFile(config, 'utf8')).toBe(before);

    const json401 = await lading(['login', '--json', r.host, '-u', 'nobody', '--password-stdin'], {}, { input: 'x\n' });
    expect(json401.code).toBe(4);
    expect(json<ErrorJSON>(json401).error).toMatchObject({ code: 'ERR_LADING_AUTH', exitCode: 4 });
    expect(await readFile(config, 'utf8')).toBe(before);
  });

  it('stores Basic credentials in auths with mode 0600, keeps other entries, and crane and oras use them', async () => {
    const r = bed.registries.htpasswd;
    const { env, config, lading } = await home();
    await writeFile(config, JSON.stringify({ auths: { 'other.example': { auth: 'eDp5' } }, psFormat: 'table' }));
    const result = await lading(
      ['login', '--json', r.host, '-u', r.credentials.username, '--password-stdin'],
      {},
      {
        input: `${r.credentials.password}\n`,
      },
    );
    expectOK(result, 'login');
    expect(json<LoginCommandResult>(result)).toEqual({
      registry: r.host,
      username: r.credentials.username,
      key: r.host,
      destination: '~/.docker/config.json',
    });
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    const written = await readJSON(config);
    expect(written.psFormat).toBe('table');
    expect(written.auths).toEqual({
      'other.example': { auth: 'eDp5' },
      [r.host]: { auth: Buffer.from(`${r.credentials.username}:${r.credentials.password}`).toString('base64') },
    });

    const ref = `${r.host}/${unique('oras')}:v1`;
    await run('oras', ['push', '--plain-http', ref, 'notes.txt'], { cwd: work, env });
    const tags = await run('crane', ['ls', '--insecure', ref.replace(/:v1$/, '')], { env });
    expect(tags.stdout.trim()).toBe('v1');
    expectOK(await lading(['ls', ref]), 'lading ls with the stored credentials');

    const text = await lading(
      ['login', r.host, '-u', r.credentials.username, '--password-stdin'],
      {},
      {
        input: `${r.credentials.password}\n`,
      },
    );
    expectOK(text);
    expect(text.stdout).toBe(
      `Logged in to ${r.host} as ${r.credentials.username}: credentials stored in ~/.docker/config.json\n`,
    );
  });

  it('logs in to the token registry (Bearer): oras pushes with what lading stored', async () => {
    const r = bed.registries.token;
    const alice = bed.tokenServer.users.alice;
    const { env, config, lading } = await home();
    expectOK(
      await lading(['login', r.host, '-u', alice.username, '--password-stdin'], {}, { input: alice.password }),
      'login token registry',
    );
    expect((await stat(config)).mode & 0o777).toBe(0o600);
    const ref = `${r.host}/alice/${unique('token')}:v1`;
    await run('oras', ['push', '--plain-http', ref, 'notes.txt'], { cwd: work, env });
    expect((await run('crane', ['ls', '--insecure', ref.replace(/:v1$/, '')], { env })).stdout.trim()).toBe('v1');

    const wrong = await lading(['login', r.host, '-u', alice.username, '--password-stdin'], {}, { input: 'wrong' });
    expect(wrong.code, wrong.stderr).toBe(4);
  });

  it('logs in with an identity (refresh) token that oras then uses', async () => {
    const r = bed.registries.token;
    const alice = bed.tokenServer.users.alice;
    const form = new URLSearchParams({
      grant_type: 'password',
      username: alice.username,
      password: alice.password,
      service: r.service,
      client_id: 'lading-test',
      access_type: 'offline',
    });
    const answer = (await (await fetch(bed.tokenServer.realm, { method: 'POST', body: form })).json()) as {
      refresh_token?: string;
    };
    const refreshToken = answer.refresh_token ?? '';
    expect(refreshToken).not.toBe('');
    const { env, config, lading } = await home();
    const result = await lading(['login', '--json', r.host, '--identity-token-stdin'], {}, { input: refreshToken });
    expectOK(result, 'login --identity-token-stdin');
    expect(json<LoginCommandResult>(result)).toEqual({
      registry: r.host,
      key: r.host,
      destination: '~/.docker/config.json',
    });
    expect((await readJSON(config)).auths).toEqual({ [r.host]: { identitytoken: refreshToken } });
    const ref = `${r.host}/alice/${unique('identity')}:v1`;
    await run('oras', ['push', '--plain-http', ref, 'notes.txt'], { cwd: work, env });
    expectOK(await lading(['ls', ref]), 'lading ls with the identity token');
  });

  it('lading uses what oras login wrote', async () => {
    const r = bed.registries.htpasswd;
    const { env, lading } = await home();
    await run('oras', ['login', '--plain-http', r.host, '-u', r.credentials.username, '--password-stdin'], {
      env,
      input: r.credentials.password,
    });
    const ref = `${r.host}/${unique('from-oras')}:v1`;
    expectOK(await lading(['push', ref, 'notes.txt']), 'lading push with oras login credentials');
    expect((await run('oras', ['repo', 'tags', '--plain-http', ref.replace(/:v1$/, '')], { env })).stdout.trim()).toBe(
      'v1',
    );
  });

  it('logout removes the entry and keeps the others; a second logout says it was not logged in', async () => {
    const r = bed.registries.htpasswd;
    const { config, lading } = await home();
    await writeFile(config, JSON.stringify({ auths: { 'other.example': { auth: 'eDp5' } } }));
    expectOK(
      await lading(
        ['login', r.host, '-u', r.credentials.username, '--password-stdin'],
        {},
        {
          input: r.credentials.password,
        },
      ),
    );
    const out = await lading(['logout', '--json', r.host]);
    expectOK(out, 'logout');
    expect(json<LogoutCommandResult>(out)).toEqual({ registry: r.host, erasedFrom: ['~/.docker/config.json'] });
    expect((await readJSON(config)).auths).toEqual({ 'other.example': { auth: 'eDp5' } });
    const again = await lading(['logout', r.host]);
    expectOK(again);
    expect(again.stdout).toBe(`Not logged in to ${r.host}: no stored credentials\n`);
    const ls = await lading(['ls', `${r.host}/${unique('after-logout')}:v1`]);
    expect(ls.code, ls.stderr).toBe(4);
  });
});

describe('lading login (credential helper)', () => {
  it('stores through the credHelpers helper, never in the file; crane gets it back from the helper; logout erases', async () => {
    const r = bed.registries.htpasswd;
    const { env, config, lading } = await home();
    const bin = path.join(bed.dir, `helper-bin-${randomBytes(4).toString('hex')}`);
    const store = path.join(bin, 'store.json');
    await mkdir(bin);
    // A docker credential helper keeping its secrets in a JSON file: store, get, erase, as the protocol says.
    const helper = path.join(bin, 'docker-credential-ladingfile');
    await writeFile(
      helper,
      [
        `#!${process.execPath}`,
        "const fs = require('node:fs');",
        `const file = ${JSON.stringify(store)};`,
        "const input = fs.readFileSync(0, 'utf8').trim();",
        "const all = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};",
        'const action = process.argv[2];',
        "if (action === 'store') { const c = JSON.parse(input); all[c.ServerURL] = c; fs.writeFileSync(file, JSON.stringify(all)); }",
        "else if (action === 'get') { const c = all[input]; if (!c) { process.stdout.write('credentials not found in native keychain'); process.exit(1); } process.stdout.write(JSON.stringify(c)); }",
        "else if (action === 'erase') { if (!all[input]) { process.stdout.write('credentials not found in native keychain'); process.exit(1); } delete all[input]; fs.writeFileSync(file, JSON.stringify(all)); }",
        'else process.exit(2);',
        '',
      ].join('\n'),
    );
    await chmod(helper, 0o755);
    const helperEnv = { PATH: `${bin}:${env.PATH ?? ''}` };
    await writeFile(config, JSON.stringify({ credHelpers: { [r.host]: 'ladingfile' } }));

    const result = await lading(
      ['login', '--json', r.host, '-u', r.credentials.username, '--password-stdin'],
      helperEnv,
      {
        input: r.credentials.password,
      },
    );
    expectOK(result, 'login via helper');
    expect(json<LoginCommandResult>(result).destination).toBe('docker-credential-ladingfile');
    expect(await readJSON(store)).toEqual({
      [r.host]: { ServerURL: r.host, Username: r.credentials.username, Secret: r.credentials.password },
    });
    const file = await readFile(config, 'utf8');
    expect(file).not.toContain(r.credentials.password);
    expect(JSON.parse(file)).toEqual({ credHelpers: { [r.host]: 'ladingfile' } });

    const ref = `${r.host}/${unique('helper')}:v1`;
    await run('oras', ['push', '--plain-http', ref, 'notes.txt'], { cwd: work, env: { ...env, ...helperEnv } });
    expect(
      (
        await run('crane', ['ls', '--insecure', ref.replace(/:v1$/, '')], { env: { ...env, ...helperEnv } })
      ).stdout.trim(),
    ).toBe('v1');

    const out = await lading(['logout', '--json', r.host], helperEnv);
    expectOK(out, 'logout via helper');
    expect(json<LogoutCommandResult>(out).erasedFrom).toEqual(['docker-credential-ladingfile']);
    expect(await readJSON(store)).toEqual({});
  });

  it('a refused login never calls the helper', async () => {
    const r = bed.registries.htpasswd;
    const { config, lading } = await home();
    // No such helper on PATH: reaching it would fail with "not on PATH", not with the registry's refusal.
    await writeFile(config, JSON.stringify({ credsStore: 'ladingmissing' }));
    const refused = await lading(
      ['login', r.host, '-u', r.credentials.username, '--password-stdin'],
      {},
      {
        input: 'wrong-password',
      },
    );
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stderr).toContain('refused the credentials');
    const missing = await lading(
      ['login', r.host, '-u', r.credentials.username, '--password-stdin'],
      {},
      {
        input: r.credentials.password,
      },
    );
    expect(missing.code, missing.stderr).toBe(4);
    expect(missing.stderr).toMatch(
      /^Error: store credentials .*docker-credential-ladingmissing store \(credsStore in ~\/\.docker\/config\.json\) failed: the helper is not on PATH$/m,
    );
  });
});
