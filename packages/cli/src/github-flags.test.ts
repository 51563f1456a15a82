import { describe, expect, it } from 'vitest';

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import {
  createGitHubVerifierFromFlags,
  gateLimitsFromFlags,
  givenSignaturesFromFlags,
  predicateOutput,
} from './github-flags.js';
import { createVerificationFromFlags } from './verification-from-flags.js';

const usage = (message: string | RegExp): unknown =>
  expect.objectContaining({ code: 'ERR_LADING_USAGE', message: expect.stringMatching(message) as unknown });

describe('createGitHubVerifierFromFlags', () => {
  it('is undefined without --github-repo/--github-owner', async () => {
    await expect(createGitHubVerifierFromFlags({ 'source-ref': 'refs/tags/v1' }, undefined)).resolves.toBeUndefined();
  });

  it('names the flag of a malformed value, before any file is read', async () => {
    const root = { 'trusted-root': '/nonexistent/trusted_root.json' };
    for (const [flags, message] of [
      [{ 'github-repo': 'acme' }, /^--github-repo "acme" is not owner\/repo$/],
      [{ 'github-owner': 'a/b' }, /^--github-owner "a\/b" is not a GitHub account name$/],
      [{ 'github-repo': 'acme/app', 'signer-workflow': 'release.yml' }, /^--signer-workflow "release.yml" is not/],
      [{ 'github-repo': 'acme/app', 'signer-repo': 'x' }, /^--signer-repo "x" is not owner\/repo$/],
      [{ 'github-repo': 'acme/app', 'source-digest': '' }, /^--source-digest is empty$/],
      [{ 'github-repo': 'acme/app', 'cert-oidc-issuer': '' }, /^--cert-oidc-issuer is empty$/],
      [{ 'github-repo': 'acme/app', 'cert-identity': '' }, /^--cert-identity is empty$/],
      [
        { 'github-repo': 'acme/app', 'cert-identity-regex': 'https://github\\.com/(acme' },
        /^--cert-identity-regex "https:\/\/github\\\\.com\/\(acme" is not a regular expression: /,
      ],
      [
        { 'github-owner': 'acme', 'cert-identity': 'https://x', 'signer-repo': 'acme/ci' },
        /^give one of --signer-workflow, --signer-repo, --cert-identity and --cert-identity-regex, not --signer-repo and --cert-identity$/,
      ],
    ] as const) {
      await expect(createGitHubVerifierFromFlags({ ...flags, ...root }, undefined)).rejects.toThrow(usage(message));
    }
    // Well-formed: now the trusted root is read, and its absence named.
    await expect(createGitHubVerifierFromFlags({ 'github-repo': 'acme/app', ...root }, undefined)).rejects.toThrow(
      /\/nonexistent\/trusted_root\.json/,
    );
  });

  it('--offline refuses what would use TUF, naming it; the verification flags get the GitHub verifier', async () => {
    await expect(
      createGitHubVerifierFromFlags({ 'github-repo': 'acme/app', offline: true }, undefined),
    ).rejects.toThrow(
      usage(
        /^--offline: the trusted root, by default the public good instance fetched and refreshed with TUF, needs the network/,
      ),
    );
    await expect(
      createVerificationFromFlags(
        { 'github-owner': 'acme', offline: true, 'tuf-mirror': 'https://tuf.example' },
        () => undefined,
      ),
    ).rejects.toThrow(usage(/^--offline: --tuf-mirror https:\/\/tuf\.example needs the network/));
    await expect(
      createVerificationFromFlags(
        { 'verify-issuer': 'https://i', 'verify-subject': 'a@b', offline: true, 'tuf-root': 'root.json' },
        () => undefined,
      ),
    ).rejects.toThrow(usage(/^--offline: --tuf-root needs the network/));
    // Without --offline, TUF is configured and nothing is fetched until a signature is checked.
    const gate = await createVerificationFromFlags({ 'github-repo': 'acme/app' }, () => undefined);
    expect(typeof gate?.verify).toBe('function');
  });
});

describe('gateLimitsFromFlags', () => {
  it('maps --limit onto the gate: candidates, and requests enough for them (never fewer than the default)', () => {
    expect(gateLimitsFromFlags({})).toEqual({});
    expect(gateLimitsFromFlags({ limit: 1 })).toEqual({ maxCandidates: 1, maxRequests: 128 });
    expect(gateLimitsFromFlags({ limit: 1000 })).toEqual({ maxCandidates: 1000, maxRequests: 5002 });
    for (const limit of [0, 1001, 1.5]) {
      expect(() => gateLimitsFromFlags({ limit })).toThrow(usage(/^--limit .*: give a whole number from 1 to 1000$/));
    }
  });
});

describe('givenSignaturesFromFlags', () => {
  it('reads one bundle or JSON lines; refuses what is not bundles, naming the file and line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-bundle-'));
    const bundle = { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' };
    const file = async (name: string, text: string) => {
      await writeFile(path.join(dir, name), text);
      return path.join(dir, name);
    };
    expect(await givenSignaturesFromFlags({})).toEqual({});
    const one = await file('one.json', JSON.stringify(bundle, null, 2));
    expect((await givenSignaturesFromFlags({ bundle: one })).given).toEqual([
      { name: one, mediaType: bundle.mediaType, content: Buffer.from(JSON.stringify(bundle, null, 2)) },
    ]);
    const lines = await file('b.jsonl', `${JSON.stringify(bundle)}\n\n${JSON.stringify(bundle)}\n`);
    expect((await givenSignaturesFromFlags({ bundle: lines })).given?.map((g) => g.name)).toEqual([
      `${lines} line 1`,
      `${lines} line 3`,
    ]);
    for (const [name, text, message] of [
      ['empty', '\n', /: holds no bundle$/],
      ['bad', `${JSON.stringify(bundle)}\n{`, / line 2: not JSON: /],
      [
        'other',
        JSON.stringify({ mediaType: 'application/json' }),
        /: not a Sigstore bundle \(its mediaType is "application\/json"/,
      ],
    ] as const) {
      await expect(givenSignaturesFromFlags({ bundle: await file(name, text) })).rejects.toThrow(usage(message));
    }
    await expect(givenSignaturesFromFlags({ bundle: path.join(dir, 'absent') })).rejects.toThrow(usage(/ENOENT/));
  });
});

describe('predicateOutput', () => {
  it('prints the predicate of the first verified statement, and refuses signatures without one', () => {
    const signature = { verifier: 'sigstore', predicateType: 't', referrer: 'sha256:1' };
    expect(predicateOutput([signature, { ...signature, statement: { predicate: { a: [1] } } }])).toBe(
      '{\n  "a": [\n    1\n  ]\n}\n',
    );
    expect(() => predicateOutput([signature])).toThrow(
      expect.objectContaining({
        code: 'ERR_LADING_VERIFICATION',
        message: expect.stringMatching(/carries no in-toto statement/) as unknown,
      }),
    );
  });
});
