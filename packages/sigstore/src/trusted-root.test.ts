import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isLadingError, type LadingError } from '@lading/core';
import {
  HashAlgorithm,
  PublicKeyDetails,
  type TimeRange,
  type TransparencyLogInstance,
  type TrustedRoot,
} from '@sigstore/protobuf-specs';
import { checkTrustedRoot, emptyTrustedRoot, fetchTrustedRoot } from './trusted-root.js';

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

describe('checkTrustedRoot', () => {
  const start = new Date('2024-01-01T00:00:00Z');
  const log = (validFor: TimeRange | undefined, keyId = Buffer.from('id')): TransparencyLogInstance => ({
    baseUrl: 'https://log.example',
    hashAlgorithm: HashAlgorithm.SHA2_256,
    publicKey: { rawBytes: Buffer.from('key'), keyDetails: PublicKeyDetails.PKIX_ECDSA_P256_SHA_256, validFor },
    logId: { keyId },
    checkpointKeyId: undefined,
    operator: '',
  });
  const root = (parts: Partial<TrustedRoot>): TrustedRoot => ({ ...emptyTrustedRoot(), ...parts });
  const problem = (r: TrustedRoot): string => {
    try {
      checkTrustedRoot(r, 'test');
    } catch (e) {
      expect(isLadingError(e, ErrorCodes.usage)).toBe(true);
      return (e as Error).message;
    }
    return 'accepted';
  };

  it('accepts dated logs, with or without an end, and the empty root', () => {
    expect(problem(root({ tlogs: [log({ start })], ctlogs: [log({ start, end: start })] }))).toBe('accepted');
    expect(problem(emptyTrustedRoot())).toBe('accepted');
  });

  it('refuses a log key without a start, ending before its start, without bytes or without a log ID', () => {
    expect(problem(root({ tlogs: [log(undefined)] }))).toMatch(
      /^load trusted root test: tlogs\[0\] \(https:\/\/log\.example\) public key has no validFor\.start; /,
    );
    expect(problem(root({ ctlogs: [log({ start, end: new Date(start.getTime() - 1000) })] }))).toContain(
      'ctlogs[0] (https://log.example) public key has validFor.end 2023-12-31T23:59:59.000Z before its start',
    );
    const keyless = { ...log({ start }), publicKey: undefined };
    expect(problem(root({ tlogs: [keyless] }))).toContain('tlogs[0] (https://log.example) has no public key');
    expect(problem(root({ tlogs: [log({ start }, Buffer.alloc(0))] }))).toContain('has no log ID');
  });

  it('refuses an authority without a certificate chain', () => {
    const ca = {
      subject: undefined,
      uri: 'https://ca.example',
      certChain: { certificates: [] },
      validFor: { start },
      operator: '',
    };
    expect(problem(root({ timestampAuthorities: [ca] }))).toContain(
      'timestampAuthorities[0] (https://ca.example) has no certificate chain',
    );
  });
});
