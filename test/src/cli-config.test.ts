// The configuration file ($XDG_CONFIG_HOME/lading/config.yaml, LADING_CONFIG) and the LADING_* environment, run as
// the built binary against the test bed: `config path` and `config show` (values and sources, never secrets),
// schema errors with file, line and field, a registry's CA file from the file (the TLS registry), default
// verification from the file (cosign keys), and mirrors: the fake registry as the mirror of distribution, when the
// mirror has the artifact, when it lacks it, and when it is down.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ConfigPathResult, ConfigShowResult, ErrorJSON, ListCommandResult, PullCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, json, ladingIn } from './cli-runner.js';
import { type FakeRegistry, startFakeRegistry } from './fake-registry/index.js';
import { freePort, makeToolHome, repoRoot, testbed } from './testbed/index.js';

let env: NodeJS.ProcessEnv;
let home: string;
let work: string;
let anonymous: string;
let fake: FakeRegistry;

const lading = ladingIn(() => ({ cwd: work, env: { ...env, COSIGN_PASSWORD: 'pw' } }));
const unique = (what: string): string => `${what}-${randomBytes(4).toString('hex')}`;

/** Writes a configuration file in `work` and returns its path (for LADING_CONFIG). */
async function configFile(text: string): Promise<string> {
  const file = path.join(work, `${unique('config')}.yaml`);
  await writeFile(file, text);
  return file;
}

beforeAll(async () => {
  const bed = testbed();
  ({ env, home } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-config-'));
  anonymous = bed.registries.anonymous.host;
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  expectOK(await lading(['key', 'generate']), 'key generate');
  await mkdir(path.join(work, 'other'));
  expectOK(await lading(['key', 'generate'], {}, { cwd: path.join(work, 'other') }), 'key generate other');
  fake = await startFakeRegistry();
});

afterAll(async () => {
  await fake.close();
});

describe('lading config path', () => {
  it('is $XDG_CONFIG_HOME/lading/config.yaml, or the file LADING_CONFIG names', async () => {
    const result = await lading(['config', 'path', '--json']);
    expectOK(result);
    expect(json<ConfigPathResult>(result)).toEqual({
      path: path.join(home, '.config', 'lading', 'config.yaml'),
      source: 'default',
      exists: false,
    });
    const named = await configFile('version: 1\n');
    const text = await lading(['config', 'path'], { LADING_CONFIG: named });
    expectOK(text);
    expect(text.stdout).toBe(`${named}\n`);
    const withoutXDG = await lading(['config', 'path'], { XDG_CONFIG_HOME: '' });
    expect(withoutXDG.stdout).toBe(`${path.join(home, '.config', 'lading', 'config.yaml')}\n`);
  });
});

describe('lading config show', () => {
  it('prints each value with its source (flag, env, file:line, default) and never a secret', async () => {
    await writeFile(path.join(work, 'client.key'), 'PRIVATE-KEY-CONTENT-MARKER\n');
    const file = await configFile(
      [
        'version: 1',
        'registries:',
        '  registry.acme.test:5000:',
        '    plain-http: true',
        '    ca-file: ca.pem',
        '    cert-file: client.crt',
        '    key-file: client.key',
        '    mirror: mirror.acme.test/cache',
        'verify:',
        '  key: [cosign.pub, other/cosign.pub]',
        '',
      ].join('\n'),
    );
    const extra = { LADING_CONFIG: file, LADING_INSECURE: 'false', LADING_SSH_PASSPHRASE: 'PASSPHRASE-MARKER' };
    const result = await lading(['config', 'show', '--json'], extra);
    expectOK(result);
    const shown = json<ConfigShowResult>(result);
    expect(shown.file).toEqual({ path: file, source: 'env LADING_CONFIG', exists: true });
    // --config wins over LADING_CONFIG.
    const flagged = await lading(['config', 'show', '--json', '--config', 'nowhere.yaml'], { LADING_CONFIG: file });
    expect(flagged.code, flagged.stderr).toBe(2);
    expect(json<ErrorJSON>(flagged).error.message).toContain(`config ${path.join(work, 'nowhere.yaml')}: ENOENT`);
    expect(shown.registries).toEqual([
      {
        registry: 'registry.acme.test:5000',
        settings: [
          { name: 'plain-http', value: true, source: `file ${file}:4` },
          { name: 'insecure', value: false, source: 'env LADING_INSECURE' },
          { name: 'ca-file', value: path.join(work, 'ca.pem'), source: `file ${file}:5` },
          { name: 'cert-file', value: path.join(work, 'client.crt'), source: `file ${file}:6` },
          { name: 'key-file', value: path.join(work, 'client.key'), source: `file ${file}:7` },
          { name: 'mirror', value: 'mirror.acme.test/cache', source: `file ${file}:8` },
          {
            name: 'verify-key',
            value: [path.join(work, 'cosign.pub'), path.join(work, 'other/cosign.pub')],
            source: `file ${file}:10`,
          },
        ],
      },
      {
        settings: [
          { name: 'insecure', value: false, source: 'env LADING_INSECURE' },
          {
            name: 'verify-key',
            value: [path.join(work, 'cosign.pub'), path.join(work, 'other/cosign.pub')],
            source: `file ${file}:10`,
          },
        ],
      },
    ]);
    const passphrase = shown.environment.find((e) => e.name === 'LADING_SSH_PASSPHRASE');
    expect(passphrase).toEqual({ name: 'LADING_SSH_PASSPHRASE', set: true, description: expect.any(String) as string });
    expect(shown.environment.map((e) => e.name)).toEqual(
      expect.arrayContaining([
        'LADING_CONFIG',
        'LADING_PLAIN_HTTP',
        'LADING_INSECURE',
        'LADING_CA_FILE',
        'LADING_POLICY',
      ]),
    );

    // A flag given to config show wins over the environment and the file; the human form says the same.
    const text = await lading(['config', 'show', '--no-plain-http', 'registry.acme.test:5000'], extra);
    expectOK(text);
    expect(text.stdout).toMatch(/^Registry registry\.acme\.test:5000:$/m);
    expect(text.stdout).toMatch(/^ {2}plain-http +false +flag --plain-http$/m);
    expect(text.stdout).toMatch(new RegExp(`^ {2}mirror +mirror\\.acme\\.test/cache +file ${file}:8$`, 'm'));
    expect(text.stdout).toMatch(/^ {2}LADING_SSH_PASSPHRASE +\(set, not shown\)$/m);
    for (const output of [result.stdout, text.stdout, text.stderr]) {
      expect(output).not.toContain('PRIVATE-KEY-CONTENT-MARKER');
      expect(output).not.toContain('PASSPHRASE-MARKER');
    }
  });

  it('lists the LADING_* variables that README.md and docs/config.md document, and only those', async () => {
    const result = await lading(['config', 'show', '--json']);
    expectOK(result);
    const names = json<ConfigShowResult>(result).environment.map((e) => e.name);
    for (const doc of ['README.md', 'docs/config.md']) {
      const text = await readFile(path.join(repoRoot, doc), 'utf8');
      const documented = new Set(text.match(/\bLADING_[A-Z_]+\b/g) ?? []);
      expect([...documented].sort(), doc).toEqual([...names].sort());
    }
  });

  it('without a file says so and shows the defaults', async () => {
    const result = await lading(['config', 'show']);
    expectOK(result);
    expect(result.stdout).toContain(
      `Config file: ${path.join(home, '.config', 'lading', 'config.yaml')} (default, not found)`,
    );
    expect(result.stdout).toMatch(/^Any other registry, and OCI layouts:\n {2}\(defaults only\)$/m);
  });
});

describe('invalid configuration', () => {
  it('fails every command with exit 2 naming the file, line and field', async () => {
    const cases: [string, RegExp][] = [
      [
        'version: 1\nregistries:\n  ghcr.io:\n    ca-file: ca.pem\n    plain-htp: true\n',
        /:5:5: registries\.ghcr\.io\.plain-htp unknown key \(allowed: plain-http, /,
      ],
      ['version: 2\n', /:1:10: version must be 1/],
      ['registries: {}\n', /:1:1: version is required/],
      ['version: 1\nregistries:\n  GHCR.io: {}\n', /:3:3: registries\.GHCR\.io is not a registry host\[:port\]/],
      [
        'version: 1\nregistries:\n  ghcr.io:\n    insecure: yes please\n',
        /:4:15: registries\.ghcr\.io\.insecure must be boolean/,
      ],
      ['version: 1\nverify:\n  key: [a.pub, 3]\n', /:3:16: verify\.key\.1 must be string/],
      ['version: 1\nversion: 1\n', /:2:1: Map keys must be unique/],
      [
        'version: 1\nregistries:\n  ghcr.io:\n    cert-file: a.pem\n',
        /:4:5: registries\.ghcr\.io must have property key-file/,
      ],
    ];
    for (const [text, message] of cases) {
      const file = await configFile(text);
      const result = await lading(['ls', '--json', `${anonymous}/nothing/here:v1`], { LADING_CONFIG: file });
      expect(result.code, `${text}\n${result.stdout}${result.stderr}`).toBe(2);
      const error = json<ErrorJSON>(result).error;
      expect(error.code).toBe('ERR_LADING_USAGE');
      expect(error.message.startsWith(`config ${file}:`), error.message).toBe(true);
      expect(error.message).toMatch(message);
    }
  });

  it('refuses a malformed LADING_PLAIN_HTTP and a missing file LADING_CONFIG names', async () => {
    const bad = await lading(['ls', `${anonymous}/nothing/here:v1`], { LADING_PLAIN_HTTP: 'maybe' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^Error: environment LADING_PLAIN_HTTP=maybe: not a boolean/m);
    const missing = path.join(work, 'no-such.yaml');
    const gone = await lading(['ls', `${anonymous}/nothing/here:v1`], { LADING_CONFIG: missing });
    expect(gone.code).toBe(2);
    expect(gone.stderr).toContain(`Error: config ${missing}: ENOENT`);
  });
});

describe('registry settings from the file', () => {
  it("dials the TLS registry with the file's CA; without the file the certificate is not trusted", async () => {
    const tls = testbed().registries.tls;
    const file = await configFile(
      `version: 1\nregistries:\n  ${tls.host}:\n    plain-http: false\n    ca-file: ${tls.caFile}\n`,
    );
    const name = `${tls.host}/config/${unique('tls')}:v1`;
    expectOK(await lading(['push', name, 'notes.txt'], { LADING_CONFIG: file }), 'push with the CA from the file');
    const listed = await lading(['ls', name], { LADING_CONFIG: file });
    expectOK(listed);
    expect(listed.stdout).toBe('notes.txt\n');
    // Without the file: plain HTTP to a loopback host (the default), which the TLS registry refuses; with HTTPS
    // forced, its certificate is not trusted.
    const without = await lading(['ls', '--no-plain-http', name]);
    expect(without.code, without.stderr).toBe(7);
    expect(without.stderr).toMatch(/certificate/i);
    // The environment wins over the file: a CA that is not the registry's.
    const wrongCA = path.join(work, 'other', 'cosign.pub');
    const overridden = await lading(['ls', name], { LADING_CONFIG: file, LADING_CA_FILE: wrongCA });
    expect(overridden.code, overridden.stderr).not.toBe(0);
  });

  it('LADING_PLAIN_HTTP=false forces HTTPS on a loopback registry (which answers plain HTTP)', async () => {
    const result = await lading(['ls', `${anonymous}/nothing/here:v1`], { LADING_PLAIN_HTTP: 'false' });
    expect(result.code, result.stderr).toBe(7);
  });
});

describe('default verification from the file', () => {
  let signed: string;
  beforeAll(async () => {
    signed = `${anonymous}/config/${unique('signed')}:v1`;
    expectOK(await lading(['push', '--sign', '--key', 'cosign.key', signed, 'notes.txt']), 'push --sign');
  });

  it("verifies a pull with the registry's verify.key when no --verify-* flag is given", async () => {
    const file = await configFile(`version: 1\nregistries:\n  ${anonymous}:\n    verify:\n      key: cosign.pub\n`);
    const out = await mkdtemp(path.join(work, 'out-'));
    const result = await lading(['pull', '--json', signed, out], { LADING_CONFIG: file });
    expectOK(result);
    expect(json<PullCommandResult>(result).verified?.length).toBe(1);
    expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');
    // lading verify needs a verification flag; the file's is one.
    expectOK(await lading(['verify', signed], { LADING_CONFIG: file }), 'verify with the key from the file');
    expect((await lading(['verify', signed], { LADING_CONFIG: '' })).code).toBe(2);
    const text = await lading(['ls', signed], { LADING_CONFIG: file });
    expectOK(text);
    expect(text.stderr).toContain(
      `Verification from the config: --verify-key=${path.join(work, 'cosign.pub')} (file ${file}:5)`,
    );
  });

  it('refuses with exit 5 and writes nothing when the key in the file did not sign; a flag replaces the file', async () => {
    const file = await configFile(`version: 1\nverify:\n  key: other/cosign.pub\n`);
    const out = await mkdtemp(path.join(work, 'out-'));
    const refused = await lading(['pull', '--json', signed, out], { LADING_CONFIG: file });
    expect(refused.code, refused.stderr).toBe(5);
    expect(json<ErrorJSON>(refused).error.code).toBe('ERR_LADING_VERIFICATION');
    expect(await readdir(out)).toEqual([]);
    const flagged = await lading(['pull', '--verify-key', 'cosign.pub', signed, out], { LADING_CONFIG: file });
    expectOK(flagged);
    expect(flagged.stderr).not.toContain('Verification from the config');
  });

  it("applies the file's verify.policy; a policy on the command line (--policy, --trust) replaces the file's key", async () => {
    const policy = path.join(work, `${unique('policy')}.yaml`);
    await writeFile(
      policy,
      `version: 1\nrules:\n  - name: ours\n    match: "${anonymous}/config/**"\n    authorities:\n      - key: { file: cosign.pub }\n`,
    );
    const fromFile = await configFile(`version: 1\nverify:\n  policy: ${policy}\n`);
    const listed = await lading(['ls', '--json', signed], { LADING_CONFIG: fromFile });
    expectOK(listed, 'ls with the policy from the file');
    expect(json<ListCommandResult>(listed).policy?.decision).toBe('allow');
    // The file names a key that did not sign; the command line's policy is what the read is held to, alone.
    const keyFile = await configFile(`version: 1\nverify:\n  key: other/cosign.pub\n`);
    const held = await lading(['ls', '--json', '--policy', policy, signed], { LADING_CONFIG: keyFile });
    expectOK(held, 'ls --policy with a verify.key in the file');
    expect(json<ListCommandResult>(held).policy?.rule?.name).toBe('ours');
    expect(held.stderr).not.toContain('Verification from the config');
  });
});

describe('mirrors', () => {
  /** A file making the fake registry (path prefix `cache`, or `mirror`) the mirror of distribution. */
  const mirrorConfig = (mirror = `${fake.host}/cache`): Promise<string> =>
    configFile(`version: 1\nregistries:\n  ${anonymous}:\n    mirror: ${mirror}\n`);

  it('reads from the mirror when it has the artifact (the registry does not)', async () => {
    const repository = `mirrored/${unique('app')}`;
    expectOK(await lading(['push', `${fake.host}/cache/${repository}:v1`, 'notes.txt']), 'push to the mirror');
    const file = await mirrorConfig();
    const out = await mkdtemp(path.join(work, 'out-'));
    fake.clearLog();
    const pulled = await lading(['pull', `${anonymous}/${repository}:v1`, out], { LADING_CONFIG: file });
    expectOK(pulled);
    expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');
    expect(fake.requests.some((r) => r.path === `/v2/cache/${repository}/manifests/v1` && r.status === 200)).toBe(true);
    const cat = await lading(['cat', `${anonymous}/${repository}:v1`, 'notes.txt'], { LADING_CONFIG: file });
    expectOK(cat);
    expect(cat.stdout).toBe('release notes\n');
    // Not in the registry itself: without the mirror, not found.
    const direct = await lading(['ls', `${anonymous}/${repository}:v1`], { LADING_CONFIG: '' });
    expect(direct.code, direct.stderr).toBe(3);
  });

  it('falls back to the registry when the mirror lacks the artifact; writes never go to the mirror', async () => {
    const repository = `lacking/${unique('app')}`;
    const file = await mirrorConfig();
    fake.clearLog();
    expectOK(await lading(['push', `${anonymous}/${repository}:v1`, 'notes.txt'], { LADING_CONFIG: file }), 'push');
    expect(fake.requests).toEqual([]);
    const out = await mkdtemp(path.join(work, 'out-'));
    const pulled = await lading(['pull', '--debug', `${anonymous}/${repository}:v1`, out], { LADING_CONFIG: file });
    expectOK(pulled);
    expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');
    expect(fake.requests.some((r) => r.path === `/v2/cache/${repository}/manifests/v1` && r.status === 404)).toBe(true);
    expect(pulled.stderr).toContain(`debug: mirror ${fake.host}: `);
    expect(pulled.stderr).not.toContain('Warning');
  });

  it('never sends -u credentials to a mirror', async () => {
    const guarded = await startFakeRegistry({ auth: { username: 'alice', password: 'secret' } });
    try {
      const repository = `creds/${unique('app')}`;
      expectOK(await lading(['push', `${anonymous}/${repository}:v1`, 'notes.txt']), 'push');
      const file = await configFile(`version: 1\nregistries:\n  ${anonymous}:\n    mirror: ${guarded.host}\n`);
      const out = await mkdtemp(path.join(work, 'out-'));
      const pulled = await lading(
        ['pull', '--debug', '-u', 'alice', '--password-stdin', `${anonymous}/${repository}:v1`, out],
        { LADING_CONFIG: file },
        { input: 'secret\n' },
      );
      expectOK(pulled);
      // The mirror asked (401) and got no credentials: the read fell back to the registry.
      expect(guarded.requests.some((r) => r.status === 401)).toBe(true);
      expect(guarded.requests.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
      expect(pulled.stderr).toContain(`debug: mirror ${guarded.host}: `);
      expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');
    } finally {
      await guarded.close();
    }
  });

  it('falls back to the registry when the mirror is down, with a warning', async () => {
    const repository = `down/${unique('app')}`;
    expectOK(await lading(['push', `${anonymous}/${repository}:v1`, 'notes.txt']), 'push');
    const port = await freePort();
    const file = await mirrorConfig(`127.0.0.1:${port}`);
    const out = await mkdtemp(path.join(work, 'out-'));
    const pulled = await lading(['pull', `${anonymous}/${repository}:v1`, out], { LADING_CONFIG: file });
    expectOK(pulled);
    expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');
    expect(pulled.stderr).toContain(
      `Warning: mirror 127.0.0.1:${port} of ${anonymous} is unreachable, reading from ${anonymous}`,
    );
    // Once: the mirror is not asked again in the run.
    expect(pulled.stderr.split('Warning: mirror').length - 1).toBe(1);
  });

  it('a mirror serving other bytes under a digest is refused by the digest check and the registry is read', async () => {
    const repository = `tampered/${unique('app')}`;
    const pushed = await lading(['push', '--json', `${anonymous}/${repository}:v1`, 'notes.txt']);
    expectOK(pushed);
    expectOK(await lading(['push', `${fake.host}/cache/${repository}:v1`, 'notes.txt']), 'push to the mirror');
    const digest = (JSON.parse(pushed.stdout) as { digest: string }).digest;
    // The mirror has the same artifact, but answers manifest GETs with every byte inverted.
    const fault = fake.inject({
      method: 'GET',
      path: `/v2/cache/${repository}/manifests/${digest}`,
      action: { kind: 'corrupt' },
    });
    const file = await mirrorConfig();
    const out = await mkdtemp(path.join(work, 'out-'));
    const pulled = await lading(['pull', '--debug', `${anonymous}/${repository}@${digest}`, out], {
      LADING_CONFIG: file,
    });
    fault.remove();
    expectOK(pulled);
    expect(fault.fired).toBeGreaterThan(0);
    expect(pulled.stderr).toMatch(new RegExp(`debug: mirror ${fake.host}: .*digest`));
    expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('release notes\n');
  });
});
