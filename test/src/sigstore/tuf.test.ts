// The TUF path for the trusted root, offline: `fetchTrustedRoot` of @lading/sigstore (through @sigstore/tuf and
// tuf-js) against a real TUF repository on a loopback server (../sigstore-harness/tuf.ts), then `lading verify
// --tuf-mirror --tuf-root` end to end against an artifact signed keylessly with the Sigstore harness.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import type { ErrorJSON, PushCommandResult, VerifyCommandResult } from '@lading/cli';
import { ErrorCodes, isLadingError, type LadingError } from '@lading/core';
import { fetchTrustedRoot } from '@lading/sigstore';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn } from '../cli-runner.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { startTUFRepository, TrustedRootTarget, type TUFRepository, type TUFRole } from '../sigstore-harness/tuf.js';
import { makeToolHome, testbed } from '../testbed/index.js';
import { ladingKeylessFlags } from './fixtures.js';

let harness: SigstoreHarness;
/** Holds one TUF cache folder per test, so no test reads another's metadata. */
let work: string;
const repositories: TUFRepository[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(testbed().dir, 'tuf-'));
  harness = await startSigstoreHarness();
});

afterAll(async () => {
  await Promise.all(repositories.map((r) => r.close()));
  await harness.close();
});

async function repository(options: Parameters<typeof startTUFRepository>[0]): Promise<TUFRepository> {
  const repo = await startTUFRepository(options);
  repositories.push(repo);
  return repo;
}

async function freshCache(): Promise<string> {
  return mkdtemp(path.join(work, 'cache-'));
}

/** The folder @sigstore/tuf keeps a mirror's metadata in: the URL's host and path, URL-encoded. */
function mirrorCache(cache: string, url: string): string {
  return path.join(cache, encodeURIComponent(new URL(url).host));
}

/** The GET paths a repository answered, with their status. */
function served(repo: TUFRepository): string[] {
  return repo.requests.map((r) => `${r.status} ${r.path}`);
}

async function refusal(promise: Promise<unknown>): Promise<LadingError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isLadingError(error)) throw new Error(`expected a LadingError, got ${String(error)}`);
  return error;
}

describe('fetchTrustedRoot from a loopback TUF mirror', () => {
  it('walks root v1 → v2 and returns the harness trusted root, then reuses its cache', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot });
    const cache = await freshCache();
    const options = { mirrorURL: repo.url, rootPath: repo.initialRootPath, cachePath: cache };

    const root = await fetchTrustedRoot(options);
    expect(TrustedRoot.toJSON(root)).toEqual(TrustedRoot.toJSON(harness.trustedRoot));
    const target = `/targets/${createHashHex(repo.target)}.${TrustedRootTarget}`;
    expect(served(repo)).toEqual([
      '200 /2.root.json',
      '404 /3.root.json',
      '200 /timestamp.json',
      '200 /1.snapshot.json',
      '200 /1.targets.json',
      `200 ${target}`,
    ]);
    // The client persisted the rotated root (version 2), not the initial one it was given.
    const cached = JSON.parse(await readFile(path.join(mirrorCache(cache, repo.url), 'root.json'), 'utf8')) as {
      signed: { version: number };
    };
    expect(cached.signed.version).toBe(2);

    // Second call: the chain is walked again from the given root and the timestamp checked, but nothing else is
    // downloaded (snapshot, targets and the target are cached and still match).
    const before = repo.requests.length;
    const again = await fetchTrustedRoot(options);
    expect(TrustedRoot.toJSON(again)).toEqual(TrustedRoot.toJSON(harness.trustedRoot));
    expect(served(repo).slice(before)).toEqual(['200 /2.root.json', '404 /3.root.json', '200 /timestamp.json']);
  });

  it('works without a rotation (root v1 only) and with a trailing slash on the mirror URL', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot, rotateRoot: false });
    const root = await fetchTrustedRoot({
      mirrorURL: `${repo.url}/`,
      rootPath: repo.initialRootPath,
      cachePath: await freshCache(),
    });
    expect(TrustedRoot.toJSON(root)).toEqual(TrustedRoot.toJSON(harness.trustedRoot));
    expect(served(repo)[0]).toBe('404 /2.root.json');
  });

  it('refuses an expired timestamp (ERR_LADING_VERIFICATION), before fetching the target', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot, faults: { expiredTimestamp: true } });
    const error = await refusal(
      fetchTrustedRoot({ mirrorURL: repo.url, rootPath: repo.initialRootPath, cachePath: await freshCache() }),
    );
    expect(error.code).toBe(ErrorCodes.verification);
    expect(error.message).toContain(`load trusted root tuf ${repo.url}: `);
    expect(error.message).toMatch(/timestamp\.json is expired/);
    expect(error.message).toContain('--trusted-root');
    expect(served(repo).some((r) => r.includes('/targets/'))).toBe(false);
  });

  it('refuses a tampered target whose hash does not match targets.json (ERR_LADING_VERIFICATION)', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot, faults: { tamperedTarget: true } });
    const cache = await freshCache();
    const error = await refusal(
      fetchTrustedRoot({ mirrorURL: repo.url, rootPath: repo.initialRootPath, cachePath: cache }),
    );
    expect(error.code).toBe(ErrorCodes.verification);
    expect(error.message).toMatch(/error downloading target.*: .*hash/i);
    // Nothing of the tampered file was kept in the cache.
    expect(await readdir(path.join(mirrorCache(cache, repo.url), 'targets'))).toEqual([]);
  });

  it.each<TUFRole>(['root', 'timestamp', 'snapshot', 'targets'])(
    'refuses a bad signature on %s metadata (ERR_LADING_VERIFICATION)',
    async (role) => {
      const repo = await repository({ trustedRoot: harness.trustedRoot, faults: { badSignature: role } });
      const error = await refusal(
        fetchTrustedRoot({ mirrorURL: repo.url, rootPath: repo.initialRootPath, cachePath: await freshCache() }),
      );
      expect(error.code).toBe(ErrorCodes.verification);
      expect(error.message).toContain(`${role} was signed by 0/1 keys`);
      expect(served(repo).some((r) => r.includes('/targets/'))).toBe(false);
    },
  );

  it.each([
    ['JSON that is not a trusted root', '{"mediaType": "application/json"}', /has media type "application\/json"/],
    ['not JSON', 'not json at all', /JSON/],
  ])('refuses a validly signed target that is %s (ERR_LADING_VERIFICATION)', async (_, body, message) => {
    const repo = await repository({ trustedRoot: Buffer.from(body) });
    const error = await refusal(
      fetchTrustedRoot({ mirrorURL: repo.url, rootPath: repo.initialRootPath, cachePath: await freshCache() }),
    );
    expect(error.code).toBe(ErrorCodes.verification);
    expect(error.message).toMatch(message);
  });

  it("refuses a mirror whose root chain does not start at the given root (another repository's root)", async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot });
    const stranger = await repository({ trustedRoot: harness.trustedRoot });
    const error = await refusal(
      fetchTrustedRoot({ mirrorURL: repo.url, rootPath: stranger.initialRootPath, cachePath: await freshCache() }),
    );
    expect(error.code).toBe(ErrorCodes.verification);
    expect(served(repo)).toEqual(['200 /2.root.json']);
  });

  it('reports an unreachable mirror as ERR_LADING_NETWORK, saying to use --trusted-root offline', async () => {
    const repo = await startTUFRepository({ trustedRoot: harness.trustedRoot });
    const rootPath = path.join(work, `gone-${randomBytes(4).toString('hex')}.json`);
    await writeFile(rootPath, await readFile(repo.initialRootPath));
    await repo.close();
    const error = await refusal(fetchTrustedRoot({ mirrorURL: repo.url, rootPath, cachePath: await freshCache() }));
    expect(error.code).toBe(ErrorCodes.network);
    expect(error.message).toContain(`load trusted root tuf ${repo.url}: `);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).toContain('--trusted-root');
  });

  it('reports an HTTP error from the mirror as ERR_LADING_NETWORK, with the status', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot });
    const paths: string[] = [];
    const forbidding = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden');
    });
    await new Promise<void>((resolve) => forbidding.listen(0, '127.0.0.1', resolve));
    const mirrorURL = `http://127.0.0.1:${(forbidding.address() as AddressInfo).port}`;
    try {
      const error = await refusal(
        fetchTrustedRoot({ mirrorURL, rootPath: repo.initialRootPath, cachePath: await freshCache() }),
      );
      // 403 on 2.root.json means "no newer root" to a TUF client; the 403 on timestamp.json is the failure.
      expect(paths).toEqual(['/2.root.json', '/timestamp.json']);
      expect(error.code).toBe(ErrorCodes.network);
      expect(error.message).toContain(`load trusted root tuf ${mirrorURL}: `);
      expect(error.message).toContain('(HTTP 403)');
      expect(error.message).toContain('--trusted-root');
    } finally {
      forbidding.closeAllConnections();
      await new Promise<void>((resolve) => {
        forbidding.close(() => {
          resolve();
        });
      });
    }
  });

  it('needs an initial root for a mirror other than the public good (ERR_LADING_USAGE), and a readable one', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot });
    const noRoot = await refusal(fetchTrustedRoot({ mirrorURL: repo.url, cachePath: await freshCache() }));
    expect(noRoot.code).toBe(ErrorCodes.usage);
    expect(noRoot.message).toContain('--tuf-root');
    const missing = path.join(work, 'no-such-root.json');
    const unreadable = await refusal(
      fetchTrustedRoot({ mirrorURL: repo.url, rootPath: missing, cachePath: await freshCache() }),
    );
    expect(unreadable.code).toBe(ErrorCodes.usage);
    expect(unreadable.message).toContain(`initial root ${missing}: `);
    expect(repo.requests).toEqual([]);
  });
});

describe('lading verify --tuf-mirror --tuf-root', () => {
  const subject = 'alice@example.com';
  let env: NodeJS.ProcessEnv;
  let dataHome: string;
  let ref: string;
  let cli: string;

  const lading = ladingIn(() => ({ cwd: cli, env }), { inProcess: true });
  const keylessFlags = () => ['--verify-issuer', harness.oidcIssuer, '--verify-subject', subject];
  /** `lading verify --json` of the signed artifact with the trusted root from `repo`'s TUF mirror. */
  const verifyWithMirror = (repo: TUFRepository) =>
    lading(['verify', '--json', ...keylessFlags(), '--tuf-mirror', repo.url, '--tuf-root', repo.initialRootPath, ref]);

  beforeAll(async () => {
    cli = await mkdtemp(path.join(work, 'cli-'));
    ({ env } = await makeToolHome(cli));
    dataHome = env.XDG_DATA_HOME ?? '';
    await mkdir(path.join(cli, 'config'));
    await writeFile(path.join(cli, 'config/app.yaml'), 'name: app\n');
    const name = `${testbed().registries.anonymous.host}/tuf/keyless-${randomBytes(4).toString('hex')}`;
    const signing = ['--sign', ...ladingKeylessFlags(harness, harness.identityToken({ subject, email: subject }))];
    const pushed = await lading(['push', '--json', ...signing, `${name}:v1`, 'config']);
    expectOK(pushed);
    ref = `${name}@${json<PushCommandResult>(pushed).digest}`;
  });

  it('accepts the signature with the trusted root from the mirror (exit 0), cached under XDG_DATA_HOME', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot });
    const result = await verifyWithMirror(repo);
    expectOK(result);
    expect(json<VerifyCommandResult>(result).verified[0]).toMatchObject({
      identity: subject,
      issuer: harness.oidcIssuer,
    });
    expect(served(repo).some((r) => r.startsWith('200 /targets/'))).toBe(true);
    // @sigstore/tuf's default cache: $XDG_DATA_HOME/sigstore-js/<mirror>, inside the test's own home.
    const cached = path.join(mirrorCache(path.join(dataHome, 'sigstore-js'), repo.url), 'root.json');
    expect((JSON.parse(await readFile(cached, 'utf8')) as { signed: { version: number } }).signed.version).toBe(2);
  });

  it('refuses (exit 5) when the mirror serves a different trusted root', async () => {
    const other = await startSigstoreHarness();
    try {
      const repo = await repository({ trustedRoot: other.trustedRoot });
      expectVerificationRefused(await verifyWithMirror(repo));
      expect(served(repo).some((r) => r.startsWith('200 /targets/'))).toBe(true);
    } finally {
      await other.close();
    }
  });

  it('refuses (exit 5) when the mirror fails a TUF check (expired timestamp)', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot, faults: { expiredTimestamp: true } });
    expect(expectVerificationRefused(await verifyWithMirror(repo)).message).toMatch(/timestamp\.json is expired/);
  });

  it('an unreachable mirror is exit 7 (network, not a refused signature); a pull writes nothing', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot });
    const rootPath = path.join(cli, `gone-${randomBytes(4).toString('hex')}.json`);
    await writeFile(rootPath, await readFile(repo.initialRootPath));
    await repo.close();
    const mirror = ['--tuf-mirror', repo.url, '--tuf-root', rootPath];
    const verified = await lading(['verify', '--json', ...keylessFlags(), ...mirror, ref]);
    expect(verified.code, verified.stderr).toBe(7);
    expect(json<ErrorJSON>(verified).error).toMatchObject({ code: 'ERR_LADING_NETWORK', exitCode: 7 });
    const parent = await mkdtemp(path.join(cli, 'offline-'));
    const pulled = await lading(['pull', ...keylessFlags(), ...mirror, ref, path.join(parent, 'out')]);
    expect(pulled.code).toBe(7);
    expect(pulled.stderr).toMatch(/^Error: load trusted root tuf http:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/m);
    expect(pulled.stderr).not.toMatch(/--plain-http|docker login/);
    expect(await readdir(parent)).toEqual([]);
  });

  it('--tuf-mirror with --trusted-root, or without a --verify-* flag, is exit 2 before anything is fetched', async () => {
    const repo = await repository({ trustedRoot: harness.trustedRoot });
    const both = await lading([
      'verify',
      ...keylessFlags(),
      '--trusted-root',
      harness.trustedRootPath,
      '--tuf-mirror',
      repo.url,
      ref,
    ]);
    expect(both.code, both.stderr).toBe(2);
    expect(both.stderr).toMatch(/--trusted-root/);
    // Without a --verify-* flag ls checks nothing: the TUF flags must not be silently ignored.
    const alone = await lading(['ls', '--tuf-mirror', repo.url, '--tuf-root', repo.initialRootPath, ref]);
    expect(alone.code, alone.stderr).toBe(2);
    expect(alone.stderr).toContain(
      '--tuf-mirror: --verify-key, --verify-issuer, --verify-issuer-regexp, --verify-unsafe',
    );
    expect(repo.requests).toEqual([]);
  });
});

function createHashHex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
