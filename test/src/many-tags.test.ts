// Many tags in one push (issue 10): `lading push` puts its tags concurrently, bounded (8 at once), each PUT with the
// client's usual retry rules. The real distribution registry must end up with every tag (oras and crane list them,
// as independent oracles), and the fake registry's request log shows the tag PUTs overlapping but never more than
// the bound at once.

import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { PushCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, json, ladingIn } from './cli-runner.js';
import { type FakeRegistry, startFakeRegistry } from './fake-registry/index.js';
import { makeToolHome, run, testbed } from './testbed/index.js';

/** The bound `tagArtifact` puts tags with by default. */
const TagConcurrency = 8;
const tags = Array.from({ length: 300 }, (_, i) => `t${String(i).padStart(3, '0')}`);

let env: NodeJS.ProcessEnv;
let work: string;
let registry: FakeRegistry;

const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });
const unique = (what: string): string => `many-tags/${what}-${randomBytes(4).toString('hex')}`;
const tagFlags = (): string[] => tags.flatMap((tag) => ['--tag', tag]);

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'many-tags-'));
  await writeFile(path.join(work, 'app.yaml'), 'name: app\n');
  registry = await startFakeRegistry();
});

afterAll(async () => {
  await registry.close();
});

describe('a push with 300 tags', () => {
  it('lands every tag on distribution (listed by oras and crane)', async () => {
    const repo = `${testbed().registries.anonymous.host}/${unique('distribution')}`;
    const result = await lading(['push', '--json', `${repo}:first`, 'app.yaml', ...tagFlags()]);
    expectOK(result, 'lading push');
    const pushed = json<PushCommandResult>(result);
    expect([...pushed.tags].sort()).toEqual(['first', ...tags].sort());

    const oras = await run('oras', ['repo', 'tags', '--plain-http', repo], { env });
    expectOK(oras, 'oras repo tags');
    expect(oras.stdout.trim().split('\n').sort()).toEqual(['first', ...tags].sort());

    const crane = await run('crane', ['ls', '--insecure', repo], { env });
    expectOK(crane, 'crane ls');
    expect(crane.stdout.trim().split('\n').sort()).toEqual(['first', ...tags].sort());
    for (const tag of ['first', 't000', 't299']) {
      const digest = await run('crane', ['digest', '--insecure', `${repo}:${tag}`], { env });
      expectOK(digest, `crane digest ${tag}`);
      expect(digest.stdout.trim()).toBe(pushed.digest);
    }
  });

  it('puts the tags concurrently, never more than 8 at once (fake registry log)', async () => {
    const name = unique('fake');
    registry.clearLog();
    // Each tag PUT answered 20 ms late, so the PUTs a client sends together are open together on the registry.
    const late = registry.inject({
      method: 'PUT',
      path: new RegExp(`^/v2/${name}/manifests/t`),
      action: { kind: 'late', delayMs: 20 },
    });
    const pushed = await lading(['push', '--json', `${registry.host}/${name}`, 'app.yaml', ...tagFlags()]);
    expectOK(pushed, 'lading push');
    const requests = registry.requests;
    const puts = requests.filter(
      (r) => r.method === 'PUT' && r.path.startsWith(`/v2/${name}/manifests/`) && !r.path.includes('sha256:'),
    );
    expect(puts.map((r) => r.path.slice(r.path.lastIndexOf('/') + 1)).sort()).toEqual(tags);
    expect(puts.every((r) => r.status === 201 && r.fault?.kind === 'late')).toBe(true);
    late.remove();
    const most = Math.max(...puts.map((r) => r.inFlight));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(TagConcurrency);
    // The manifest itself is PUT by digest once, before any tag.
    const byDigest = requests.filter((r) => r.method === 'PUT' && r.path.startsWith(`/v2/${name}/manifests/sha256:`));
    expect(byDigest).toHaveLength(1);
    const first = (r: { method: string; path: string }): boolean =>
      r.method === 'PUT' && r.path.includes('/manifests/');
    expect(requests.find(first)?.path).toBe(`/v2/${name}/manifests/${json<PushCommandResult>(pushed).digest}`);
  });

  it('stops starting tags after one fails for good, retries a transient failure, and fails the push', async () => {
    const name = unique('fail');
    registry.clearLog();
    // t010 is refused (403: not retried); t005 fails once with a 503 (retried, then lands).
    registry.inject({
      method: 'PUT',
      path: `/v2/${name}/manifests/t010`,
      action: { kind: 'status', status: 403 },
    });
    registry.inject({
      method: 'PUT',
      path: `/v2/${name}/manifests/t005`,
      times: 1,
      action: { kind: 'status', status: 503 },
    });
    const result = await lading(['push', `${registry.host}/${name}`, 'app.yaml', ...tagFlags()]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(name);
    expect(result.stderr).toContain('t010');
    const tagPuts = registry.requests.filter((r) => r.method === 'PUT' && r.path.startsWith(`/v2/${name}/manifests/t`));
    expect(tagPuts.filter((r) => r.path.endsWith('/t005')).map((r) => r.status)).toEqual([503, 201]);
    // Only the tags already under way when t010 failed were sent: at most 8 past it, never all 300.
    expect(tagPuts.length).toBeLessThanOrEqual(11 + 1 + TagConcurrency);
  });
});
