// The `lading` binary end to end: push, ls, cat and pull against the test bed's registries, a local OCI layout and
// the fake registry (faults), run as a child process with an isolated HOME and DOCKER_CONFIG. Exit codes and
// outputs are asserted exactly; see docs/cli.md for the contract.

import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { CatCommandResult, ErrorJSON, ListCommandResult, PullCommandResult, PushCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { collectLading, json, startLading } from './cli-runner.js';
import { runLadingInProcess } from './in-process.js';
import { type FakeRegistry, startFakeRegistry } from './fake-registry/index.js';
import { makeToolHome, run, testbed } from './testbed/index.js';

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

interface Options {
  cwd?: string;
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
}

let env: NodeJS.ProcessEnv;
let work: string;

/** Runs `lading args…` to completion, in this process (the SIGINT test below spawns its own). */
function lading(args: readonly string[], options: Options = {}): Promise<Result> {
  return runLadingInProcess(args, {
    cwd: options.cwd ?? work,
    env: options.env ?? env,
    ...(options.input === undefined ? {} : { input: options.input }),
  });
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');
const unique = (what: string): string => `cli/${what}-${randomBytes(4).toString('hex')}`;

/** A folder as comparable data: every entry's path, type, permission bits, and content digest or link target. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      const st = await lstat(full);
      const mode = (st.mode & 0o777).toString(8);
      if (st.isSymbolicLink()) out.push(`${rel} symlink -> ${await readlink(full)}`);
      else if (st.isDirectory()) {
        out.push(`${rel} dir ${mode}`);
        await walk(full, rel);
      } else out.push(`${rel} file ${mode} ${sha256(await readFile(full))}`);
    }
  }
  await walk(root, '');
  return out;
}

// The fixture: a folder with a text file, an executable, a link, an empty folder and a binary file, plus a file.
const appYAML = 'name: app\nport: 8080\n';
const runSH = '#!/bin/sh\necho hello\n';
const notes = 'release notes\n';
const binary = randomBytes(256 * 1024);
const fixtureBytes = appYAML.length + runSH.length + notes.length + binary.length;

async function makeFixture(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'config/empty'), { recursive: true });
  await writeFile(path.join(dir, 'config/app.yaml'), appYAML);
  await writeFile(path.join(dir, 'config/run.sh'), runSH);
  await chmod(path.join(dir, 'config/run.sh'), 0o755);
  await writeFile(path.join(dir, 'config/data.bin'), binary);
  await symlink('app.yaml', path.join(dir, 'config/current'));
  await writeFile(path.join(dir, 'notes.txt'), notes);
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-'));
  await makeFixture(work);
});

describe('lading push, ls, cat, pull against a registry', () => {
  let host: string;
  let repo: string;
  let ref: string;
  let digest: string;
  let pushStderr: string;

  beforeAll(async () => {
    host = testbed().registries.anonymous.host;
    repo = unique('roundtrip');
    ref = `${host}/${repo}:v1`;
    const pushed = await lading(['push', `${host}/${repo}:v1,latest`, 'config', 'notes.txt:text/plain']);
    expect(pushed.stderr).not.toMatch(/^Error/m);
    expect(pushed.code).toBe(0);
    digest = pushed.stdout.toString('utf8').trim();
    pushStderr = pushed.stderr;
  });

  it('push prints the manifest digest alone on stdout and one line per step on stderr (not a terminal)', () => {
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const lines = pushStderr.trimEnd().split('\n');
    // Uploads run concurrently, so their lines come in any order: compare sorted.
    expect([...lines].sort()).toEqual([
      `Pushed ${host}/${repo}:v1,latest ${digest}`,
      'Tagged latest',
      'Tagged v1',
      expect.stringMatching(/^Uploaded config \d+(\.\d)? KiB$/),
      'Uploaded notes.txt 14 B',
      expect.stringMatching(/^Uploaded table of contents \d+ B$/),
    ]);
    expect(pushStderr).not.toContain('\u001b[');
  });

  it('push again gives the same digest, skips every blob, and --json has the documented fields', async () => {
    const result = await lading([
      'push',
      '--json',
      '--tag',
      'again',
      `${host}/${repo}`,
      'config',
      'notes.txt:text/plain',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const pushed = json<PushCommandResult>(result);
    expect(pushed).toEqual({
      reference: `${host}/${repo}@${digest}`,
      digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: expect.any(Number) as unknown,
      tags: ['again'],
      layers: [
        {
          title: 'config',
          digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as unknown,
          size: expect.any(Number) as unknown,
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        },
        { title: 'notes.txt', digest: `sha256:${sha256(notes)}`, size: notes.length, mediaType: 'text/plain' },
      ],
      skipped: 3,
    });
  });

  it('ls prints one path per line', async () => {
    const result = await lading(['ls', ref]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.toString()).toBe(
      [
        'config',
        'config/app.yaml',
        'config/current',
        'config/data.bin',
        'config/empty',
        'config/run.sh',
        'notes.txt',
        '',
      ].join('\n'),
    );
  });

  it('ls -l prints mode, size, short digest, path and link target', async () => {
    const result = await lading(['ls', '-l', ref]);
    expect(result.code).toBe(0);
    const short = (data: Buffer | string): string => `sha256:${sha256(data).slice(0, 12)}`;
    // Sizes are right-aligned to the widest, data.bin's six digits.
    const size = (data: string): string => String(data.length).padStart(6);
    expect(result.stdout.toString()).toBe(
      [
        `drwxr-xr-x       -  -                    config`,
        `-rw-r--r--  ${size(appYAML)}  ${short(appYAML)}  config/app.yaml`,
        `lrwxrwxrwx       -  -                    config/current -> app.yaml`,
        `-rw-r--r--  262144  ${short(binary)}  config/data.bin`,
        `drwxr-xr-x       -  -                    config/empty`,
        `-rwxr-xr-x  ${size(runSH)}  ${short(runSH)}  config/run.sh`,
        `-rw-r--r--  ${size(notes)}  ${short(notes)}  notes.txt`,
        '',
      ].join('\n'),
    );
  });

  it('list is an alias of ls, and ls --json prints the ListResult', async () => {
    const result = await lading(['list', '--json', ref]);
    expect(result.code).toBe(0);
    const listed = json<ListCommandResult>(result);
    expect(listed.reference).toBe(ref);
    expect(listed.descriptor.digest).toBe(digest);
    expect(listed.hasTOC).toBe(true);
    expect(listed.unlisted).toEqual([]);
    expect(listed.artifactType).toBe('application/vnd.lading.artifact.v1');
    expect(listed.entries.find((e) => e.path === 'config/run.sh')).toEqual({
      path: 'config/run.sh',
      type: 'file',
      mode: 0o755,
      size: runSH.length,
      digest: `sha256:${sha256(runSH)}`,
      layer: 0,
    });
    expect(listed.entries.find((e) => e.path === 'config/current')).toMatchObject({
      type: 'symlink',
      target: 'app.yaml',
    });
  });

  it('cat writes the verified bytes of one file, text or binary', async () => {
    const text = await lading(['cat', ref, 'config/app.yaml']);
    expect(text.code).toBe(0);
    expect(text.stderr).toBe('');
    expect(text.stdout.toString()).toBe(appYAML);
    const data = await lading(['cat', ref, 'config/data.bin']);
    expect(data.code).toBe(0);
    expect(data.stdout.equals(binary)).toBe(true);
    const file = await lading(['cat', ref, 'notes.txt']);
    expect(file.stdout.toString()).toBe(notes);
  });

  it('cat --json describes the verified file and writes no content', async () => {
    const result = await lading(['cat', '--json', ref, 'config/run.sh']);
    expect(result.code).toBe(0);
    expect(json<CatCommandResult>(result)).toEqual({
      reference: ref,
      digest,
      path: 'config/run.sh',
      size: runSH.length,
      sha256: sha256(runSH),
      ranged: true,
    });
  });

  it('cat of a folder is a usage error, of a missing file not found', async () => {
    const folder = await lading(['cat', ref, 'config']);
    expect(folder.code).toBe(2);
    expect(folder.stdout.length).toBe(0);
    expect(folder.stderr).toBe(`Error: cat ${ref} config: it is a folder, not a file\n`);
    const missing = await lading(['cat', ref, 'config/nope.yaml']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe(`Error: cat ${ref} config/nope.yaml: no such file in the artifact (see lading ls)\n`);
  });

  it('pull writes the same tree (exec bit, link, empty folder) and prints a summary', async () => {
    const dest = await mkdtemp(path.join(work, 'pull-'));
    const result = await lading(['pull', ref, dest]);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(`Pulled ${ref}@${digest} into ${dest}: 4 files, 256 KiB\n`);
    expect(result.stderr.split('\n')).toContain(`Resolved ${digest}`);
    expect(await tree(dest)).toEqual(
      (await tree(work)).filter((e) => e.startsWith('config') || e.startsWith('notes.txt')),
    );
    expect((await lstat(path.join(dest, 'config/run.sh'))).mode & 0o777).toBe(0o755);
  });

  it('pull refuses to replace existing files without --overwrite (exit 2, nothing changed), replaces them with it', async () => {
    const dest = await mkdtemp(path.join(work, 'again-'));
    expect((await lading(['pull', ref, dest])).code).toBe(0);
    await writeFile(path.join(dest, 'config/app.yaml'), 'local edit\n');
    const before = await tree(dest);

    const refused = await lading(['pull', ref, dest]);
    expect(refused.code).toBe(2);
    expect(refused.stdout.length).toBe(0);
    expect(refused.stderr.endsWith(`Error: pull into ${dest}: config exists; use --overwrite to replace it\n`)).toBe(
      true,
    );
    expect(await tree(dest)).toEqual(before);

    const replaced = await lading(['pull', '--overwrite', '--json', ref, dest]);
    expect(replaced.code).toBe(0);
    expect(await readFile(path.join(dest, 'config/app.yaml'), 'utf8')).toBe(appYAML);
    const pulled = json<PullCommandResult>(replaced);
    expect(pulled).toEqual({
      reference: ref,
      digest,
      destination: dest,
      entries: expect.any(Array) as unknown,
      bytes: fixtureBytes,
    });
    expect([...pulled.entries].sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'config', type: 'dir' },
      { path: 'config/app.yaml', type: 'file', size: appYAML.length },
      { path: 'config/current', type: 'symlink' },
      { path: 'config/data.bin', type: 'file', size: binary.length },
      { path: 'config/empty', type: 'dir' },
      { path: 'config/run.sh', type: 'file', size: runSH.length },
      { path: 'notes.txt', type: 'file', size: notes.length },
    ]);
  });

  it('pull --file takes only the named paths', async () => {
    const dest = await mkdtemp(path.join(work, 'some-'));
    const result = await lading(['pull', '--file', 'config/app.yaml', ref, dest]);
    expect(result.code).toBe(0);
    expect(await tree(dest)).toEqual(['config dir 755', `config/app.yaml file 644 ${sha256(appYAML)}`]);
  });

  it('pull limits refuse what is too big with exit 6 and write nothing; bad sizes are usage errors', async () => {
    const dest = await mkdtemp(path.join(work, 'limit-'));
    const limited = await lading(['pull', '--max-file-size', '100KiB', ref, dest]);
    expect(limited.code).toBe(6);
    expect(limited.stderr).toBe(
      `Resolved ${digest}\n` +
        `Error: pull ${ref}: config/data.bin (262144 bytes) is larger than the 102400-byte limit\n` +
        'Hint: the artifact is corrupt or was tampered with: nothing was written\n',
    );
    expect(await readdir(dest)).toEqual([]);
    const bad = await lading(['pull', '--max-total-size', '10XB', ref, dest]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-total-size "10XB": not a size');
  });

  it('an unknown tag is exit 3; with --json the error is JSON on stdout', async () => {
    const missing = `${host}/${repo}:nope`;
    const result = await lading(['ls', missing]);
    expect(result.code).toBe(3);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toBe(`Error: resolve ${missing}: not found\n`);
    const asJSON = await lading(['pull', '--json', missing, await mkdtemp(path.join(work, 'nope-'))]);
    expect(asJSON.code).toBe(3);
    expect(json<ErrorJSON>(asJSON)).toEqual({
      // The HTTP status of the registry's answer; a HEAD has no body, so no registryErrors.
      error: { code: 'ERR_LADING_NOT_FOUND', message: `resolve ${missing}: not found`, exitCode: 3, status: 404 },
    });
  });

  it('--debug prints one line per registry request', async () => {
    const result = await lading(['ls', '--debug', ref]);
    expect(result.code).toBe(0);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines)
      expect(line).toMatch(/^debug: (GET|HEAD) http:\/\/127\.0\.0\.1:\d+\/v2\/\S+ \d{3} \d+ms$/);
    expect(lines[0]).toMatch(new RegExp(`^debug: HEAD http://${host}/v2/${repo}/manifests/v1 200 \\d+ms$`));
  });
});

describe('lading argument and reference errors', () => {
  it('a malformed reference is exit 2 with the reason and a hint', async () => {
    const result = await lading(['ls', 'ghcr.io/Acme/app:v1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'Error: reference "ghcr.io/Acme/app:v1": repository "Acme/app" must be lower case\n' +
        'Hint: write references as host[:port]/repository[:tag][@digest], or oci:<dir>[:tag] for a local OCI layout\n',
    );
  });

  it('a missing argument is exit 2', async () => {
    const result = await lading(['cat', 'ghcr.io/acme/app:v1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Error: Missing 1 required arg:\npath/);
  });

  it('pull without a tag or digest is exit 2', async () => {
    const result = await lading(['pull', `${testbed().registries.anonymous.host}/acme/app`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `Error: pull ${testbed().registries.anonymous.host}/acme/app: name a tag or a digest ` +
        `(${testbed().registries.anonymous.host}/acme/app:<tag> or ${testbed().registries.anonymous.host}/acme/app@sha256:…)\n`,
    );
  });

  it('--password-stdin with content on stdin (-) is refused', async () => {
    const result = await lading(['push', '-u', 'ci', '--password-stdin', 'oci:refused:v1', '-'], { input: 'x' });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('Error: --password-stdin: standard input is already the content to push (-)\n');
  });
});

describe('lading push from standard input and to an OCI layout', () => {
  it('push - reads standard input under --stdin-name', async () => {
    const host = testbed().registries.anonymous.host;
    const ref = `${host}/${unique('stdin')}:v1`;
    const content = 'key: value\n'.repeat(1000);
    const pushed = await lading(['push', '--stdin-name', 'values.yaml', ref, '-:application/yaml'], { input: content });
    expect(pushed.code).toBe(0);
    expect(pushed.stderr.split('\n')).toContain(`Uploaded values.yaml 10 KiB`);
    const listed = json<ListCommandResult>(await lading(['ls', '--json', ref]));
    expect(listed.entries).toEqual([
      {
        path: 'values.yaml',
        type: 'file',
        mode: 0o644,
        size: content.length,
        digest: `sha256:${sha256(content)}`,
        layer: 0,
      },
    ]);
    expect((await lading(['cat', ref, 'values.yaml'])).stdout.toString()).toBe(content);
  });

  it('push to oci:<dir>:tag creates the layout; pull from it gives the same tree', async () => {
    const layout = path.join(await mkdtemp(path.join(work, 'layout-')), 'out');
    const pushed = await lading(['push', `oci:${layout}:v1,stable`, 'config', 'notes.txt']);
    expect(pushed.code).toBe(0);
    const digest = pushed.stdout.toString().trim();
    const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    expect(index.manifests.map((m) => [m.digest, m.annotations?.['org.opencontainers.image.ref.name']]).sort()).toEqual(
      [
        [digest, 'stable'],
        [digest, 'v1'],
      ],
    );
    const dest = await mkdtemp(path.join(work, 'from-layout-'));
    const pulled = await lading(['pull', `oci:${layout}:stable`, dest]);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout.toString()).toBe(`Pulled oci:${layout}:stable@${digest} into ${dest}: 4 files, 256 KiB\n`);
    expect(await tree(dest)).toEqual((await tree(work)).filter((e) => /^(config|notes\.txt)/.test(e)));
    const cat = await lading(['cat', `oci:${layout}:v1`, 'config/data.bin']);
    expect(cat.stdout.equals(binary)).toBe(true);
  });

  it('pulling a layout that does not exist is exit 3', async () => {
    const missing = path.join(work, 'no-such-layout');
    const result = await lading(['pull', `oci:${missing}:v1`, work]);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(`Error: open ${missing}: no such folder\n`);
  });
});

describe('lading with credentials (htpasswd registry)', () => {
  it('a wrong password is exit 4; the error names the registry and never the password', async () => {
    const registry = testbed().registries.htpasswd;
    const ref = `${registry.host}/${unique('auth')}:v1`;
    const wrong = 'not-the-password-7f3a9c';
    const result = await lading(['push', '-u', 'ci', '--password-stdin', ref, 'notes.txt'], { input: `${wrong}\n` });
    expect(result.code).toBe(4);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`^Error: .*${registry.host.replace(/\./g, '\\.')}.*HTTP 401`, 'm'));
    expect(result.stderr).toMatch(
      /\nHint: check the user name and password given with -u, and that this user may access the repository\n$/,
    );
    expect(result.stderr).not.toContain(wrong);
    expect(result.stderr).not.toContain(registry.credentials.password);
  });

  it('no credentials at all is exit 4 with a hint on how to log in', async () => {
    const registry = testbed().registries.htpasswd;
    const result = await lading(['ls', `${registry.host}/${unique('auth')}:v1`]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(new RegExp(`^Error: \\S+ ${registry.host.replace(/\./g, '\\.')}`));
    expect(result.stderr).toMatch(
      /\nHint: log in with `lading login <registry>` \(lading also reads what docker login and oras login store\), or pass -u <user> --password-stdin\n$/,
    );
  });

  it('the right password from stdin works; --debug shows requests and no secrets', async () => {
    const registry = testbed().registries.htpasswd;
    const { username, password } = registry.credentials;
    const ref = `${registry.host}/${unique('auth')}:v1`;
    const pushed = await lading(['push', '-u', username, '--password-stdin', ref, 'notes.txt'], {
      input: `${password}\n`,
    });
    expect(pushed.code).toBe(0);
    const listed = await lading(['ls', '--debug', '-u', username, '--password-stdin', ref], { input: `${password}\n` });
    expect(listed.code).toBe(0);
    expect(listed.stdout.toString()).toBe('notes.txt\n');
    const lines = listed.stderr.trimEnd().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^debug: HEAD http:\/\/\S+\/manifests\/v1 401 \d+ms$/));
    expect(lines).toContainEqual(expect.stringMatching(/^debug: HEAD http:\/\/\S+\/manifests\/v1 200 \d+ms$/));
    for (const line of lines)
      expect(line).toMatch(/^debug: (GET|HEAD) http:\/\/127\.0\.0\.1:\d+\/v2\/\S+ \d{3} \d+ms$/);
    expect(listed.stderr).not.toContain(password);
    expect(listed.stderr.toLowerCase()).not.toContain('basic ');
    expect(listed.stderr.toLowerCase()).not.toContain('authorization');
  });

  it('-p on the command line works but warns', async () => {
    const registry = testbed().registries.htpasswd;
    const { username, password } = registry.credentials;
    const ref = `${registry.host}/${unique('auth')}:v1`;
    const pushed = await lading(['push', '-u', username, '-p', password, ref, 'notes.txt']);
    expect(pushed.code).toBe(0);
    expect(pushed.stderr.split('\n')[0]).toBe(
      'Warning: --password on the command line is visible to other users and kept in shell history; prefer --password-stdin',
    );
  });
});

describe('lading over TLS (test CA)', () => {
  it('--ca-file trusts a private CA; without it the certificate is refused (exit 7); --insecure warns', async () => {
    const registry = testbed().registries.tls;
    const ref = `${registry.host}/${unique('tls')}:v1`;
    // 127.0.0.1 defaults to plain HTTP: --no-plain-http asks for HTTPS.
    const pushed = await lading(['push', '--no-plain-http', '--ca-file', registry.caFile, ref, 'notes.txt']);
    expect(pushed.code).toBe(0);

    const untrusted = await lading(['ls', '--no-plain-http', ref]);
    expect(untrusted.code).toBe(7);
    expect(untrusted.stdout.length).toBe(0);
    expect(untrusted.stderr).toMatch(new RegExp(`^Error: HEAD https://${registry.host}/v2/\\S+: \\S+`));
    expect(untrusted.stderr).toMatch(
      /\nHint: check the registry address and that it is up; for a plain-HTTP registry pass --plain-http, for a private CA --ca-file\n$/,
    );

    const insecure = await lading(['cat', '--no-plain-http', '--insecure', ref, 'notes.txt']);
    expect(insecure.code).toBe(0);
    expect(insecure.stdout.toString()).toBe(notes);
    expect(insecure.stderr).toBe(
      'Warning: --insecure: TLS certificates are not verified; anyone on the network path can read and change what is transferred\n',
    );
  });

  it('a missing --ca-file is a usage error', async () => {
    const missing = path.join(work, 'no-such-ca.pem');
    const result = await lading(['ls', '--ca-file', missing, `${testbed().registries.tls.host}/x/y:v1`]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`Error: --ca-file ${missing}: ENOENT: no such file or directory, open '${missing}'\n`);
  });
});

describe('lading ls of an artifact without a table of contents (oras)', () => {
  it('lists titled files and says on stderr which folder layers are not listed', async () => {
    const host = testbed().registries.anonymous.host;
    const ref = `${host}/${unique('oras')}:v1`;
    await run('oras', ['push', '--plain-http', ref, 'notes.txt', 'config'], { cwd: work, env });
    const result = await lading(['ls', '-l', ref]);
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe(`-rw-r--r--  14  sha256:${sha256(notes).slice(0, 12)}  notes.txt\n`);
    expect(result.stderr).toMatch(
      /^Not listed: folder config \(layer 1\), \d+(\.\d)? KiB: the artifact has no table of contents; pull it to see its files\n$/,
    );
    const dest = await mkdtemp(path.join(work, 'oras-'));
    expect((await lading(['pull', ref, dest])).code).toBe(0);
    expect(await readFile(path.join(dest, 'config/app.yaml'), 'utf8')).toBe(appYAML);
  });
});

describe('lading pull failures leave the destination as it was (fake registry)', () => {
  let registry: FakeRegistry;
  let ref: string;
  let layer: string;

  beforeAll(async () => {
    registry = await startFakeRegistry();
    ref = `${registry.host}/cli/faults:v1`;
    const pushed = await lading(['push', '--json', ref, 'config']);
    expect(pushed.code).toBe(0);
    layer = json<PushCommandResult>(pushed).layers[0]?.digest ?? '';
  });
  afterAll(async () => {
    await registry.close();
  });

  it('a corrupted layer is exit 6 and nothing is written', async () => {
    const rule = registry.inject({ method: 'GET', path: `/v2/cli/faults/blobs/${layer}`, action: { kind: 'corrupt' } });
    try {
      const dest = await mkdtemp(path.join(work, 'corrupt-'));
      const result = await lading(['pull', ref, dest]);
      expect(result.code).toBe(6);
      expect(result.stdout.length).toBe(0);
      expect(result.stderr).toMatch(new RegExp(`^Error: pull ${ref}: layer ${layer}: `, 'm'));
      expect(result.stderr.endsWith('Hint: the artifact is corrupt or was tampered with: nothing was written\n')).toBe(
        true,
      );
      expect(await readdir(dest)).toEqual([]);
      expect(rule.fired).toBeGreaterThan(0);
    } finally {
      rule.remove();
    }
  });

  it('SIGINT during a download aborts the pull: exit 130, destination and its folder unchanged', async () => {
    const rule = registry.inject({
      method: 'GET',
      path: `/v2/cli/faults/blobs/${layer}`,
      action: { kind: 'slow', chunkBytes: 1024, delayMs: 1000, maxTotalMs: 170_000 },
    });
    try {
      const parent = await mkdtemp(path.join(work, 'sigint-'));
      const dest = path.join(parent, 'dest');
      await mkdir(dest);
      const child = startLading(['pull', '--debug', ref, dest], { cwd: work, env });
      const done = collectLading(child);
      // Wait until the layer's response has started (its debug line is printed when the headers arrive).
      await new Promise<void>((resolve) => {
        let seen = '';
        child.stderr.on('data', (b: Buffer) => {
          seen += b.toString();
          if (seen.includes(`GET http://${registry.host}/v2/cli/faults/blobs/${layer} 200`)) resolve();
        });
      });
      child.kill('SIGINT');
      const result = await done;
      expect(result.code).toBe(130);
      expect(result.stdout.length).toBe(0);
      // --debug also prints the stack trace after the message.
      expect(result.stderr).toContain('\nError: interrupted by SIGINT: nothing was written\n');
      expect(await readdir(dest)).toEqual([]);
      expect(await readdir(parent)).toEqual(['dest']);
    } finally {
      rule.remove();
    }
  });
});
