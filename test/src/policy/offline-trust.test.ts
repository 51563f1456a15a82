// The offline trust bundle end to end: `lading trust export` fetches the keyless authority's trusted root with TUF
// from a loopback TUF repository (../sigstore-harness/tuf.ts) serving the Sigstore harness's root, then pull, ls,
// cat and verify read with `--trust DIR --offline` and nothing else: a fresh home (no TUF cache), HTTP_PROXY and
// HTTPS_PROXY on a closed port, the TUF mirror's request log unchanged and then the mirror stopped. The machine
// offers no network namespaces, so "every non-loopback address unreachable" is approximated by the closed proxy
// (lading sends every non-loopback request through it) and by the logs of the only servers that could be asked.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';

import type {
  CatCommandResult,
  ErrorJSON,
  ListCommandResult,
  PullCommandResult,
  PushCommandResult,
  TrustExportResult,
  VerifyCommandResult,
} from '@lading/cli';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn, occupiedDestination, snapshot } from '../cli-runner.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { startTUFRepository, TrustedRootTarget, type TUFRepository } from '../sigstore-harness/tuf.js';
import { ladingKeylessFlags } from '../sigstore/fixtures.js';
import { makeToolHome, testbed } from '../testbed/index.js';

const alice = 'alice@example.com';
const mallory = 'mallory@example.com';

let harness: SigstoreHarness;
let mirror: TUFRepository;
let work: string;
/** The environment of the export and of the pushes: its own home, online. */
let env: NodeJS.ProcessEnv;
/** The environment of the offline reads: another fresh home (no TUF cache) and proxies on a closed port. */
let offlineEnv: NodeJS.ProcessEnv;
let host: string;
/** Signed keylessly by alice, whom the policy trusts. */
let good: string;
/** Signed keylessly by mallory, under the same trusted root. */
let other: string;
/** The policy: alice, keyless, with no trustedRoot (the public-good root from TUF when read online). */
let policyFile: string;

const lading = ladingIn(() => ({ cwd: work, env }));
const offline = ladingIn(() => ({ cwd: work, env: offlineEnv }));

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return address.port;
}

async function push(what: string, subject: string): Promise<string> {
  const name = `${host}/offline/${what}-${randomBytes(4).toString('hex')}`;
  const signing = ['--sign', ...ladingKeylessFlags(harness, harness.identityToken({ subject, email: subject }))];
  const pushed = await lading(['push', '--json', ...signing, `${name}:v1`, 'notes.txt']);
  expectOK(pushed, `push ${what}`);
  return `${name}@${json<PushCommandResult>(pushed).digest}`;
}

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  work = await mkdtemp(path.join(bed.dir, 'offline-trust-'));
  ({ env } = await makeToolHome(work));
  const proxy = `http://127.0.0.1:${await closedPort()}`;
  offlineEnv = {
    ...(await makeToolHome(work)).env,
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
  };
  harness = await startSigstoreHarness();
  mirror = await startTUFRepository({ trustedRoot: harness.trustedRoot });
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  good = await push('good', alice);
  other = await push('other', mallory);
  policyFile = 'policy.yaml';
  await writeFile(
    path.join(work, policyFile),
    `version: 1\nrules:\n  - name: app\n    match: "${host}/offline/**"\n    authorities:\n      - name: alice\n        keyless: { issuer: "${harness.oidcIssuer}", subject: "${alice}" }\n`,
  );
});

afterAll(async () => {
  await mirror.close();
  await harness.close();
});

describe('trust export with TUF, then --trust DIR --offline', () => {
  let bundle: string;

  it('fetches the root with TUF from the mirror into trusted_root.json, the written policy pointing at it', async () => {
    bundle = path.join(work, 'bundle');
    const result = await lading([
      'trust',
      'export',
      '--json',
      '--policy',
      policyFile,
      '--out',
      bundle,
      '--tuf-mirror',
      mirror.url,
      '--tuf-root',
      mirror.initialRootPath,
    ]);
    expectOK(result, 'trust export');
    const exported = json<TrustExportResult>(result);
    expect(exported.tuf).toEqual({ mirror: mirror.url, to: 'trusted_root.json' });
    expect(exported.files).toEqual([]);
    expect((await readdir(bundle)).sort()).toEqual(['policy.yaml', 'trusted_root.json']);
    // The root the mirror serves, through a TUF walk (root rotation, timestamp, snapshot, targets, target).
    const root = JSON.parse(await readFile(path.join(bundle, 'trusted_root.json'), 'utf8')) as unknown;
    expect(root).toEqual(TrustedRoot.toJSON(harness.trustedRoot));
    expect(mirror.requests.map((r) => r.path)).toContain('/2.root.json');
    expect(mirror.requests.some((r) => r.status === 200 && r.path.endsWith(`.${TrustedRootTarget}`))).toBe(true);
    const written = await readFile(path.join(bundle, 'policy.yaml'), 'utf8');
    expect(written).toContain('trustedRoot: trusted_root.json');
    expect(written).toContain(`# trusted_root.json: fetched with TUF from ${mirror.url} on `);
  });

  it('pull, ls, cat and verify accept alice and refuse mallory (exit 5), asking no one but the registry', async () => {
    const mirrorBefore = mirror.requests.length;
    const harnessBefore = harness.requests.length;
    // Both logs are live and already hold the export's TUF walk and the pushes' Fulcio and Rekor calls.
    expect(mirrorBefore).toBeGreaterThan(0);
    expect(harness.requests.map((r) => r.service)).toEqual(expect.arrayContaining(['fulcio', 'rekor']));
    const trust = ['--trust', bundle, '--offline'];

    const verified = await offline(['verify', '--json', ...trust, good]);
    expectOK(verified, 'verify --trust --offline');
    expect(json<VerifyCommandResult>(verified).verified[0]).toMatchObject({
      identity: alice,
      issuer: harness.oidcIssuer,
    });
    const listed = await offline(['ls', '--json', ...trust, good]);
    expectOK(listed, 'ls');
    expect(json<ListCommandResult>(listed).entries.map((f) => f.path)).toEqual(['notes.txt']);
    const cat = await offline(['cat', '--json', ...trust, good, 'notes.txt']);
    expectOK(cat, 'cat');
    expect(json<CatCommandResult>(cat).path).toBe('notes.txt');
    const dest = path.join(work, 'pulled');
    const pulled = await offline(['pull', '--json', '--no-progress', ...trust, good, dest]);
    expectOK(pulled, 'pull');
    expect(json<PullCommandResult>(pulled).entries.map((f) => f.path)).toEqual(['notes.txt']);
    expect(await readFile(path.join(dest, 'notes.txt'), 'utf8')).toBe('release notes\n');

    const refused = expectVerificationRefused(await offline(['verify', '--json', ...trust, other]));
    expect(refused.message).toContain(mallory);
    const { dir, before } = await occupiedDestination(work, 'refused');
    expectVerificationRefused(await offline(['pull', '--json', '--overwrite', ...trust, other, dir]));
    expect(await snapshot(dir)).toEqual(before);
    expectVerificationRefused(await offline(['cat', '--json', ...trust, other, 'notes.txt']));

    // Nothing asked the TUF mirror, Fulcio, Rekor, the TSA or the OIDC provider during the offline reads.
    expect(mirror.requests.slice(mirrorBefore)).toEqual([]);
    expect(harness.requests.slice(harnessBefore)).toEqual([]);
    // And no TUF cache was made in the offline home.
    expect(existsSync(path.join(offlineEnv.XDG_DATA_HOME ?? '', 'sigstore-js'))).toBe(false);
  });

  it('still verifies with the TUF mirror stopped', async () => {
    const stopped = await startTUFRepository({ trustedRoot: harness.trustedRoot });
    const out = path.join(work, 'bundle-stopped');
    expectOK(
      await lading([
        'trust',
        'export',
        '--policy',
        policyFile,
        '--out',
        out,
        '--tuf-mirror',
        stopped.url,
        '--tuf-root',
        stopped.initialRootPath,
      ]),
      'trust export',
    );
    await stopped.close();
    expectOK(await offline(['verify', '--json', '--trust', out, '--offline', good]), 'verify, mirror stopped');
    expectVerificationRefused(await offline(['verify', '--json', '--trust', out, '--offline', other]));
  });
});

describe('what would need the network', () => {
  it('--offline refuses a policy whose keyless authority has no trusted root, naming its line (exit 2)', async () => {
    const before = harness.requests.length;
    const verified = await offline(['verify', '--json', '--policy', policyFile, '--offline', good]);
    expect(verified.code, verified.stderr).toBe(2);
    const message = json<ErrorJSON>(verified).error.message;
    expect(message).toMatch(
      /^--offline: policy policy\.yaml:6: rules\[0\]\.authorities\[0\] \(alice\): a keyless authority without trustedRoot trusts the public-good root fetched with TUF, which needs the network;/,
    );
    expect(message).toContain('lading trust export');
    const parent = await mkdtemp(path.join(work, 'offline-refused-'));
    const pulled = await offline(['pull', '--policy', policyFile, '--offline', good, path.join(parent, 'out')]);
    expect(pulled.code, pulled.stderr).toBe(2);
    expect(pulled.stderr).toMatch(/^Error: --offline: policy policy\.yaml:6: /m);
    expect(await readdir(parent)).toEqual([]);
    expect(harness.requests.slice(before)).toEqual([]);
    // The offline environment is cut off: without --offline the same policy goes for the public-good TUF
    // repository, through the closed proxy, and fails as a network error (exit 7).
    const online = await offline(['verify', '--json', '--policy', policyFile, good]);
    expect(online.code, online.stderr).toBe(7);
    expect(json<ErrorJSON>(online).error.message).toContain(
      'load trusted root tuf https://tuf-repo-cdn.sigstore.dev: ',
    );
  });

  it('an unreachable mirror fails the export (exit 7) and writes nothing', async () => {
    const down = `http://127.0.0.1:${await closedPort()}`;
    const out = path.join(work, 'bundle-down');
    const result = await lading([
      'trust',
      'export',
      '--json',
      '--policy',
      policyFile,
      '--out',
      out,
      '--tuf-mirror',
      down,
      '--tuf-root',
      mirror.initialRootPath,
    ]);
    expect(result.code, result.stderr).toBe(7);
    expect(json<ErrorJSON>(result).error).toMatchObject({ code: 'ERR_LADING_NETWORK' });
    expect(json<ErrorJSON>(result).error.message).toContain(`load trusted root tuf ${down}: `);
    expect(existsSync(out)).toBe(false);
  });

  it('--tuf-mirror is refused when every keyless authority names its root (exit 2)', async () => {
    await writeFile(path.join(work, 'root.json'), await readFile(harness.trustedRootPath));
    const pinned = 'pinned.yaml';
    await writeFile(
      path.join(work, pinned),
      `version: 1\ntrustedRoot: root.json\nrules:\n  - match: "${host}/**"\n    authorities:\n      - keyless: { issuer: "${harness.oidcIssuer}", subject: "${alice}" }\n`,
    );
    const before = mirror.requests.length;
    const out = path.join(work, 'bundle-pinned');
    const result = await lading([
      'trust',
      'export',
      '--json',
      '--policy',
      pinned,
      '--out',
      out,
      '--tuf-mirror',
      mirror.url,
    ]);
    expect(result.code, result.stderr).toBe(2);
    expect(json<ErrorJSON>(result).error.message).toBe(
      `trust export --tuf-mirror: policy ${pinned} has no keyless authority without a trusted root, so nothing is fetched with TUF; drop --tuf-mirror`,
    );
    expect(existsSync(out)).toBe(false);
    expect(mirror.requests.slice(before)).toEqual([]);
  });
});
