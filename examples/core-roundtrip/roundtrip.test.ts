// Runs the compiled example (`pnpm build` makes dist/main.js) as a user would, with the Node running the tests,
// against the test bed's distributions, and checks what it prints against what oras reads back.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { beforeAll, describe, expect, it } from 'vitest';

import { makeToolHome, run, testbed, type RegistryInfo, type TestBed } from '../../test/src/testbed/index.js';

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist', 'main.js');
const expected = 'Hello from @lading/core!\n';
const bed: TestBed = testbed();
let home: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run pnpm build first`);
  ({ home, env } = await makeToolHome(bed.dir));
});

interface Output {
  reference: string;
  manifestDigest: string;
  blobDigest: string;
  title: string;
  content: string;
}

interface Case {
  name: string;
  info: () => RegistryInfo;
  /** Arguments and environment for the example. */
  args: () => string[];
  env: () => NodeJS.ProcessEnv;
  /** Login flags for oras and what goes to its stdin. */
  oras: () => { args: string[]; input?: string };
}

const cases: Case[] = [
  {
    name: 'anonymous distribution',
    info: () => bed.registries.anonymous,
    args: () => ['--plain-http'],
    env: () => env,
    oras: () => ({ args: [] }),
  },
  {
    name: 'htpasswd distribution',
    info: () => bed.registries.htpasswd,
    args: () => ['--plain-http', '--username', bed.registries.htpasswd.credentials.username],
    env: () => ({ ...env, REGISTRY_PASSWORD: bed.registries.htpasswd.credentials.password }),
    oras: () => {
      const { username, password } = bed.registries.htpasswd.credentials;
      return { args: ['-u', username, '--password-stdin'], input: password };
    },
  },
];

describe.each(cases)('core-roundtrip example against the $name', (c) => {
  it('pushes, pulls back and prints the content and manifest digest; oras reads the same bytes', async () => {
    const reference = `${c.info().host}/examples/hello-${randomBytes(4).toString('hex')}:v1`;
    const res = await run(process.execPath, [main, reference, ...c.args()], { env: c.env() });
    const out = JSON.parse(res.stdout) as Output;
    expect(out).toEqual({
      reference,
      manifestDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as unknown,
      blobDigest: `sha256:${createHash('sha256').update(expected).digest('hex')}`,
      title: 'hello.txt',
      content: expected,
    });

    const login = c.oras();
    const oras = { env, ...(login.input === undefined ? {} : { input: login.input }) };
    const resolved = await run('oras', ['resolve', '--plain-http', ...login.args, reference], oras);
    expect(resolved.stdout.trim()).toBe(out.manifestDigest);
    const dir = path.join(home, `pull-${randomBytes(4).toString('hex')}`);
    await run('oras', ['pull', '--plain-http', ...login.args, '-o', dir, reference], oras);
    expect(await readFile(path.join(dir, 'hello.txt'), 'utf8')).toBe(expected);
  });
});

describe('core-roundtrip example errors', () => {
  it('exits 1 with ERR_LADING_AUTH on a wrong password, naming the registry and never the password', async () => {
    const r = bed.registries.htpasswd;
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const reference = `${r.host}/examples/denied:v1`;
    const args = [main, reference, '--username', r.credentials.username];
    const res = await run(process.execPath, args, { env: { ...env, REGISTRY_PASSWORD: wrong }, check: false });
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^ERR_LADING_AUTH: /);
    expect(res.stderr).toContain(r.host);
    expect(res.stderr).not.toContain(wrong);
  });
});
