import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { eraseCredentials, findCredentials, storeCredentials } from './credentials.js';
import { ErrorCodes, isLadingError } from './errors.js';
import { loginRegistry } from './login.js';

let home: string;
let env: Record<string, string | undefined>;
const configFile = (): string => join(home, '.docker', 'config.json');

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'lading-store-'));
  env = { PATH: process.env.PATH };
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('storeCredentials', () => {
  it('creates the config with mode 0600 under docker’s key, and findCredentials reads it back', async () => {
    const stored = await storeCredentials(
      'index.docker.io',
      { kind: 'basic', username: 'u', password: 'p' },
      { env, homedir: home },
    );
    expect(stored).toEqual({
      registry: 'docker.io',
      key: 'https://index.docker.io/v1/',
      destination: '~/.docker/config.json',
    });
    expect((await stat(configFile())).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, '.docker'))).mode & 0o777).toBe(0o700);
    const found = await findCredentials('docker.io', { env, homedir: home });
    expect(found.credential).toMatchObject({ kind: 'basic', username: 'u', password: 'p' });
  });

  it('writes through a symbolic link to its target, keeping the link', async () => {
    const real = join(home, 'dotfiles', 'docker.json');
    await mkdir(join(home, 'dotfiles'));
    await mkdir(join(home, '.docker'));
    await writeFile(real, '{"auths":{"a.example":{"auth":"eDp5"}},"detachKeys":"ctrl-x"}');
    await symlink(real, configFile());
    await storeCredentials('b.example', { kind: 'registryToken', registryToken: 'rt' }, { env, homedir: home });
    expect(JSON.parse(await readFile(real, 'utf8'))).toEqual({
      auths: { 'a.example': { auth: 'eDp5' }, 'b.example': { registrytoken: 'rt' } },
      detachKeys: 'ctrl-x',
    });
  });

  it('refuses to overwrite a config it cannot parse, naming the file, never its text', async () => {
    await mkdir(join(home, '.docker'));
    await writeFile(configFile(), '{"auths": {"x": {"auth": "s3cret-in-file"');
    const error: unknown = await storeCredentials(
      'a.example',
      { kind: 'basic', username: 'u', password: 'p' },
      { env, homedir: home },
    ).catch((e: unknown) => e);
    expect(isLadingError(error, ErrorCodes.auth)).toBe(true);
    expect(String(error)).toContain('~/.docker/config.json is not valid JSON');
    expect(String(error)).not.toContain('s3cret-in-file');
    expect(await readFile(configFile(), 'utf8')).toBe('{"auths": {"x": {"auth": "s3cret-in-file"');
  });

  it('refuses a registry token for a credential helper (helpers hold user and secret only)', async () => {
    await mkdir(join(home, '.docker'));
    await writeFile(configFile(), '{"credsStore":"anything"}');
    const error: unknown = await storeCredentials(
      'a.example',
      { kind: 'registryToken', registryToken: 't' },
      { env, homedir: home },
    ).catch((e: unknown) => e);
    expect(isLadingError(error, ErrorCodes.usage)).toBe(true);
  });
});

describe('eraseCredentials', () => {
  it('removes every key naming the host, keeps the rest, and reports nothing when there was nothing', async () => {
    await mkdir(join(home, '.docker'));
    await writeFile(
      configFile(),
      JSON.stringify({
        auths: { 'a.example': { auth: 'eDp5' }, 'https://a.example/v2/': { auth: 'eDp5' }, 'b.example': {} },
      }),
    );
    expect(await eraseCredentials('a.example', { env, homedir: home })).toEqual({
      registry: 'a.example',
      erasedFrom: ['~/.docker/config.json'],
    });
    expect(JSON.parse(await readFile(configFile(), 'utf8'))).toEqual({ auths: { 'b.example': {} } });
    expect(await eraseCredentials('a.example', { env, homedir: home })).toEqual({
      registry: 'a.example',
      erasedFrom: [],
    });
  });
});

describe('loginRegistry', () => {
  it('takes host[:port], URLs and Docker Hub names; refuses the rest', () => {
    expect(loginRegistry('https://GHCR.io/')).toBe('ghcr.io');
    expect(loginRegistry('localhost:5000')).toBe('localhost:5000');
    expect(loginRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(loginRegistry('[::1]:5000')).toBe('[::1]:5000');
    expect(() => loginRegistry('not a host')).toThrow(/name a registry as host\[:port\]/);
  });
});
