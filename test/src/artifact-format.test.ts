// The lading artifact format (docs/format.md) as peer tools see it: the folder layer packArtifact writes is a valid
// gzip stream and tar archive for GNU gzip and tar, and an artifact pushed into an OCI layout is pulled by oras into
// the same tree (contents, permission bits, symlinks, empty folders).
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AnnotationTitle, OCILayout, packArtifact, type ImageManifest, type PackedArtifact } from '@lading/core';

// Until the barrel exports packArtifact, take it from core's build output (`pnpm build` first); a relative import of
// the TypeScript source would put a file outside this project's rootDir and break `tsc -b`.
import { makeToolHome, run } from './testbed/index.js';

const Epoch = 1_700_000_000; // 2023-11-14 22:13:20 UTC

let work: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lading-format-'));
  ({ env } = await makeToolHome(work));
  env = { ...env, TZ: 'UTC' };
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const longName = `${'long-name-'.repeat(12)}.txt`; // 124 bytes: a PAX path record

/** A tree with what the format must carry: exec bits, symlinks, an empty folder, unicode and long names. */
async function makeTree(root: string): Promise<void> {
  const file = async (name: string, content: string, mode = 0o644): Promise<void> => {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
    await chmod(path.join(root, name), mode);
  };
  await file('app.yaml', 'name: app\n');
  await file('bin/run.sh', '#!/bin/sh\necho run\n', 0o755);
  await file('bin/private', 'secret-ish\n', 0o600);
  await file('data/ünïcødé.txt', 'unicode\n');
  await file(`data/${longName}`, 'long\n');
  await file('data/big.bin', 'lading '.repeat(300_000));
  await mkdir(path.join(root, 'empty'));
  await symlink('run.sh', path.join(root, 'bin/current'));
  await symlink('../app.yaml', path.join(root, 'data/app-link'));
}

async function packTree(): Promise<{ packed: PackedArtifact; tree: string }> {
  const tree = path.join(work, 'src/config');
  await makeTree(tree);
  await writeFile(path.join(work, 'src/tool'), 'tool bytes\n');
  await chmod(path.join(work, 'src/tool'), 0o755);
  const packed = await packArtifact([{ path: 'config' }, { path: 'tool' }], {
    tempDir: path.join(work, 'tmp'),
    cwd: path.join(work, 'src'),
    sourceDateEpoch: Epoch,
  });
  return { packed, tree };
}

/** Every path below `root` with what it is: file content and mode, symlink target, or folder mode. */
async function describeTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(root, { recursive: true })).sort()) {
    const full = path.join(root, name);
    const st = await lstat(full);
    const mode = (st.mode & 0o777).toString(8);
    if (st.isSymbolicLink()) out[name] = `symlink -> ${await readlink(full)}`;
    else if (st.isDirectory()) out[name] = `dir ${mode}`;
    else out[name] = `file ${mode} ${(await readFile(full)).toString('base64')}`;
  }
  return out;
}

describe('folder layers and GNU tools', () => {
  it('gzip -t accepts the layer, and tar lists sorted entries owned by 0/0 at the fixed time', async () => {
    const { packed } = await packTree();
    const layer = packed.layers[0]?.file ?? '';
    await run('gzip', ['-t', layer]);

    const listing = await run('tar', ['--numeric-owner', '-tzvf', layer], { env });
    const lines = listing.stdout.trim().split('\n');
    const names = lines.map((line) =>
      line
        .split(/\s+/)
        .slice(5)
        .join(' ')
        .replace(/ -> .*$/, ''),
    );
    expect(names).toEqual(
      packed.toc.entries.filter((e) => e.layer === 0).map((e) => (e.type === 'dir' ? `${e.path}/` : e.path)),
    );
    const sorted = [...names]
      .map((n) => n.replace(/\/$/, ''))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(names.map((n) => n.replace(/\/$/, ''))).toEqual(sorted);
    expect(names).toContain(`config/data/${longName}`);
    for (const line of lines) {
      const [perms, owner, , date, time] = line.split(/\s+/);
      expect(owner).toBe('0/0');
      expect(`${date} ${time}`).toBe('2023-11-14 22:13');
      expect(perms?.[0]).toMatch(/[-dl]/);
    }
    expect(lines.find((l) => l.endsWith('config/bin/run.sh'))?.startsWith('-rwxr-xr-x')).toBe(true);
    expect(lines.find((l) => l.includes('config/bin/current'))).toMatch(
      /^lrwxrwxrwx .* config\/bin\/current -> run\.sh$/,
    );

    // GNU tar extracts it to the same tree.
    const out = path.join(work, 'untarred');
    await mkdir(out);
    await run('tar', ['-xzf', layer, '-C', out], { env });
    expect(await describeTree(path.join(out, 'config'))).toEqual(await describeTree(path.join(work, 'src/config')));
  });
});

describe('artifacts and oras', () => {
  it('oras pulls an artifact pushed into an OCI layout to a byte-identical tree', async () => {
    const { packed, tree } = await packTree();
    const dir = path.join(work, 'layout');
    const layout = await OCILayout.open(dir);
    for (const { descriptor, file } of packed.layers) await layout.push(descriptor, createReadStream(file));
    await layout.push(packed.config.descriptor, packed.config.bytes);
    await layout.push(packed.manifest.descriptor, packed.manifest.bytes);
    await layout.tag(packed.manifest.descriptor, 'v1');

    const fetched = await run('oras', ['manifest', 'fetch', '--oci-layout', `${dir}:v1`], { env });
    expect(fetched.stdout).toBe(packed.manifest.bytes.toString());
    const manifest = JSON.parse(fetched.stdout) as ImageManifest;
    expect(manifest.layers.map((l) => l.annotations?.[AnnotationTitle])).toEqual(['config', 'tool']);

    const out = path.join(work, 'pulled');
    await run('oras', ['pull', '--oci-layout', `${dir}:v1`, '-o', out], { env });
    const expected = await describeTree(tree);
    expect(expected['bin/run.sh']).toMatch(/^file 755 /);
    expect(expected['bin/private']).toMatch(/^file 600 /);
    expect(expected['bin/current']).toBe('symlink -> run.sh');
    expect(expected.empty).toBe('dir 755');
    expect(await describeTree(path.join(out, 'config'))).toEqual(expected);
    expect(await readFile(path.join(out, 'tool'), 'utf8')).toBe('tool bytes\n');
  });
});
