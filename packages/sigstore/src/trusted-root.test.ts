import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isLadingError, type LadingError } from '@lading/core';
import { fetchTrustedRoot } from './trusted-root.js';

// The TUF happy path, TUF-check failures and network failures run against a signed loopback repository in
// test/src/sigstore/tuf.test.ts; here, what fails before TUF gets going: arguments and files.

let dir: string;
let rootPath: string;
/** A server answering 404 to every request, and the paths it was asked. */
let server: { url: string; paths: string[]; close: () => Promise<void> };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lading-trusted-root-'));
  // Not a valid root, but JSON: the pre-check passes and the TUF client is what refuses it (or never gets there).
  rootPath = path.join(dir, 'root.json');
  await writeFile(rootPath, '{"signed": {}, "signatures": []}');
  server = await startServer();
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function startServer(): Promise<typeof server> {
  const paths: string[] = [];
  const http: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not here');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => {
          resolve();
        });
        http.closeAllConnections();
      }),
  };
}

async function refusal(promise: Promise<unknown>): Promise<LadingError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLadingError(error)) throw new Error(`expected a LadingError, got ${String(error)}`);
  return error;
}

describe('fetchTrustedRoot', () => {
  it.each([
    ['not a url', /tuf not a url: not a URL/],
    ['ftp://mirror.example/', /tuf ftp:\/\/mirror\.example\/: scheme ftp: is not http: or https:/],
    ['https://mirror.example/?x=1', /no query or fragment/],
  ])('refuses the mirror URL %j (ERR_LADING_USAGE)', async (mirrorURL, message) => {
    const cachePath = await mkdtemp(path.join(dir, 'cache-'));
    const error = await refusal(fetchTrustedRoot({ mirrorURL, rootPath, cachePath }));
    expect(error.code).toBe(ErrorCodes.usage);
    expect(error.message).toMatch(message);
    expect(await readdir(cachePath)).toEqual([]);
  });

  it('refuses a missing or non-JSON initial root before contacting the mirror (ERR_LADING_USAGE)', async () => {
    const before = server.paths.length;
    const missing = path.join(dir, 'missing.json');
    const notFound = await refusal(fetchTrustedRoot({ mirrorURL: server.url, rootPath: missing, cachePath: dir }));
    expect(notFound.code).toBe(ErrorCodes.usage);
    expect(notFound.message).toMatch(
      new RegExp(`^load trusted root tuf ${server.url}: initial root ${missing}: ENOENT`),
    );
    const garbage = path.join(dir, 'garbage.json');
    await writeFile(garbage, 'not json');
    const notJSON = await refusal(fetchTrustedRoot({ mirrorURL: server.url, rootPath: garbage, cachePath: dir }));
    expect(notJSON.code).toBe(ErrorCodes.usage);
    expect(notJSON.message).toContain(`initial root ${garbage}: not JSON: `);
    expect(server.paths.length).toBe(before);
  });

  it('needs an initial root for a mirror it has no root of (ERR_LADING_USAGE)', async () => {
    const cachePath = await mkdtemp(path.join(dir, 'cache-'));
    const error = await refusal(fetchTrustedRoot({ mirrorURL: server.url, cachePath }));
    expect(error.code).toBe(ErrorCodes.usage);
    expect(error.message).toMatch(/No root\.json found for mirror.*; give the mirror's initial root\.json/);
  });

  it('refuses an initial root that is not signed TUF root metadata (ERR_LADING_VERIFICATION)', async () => {
    const before = server.paths.length;
    const cachePath = await mkdtemp(path.join(dir, 'cache-'));
    const error = await refusal(fetchTrustedRoot({ mirrorURL: server.url, rootPath, cachePath }));
    expect(error.code).toBe(ErrorCodes.verification);
    expect(error.message).toMatch(new RegExp(`^load trusted root tuf ${server.url}: .*nothing from it is trusted`));
    expect(server.paths.length).toBe(before);
  });
});
