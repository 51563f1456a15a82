// The verification gate cannot be crowded out, nor made to read without end (issue 9, item 9): the built binary
// against the fake registry, which lists what it is given and counts every request. A genuine signature made by
// `lading sign --key` sits behind 130 junk referrers; a hostile fallback index repeats one wrong-subject referrer
// 1,000 times, or lists 1,000 different ones.

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ErrorJSON, PullCommandResult, PushCommandResult, SignCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn } from './cli-runner.js';
import { type FakeRegistry, MediaType, startFakeRegistry } from './fake-registry/index.js';
import { makeToolHome, testbed } from './testbed/index.js';

const BundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const EmptyJSONType = 'application/vnd.oci.empty.v1+json';

let env: NodeJS.ProcessEnv;
let work: string;
let registry: FakeRegistry;

const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'gate-bounds-'));
  await mkdir(path.join(work, 'config'));
  await writeFile(path.join(work, 'config/app.yaml'), 'name: app\n');
  expectOK(await lading(['key', 'generate'], { COSIGN_PASSWORD: 'pw' }), 'key generate');
  registry = await startFakeRegistry({ referrersAPI: true });
});

afterAll(async () => {
  await registry.close();
});

/** A new repository holding `config` pushed (unsigned) as `:v1`; its name and manifest digest. */
async function pushed(what: string): Promise<{ repo: string; ref: string; digest: string; size: number }> {
  const repo = `gate/${what}-${randomBytes(4).toString('hex')}`;
  const ref = `${registry.host}/${repo}:v1`;
  const result = await lading(['push', '--json', ref, 'config']);
  expectOK(result, 'push');
  const out = json<PushCommandResult>(result);
  return { repo, ref, digest: out.digest, size: out.size };
}

/**
 * Stores a one-layer referrer of `subject` whose layer claims to be a Sigstore bundle but is junk, with `artifactType`
 * on the manifest (what a listing shows). Returns its digest.
 */
function junkReferrer(
  repo: string,
  subject: { digest: string; size: number },
  artifactType: string,
  n: number,
): string {
  const config = registry.putBlob(repo, '{}', EmptyJSONType);
  const layer = registry.putBlob(repo, `junk ${n} ${randomBytes(8).toString('hex')}`, BundleType);
  return registry.putManifest(repo, {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType,
    config,
    layers: [layer],
    subject: { mediaType: MediaType.ociManifest, digest: subject.digest, size: subject.size },
  }).digest;
}

/** Manifest GETs the fake registry answered since the last `clearLog`, by the path they named. */
function manifestGETs(): string[] {
  return registry.requests.filter((r) => r.method === 'GET' && r.path.includes('/manifests/')).map((r) => r.path);
}

describe('130 junk referrers listed before a genuine signature', () => {
  it('the genuine one is read first (its listing says it is a bundle) and accepted; the reads stay bounded', async () => {
    const { repo, ref, digest, size } = await pushed('junk-first');
    for (let n = 0; n < 130; n++) junkReferrer(repo, { digest, size }, 'application/vnd.example.junk', n);
    const signed = await lading(['sign', '--json', '--key', 'cosign.key', ref], { COSIGN_PASSWORD: 'pw' });
    expectOK(signed, 'sign');
    const genuine = json<SignCommandResult>(signed).signature.digest;
    expect(registry.referrers(repo, digest).at(-1)?.digest).toBe(genuine);
    expect(registry.referrers(repo, digest)).toHaveLength(131);

    registry.clearLog();
    const dest = path.join(await mkdtemp(path.join(work, 'junk-first-')), 'out');
    const result = await lading(['pull', '--json', '--verify-key', 'cosign.pub', ref, dest]);
    expectOK(result, 'pull --verify-key behind 130 junk referrers');
    expect(json<PullCommandResult>(result).verified?.map((v) => v.referrer)).toEqual([genuine]);
    expect(await readFile(path.join(dest, 'config/app.yaml'), 'utf8')).toBe('name: app\n');
    // The gate's own reads are bounded (128 requests); the pull adds the tag's manifest.
    const gets = manifestGETs();
    expect(gets.filter((p) => p.endsWith(`/manifests/${genuine}`))).toHaveLength(1);
    expect(gets.length).toBeLessThanOrEqual(128 + 1);
  });

  it('when the junk is listed as bundles too, the refusal says how many listed signatures were not read', async () => {
    const { repo, ref, digest, size } = await pushed('junk-bundles');
    for (let n = 0; n < 130; n++) junkReferrer(repo, { digest, size }, BundleType, n);
    expectOK(await lading(['sign', '--key', 'cosign.key', ref], { COSIGN_PASSWORD: 'pw' }), 'sign');

    registry.clearLog();
    const parent = await mkdtemp(path.join(work, 'junk-bundles-'));
    const result = await lading(['pull', '--json', '--verify-key', 'cosign.pub', ref, path.join(parent, 'out')]);
    const error = expectVerificationRefused(result);
    // One request for the legacy tag, then two per candidate: 63 read, the other 68 of the 131 listed not, which
    // the refusal says rather than implying that none was valid.
    expect(error.message).toMatch(
      /none of the 63 sigstore signature\(s\) is acceptable: .*; and 58 more; 68 listed signature\(s\) were not read, as the gate makes at most 128 requests; nothing was read$/,
    );
    expect(await readdir(parent)).toEqual([]);
    expect(manifestGETs().length).toBeLessThanOrEqual(64 + 1);
    const text = await lading(['ls', '--verify-key', 'cosign.pub', ref]);
    expect(text.code).toBe(5);
    expect(text.stderr).toMatch(
      /^Error: verify .* 68 listed signature\(s\) were not read, as the gate makes at most 128 requests/m,
    );
  });
});

describe('a hostile fallback index (no referrers API)', () => {
  beforeAll(() => {
    registry.setReferrersAPI(false);
  });
  afterAll(() => {
    registry.setReferrersAPI(true);
  });

  /** Tags `sha256-<hex>` (the fallback referrers tag of `digest`) with an index listing `entries`. */
  function fallbackIndex(repo: string, digest: string, entries: object[]): void {
    registry.putManifest(
      repo,
      { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries },
      { tag: digest.replace(':', '-') },
    );
  }

  /** A referrer (one bundle layer) of some other manifest, listed with a bundle artifact type. */
  function wrongSubject(repo: string, n: number): object {
    const other = { digest: `sha256:${randomBytes(32).toString('hex')}`, size: 100 };
    const digest = junkReferrer(repo, other, BundleType, n);
    const stored = registry.getManifest(repo, digest);
    return { mediaType: MediaType.ociManifest, digest, size: stored?.bytes.length ?? 0, artifactType: BundleType };
  }

  it('1,000 copies of one wrong-subject referrer cost one GET of it, and the refusal names it', async () => {
    const { repo, ref, digest } = await pushed('copies');
    const entry = wrongSubject(repo, 0) as { digest: string };
    fallbackIndex(
      repo,
      digest,
      Array.from({ length: 1000 }, () => entry),
    );

    registry.clearLog();
    const result = await lading(['ls', '--json', '--verify-key', 'cosign.pub', ref]);
    const error = expectVerificationRefused(result);
    expect(error.message).toContain(`no sigstore signature among 1 referrer(s) (${entry.digest}: its subject is not`);
    expect(manifestGETs().filter((p) => p.endsWith(`/manifests/${entry.digest}`))).toHaveLength(1);
  });

  it('1,000 different wrong-subject referrers: at most 128 read, and the rest counted as not read', async () => {
    const { repo, ref, digest } = await pushed('many');
    fallbackIndex(
      repo,
      digest,
      Array.from({ length: 1000 }, (_, n) => wrongSubject(repo, n)),
    );

    registry.clearLog();
    const result = await lading(['ls', '--json', '--verify-key', 'cosign.pub', ref]);
    const error = expectVerificationRefused(result);
    // One request went to the legacy .sig tag; 127 referrers were read, 873 not.
    expect(error.message).toMatch(
      /no sigstore signature among 1000 referrer\(s\) \(.*; and 122 more\); 873 listed signature\(s\) were not read, as the gate makes at most 128 requests; nothing was read$/,
    );
    const gets = manifestGETs();
    // The tag, the fallback index, and the 127 referrers the budget allowed.
    expect(gets.length).toBe(1 + 1 + 127);
    expect(json<ErrorJSON>(result).error.exitCode).toBe(5);
  });
});
