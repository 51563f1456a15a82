import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseMirror } from './config-client.js';
import {
  configLocation,
  EffectiveConfig,
  formatSource,
  parseConfig,
  parseEnvBoolean,
  verifyDefaultArguments,
} from './config.js';

const file = '/etc/lading/config.yaml';

async function effective(text: string, flags = {}, env: NodeJS.ProcessEnv = {}): Promise<EffectiveConfig> {
  const loaded = await parseConfig(file, text);
  return new EffectiveConfig({ file, source: 'default' }, loaded, flags, { HOME: '/home/me', ...env });
}

describe('configLocation', () => {
  it('is LADING_CONFIG, else $XDG_CONFIG_HOME/lading/config.yaml, else ~/.config/lading/config.yaml', () => {
    expect(configLocation({ LADING_CONFIG: 'my.yaml', XDG_CONFIG_HOME: '/x' })).toEqual({
      file: path.resolve('my.yaml'),
      source: 'env LADING_CONFIG',
    });
    expect(configLocation({ LADING_CONFIG: '' })).toEqual({ file: undefined, source: 'env LADING_CONFIG' });
    expect(configLocation({ LADING_CONFIG: 'my.yaml' }, '/f.yaml')).toEqual({
      file: '/f.yaml',
      source: 'flag --config',
    });
    expect(configLocation({ XDG_CONFIG_HOME: '/x', HOME: '/h' }).file).toBe('/x/lading/config.yaml');
    // A relative XDG_CONFIG_HOME is invalid per the XDG spec and ignored.
    expect(configLocation({ XDG_CONFIG_HOME: 'rel', HOME: '/h' }).file).toBe('/h/.config/lading/config.yaml');
  });
});

describe('parseConfig', () => {
  it('names the line, column and field of an unknown key, however deep', async () => {
    await expect(parseConfig(file, 'version: 1\nverify:\n  keys: a.pub\n')).rejects.toThrow(
      `config ${file}:3:3: verify.keys unknown key (allowed: key, issuer, issuer-regexp, subject, subject-regexp, trusted-root, allowed-signers, policy)`,
    );
    await expect(parseConfig(file, 'version: 1\nmirrors: {}\n')).rejects.toThrow(
      `config ${file}:2:1: mirrors unknown key (allowed: version, registries, verify)`,
    );
  });

  it('gives the line of each value', async () => {
    const loaded = await parseConfig(file, 'version: 1\nregistries:\n  a.io:\n    mirror: b.io\n    insecure: true\n');
    expect(loaded.lineOf(['registries', 'a.io', 'mirror'])).toBe(4);
    expect(loaded.lineOf(['registries', 'a.io', 'insecure'])).toBe(5);
    expect(loaded.lineOf(['registries', 'a.io', 'ca-file'])).toBeUndefined();
  });
});

describe('EffectiveConfig', () => {
  const text = 'version: 1\nregistries:\n  a.io:\n    plain-http: true\n    ca-file: ca.pem\n    insecure: false\n';

  it('takes the flag, else the environment, else the registry entry of the file', async () => {
    const fromFile = await effective(text);
    expect(fromFile.transport('plain-http', 'a.io')).toEqual({
      value: true,
      source: { kind: 'file', file, line: 4 },
    });
    expect(fromFile.transport('plain-http', 'b.io')).toBeUndefined();
    expect(fromFile.transport('ca-file', 'a.io')?.value).toBe('/etc/lading/ca.pem');
    const fromEnv = await effective(text, {}, { LADING_PLAIN_HTTP: 'off', LADING_CA_FILE: 'x.pem' });
    expect(fromEnv.transport('plain-http', 'a.io')).toEqual({
      value: false,
      source: { kind: 'env', name: 'LADING_PLAIN_HTTP' },
    });
    expect(fromEnv.transport('ca-file', 'b.io')?.value).toBe('x.pem');
    const fromFlag = await effective(text, { 'plain-http': false }, { LADING_PLAIN_HTTP: 'true' });
    expect(formatSource(fromFlag.transport('plain-http', 'a.io')?.source ?? { kind: 'default' })).toBe(
      'flag --plain-http',
    );
  });

  it("uses a registry's own verify, else the top level, with paths from the file's folder", async () => {
    const config = await effective(
      'version: 1\nverify:\n  key: [k.pub, ~/k2.pub]\nregistries:\n  a.io:\n    verify:\n      issuer: https://i\n      subject: s\n',
    );
    expect(config.verify('b.io')?.value).toEqual({ key: ['/etc/lading/k.pub', '/home/me/k2.pub'] });
    expect(config.verify(undefined)?.source).toEqual({ kind: 'file', file, line: 3 });
    expect(config.verify('a.io')?.value).toEqual({ issuer: 'https://i', subject: 's' });
  });
});

describe('helpers', () => {
  it('verifyDefaultArguments gives only the flags the command has', () => {
    const defaults = { key: ['a.pub', 'b.pub'], policy: 'p.yaml', issuer: 'https://i' };
    expect(verifyDefaultArguments(defaults, new Set(['verify-key', 'verify-issuer']))).toEqual([
      '--verify-key=a.pub',
      '--verify-key=b.pub',
      '--verify-issuer=https://i',
    ]);
  });

  it('parseEnvBoolean accepts the usual spellings and names the variable otherwise', () => {
    expect(parseEnvBoolean('X', 'YES')).toBe(true);
    expect(parseEnvBoolean('X', '0')).toBe(false);
    expect(() => parseEnvBoolean('LADING_INSECURE', 'sure')).toThrow('environment LADING_INSECURE=sure: not a boolean');
  });

  it('parseMirror splits the host from the repository prefix', () => {
    expect(parseMirror('m.io:5000')).toEqual({ registry: 'm.io:5000' });
    expect(parseMirror('m.io/cache/')).toEqual({ registry: 'm.io', prefix: 'cache' });
    expect(parseMirror('m.io/a/b')).toEqual({ registry: 'm.io', prefix: 'a/b' });
  });
});
