import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  createCredential,
  credentialProvider,
  dockerConfigPath,
  findCredentials,
  noCredentialsMessage,
  type CredentialOptions,
  type RegistryCredential,
} from './credentials.js';
import { ErrorCodes, isLadingError } from './errors.js';

const basic64 = (user: string, pass: string): string => Buffer.from(`${user}:${pass}`).toString('base64');

/**
 * Test credential helpers (POSIX shell). `test` answers for ghcr.io (basic) and Docker Hub (identity token) and
 * says "credentials not found" otherwise; each logs its argument and stdin to $HELPER_LOG.
 */
const helpers: Record<string, string> = {
  test: `url=$(cat)
echo "$1 $url" >> "$HELPER_LOG"
case "$url" in
  ghcr.io) printf '{"ServerURL":"%s","Username":"helper-user","Secret":"helper-s3cret"}' "$url" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"<token>","Secret":"hub-refresh-s3cret"}' "$url" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac`,
  notfound: `cat >/dev/null
echo "$1" >> "$HELPER_LOG"
echo "credentials not found"
exit 1`,
  crash: `cat >/dev/null
printf '{"Username":"u","Secret":"crash-s3cret"'
echo "keychain locked: unlock it first" >&2
exit 3`,
  garbage: `cat >/dev/null
echo "garbage-s3cret not json"`,
  // The shell's child keeps the pipes open after the shell is killed, as gpg under pass may.
  slow: `sleep 5`,
};

let root: string;
let home: string;
let bin: string;
let log: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'lading-credentials-'));
  home = join(root, 'home');
  bin = join(root, 'bin');
  log = join(root, 'helper.log');
  await mkdir(home, { recursive: true });
  await mkdir(bin, { recursive: true });
  for (const [name, body] of Object.entries(helpers)) {
    const file = join(bin, `docker-credential-${name}`);
    await writeFile(file, `#!/bin/sh\n${body}\n`);
    await chmod(file, 0o755);
  }
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Options pointing at the temp home, with only the given variables (never the real environment). */
function options(env: Record<string, string> = {}, extra: Partial<CredentialOptions> = {}): CredentialOptions {
  return { homedir: home, env: { PATH: `${bin}:/usr/bin:/bin`, HELPER_LOG: log, ...env }, ...extra };
}

async function writeJSON(file: string, value: unknown): Promise<string> {
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

/** Writes `~/.docker/config.json` in the temp home. */
function dockerConfig(value: unknown): Promise<string> {
  return writeJSON(join(home, '.docker', 'config.json'), value);
}

async function helperLog(): Promise<string[]> {
  return (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
}

/** Awaits `promise`, expecting an `ERR_LADING_AUTH` rejection; returns the message. */
async function authFailure(promise: Promise<unknown>): Promise<string> {
  const err: unknown = await promise.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
  expect(isLadingError(err, ErrorCodes.auth)).toBe(true);
  return (err as Error).message;
}

const kinds = (credential: RegistryCredential | undefined): unknown => credential && { ...credential };

describe('findCredentials: docker config auths', () => {
  it('decodes base64 user:password from ~/.docker/config.json', async () => {
    await dockerConfig({ auths: { 'ghcr.io': { auth: basic64('octo', 'pa:ss-s3cret') } } });
    const search = await findCredentials('ghcr.io', options());
    expect(search.credential).toMatchObject({ kind: 'basic', username: 'octo', password: 'pa:ss-s3cret' });
    expect(search.source).toBe('~/.docker/config.json');
    expect(search.registry).toBe('ghcr.io');
  });

  it('reads $DOCKER_CONFIG/config.json instead of the home one', async () => {
    await dockerConfig({ auths: { 'ghcr.io': { auth: basic64('home', 'x') } } });
    const file = await writeJSON(join(root, 'dc', 'config.json'), {
      auths: { 'ghcr.io': { auth: basic64('env', 'y') } },
    });
    const search = await findCredentials('ghcr.io', options({ DOCKER_CONFIG: join(root, 'dc') }));
    expect(search.credential).toMatchObject({ username: 'env', password: 'y' });
    expect(search.source).toBe(file);
  });

  it('reads identitytoken as an OAuth2 refresh token, keeping the username', async () => {
    await dockerConfig({
      auths: {
        'acr.example.io': { auth: basic64('00000000-0000-0000-0000-000000000000', ''), identitytoken: 'rt-s3cret' },
      },
    });
    const { credential } = await findCredentials('acr.example.io', options());
    expect(credential).toMatchObject({
      kind: 'identityToken',
      identityToken: 'rt-s3cret',
      username: '00000000-0000-0000-0000-000000000000',
    });
  });

  it('reads registrytoken as a bearer token, before anything else in the entry', async () => {
    await dockerConfig({ auths: { 'ghcr.io': { registrytoken: 'bearer-s3cret', auth: basic64('a', 'b') } } });
    const { credential } = await findCredentials('ghcr.io', options());
    expect(credential).toMatchObject({ kind: 'registryToken', registryToken: 'bearer-s3cret' });
  });

  it('reads separate username and password fields', async () => {
    await dockerConfig({ auths: { 'ghcr.io': { username: 'octo', password: 'pw-s3cret' } } });
    const { credential } = await findCredentials('ghcr.io', options());
    expect(credential).toMatchObject({ kind: 'basic', username: 'octo', password: 'pw-s3cret' });
  });

  it.each(['https://ghcr.io', 'http://ghcr.io', 'https://ghcr.io/v1/', 'https://GHCR.io/v2/'])(
    'matches the key %s docker may write for ghcr.io',
    async (key) => {
      await dockerConfig({ auths: { [key]: { auth: basic64('octo', 'x') } } });
      expect((await findCredentials('ghcr.io', options())).credential).toMatchObject({ username: 'octo' });
    },
  );

  it('prefers the exact key over URL forms of the same host', async () => {
    await dockerConfig({
      auths: { 'https://ghcr.io/v1/': { auth: basic64('url', 'x') }, 'ghcr.io': { auth: basic64('exact', 'y') } },
    });
    expect((await findCredentials('ghcr.io', options())).credential).toMatchObject({ username: 'exact' });
  });

  it('keeps ports apart: localhost:5000 is not localhost', async () => {
    await dockerConfig({ auths: { localhost: { auth: basic64('bare', 'x') } } });
    expect((await findCredentials('localhost:5000', options())).credential).toBeUndefined();
    expect((await findCredentials('localhost', options())).credential).toMatchObject({ username: 'bare' });
  });

  it.each(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'])(
    'maps Docker Hub (%s) to the key https://index.docker.io/v1/',
    async (registry) => {
      await dockerConfig({ auths: { 'https://index.docker.io/v1/': { auth: basic64('whale', 'x') } } });
      const search = await findCredentials(registry, options());
      expect(search.registry).toBe('docker.io');
      expect(search.credential).toMatchObject({ username: 'whale' });
    },
  );

  it('finds Docker Hub under the docker.io key podman writes', async () => {
    await dockerConfig({ auths: { 'docker.io': { auth: basic64('seal', 'x') } } });
    expect((await findCredentials('docker.io', options())).credential).toMatchObject({ username: 'seal' });
  });

  it('does not give Docker Hub credentials to other registries', async () => {
    await dockerConfig({ auths: { 'https://index.docker.io/v1/': { auth: basic64('whale', 'x') } } });
    expect((await findCredentials('ghcr.io', options())).credential).toBeUndefined();
  });

  it('treats an empty entry (credentials in a store) and an empty file as none', async () => {
    await dockerConfig({ auths: { 'ghcr.io': {} } });
    expect((await findCredentials('ghcr.io', options())).credential).toBeUndefined();
    await dockerConfig('  \n');
    expect((await findCredentials('ghcr.io', options())).credential).toBeUndefined();
  });
});

describe('findCredentials: credential helpers', () => {
  it('runs the credHelpers helper with "get" and the registry on stdin', async () => {
    await dockerConfig({ credHelpers: { 'ghcr.io': 'test' }, auths: { 'ghcr.io': { auth: basic64('file', 'x') } } });
    const search = await findCredentials('ghcr.io', options());
    expect(search.credential).toMatchObject({ kind: 'basic', username: 'helper-user', password: 'helper-s3cret' });
    expect(search.source).toBe('docker-credential-test');
    expect(search.searched).toStrictEqual(['~/.docker/config.json', 'docker-credential-test']);
    expect(await helperLog()).toStrictEqual(['get ghcr.io']);
  });

  it('asks credsStore for Docker Hub under https://index.docker.io/v1/; <token> means an identity token', async () => {
    await dockerConfig({ credsStore: 'test', auths: { 'https://index.docker.io/v1/': {} } });
    const search = await findCredentials('docker.io', options());
    expect(search.credential).toMatchObject({ kind: 'identityToken', identityToken: 'hub-refresh-s3cret' });
    expect(search.credential && 'username' in search.credential).toBe(false);
    expect(await helperLog()).toStrictEqual(['get https://index.docker.io/v1/']);
  });

  it('prefers credHelpers over credsStore', async () => {
    await dockerConfig({ credHelpers: { 'ghcr.io': 'test' }, credsStore: 'notfound' });
    expect((await findCredentials('ghcr.io', options())).credential).toMatchObject({ username: 'helper-user' });
    expect(await helperLog()).toStrictEqual(['get ghcr.io']);
  });

  it('treats "credentials not found" as none and looks further', async () => {
    await dockerConfig({
      credHelpers: { 'ghcr.io': 'notfound' },
      credsStore: 'notfound',
      auths: { 'ghcr.io': { auth: basic64('inline', 'x') } },
    });
    const search = await findCredentials('ghcr.io', options());
    expect(search.credential).toMatchObject({ username: 'inline' });
    expect(search.source).toBe('~/.docker/config.json');
    expect(await helperLog()).toStrictEqual(['get', 'get']);
  });

  it('lists the helper among the places searched when nothing is found', async () => {
    await dockerConfig({ credsStore: 'test' });
    const search = await findCredentials('quay.io', options());
    expect(search.credential).toBeUndefined();
    expect(search.searched).toStrictEqual([
      '~/.docker/config.json',
      'docker-credential-test',
      '~/.config/containers/auth.json',
    ]);
  });

  it('reports a crashing helper by name and registry with its stderr, never its stdout', async () => {
    await dockerConfig({ credHelpers: { 'ghcr.io': 'crash' } });
    const message = await authFailure(findCredentials('ghcr.io', options()));
    expect(message).toBe(
      'get credentials ghcr.io: docker-credential-crash (credHelpers in ~/.docker/config.json) exited with code 3: ' +
        'keychain locked: unlock it first',
    );
    expect(message).not.toContain('s3cret');
  });

  it('reports a helper that is not on PATH', async () => {
    await dockerConfig({ credsStore: 'desktop' });
    const message = await authFailure(findCredentials('ghcr.io', options()));
    expect(message).toBe(
      'get credentials ghcr.io: docker-credential-desktop (credsStore in ~/.docker/config.json) is not on PATH',
    );
  });

  it('reports non-JSON answers without quoting them', async () => {
    await dockerConfig({ credsStore: 'garbage' });
    const message = await authFailure(findCredentials('ghcr.io', options()));
    expect(message).toContain('docker-credential-garbage (credsStore in ~/.docker/config.json) answered with');
    expect(message).not.toContain('s3cret');
  });

  it('kills a helper that takes longer than helperTimeout', async () => {
    await dockerConfig({ credsStore: 'slow' });
    const message = await authFailure(findCredentials('ghcr.io', options({}, { helperTimeout: 200 })));
    expect(message).toContain(
      'docker-credential-slow (credsStore in ~/.docker/config.json) did not answer within 200 ms',
    );
  });

  it('rejects with the signal reason when aborted', async () => {
    await dockerConfig({ credsStore: 'slow' });
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = findCredentials('ghcr.io', options({}, { signal: controller.signal }));
    setTimeout(() => {
      controller.abort(reason);
    }, 100);
    await expect(pending).rejects.toBe(reason);
  });

  it('refuses helper names that are paths', async () => {
    await dockerConfig({ credHelpers: { 'ghcr.io': '../../bin/evil' } });
    const message = await authFailure(findCredentials('ghcr.io', options()));
    expect(message).toContain(
      'credential helper name "../../bin/evil" in credHelpers in ~/.docker/config.json is invalid',
    );
  });
});

describe('findCredentials: containers auth files and precedence', () => {
  it('reads $REGISTRY_AUTH_FILE alone when set', async () => {
    const file = await writeJSON(join(root, 'auth.json'), { auths: { 'quay.io': { auth: basic64('podman', 'x') } } });
    await writeJSON(join(root, 'run', 'containers', 'auth.json'), {
      auths: { 'quay.io': { auth: basic64('xdg', 'y') } },
    });
    const search = await findCredentials(
      'quay.io',
      options({ REGISTRY_AUTH_FILE: file, XDG_RUNTIME_DIR: join(root, 'run') }),
    );
    expect(search.credential).toMatchObject({ username: 'podman' });
    expect(search.source).toBe(file);
    expect(search.searched).toStrictEqual(['~/.docker/config.json', file]);
  });

  it('reads $XDG_RUNTIME_DIR/containers/auth.json, then ~/.config/containers/auth.json', async () => {
    const run = join(root, 'run');
    const runtime = join(run, 'containers', 'auth.json');
    await writeJSON(join(home, '.config', 'containers', 'auth.json'), {
      auths: { 'quay.io': { auth: basic64('config', 'x') }, 'ghcr.io': { auth: basic64('config', 'y') } },
    });
    await writeJSON(runtime, { auths: { 'quay.io': { auth: basic64('runtime', 'z') } } });
    const quay = await findCredentials('quay.io', options({ XDG_RUNTIME_DIR: run }));
    expect(quay.credential).toMatchObject({ username: 'runtime' });
    expect(quay.source).toBe(runtime);
    const ghcr = await findCredentials('ghcr.io', options({ XDG_RUNTIME_DIR: run }));
    expect(ghcr.credential).toMatchObject({ username: 'config' });
    expect(ghcr.source).toBe('~/.config/containers/auth.json');
    expect(ghcr.searched).toStrictEqual(['~/.docker/config.json', runtime, '~/.config/containers/auth.json']);
  });

  it('honours $XDG_CONFIG_HOME', async () => {
    const file = await writeJSON(join(root, 'xdg', 'containers', 'auth.json'), {
      auths: { 'quay.io': { auth: basic64('xdgconfig', 'x') } },
    });
    const search = await findCredentials('quay.io', options({ XDG_CONFIG_HOME: join(root, 'xdg') }));
    expect(search.source).toBe(file);
  });

  it('matches containers repository-scoped keys, most specific first, only for that repository', async () => {
    const file = await writeJSON(join(root, 'auth.json'), {
      auths: {
        'quay.io': { auth: basic64('registry-wide', 'x') },
        'quay.io/acme': { auth: basic64('namespace', 'y') },
        'quay.io/acme/app': { auth: basic64('repo', 'z') },
      },
    });
    const env = { REGISTRY_AUTH_FILE: file };
    const user = async (repository?: string): Promise<unknown> =>
      (await findCredentials('quay.io', options(env, repository === undefined ? {} : { repository }))).credential;
    expect(await user('acme/app')).toMatchObject({ username: 'repo' });
    expect(await user('acme/app/sub')).toMatchObject({ username: 'repo' });
    expect(await user('acme/other')).toMatchObject({ username: 'namespace' });
    expect(await user('other/x')).toMatchObject({ username: 'registry-wide' });
    expect(await user()).toMatchObject({ username: 'registry-wide' });
  });

  it('does not treat a scoped key as its host', async () => {
    const file = await writeJSON(join(root, 'auth.json'), {
      auths: { 'quay.io/acme/app': { auth: basic64('repo', 'z') } },
    });
    const search = await findCredentials('quay.io', options({ REGISTRY_AUTH_FILE: file }, { repository: 'other/app' }));
    expect(search.credential).toBeUndefined();
  });

  it('prefers the docker config over the containers auth file', async () => {
    await dockerConfig({ auths: { 'ghcr.io': { auth: basic64('docker', 'x') } } });
    const file = await writeJSON(join(root, 'auth.json'), { auths: { 'ghcr.io': { auth: basic64('podman', 'y') } } });
    const search = await findCredentials('ghcr.io', options({ REGISTRY_AUTH_FILE: file }));
    expect(search.credential).toMatchObject({ username: 'docker' });
    expect(search.searched).toStrictEqual(['~/.docker/config.json']);
  });

  it('prefers an explicit credential over every file, reading none', async () => {
    await dockerConfig('{ not json');
    const search = await findCredentials(
      'ghcr.io',
      options({}, { credential: { kind: 'basic', username: 'flag', password: 'flag-s3cret' } }),
    );
    expect(search).toMatchObject({ source: 'explicit', searched: [], credential: { username: 'flag' } });
    expect(JSON.stringify(search)).not.toContain('flag-s3cret');
  });

  it('reads the same file once when REGISTRY_AUTH_FILE is the docker config', async () => {
    const file = await dockerConfig({ credsStore: 'notfound' });
    const search = await findCredentials('ghcr.io', options({ REGISTRY_AUTH_FILE: file }));
    expect(search.searched).toStrictEqual(['~/.docker/config.json', 'docker-credential-notfound']);
    expect(await helperLog()).toStrictEqual(['get']);
  });

  it('reports where it looked when nothing matches', async () => {
    const run = join(root, 'run');
    const search = await findCredentials('ghcr.io', options({ XDG_RUNTIME_DIR: run }));
    expect(search.credential).toBeUndefined();
    expect(noCredentialsMessage(search)).toBe(
      `no credentials for ghcr.io in ~/.docker/config.json, ${join(run, 'containers', 'auth.json')}, ` +
        '~/.config/containers/auth.json',
    );
  });
});

describe('findCredentials: malformed files', () => {
  it('names the file and position of invalid JSON, without quoting it', async () => {
    await dockerConfig(`{"auths": {"ghcr.io": {"auth": "${basic64('u', 'file-s3cret')}"}} oops`);
    const message = await authFailure(findCredentials('ghcr.io', options()));
    expect(message).toMatch(/^get credentials ghcr\.io: ~\/\.docker\/config\.json is not valid JSON \(at position \d+/);
    expect(message).not.toContain(basic64('u', 'file-s3cret'));
  });

  it('names the containers auth file when it is the broken one', async () => {
    const file = await writeJSON(join(root, 'auth.json'), '[1, 2');
    const message = await authFailure(findCredentials('ghcr.io', options({ REGISTRY_AUTH_FILE: file })));
    expect(message).toContain(`${file} is not valid JSON`);
  });

  it.each([
    [[], 'expected a JSON object'],
    [{ auths: { 'ghcr.io': 'x' } }, '"auths" must be an object of objects'],
    [{ credHelpers: { 'ghcr.io': 1 } }, '"credHelpers" must be an object of helper names'],
    [{ credsStore: true }, '"credsStore" must be a helper name'],
  ])('refuses the wrong shape %j', async (config, reason) => {
    await dockerConfig(config);
    expect(await authFailure(findCredentials('ghcr.io', options()))).toBe(
      `get credentials ghcr.io: ~/.docker/config.json: ${reason}`,
    );
  });

  it.each(['not base64!', Buffer.from('no-colon-s3cret').toString('base64')])(
    'refuses an auth value that is not base64 user:password (%s)',
    async (auth) => {
      await dockerConfig({ auths: { 'ghcr.io': { auth } } });
      const message = await authFailure(findCredentials('ghcr.io', options()));
      expect(message).toContain('the "auth" entry for ghcr.io is not base64 of "user:password"');
      expect(message).not.toContain('s3cret');
      expect(message).not.toContain(auth);
    },
  );

  it('reports an unreadable config path other than a missing file', async () => {
    await mkdir(join(home, '.docker', 'config.json'), { recursive: true });
    expect(await authFailure(findCredentials('ghcr.io', options()))).toBe(
      'get credentials ghcr.io: cannot read ~/.docker/config.json (EISDIR)',
    );
  });
});

describe('credentials never print their secret', () => {
  const samples: RegistryCredential[] = [
    { kind: 'basic', username: 'octo', password: 'basic-s3cret' },
    { kind: 'identityToken', identityToken: 'identity-s3cret', username: 'octo' },
    { kind: 'registryToken', registryToken: 'bearer-s3cret' },
  ];

  it.each(samples)('hides the $kind secret from JSON, inspect, strings and spreads', (sample) => {
    const credential = createCredential(sample);
    const renderings = [
      JSON.stringify(credential),
      JSON.stringify({ nested: { credential } }),
      inspect(credential),
      inspect(credential, { showHidden: true, depth: 5 }),
      inspect({ credential }),
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the redacting toString is under test
      String(credential),
      JSON.stringify({ ...credential }),
      Object.keys(credential).join(','),
    ];
    for (const rendering of renderings) expect(rendering).not.toMatch(/s3cret/);
    expect(inspect(credential)).toContain('[redacted]');
    expect(JSON.parse(JSON.stringify(credential))).toMatchObject({ kind: sample.kind });
    // ...and yet the secret is there for the code that sends it.
    expect(credential).toMatchObject(sample);
    expect(Object.isFrozen(credential)).toBe(true);
  });

  it('returns redacting credentials from every source', async () => {
    await dockerConfig({
      credHelpers: { 'ghcr.io': 'test' },
      auths: {
        'quay.io': { auth: basic64('octo', 'file-s3cret') },
        'acr.example.io': { identitytoken: 'rt-s3cret' },
      },
    });
    for (const registry of ['ghcr.io', 'quay.io', 'acr.example.io']) {
      const search = await findCredentials(registry, options());
      expect(search.credential).toBeDefined();
      expect(JSON.stringify(search)).not.toMatch(/s3cret/);
      expect(inspect(search, { depth: 10 })).not.toMatch(/s3cret/);
      expect(noCredentialsMessage(search)).not.toMatch(/s3cret/);
    }
  });

  it('validates what it wraps', () => {
    expect(() => createCredential({ kind: 'basic', username: 'a:b', password: 'x' })).toThrow(/contain no ":"/);
    expect(() => createCredential({ kind: 'registryToken', registryToken: '' })).toThrow('registryToken is empty');
    expect(kinds(createCredential({ kind: 'basic', username: 'a', password: 'b' }))).toStrictEqual({
      kind: 'basic',
      username: 'a',
    });
  });
});

describe('helpers', () => {
  it('places the docker config under $DOCKER_CONFIG or ~/.docker', () => {
    expect(dockerConfigPath({ env: {}, homedir: '/home/u' })).toBe('/home/u/.docker/config.json');
    expect(dockerConfigPath({ env: { DOCKER_CONFIG: '/etc/dc' }, homedir: '/home/u' })).toBe('/etc/dc/config.json');
  });

  it('makes a provider that passes the per-call signal', async () => {
    await dockerConfig({ credsStore: 'slow' });
    const provide = credentialProvider(options());
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(provide('ghcr.io', { signal: controller.signal })).rejects.toThrow('cancelled');
    await dockerConfig({ auths: { 'ghcr.io': { auth: basic64('octo', 'x') } } });
    expect((await provide('ghcr.io')).credential).toMatchObject({ username: 'octo' });
  });
});
