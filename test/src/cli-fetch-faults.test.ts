// Faults around fetching and writing: a registry serving blobs of another size than the manifest says, and
// destinations the operating system refuses (no permission, not a folder, disk full). The `lading` binary runs as
// a child process against the fake registry; each case checks the exit code, the one error message, that the
// destination is as it was and that no staging folder is left beside or inside it.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON, PushCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { collectLading, json, startLading, type LadingRun } from './cli-runner.js';
import { type FakeRegistry, startFakeRegistry } from './fake-registry/index.js';
import { makeToolHome, testbed } from './testbed/index.js';

let env: NodeJS.ProcessEnv;
let work: string;
let registry: FakeRegistry;
let ref: string;
const repo = 'fetch/faults';

const appYAML = 'name: app\nport: 8080\n';
const notes = 'release notes\n';

/** Runs `lading args…` to completion in the work folder. */
function lading(args: readonly string[]): Promise<LadingRun> {
  return collectLading(startLading(args, { cwd: work, env }));
}

interface ManifestJSON {
  config: { digest: string; size: number; mediaType: string };
  layers: { digest: string; size: number; mediaType: string; annotations?: Record<string, string> }[];
}

/**
 * Tags a copy of the pushed manifest in which `change` altered the descriptors (sizes): the registry then serves
 * blobs whose length differs from what the manifest says. Returns the new reference.
 */
function tamperedManifest(tag: string, change: (manifest: ManifestJSON) => void): string {
  const stored = registry.getManifest(repo, 'v1');
  if (!stored) throw new Error('the pushed manifest is missing');
  const manifest = JSON.parse(Buffer.from(stored.bytes).toString('utf8')) as ManifestJSON;
  change(manifest);
  registry.putManifest(repo, manifest, { tag, mediaType: stored.mediaType });
  return `${registry.host}/${repo}:${tag}`;
}

function layerTitled(manifest: ManifestJSON, title: string): ManifestJSON['layers'][number] {
  const layer = manifest.layers.find((l) => l.annotations?.['org.opencontainers.image.title'] === title);
  if (!layer) throw new Error(`no layer titled ${title}`);
  return layer;
}

/** A new folder `<work>/<name>-XXXXXX` holding `parent/dest/keep.txt`; returns both paths. */
async function destination(name: string): Promise<{ parent: string; dest: string }> {
  const parent = await mkdtemp(path.join(work, `${name}-`));
  const dest = path.join(parent, 'dest');
  await mkdir(dest);
  await writeFile(path.join(dest, 'keep.txt'), 'already here\n');
  return { parent, dest };
}

/** The destination holds only keep.txt and its parent only the destination: nothing written, no staging left. */
async function expectUntouched(parent: string, dest: string): Promise<void> {
  expect(await readdir(parent)).toEqual(['dest']);
  expect(await readdir(dest)).toEqual(['keep.txt']);
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'fetch-faults-'));
  await mkdir(path.join(work, 'config'));
  await writeFile(path.join(work, 'config/app.yaml'), appYAML);
  await writeFile(path.join(work, 'config/data.bin'), randomBytes(64 * 1024));
  await writeFile(path.join(work, 'notes.txt'), notes);
  registry = await startFakeRegistry();
  ref = `${registry.host}/${repo}:v1`;
  const pushed = await lading(['push', '--json', ref, 'config', 'notes.txt']);
  expect(pushed.code, pushed.stderr).toBe(0);
  expect(json<PushCommandResult>(pushed).layers).toHaveLength(2);
});

afterAll(async () => {
  await registry.close();
});

describe('a blob whose size differs from the manifest', () => {
  it('pull of a folder layer one byte longer than served: exit 6, one error, nothing written, no staging left', async () => {
    const tampered = tamperedManifest('folder-size', (m) => {
      layerTitled(m, 'config').size += 1;
    });
    const { parent, dest } = await destination('folder-size');
    const result = await lading(['pull', tampered, dest]);
    expect(result.stderr).toMatch(
      new RegExp(
        `^Error: fetch blob ${registry.host}/${repo}@sha256:[0-9a-f]{64}: size mismatch: expected \\d+ bytes, the registry announced \\d+$`,
        'm',
      ),
    );
    expect(result.stderr).toMatch(/\nHint: the artifact is corrupt or was tampered with: nothing was written\n$/);
    expect(result.stderr.match(/Error:/g)).toHaveLength(1);
    expect(result.code, result.stderr).toBe(6);
    expect(result.stdout.length).toBe(0);
    await expectUntouched(parent, dest);
  });

  it('pull --json of a file layer with a wrong size: exit 6 and exactly one error document', async () => {
    const tampered = tamperedManifest('file-size', (m) => {
      layerTitled(m, 'notes.txt').size += 1;
    });
    const { parent, dest } = await destination('file-size');
    const result = await lading(['pull', '--json', tampered, dest]);
    expect(result.code, result.stderr).toBe(6);
    const error = json<ErrorJSON>(result).error;
    expect(error.code).toBe('ERR_LADING_INTEGRITY');
    expect(error.exitCode).toBe(6);
    expect(error.message).toMatch(/size mismatch/);
    expect(result.stderr).toBe('');
    await expectUntouched(parent, dest);
  });

  it('a layer failing while another is still being written: exit 6 once every layer stopped, no staging left', async () => {
    const tampered = tamperedManifest('while-writing', (m) => {
      layerTitled(m, 'notes.txt').size += 1;
    });
    const stored = registry.getManifest(repo, 'v1');
    const config = (JSON.parse(Buffer.from(stored?.bytes ?? []).toString('utf8')) as ManifestJSON).layers[0];
    // The folder layer trickles in while the file layer fails at once.
    const rule = registry.inject({
      method: 'GET',
      path: `/v2/${repo}/blobs/${config?.digest ?? ''}`,
      action: { kind: 'slow', chunkBytes: 2048, delayMs: 20, maxTotalMs: 2000 },
    });
    try {
      const { parent, dest } = await destination('while-writing');
      const result = await lading(['pull', '--concurrency', '2', tampered, dest]);
      expect(result.stderr).toMatch(
        /^Error: fetch blob .*: size mismatch: expected \d+ bytes, the registry announced \d+$/m,
      );
      expect(result.stderr.match(/Error:/g)).toHaveLength(1);
      expect(result.code, result.stderr).toBe(6);
      await expectUntouched(parent, dest);
      expect(rule.fired).toBe(1);
    } finally {
      rule.remove();
    }
  });

  it('cat of a file layer with a wrong size: exit 6, one error; with --json one document', async () => {
    const tampered = tamperedManifest('cat-size', (m) => {
      layerTitled(m, 'notes.txt').size += 7;
    });
    const plain = await lading(['cat', tampered, 'notes.txt']);
    expect(plain.stderr).toMatch(
      /^Error: fetch blob .*: size mismatch: expected \d+ bytes, the registry announced \d+\n/,
    );
    expect(plain.stderr.match(/Error:/g)).toHaveLength(1);
    expect(plain.code, plain.stderr).toBe(6);
    expect(plain.stdout.length).toBe(0);
    const withJSON = await lading(['cat', '--json', tampered, 'notes.txt']);
    expect(withJSON.code, withJSON.stderr).toBe(6);
    expect(json<ErrorJSON>(withJSON).error.exitCode).toBe(6);
    expect(withJSON.stderr).toBe('');
  });
});
