// `push --sign` signs before any tag moves (issue 9, item 8): the built binary against the test bed's distribution
// and the fake registry (which records the order of requests), with the offline Sigstore harness for Fulcio and
// Rekor. Every local precondition (identity token shape, expiry, file) fails before anything is uploaded; when the
// signature fails after the upload (Fulcio or Rekor down: a signing config or URL pointing at a dead port), no
// tag moves, the error names the pushed digest (also in --json), the service URL and the cause, and the
// `lading sign` command it suggests finishes the job once the service is back.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON, PullCommandResult, PushCommandResult, PushFailureJSON, SignCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, json, ladingIn } from './cli-runner.js';
import { type FakeRegistry, startFakeRegistry } from './fake-registry/index.js';
import { isolatedClient } from './registry/helpers.js';
import { startSigstoreHarness, type SigstoreHarness } from './sigstore-harness/index.js';
import { ladingIdentityFlags } from './sigstore/fixtures.js';
import { freePort } from './testbed/net.js';
import { makeToolHome, testbed } from './testbed/index.js';

const subject = 'release@example.com';

let env: NodeJS.ProcessEnv;
let work: string;
let harness: SigstoreHarness;
let registry: FakeRegistry;
/** A loopback port nothing listens on: Fulcio or Rekor "down". */
let deadURL: string;

const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });
const unique = (what: string): string => `push-sign/${what}-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'cli-push-sign-'));
  await mkdir(path.join(work, 'config'));
  await writeFile(path.join(work, 'config/app.yaml'), 'name: app\n');
  await writeFile(path.join(work, 'old.txt'), 'the previous release\n');
  harness = await startSigstoreHarness();
  registry = await startFakeRegistry({ referrersAPI: true });
  deadURL = `http://127.0.0.1:${await freePort()}`;
  expectOK(await lading(['key', 'generate'], { COSIGN_PASSWORD: 'pw' }), 'key generate');
});

afterAll(async () => {
  await registry.close();
  await harness.close();
});

/** Requests of the fake registry that write (uploads, manifest PUTs), since the last `clearLog`. */
function writes(): string[] {
  return registry.requests.filter((r) => ['PUT', 'POST', 'PATCH'].includes(r.method)).map((r) => r.path);
}

/** The digest `tag` names in `repo` on distribution, or undefined when it names nothing. */
async function tagged(repo: string, tag: string): Promise<string | undefined> {
  return isolatedClient()
    .repository(`${testbed().registries.anonymous.host}/${repo}`)
    .resolve(tag)
    .then(
      (d) => d.digest,
      () => undefined,
    );
}

describe('local preconditions fail before anything is uploaded', () => {
  const keyless = (): string[] => ['--sign', '--signing-config', harness.signingConfigPath];

  it('a token file that does not exist is a usage error (exit 2), not a token', async () => {
    registry.clearLog();
    const ref = `${registry.host}/${unique('missing')}:v1`;
    const result = await lading(['push', ...keyless(), '--identity-token', './missing.jwt', ref, 'config']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /^Error: --identity-token \.\/missing\.jwt: no such file, and not an identity token \(a JWT: three base64url parts joined by dots\)$/m,
    );
    expect(writes()).toEqual([]);
  });

  it('a garbage token is refused without being shown (exit 2), a JWT-shaped one with exit 4', async () => {
    registry.clearLog();
    const ref = `${registry.host}/${unique('garbage')}:v1`;
    const garbage = await lading(['push', ...keyless(), '--identity-token', 's3cr3t-garbage', ref, 'config']);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toMatch(/^Error: --identity-token: no such file, and not an identity token .*not shown/m);
    expect(garbage.stderr).not.toContain('s3cr3t');

    const shaped = await lading(['push', '--json', ...keyless(), '--identity-token', 'abc.def.ghi', ref, 'config']);
    expect(shaped.code).toBe(4);
    expect(json<ErrorJSON>(shaped).error.message).toBe(
      'identity token (--identity-token): its header or claims are not base64url JSON',
    );
    expect(writes()).toEqual([]);
  });

  it('an expired token (given, or in a file) is exit 4 saying when it expired; nothing is uploaded', async () => {
    registry.clearLog();
    const ref = `${registry.host}/${unique('expired')}:v1`;
    const expired = harness.identityToken({ subject, email: subject, lifetimeSeconds: -60 });
    const result = await lading(['push', ...keyless(), '--identity-token', expired, ref, 'config']);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(
      /^Error: identity token \(--identity-token\): expired at \d{4}-\d\d-\d\dT[\d:.]+Z \(issuer https:\/\/oidc\.lading\.test\); get a fresh one/m,
    );
    expect(result.stderr).not.toContain(expired);
    expect(result.stderr).not.toContain('docker login');

    await writeFile(path.join(work, 'expired.jwt'), `${expired}\n`);
    const fromFile = await lading(['push', ...keyless(), '--identity-token', 'expired.jwt', ref, 'config']);
    expect(fromFile.code).toBe(4);
    expect(fromFile.stderr).toMatch(/^Error: identity token \(--identity-token expired\.jwt\): expired at /m);

    const ambient = await lading(['push', ...keyless(), ref, 'config'], { SIGSTORE_ID_TOKEN: expired });
    expect(ambient.code).toBe(4);
    expect(ambient.stderr).toMatch(/^Error: identity token \(from the environment\): expired at /m);
    expect(writes()).toEqual([]);
  });
});

describe('the order on success: upload by digest, sign, attach, and only then tag', () => {
  it('the fake registry sees the signature referrer before the tag PUT; --json lists the tags', async () => {
    const repo = unique('order');
    registry.clearLog();
    const result = await lading(
      ['push', '--json', '--sign', '--key', 'cosign.key', `${registry.host}/${repo}:v1,latest`, 'config'],
      {
        COSIGN_PASSWORD: 'pw',
      },
    );
    expectOK(result, 'push --sign');
    const out = json<PushCommandResult>(result);
    expect(out.tags).toEqual(['v1', 'latest']);
    const signature = out.signature?.digest ?? '';
    const puts = writes().filter((p) => p.includes('/manifests/'));
    expect(puts).toEqual([
      `/v2/${repo}/manifests/${out.digest}`,
      `/v2/${repo}/manifests/${signature}`,
      `/v2/${repo}/manifests/${out.digest}`,
      `/v2/${repo}/manifests/v1`,
      `/v2/${repo}/manifests/latest`,
    ]);
    expect(registry.getManifest(repo, 'v1')?.bytes).toEqual(registry.getManifest(repo, out.digest)?.bytes);

    const text = await lading(['push', '--sign', '--key', 'cosign.key', `${registry.host}/${repo}:v2`, 'config'], {
      COSIGN_PASSWORD: 'pw',
    });
    expectOK(text, 'push --sign (text)');
    const lines = text.stderr.trimEnd().split('\n');
    const at = (prefix: string): number => lines.findIndex((l) => l.startsWith(prefix));
    expect(at(`Pushed ${registry.host}/${repo}@${out.digest}`)).toBeGreaterThanOrEqual(0);
    expect(at('Signed ')).toBeGreaterThan(at('Pushed '));
    expect(at('Tagged v2')).toBeGreaterThan(at('Signed '));
  });
});

describe('signing fails after the upload: no tag moves, and the error says what was pushed and what to run', () => {
  it('Fulcio down (keyless): exit 7 naming Fulcio, its URL and the cause; v1 unchanged; lading sign finishes it', async () => {
    const host = testbed().registries.anonymous.host;
    const repo = unique('fulcio-down');
    const before = await lading(['push', '--json', `${host}/${repo}:v1`, 'old.txt']);
    expectOK(before, 'push the previous v1');
    const previous = json<PushCommandResult>(before).digest;

    // A signing config like the harness's, with Fulcio on a dead port; the token in a file, as in CI.
    const config = JSON.parse(await readFile(harness.signingConfigPath, 'utf8')) as { caUrls: { url: string }[] };
    const live = JSON.stringify(config);
    for (const ca of config.caUrls) ca.url = deadURL;
    await writeFile(path.join(work, 'signing.json'), JSON.stringify(config));
    await writeFile(path.join(work, 'token.jwt'), harness.identityToken({ subject, email: subject }));
    const signing = ['--sign', '--signing-config', 'signing.json', '--identity-token', 'token.jwt'];

    const result = await lading(['push', ...signing, `${host}/${repo}:v1`, 'config']);
    expect(result.code, result.stderr).toBe(7);
    expect(result.stdout).toBe('');
    const message = /^Error: (.*)$/m.exec(result.stderr)?.[1] ?? '';
    const pushed = /pushed (\S+)@(sha256:[0-9a-f]{64}) by digest/.exec(message);
    const digest = pushed?.[2] ?? '';
    expect(pushed?.[1]).toBe(`${host}/${repo}`);
    expect(message).toContain(
      `but could not sign it: sign ${digest}: Fulcio ${deadURL}: error creating signing certificate: request to ${deadURL}/api/v2/signingCert failed, reason: connect ECONNREFUSED`,
    );
    const command = `lading sign --signing-config signing.json --identity-token token.jwt --tag v1 ${host}/${repo}@${digest}`;
    expect(message).toContain(
      `. No tag moved (v1 still names what it named before). When the cause is fixed, sign it and move the tags with: ${command}`,
    );
    // No registry advice for a Sigstore failure.
    expect(result.stderr).not.toContain('docker login');
    expect(await tagged(repo, 'v1')).toBe(previous);
    expect(await tagged(repo, digest)).toBe(digest);

    const asJSON = await lading(['push', '--json', ...signing, `${host}/${repo}:v1`, 'config']);
    expect(asJSON.code).toBe(7);
    const error = json<PushFailureJSON>(asJSON).error;
    expect(error).toMatchObject({ code: 'ERR_LADING_NETWORK', exitCode: 7 });
    expect(error.pushed).toEqual({
      reference: `${host}/${repo}@${digest}`,
      digest,
      tags: [],
      signCommand: command,
    });
    expect(await tagged(repo, 'v1')).toBe(previous);

    // Fulcio is back: the suggested command, run as printed, signs and then moves v1.
    await writeFile(path.join(work, 'signing.json'), live);
    const finish = await lading([...command.split(' ').slice(1), '--json']);
    expectOK(finish, 'the suggested lading sign');
    expect(json<SignCommandResult>(finish)).toMatchObject({ digest, tags: ['v1'] });
    expect(await tagged(repo, 'v1')).toBe(digest);
    const dest = await mkdtemp(path.join(work, 'finished-'));
    const pulled = await lading([
      'pull',
      '--json',
      ...ladingIdentityFlags(harness, subject),
      `${host}/${repo}:v1`,
      dest,
    ]);
    expectOK(pulled, 'pull --verify-* after lading sign');
    expect(json<PullCommandResult>(pulled).digest).toBe(digest);
  });

  it('Rekor down (--key --tlog-upload): exit 7 naming Rekor and its URL; no tag; a literal token is never repeated', async () => {
    const repo = unique('rekor-down');
    registry.clearLog();
    const ref = `${registry.host}/${repo}:v1`;
    const result = await lading(
      ['push', '--json', '--sign', '--key', 'cosign.key', '--tlog-upload', '--rekor-url', deadURL, ref, 'config'],
      { COSIGN_PASSWORD: 'pw' },
    );
    expect(result.code).toBe(7);
    const error = json<PushFailureJSON>(result).error;
    const digest = error.pushed?.digest ?? '';
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(error.message).toContain(`sign ${digest}: Rekor ${deadURL}: `);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.pushed?.signCommand).toBe(
      `lading sign --key cosign.key --rekor-url ${deadURL} --tlog-upload --tag v1 ${registry.host}/${repo}@${digest}`,
    );
    expect(registry.tags(repo)).toEqual([]);
    expect(registry.getManifest(repo, digest)).toBeDefined();

    // Keyless with a literal token: the suggestion holds a placeholder, never the token.
    const token = harness.identityToken({ subject, email: subject });
    const keyless = await lading([
      'push',
      '--json',
      '--sign',
      '--signing-config',
      harness.signingConfigPath,
      '--fulcio-url',
      deadURL,
      '--identity-token',
      token,
      ref,
      'config',
    ]);
    expect(keyless.code).toBe(7);
    expect(keyless.stdout).not.toContain(token);
    expect(json<PushFailureJSON>(keyless).error.pushed?.signCommand).toContain('--identity-token <token> --tag v1');
    expect(registry.tags(repo)).toEqual([]);
  });
});
