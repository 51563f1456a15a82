// The pull limits hold for the whole pull, table-of-contents sizes are enforced while writing, extracted modes get
// the umask, and names from the registry cannot drive the terminal: each attack is reproduced against distribution
// with the built `lading` binary, and each refusal leaves the destination as it was, with no staging folder.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

import { descriptorFor, packManifest, type Descriptor, type RegistryClient, type TOCEntry } from '@lading/core';
import { serializeTOC } from '@lading/core/internal';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ladingBin, type LadingTextRun } from '../cli-runner.js';
import { runLadingInProcess } from '../in-process.js';
import { isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed, type TestBed } from '../testbed/index.js';
import { snapshot } from './tree.js';

const bed: TestBed = testbed();
const host = (): string => bed.registries.anonymous.host;
const unique = (what: string): string => `limits/${what}-${randomBytes(4).toString('hex')}`;
const MiB = 1024 * 1024;
const ESC = '\u001b';

let work: string;
let env: NodeJS.ProcessEnv;
let client: RegistryClient;

beforeAll(async () => {
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'limits-'));
  client = isolatedClient();
});
afterAll(async () => {
  await client.close();
});

/** Runs the built `lading` in `work`, optionally under another umask (through `sh -c 'umask …; exec …'`). */
async function lading(args: readonly string[], options: { umask?: string; extraEnv?: NodeJS.ProcessEnv } = {}) {
  const childEnv = { ...env, ...options.extraEnv };
  if (options.umask === undefined) {
    const result = await runLadingInProcess(args, { cwd: work, env: childEnv });
    return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr } satisfies LadingTextRun;
  }
  const script = `umask ${options.umask} && exec "$0" "$@"`;
  const result = await run('sh', ['-c', script, process.execPath, ladingBin, ...args], {
    cwd: work,
    env: childEnv,
    check: false,
  });
  return { code: result.code, stdout: result.stdout, stderr: result.stderr } satisfies LadingTextRun;
}

/**
 * A destination holding one file, in a folder of its own; `unchanged()` asserts the destination and its parent are
 * exactly as before (no partial file, no `.dest.lading-staging-…` folder).
 */
async function destination(): Promise<{ dir: string; unchanged: () => Promise<void> }> {
  const base = await mkdtemp(path.join(work, 'case-'));
  const dir = path.join(base, 'dest');
  await mkdir(dir);
  await writeFile(path.join(dir, 'keep.txt'), 'precious');
  const before = { dest: await snapshot(dir), base: (await readdir(base)).sort() };
  return {
    dir,
    unchanged: async () => {
      expect(await snapshot(dir)).toEqual(before.dest);
      expect((await readdir(base)).sort()).toEqual(before.base);
    },
  };
}

/** Expects a refused run: `code`, one `Error:` line matching `message`, and no raw escape sequence on the terminal. */
function expectRefused(result: LadingTextRun, code: number, message: RegExp): void {
  expect(result.stderr).toMatch(/^Error: /m);
  expect(result.stderr).toMatch(message);
  expect(result.code, result.stderr).toBe(code);
  expect(result.stderr + result.stdout).not.toContain(ESC);
}

interface Entry {
  name: string;
  type?: 'file' | 'directory' | 'symlink';
  content?: Buffer;
  linkname?: string;
  mode?: number;
}

/** A tar built entry by entry with tar-stream, which writes what it is told, hostile or not. */
async function makeTar(entries: readonly Entry[], end = true): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const header = {
      name: e.name,
      type: e.type ?? 'file',
      mode: e.mode ?? 0o644,
      mtime: new Date(0),
      ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
    };
    await new Promise<void>((resolve, reject) => {
      const cb = (error?: Error | null): void => {
        if (error) reject(error);
        else resolve();
      };
      if (header.type === 'file') pack.entry(header, e.content ?? Buffer.alloc(0), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  const bytes = Buffer.concat(chunks);
  // Without the end-of-archive blocks: one gzip member per entry, as lading writes its layers.
  return end ? bytes : bytes.subarray(0, bytes.length - 1024);
}

/** A layer to push: its bytes, media type and title; `unpack` marks an ORAS folder layer (a tar). */
interface LayerSpec {
  bytes: Buffer;
  mediaType: string;
  title: string;
  unpack?: boolean;
}

/** Pushes a manifest of `layers` (and a table of contents when given) to distribution as `<repo>:v1`. */
async function pushArtifact(layers: readonly LayerSpec[], toc?: TOCEntry[]): Promise<string> {
  const name = unique('crafted');
  const repo = client.repository(`${host()}/${name}`);
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    const annotations: Record<string, string> = { 'org.opencontainers.image.title': layer.title };
    if (layer.unpack) annotations['io.deis.oras.content.unpack'] = 'true';
    const desc = { ...descriptorFor(layer.mediaType, layer.bytes), annotations };
    await repo.push(desc, layer.bytes);
    descriptors.push(desc);
  }
  const configBytes = toc ? serializeTOC({ entries: toc }) : Buffer.from('{}');
  const config = descriptorFor(
    toc ? 'application/vnd.lading.toc.v1+json' : 'application/vnd.oci.empty.v1+json',
    configBytes,
  );
  await repo.push(config, configBytes);
  const manifest = packManifest({ artifactType: 'application/vnd.lading.artifact.v1', config, layers: descriptors });
  await repo.pushManifest(manifest.descriptor, manifest.bytes, ['v1']);
  return `${host()}/${name}:v1`;
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

describe('the limits bound the whole pull, not each layer', () => {
  it('counts file layers: three 1 MiB files pushed by oras, --max-total-size 1MiB --max-files 1, refused before download', async () => {
    const src = await mkdtemp(path.join(work, 'oras-files-'));
    for (const name of ['a.bin', 'b.bin', 'c.bin']) await writeFile(path.join(src, name), randomBytes(MiB));
    const ref = `${host()}/${unique('oras-files')}:v1`;
    await run('oras', ['push', '--plain-http', ref, 'a.bin', 'b.bin', 'c.bin'], { env, cwd: src });

    const byCount = await destination();
    const counted = await lading(['pull', '--max-total-size', '1MiB', '--max-files', '1', ref, byCount.dir]);
    expectRefused(counted, 6, /: 3 entries is more than the 1 allowed \(raise the limit to pull it\)/);
    await byCount.unchanged();

    const bySize = await destination();
    const sized = await lading(['pull', '--max-total-size', '2MiB', ref, bySize.dir]);
    expectRefused(sized, 6, /: 3145728 bytes is more than the 2097152 allowed/);
    await bySize.unchanged();
    // Refused from the manifest's sizes: not one layer was downloaded.
    expect(counted.stderr + sized.stderr).not.toMatch(/Downloaded/);

    const fine = await destination();
    const pulled = await lading(['pull', '--max-total-size', '3MiB', '--max-files', '3', ref, fine.dir]);
    expect(pulled.stderr).not.toMatch(/^Error/m);
    expect(pulled.code).toBe(0);
  });

  it.each([
    [
      '--max-total-size 1MiB',
      ['--max-total-size', '1MiB'],
      /"b\/y": would take the content written past the 1048576-byte total limit/,
    ],
    ['--max-files 3', ['--max-files', '3'], /"b\/y": is beyond the limit of 3 entries/],
  ])(
    'counts all folder layers together: two oras folders of 600 KiB and 2 entries each, %s',
    async (_what, flags, message) => {
      const src = await mkdtemp(path.join(work, 'oras-folders-'));
      await mkdir(path.join(src, 'a'));
      await mkdir(path.join(src, 'b'));
      await writeFile(path.join(src, 'a/x'), randomBytes(600 * 1024));
      await writeFile(path.join(src, 'b/y'), randomBytes(600 * 1024));
      const ref = `${host()}/${unique('oras-folders')}:v1`;
      await run('oras', ['push', '--plain-http', ref, 'a', 'b'], { env, cwd: src });
      // One layer at a time, so the second layer is the one that goes over.
      const dest = await destination();
      const result = await lading(['pull', '--concurrency', '1', ...flags, ref, dest.dir]);
      expectRefused(result, 6, message);
      await dest.unchanged();
    },
  );

  it('counts the folder and file layers of a lading artifact together, checked from the table of contents first', async () => {
    const src = await mkdtemp(path.join(work, 'lading-src-'));
    await mkdir(path.join(src, 'conf'));
    await writeFile(path.join(src, 'conf/a.txt'), randomBytes(700 * 1024));
    await writeFile(path.join(src, 'notes.bin'), randomBytes(700 * 1024));
    const ref = `${host()}/${unique('lading')}:v1`;
    const pushed = await lading(['push', ref, path.join(src, 'conf'), path.join(src, 'notes.bin')]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const dest = await destination();
    const result = await lading(['pull', '--max-total-size', '1MiB', ref, dest.dir]);
    expectRefused(result, 6, /: 1433600 bytes is more than the 1048576 allowed/);
    expect(result.stderr).not.toMatch(/Downloaded/);
    await dest.unchanged();
  });
});

describe('table-of-contents sizes are enforced while writing', () => {
  /** A folder layer whose one gzip member holds `cfg/app.txt` of 60 MiB, and a TOC saying it has 6 bytes. */
  async function inflatingArtifact(): Promise<string> {
    const dirMember = gzipSync(await makeTar([{ name: 'cfg', type: 'directory', mode: 0o755 }], false));
    const fileMember = gzipSync(await makeTar([{ name: 'cfg/app.txt', content: Buffer.alloc(60 * MiB, 0x61) }]));
    expect(fileMember.length).toBeLessThan(MiB);
    const layer = Buffer.concat([dirMember, fileMember]);
    return pushArtifact(
      [{ bytes: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'cfg', unpack: true }],
      [
        { path: 'cfg', type: 'dir', mode: 0o755, layer: 0, offset: 0, length: dirMember.length },
        {
          path: 'cfg/app.txt',
          type: 'file',
          mode: 0o644,
          size: 6,
          sha256: sha256('hello\n'),
          layer: 0,
          offset: dirMember.length,
          length: fileMember.length,
        },
      ],
    );
  }

  it('cat stops at the header of a member inflating to 60 MiB when the TOC says 6 bytes: nothing spooled', async () => {
    const ref = await inflatingArtifact();
    const tmp = await mkdtemp(path.join(work, 'tmp-'));
    const result = await lading(['cat', ref, 'cfg/app.txt'], { extraEnv: { TMPDIR: tmp } });
    expectRefused(
      result,
      6,
      /cat .* cfg\/app\.txt: the layer's header gives cfg\/app\.txt 62914560 bytes, the table of contents says 6/,
    );
    expect(result.stdout).toBe('');
    expect(await readdir(tmp)).toEqual([]);
  });

  it('pull stops at the same header: nothing staged, the destination unchanged', async () => {
    const ref = await inflatingArtifact();
    const dest = await destination();
    const result = await lading(['pull', ref, dest.dir]);
    expectRefused(result, 6, /"cfg\/app\.txt": declares 62914560 bytes, the table of contents says 6/);
    await dest.unchanged();
  });

  it('a file layer larger than its TOC size is refused by pull and cat before it is downloaded', async () => {
    const big = randomBytes(MiB);
    const ref = await pushArtifact(
      [{ bytes: big, mediaType: 'application/octet-stream', title: 'app.txt' }],
      [
        {
          path: 'app.txt',
          type: 'file',
          mode: 0o644,
          size: 6,
          sha256: sha256('hello\n'),
          layer: 0,
          offset: 0,
          length: big.length,
        },
      ],
    );
    const dest = await destination();
    const pulled = await lading(['pull', ref, dest.dir]);
    expectRefused(pulled, 6, /app\.txt has 6 bytes in the table of contents, but its layer 0 has 1048576/);
    expect(pulled.stderr).not.toMatch(/Downloaded/);
    await dest.unchanged();
    const cat = await lading(['cat', ref, 'app.txt']);
    expectRefused(cat, 6, /the table of contents says 6 bytes, its layer 0 has 1048576/);
  });
});

describe('extracted modes get the umask', () => {
  it('a folder 0777 and a file 04777 from a tar land as drwxr-x--- and -rwxr-x--- under umask 027', async () => {
    const layer = gzipSync(
      await makeTar([
        { name: 'open', type: 'directory', mode: 0o777 },
        { name: 'open/tool', content: Buffer.from('#!/bin/sh\n'), mode: 0o4777 },
      ]),
    );
    const ref = await pushArtifact([
      { bytes: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'open', unpack: true },
    ]);
    const dest = path.join(await mkdtemp(path.join(work, 'modes-')), 'out');
    const result = await lading(['pull', ref, dest], { umask: '027' });
    expect(result.stderr).not.toMatch(/^Error/m);
    expect(result.code).toBe(0);
    expect((await snapshot(dest)).map((e) => [e.path, e.type, e.mode.toString(8)])).toEqual([
      ['open', 'dir', '750'],
      ['open/tool', 'file', '750'],
    ]);
  });

  it('a lading artifact with 0777 modes passes its table-of-contents check and lands with the umask (022)', async () => {
    const src = await mkdtemp(path.join(work, 'modes-src-'));
    await mkdir(path.join(src, 'shared'), { mode: 0o777 });
    await writeFile(path.join(src, 'shared/run.sh'), '#!/bin/sh\n', { mode: 0o777 });
    await run('chmod', ['0777', path.join(src, 'shared'), path.join(src, 'shared/run.sh')]);
    const ref = `${host()}/${unique('modes')}:v1`;
    const pushed = await lading(['push', ref, path.join(src, 'shared')]);
    expect(pushed.code, pushed.stderr).toBe(0);
    const listed = await lading(['ls', '-l', ref]);
    expect(listed.stdout).toContain('-rwxrwxrwx');
    const dest = path.join(await mkdtemp(path.join(work, 'modes-')), 'out');
    const result = await lading(['pull', ref, dest], { umask: '022' });
    expect(result.code, result.stderr).toBe(0);
    expect((await snapshot(dest)).map((e) => [e.path, e.mode.toString(8)])).toEqual([
      ['shared', '755'],
      ['shared/run.sh', '755'],
    ]);
  });
});

describe('names from the registry cannot drive the terminal', () => {
  const clear = `clear${ESC}[2J`;
  const title = `${ESC}]0;pwned\u0007`;

  it('ls shows a file-layer title holding ESC [2J escaped; pull refuses it', async () => {
    const ref = await pushArtifact([
      { bytes: Buffer.from('x'), mediaType: 'application/octet-stream', title: clear },
      { bytes: Buffer.from('y'), mediaType: 'application/octet-stream', title: `bidi\u202etxt.exe` },
    ]);
    const listed = await lading(['ls', '-l', ref]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toContain(ESC);
    expect(listed.stdout).toContain('clear\\x1b[2J');
    expect(listed.stdout).toContain('bidi\\u202etxt.exe');
    expect(listed.stdout).not.toContain('\u202e');
    const json = await lading(['ls', '--json', ref]);
    expect((JSON.parse(json.stdout) as { entries: { path: string }[] }).entries[0]?.path).toBe(clear);

    const dest = await destination();
    const pulled = await lading(['pull', ref, dest.dir]);
    expectRefused(pulled, 6, /title: path "clear\\u001b\[2J" contains a backslash or a control character/);
    await dest.unchanged();
  });

  it('a C1 control (one-byte CSI) in a title is refused by pull and escaped in the error message', async () => {
    const ref = await pushArtifact([
      { bytes: Buffer.from('x'), mediaType: 'application/octet-stream', title: 'x\u009b2J' },
    ]);
    const dest = await destination();
    const pulled = await lading(['pull', ref, dest.dir]);
    expectRefused(pulled, 6, /path "x\\x9b2J" contains a backslash or a control character/);
    expect(pulled.stderr).not.toContain('\u009b');
    await dest.unchanged();
  });

  it('pull refuses a symlink whose target holds an OSC title sequence (folder layer without a TOC)', async () => {
    const layer = gzipSync(
      await makeTar([
        { name: 'app', type: 'directory', mode: 0o755 },
        { name: 'app/l', type: 'symlink', linkname: title },
      ]),
    );
    const ref = await pushArtifact([
      { bytes: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'app', unpack: true },
    ]);
    const dest = await destination();
    const pulled = await lading(['pull', ref, dest.dir]);
    expectRefused(pulled, 6, /"app\/l": links to a target with a control character \("\\u001b\]0;pwned\\u0007"\)/);
    await dest.unchanged();
  });

  it('a table of contents listing such a link target is refused (ls and pull)', async () => {
    const layer = gzipSync(await makeTar([{ name: 'app', type: 'directory', mode: 0o755 }]));
    const ref = await pushArtifact(
      [{ bytes: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', title: 'app', unpack: true }],
      [
        { path: 'app', type: 'dir', mode: 0o755, layer: 0, offset: 0, length: layer.length },
        { path: 'app/l', type: 'symlink', mode: 0o777, target: title, layer: 0, offset: 0, length: layer.length },
      ],
    );
    const listed = await lading(['ls', '-l', ref]);
    expectRefused(listed, 6, /\(app\/l\) has a link target with a control character/);
    const dest = await destination();
    const pulled = await lading(['pull', ref, dest.dir]);
    expectRefused(pulled, 6, /\(app\/l\) has a link target with a control character/);
    await dest.unchanged();
  });

  it('discover escapes an artifact type and annotations holding escape sequences', async () => {
    const ref = await pushArtifact([{ bytes: Buffer.from('x'), mediaType: 'application/octet-stream', title: 'x' }]);
    const name = ref.slice(host().length + 1, -':v1'.length);
    const repo = client.repository(`${host()}/${name}`);
    const subject = await repo.resolve('v1');
    // A referrer whose artifact type and annotations carry escape sequences; pushing it adds it to the subject's
    // fallback index (distribution has no referrers API), which is what discover lists.
    const fetched = await repo.fetchManifest('v1');
    const referrerBytes = Buffer.from(
      JSON.stringify({
        ...(JSON.parse(Buffer.from(fetched.bytes).toString()) as object),
        artifactType: `application/x${ESC}[2J`,
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
        annotations: { 'org.opencontainers.image.created': `2026${title}` },
      }),
    );
    await repo.pushManifest(descriptorFor('application/vnd.oci.image.manifest.v1+json', referrerBytes), referrerBytes);
    const result = await lading(['discover', ref]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(ESC);
    expect(result.stdout).toContain(`application/x\\x1b[2J  2026\\x1b]0;pwned\\x07`);
  });
});
