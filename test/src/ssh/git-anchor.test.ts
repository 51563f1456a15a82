// The git anchor: lading records the commit an artifact was built from in the signed statement, and a verifier
// given the repository checks that the commit exists and that its own SSH signature (`git commit -S` with
// gpg.format=ssh) is allowed by the same allowed_signers file. `git verify-commit` is the oracle for the commits.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RegistryClient } from '@lading/core';
import { createSshSigner, createSshVerifier, type SSHVerifiedSignature } from '@lading/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed } from '../testbed/index.js';
import {
  allowedLine,
  gatedPull,
  ladingSign,
  makeKey,
  pushSample,
  unique,
  type Pushed,
  type TestKey,
} from './fixtures.js';

const principal = 'alice@example.com';
let work: string;
let repo: string;
let gitEnv: NodeJS.ProcessEnv;
let client: RegistryClient;
let alice: TestKey;
let mallory: TestKey;
let allowed: string;
const host = (): string => testbed().registries.anonymous.host;

async function git(args: string[], check = true): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('git', ['-C', repo, ...args], { env: gitEnv, check });
}

/** Commits (empty) with `key` signing it, or unsigned; returns the commit id. */
async function commit(message: string, key?: TestKey): Promise<string> {
  const sign = key ? ['-c', `user.signingkey=${key.file}`, 'commit', '-S'] : ['commit', '--no-gpg-sign'];
  await git([...sign, '--allow-empty', '-q', '-m', message]);
  return (await git(['rev-parse', 'HEAD'])).stdout.trim();
}

beforeAll(async () => {
  const bed = testbed();
  const tools = await makeToolHome(bed.dir);
  gitEnv = { ...tools.env, GIT_CONFIG_NOSYSTEM: '1', SSH_AUTH_SOCK: '' };
  work = await mkdtemp(path.join(bed.dir, 'ssh-git-'));
  client = isolatedClient();
  alice = await makeKey(work, 'alice', ['-t', 'ed25519']);
  mallory = await makeKey(work, 'mallory', ['-t', 'ecdsa', '-b', '256']);
  allowed = path.join(work, 'allowed_signers');
  await writeFile(allowed, allowedLine(principal, alice));
  repo = path.join(work, 'repo');
  await run('git', ['init', '-q', repo], { env: gitEnv });
  await git(['config', 'user.name', 'Alice']);
  await git(['config', 'user.email', principal]);
  await git(['config', 'gpg.format', 'ssh']);
  await git(['config', 'gpg.ssh.allowedSignersFile', allowed]);
});

afterAll(async () => {
  await client.close();
});

async function signedAt(gitCommit?: string): Promise<Pushed> {
  const pushed = await pushSample(client, host(), work, `ssh-git/${unique()}`);
  await ladingSign(pushed, { keyFile: alice.file, ...(gitCommit ? { gitCommit } : {}) });
  return pushed;
}

async function refusal(pushed: Pushed, allowedSigners = allowed): Promise<string> {
  const pulled = await gatedPull(pushed, work, [
    createSshVerifier({ allowedSigners, principals: [principal], git: { gitDir: repo } }),
  ]);
  expect(pulled.error, 'the pull should have been refused').toMatchObject({ code: 'ERR_LADING_VERIFICATION' });
  expect(existsSync(pulled.destination)).toBe(false);
  return pulled.error?.message ?? '';
}

describe('git anchor', () => {
  it('a commit signed by an allowed key: recorded, checked, reported; git verify-commit agrees', async () => {
    const id = await commit('release', alice);
    expect((await git(['verify-commit', id], false)).code).toBe(0);
    const pushed = await signedAt(id);
    const pulled = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: allowed, principals: [principal], git: { gitDir: repo } }),
    ]);
    expect(pulled.error).toBeUndefined();
    expect(pulled.verified[0] as SSHVerifiedSignature).toMatchObject({
      identity: principal,
      gitCommit: id,
      gitCommitSigner: principal,
    });
    // Without the anchor the commit is reported, not checked.
    const plain = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: allowed, principals: [principal] }),
    ]);
    expect(plain.verified[0] as SSHVerifiedSignature).toMatchObject({ gitCommit: id });
    expect((plain.verified[0] as SSHVerifiedSignature).gitCommitSigner).toBeUndefined();
  });

  it('refuses: no recorded commit, a commit not in the repository, an unsigned commit, a commit by another key', async () => {
    expect(await refusal(await signedAt())).toContain(
      'the statement records no git commit, and a signed commit is required',
    );
    const missing = randomBytes(20).toString('hex');
    expect(await refusal(await signedAt(missing))).toContain(`git commit ${missing} is not in ${repo}`);
    const unsigned = await commit('unsigned');
    expect(await refusal(await signedAt(unsigned))).toContain(`git commit ${unsigned}: not signed`);
    const byMallory = await commit('by mallory', mallory);
    expect((await git(['verify-commit', byMallory], false)).code).not.toBe(0);
    expect(await refusal(await signedAt(byMallory))).toMatch(
      new RegExp(`git commit ${byMallory}: unknown key: key ${mallory.fingerprint.replace(/[+/]/g, '\\$&')}`),
    );
  });

  it('a key allowed only in the lading namespace does not vouch for commits', async () => {
    const id = await commit('namespaced', alice);
    const onlyLading = path.join(work, 'allowed-lading-only');
    await writeFile(onlyLading, allowedLine(principal, alice, 'namespaces="lading"'));
    expect(await refusal(await signedAt(id), onlyLading)).toContain(
      `git commit ${id}: key ${alice.fingerprint} (ssh-ed25519) is not allowed: wrong namespace: "git" is not in namespaces="lading"`,
    );
  });

  it('the signer refuses a commit that is not a full id', async () => {
    await expect(createSshSigner({ keyFile: alice.file, gitCommit: 'HEAD' })).rejects.toThrow(
      'git commit "HEAD" is not a full commit id',
    );
  });
});
