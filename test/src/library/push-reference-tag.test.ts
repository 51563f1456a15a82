// openTarget + pushArtifact: the tag written in the reference is pushed, a digest in it is refused (issue 11).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { ErrorCodes, openTarget, pushArtifact, type RegistryClient } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isolatedClient } from '../registry/helpers.js';
import { testbed, type TestBed } from '../testbed/index.js';

const bed: TestBed = testbed();
const unique = (): string => randomBytes(4).toString('hex');
let work: string;
let client: RegistryClient;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lading-reftag-'));
  await writeFile(path.join(work, 'app.yaml'), 'replicas: 3\n');
  client = isolatedClient();
});
afterAll(async () => {
  await client.close();
  await rm(work, { recursive: true, force: true });
});

describe('pushArtifact given what openTarget returned', () => {
  it('pushes the tag written in the reference to distribution', async () => {
    const repo = `${bed.registries.anonymous.host}/library/app-${unique()}`;
    const opened = await openTarget(`${repo}:v9`, { client });
    const pushed = await pushArtifact(opened, [{ path: 'app.yaml' }], { cwd: work });
    expect(pushed.tags).toEqual(['v9']);
    // The registry itself (a fresh client) resolves the tag to the pushed manifest.
    const check = isolatedClient();
    try {
      const resolved = await check.repository(repo).resolve('v9');
      expect(resolved.digest).toBe(pushed.descriptor.digest);
      expect(await check.repository(repo).tags()).toEqual(['v9']);
    } finally {
      await check.close();
    }
  });

  it('pushes the reference tag before the tags of the options, each once', async () => {
    const repo = `${bed.registries.anonymous.host}/library/app-${unique()}`;
    const opened = await openTarget(`${repo}:v9`, { client });
    const pushed = await pushArtifact(opened, [{ path: 'app.yaml' }], { cwd: work, tags: ['latest', 'v9'] });
    expect(pushed.tags).toEqual(['v9', 'latest']);
    expect((await client.repository(repo).tags()).sort()).toEqual(['latest', 'v9']);
  });

  it('pushes the tag written in an OCI layout reference', async () => {
    const dir = path.join(work, `layout-${unique()}`);
    const opened = await openTarget(`oci:${dir}:v9`, { client, create: true });
    const pushed = await pushArtifact(opened, [{ path: 'app.yaml' }], { cwd: work });
    expect(pushed.tags).toEqual(['v9']);
    expect((await opened.target.resolve('v9')).digest).toBe(pushed.descriptor.digest);
  });

  it('refuses a reference naming a digest before pushing anything', async () => {
    const repo = `${bed.registries.anonymous.host}/library/app-${unique()}`;
    const digest = `sha256:${'0'.repeat(64)}`;
    const opened = await openTarget(`${repo}@${digest}`, { client });
    const error: unknown = await pushArtifact(opened, [{ path: 'app.yaml' }], { cwd: work }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCodes.usage,
      message: expect.stringMatching(/^push .*@sha256:0+: a push cannot target a digest .*name a tag/) as unknown,
    });
    // Nothing reached the registry: the repository does not exist.
    await expect(client.repository(repo).tags()).rejects.toMatchObject({ code: ErrorCodes.notFound });
  });

  it('with a bare Target pushes only the tags of the options', async () => {
    const repo = `${bed.registries.anonymous.host}/library/app-${unique()}`;
    const { target } = await openTarget(`${repo}:v9`, { client });
    const pushed = await pushArtifact(target, [{ path: 'app.yaml' }], { cwd: work, tags: ['v1'] });
    expect(pushed.tags).toEqual(['v1']);
  });
});
