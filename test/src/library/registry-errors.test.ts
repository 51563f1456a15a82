// Registry failures keep the HTTP status and the registry's error codes as fields (issue 11), in the library and in
// the CLI's --json error document: against distribution and the fake registry with fault injection.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON } from '@lading/cli';
import { ErrorCodes, LadingError, type RegistryClient } from '@lading/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { json, ladingIn } from '../cli-runner.js';
import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { isolatedClient, pushSmallArtifact } from '../registry/helpers.js';
import { makeToolHome, testbed, type TestBed } from '../testbed/index.js';

const bed: TestBed = testbed();
const unique = (): string => randomBytes(4).toString('hex');
let fake: FakeRegistry;
let client: RegistryClient;
let env: NodeJS.ProcessEnv;
let work: string;
const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

beforeAll(async () => {
  fake = await startFakeRegistry();
  client = isolatedClient({ retry: { retries: 0, minDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 0 } });
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'registry-errors-'));
  await writeFile(path.join(work, 'app.yaml'), 'replicas: 3\n');
});
afterAll(async () => {
  await client.close();
  await fake.close();
});

async function failure(promise: Promise<unknown>): Promise<LadingError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LadingError);
  return error as LadingError;
}

describe('registry errors as fields, from the library', () => {
  it('distribution: a missing tag is 404 with MANIFEST_UNKNOWN', async () => {
    const ref = `${bed.registries.anonymous.host}/errors/e-${unique()}`;
    await pushSmallArtifact(client, ref, 'v1');
    const repo = client.repository(ref);
    const error = await failure(repo.fetchManifest('nope'));
    expect(error.code).toBe(ErrorCodes.notFound);
    expect(error.status).toBe(404);
    expect(error.registryErrors?.map((e) => e.code)).toEqual(['MANIFEST_UNKNOWN']);
    expect(error.message).toMatch(/: not found$/);
  });

  it('distribution: listing the tags of a missing repository is 404 with NAME_UNKNOWN', async () => {
    const repo = client.repository(`${bed.registries.anonymous.host}/errors/missing-${unique()}`);
    const error = await failure(repo.tags());
    expect(error.code).toBe(ErrorCodes.notFound);
    expect(error.status).toBe(404);
    expect(error.registryErrors?.[0]).toMatchObject({ code: 'NAME_UNKNOWN', message: expect.any(String) as unknown });
  });

  it('fake registry: an injected 403 keeps the status and DENIED, and the message still says it', async () => {
    const name = `errors/denied-${unique()}`;
    const repo = client.repository(`${fake.host}/${name}`);
    const { manifest: desc } = await pushSmallArtifact(client, `${fake.host}/${name}`, 'v1');
    const rule = fake.inject({
      method: 'GET',
      path: `/v2/${name}/manifests/${desc.digest}`,
      action: { kind: 'status', status: 403 },
    });
    try {
      const error = await failure(repo.fetchManifest(desc.digest));
      expect(error.code).toBe(ErrorCodes.auth);
      expect(error.status).toBe(403);
      expect(error.registryErrors?.map((e) => e.code)).toEqual(['DENIED']);
      expect(error.message).toContain('HTTP 403: DENIED');
    } finally {
      rule.remove();
    }
  });

  it('fake registry: a 429 and a 503 after retries keep their status and codes', async () => {
    const name = `errors/busy-${unique()}`;
    const repo = client.repository(`${fake.host}/${name}`);
    const { manifest: desc } = await pushSmallArtifact(client, `${fake.host}/${name}`, 'v1');
    for (const [status, code] of [
      [429, 'TOOMANYREQUESTS'],
      [503, 'UNAVAILABLE'],
    ] as const) {
      const rule = fake.inject({ method: 'GET', path: `/v2/${name}/tags/list`, action: { kind: 'status', status } });
      try {
        const error = await failure(repo.tags());
        expect(error.code).toBe(ErrorCodes.network);
        expect(error.status).toBe(status);
        expect(error.registryErrors?.map((e) => e.code)).toEqual([code]);
      } finally {
        rule.remove();
      }
    }
    expect(desc.digest).toMatch(/^sha256:/);
  });

  it('fake registry: a non-registry error page keeps the status and has no registry errors', async () => {
    const name = `errors/portal-${unique()}`;
    const repo = client.repository(`${fake.host}/${name}`);
    const rule = fake.inject({
      method: 'GET',
      path: `/v2/${name}/tags/list`,
      action: { kind: 'garbage', status: 400, contentType: 'text/html', body: '<html>login</html>' },
    });
    try {
      const error = await failure(repo.tags());
      expect(error.status).toBe(400);
      expect(error.registryErrors).toBeUndefined();
    } finally {
      rule.remove();
    }
  });

  it('errors that are not HTTP answers carry no status', async () => {
    const error = await failure(client.repository(`${fake.host}/errors/x`).fetchManifest('sha256:zz'));
    expect(error.status).toBeUndefined();
    expect(error.registryErrors).toBeUndefined();
  });
});

describe('registry errors in the --json error document of the CLI', () => {
  it('ls of a missing tag on distribution: status 404, no registry errors (a HEAD answer has no body)', async () => {
    const ref = `${bed.registries.anonymous.host}/errors/cli-${unique()}`;
    const pushed = await lading(['push', `${ref}:v1`, 'app.yaml']);
    expect(pushed.code, pushed.stderr).toBe(0);
    const result = await lading(['ls', '--json', `${ref}:nope`]);
    expect(result.code).toBe(3);
    const { error } = json<ErrorJSON>(result);
    expect(error).toMatchObject({ code: ErrorCodes.notFound, exitCode: 3, status: 404 });
    expect(error).not.toHaveProperty('registryErrors');
  });

  it('push refused with 403 by the fake registry: status 403 and DENIED', async () => {
    const name = `errors/cli-denied-${unique()}`;
    const rule = fake.inject({
      method: 'POST',
      path: `/v2/${name}/blobs/uploads/`,
      action: { kind: 'status', status: 403 },
    });
    try {
      const result = await lading(['push', '--json', `${fake.host}/${name}:v1`, 'app.yaml']);
      expect(result.code).toBe(4);
      const { error } = json<ErrorJSON>(result);
      expect(error).toMatchObject({ code: ErrorCodes.auth, status: 403 });
      expect(error.registryErrors?.map((e) => e.code)).toEqual(['DENIED']);
    } finally {
      rule.remove();
    }
  });

  it('an error that is not an HTTP answer has neither field', async () => {
    const result = await lading(['ls', '--json', `${fake.host}/errors/x@sha256:zz`]);
    const { error } = json<ErrorJSON>(result);
    expect(error.code).toBe(ErrorCodes.invalidReference);
    expect(error).not.toHaveProperty('status');
    expect(error).not.toHaveProperty('registryErrors');
  });
});
