// Keys held by a real ssh-agent (started here, keys added with ssh-add), and OpenSSH certificates trusted through
// allowed_signers `cert-authority` lines, checked both ways with ssh-keygen on the files oras pull gives.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RegistryClient } from '@lading/core';
import { createSshSigner, createSshVerifier, type SshVerifierPolicy } from '@lading/ssh';
import { statementFor } from '@lading/ssh/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed, waitFor } from '../testbed/index.js';
import {
  allowedLine,
  gatedPull,
  ladingSign,
  makeKey,
  orasAttach,
  orasPullReferrer,
  pushSample,
  sshKeygenVerify,
  unique,
  type Pushed,
  type TestKey,
} from './fixtures.js';

const principal = 'alice@example.com';
let work: string;
let env: NodeJS.ProcessEnv;
let client: RegistryClient;
let agent: ChildProcess | undefined;
let socketDir: string;
let socket: string;
let ed25519: TestKey;
let rsa: TestKey;
let ca: TestKey;
let user: TestKey;
let userCert: string;
let expiredCert: string;
const host = (): string => testbed().registries.anonymous.host;

/** `ssh-keygen -s CA -I id -n principals -V validity KEY.pub`, copied first to `name.pub`; returns the cert path. */
async function certify(key: TestKey, name: string, principals: string, validity: string): Promise<string> {
  const pub = path.join(work, `${name}.pub`);
  await copyFile(key.pub, pub);
  await run('ssh-keygen', ['-q', '-s', ca.file, '-I', `${name}-id`, '-n', principals, '-V', validity, pub]);
  return path.join(work, `${name}-cert.pub`);
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'ssh-agent-'));
  client = isolatedClient();
  ed25519 = await makeKey(work, 'agent-ed25519', ['-t', 'ed25519']);
  rsa = await makeKey(work, 'agent-rsa', ['-t', 'rsa', '-b', '3072']);
  ca = await makeKey(work, 'ca', ['-t', 'ed25519']);
  user = await makeKey(work, 'user', ['-t', 'ecdsa', '-b', '256']);
  userCert = await certify(user, 'user-valid', `${principal},alice`, '-1h:+1h');
  expiredCert = await certify(user, 'user-expired', principal, '20200101:20200102');
  // A Unix socket path must be short (108 bytes): keep it in the OS temp folder.
  socketDir = await mkdtemp(path.join(tmpdir(), 'lading-agent-'));
  socket = path.join(socketDir, 'agent.sock');
  agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  await waitFor('ssh-agent socket', () => Promise.resolve(existsSync(socket)));
  const agentEnv = { ...env, SSH_AUTH_SOCK: socket };
  await run('ssh-add', [ed25519.file, rsa.file], { env: agentEnv });
});

afterAll(async () => {
  agent?.kill();
  await rm(socketDir, { recursive: true, force: true });
  await client.close();
});

async function file(text: string): Promise<string> {
  const f = path.join(work, `allowed_signers-${unique()}`);
  await writeFile(f, text);
  return f;
}

async function expectRefused(pushed: Pushed, policy: SshVerifierPolicy, reason: string | RegExp): Promise<void> {
  const pulled = await gatedPull(pushed, work, [createSshVerifier(policy)]);
  expect(pulled.error, 'the pull should have been refused').toMatchObject({ code: 'ERR_LADING_VERIFICATION' });
  expect(pulled.error?.message).toMatch(reason);
  expect(existsSync(pulled.destination)).toBe(false);
}

describe('ssh-agent', () => {
  it('an agent holding two keys: the fingerprint picks one; none or an unknown one is a usage error', async () => {
    await expect(createSshSigner({ agent: socket })).rejects.toThrow(
      `ssh signer: ssh-agent ${socket} holds 2 keys; choose one with --ssh-key-fingerprint`,
    );
    await expect(createSshSigner({ agent: socket, fingerprint: user.fingerprint })).rejects.toThrow(
      `holds no usable key with fingerprint ${user.fingerprint}`,
    );
    await expect(createSshSigner({ agent: true, env: {} })).rejects.toThrow('SSH_AUTH_SOCK is not set');
    await expect(createSshSigner({ agent: path.join(socketDir, 'nothing.sock') })).rejects.toThrow(
      /cannot talk to the agent/,
    );
  });

  it.each(['ed25519', 'rsa'])('%s in the agent signs; ssh-keygen -Y verify and lading accept', async (which) => {
    const key = which === 'rsa' ? rsa : ed25519;
    const pushed = await pushSample(client, host(), work, `ssh-agent/${which}-${unique()}`);
    const referrer = await ladingSign(pushed, {
      agent: true,
      fingerprint: key.fingerprint,
      env: { SSH_AUTH_SOCK: socket },
    });
    const allowed = await file(allowedLine(principal, key));
    const files = await orasPullReferrer(env, work, pushed.reference.replace(/:v1$/, ''), referrer.digest);
    const openssh = await sshKeygenVerify(allowed, principal, 'lading', files);
    expect(openssh.code, openssh.stderr).toBe(0);
    expect(openssh.stdout).toContain(key.fingerprint);
    const pulled = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: allowed, principals: [principal] }),
    ]);
    expect(pulled.error).toBeUndefined();
    expect(pulled.verified).toMatchObject([
      { identity: principal, keyHint: key.fingerprint, keyType: which === 'rsa' ? 'rsa-sha2-512' : 'ssh-ed25519' },
    ]);
  });
});

describe('OpenSSH certificates and cert-authority', () => {
  const caLine = (): string => allowedLine('*@example.com', ca, 'cert-authority');

  it('lading signs with a key and its certificate; ssh-keygen -Y verify and lading accept through cert-authority', async () => {
    const pushed = await pushSample(client, host(), work, `ssh-cert/${unique()}`);
    const referrer = await ladingSign(pushed, { keyFile: user.file, certificateFile: userCert });
    const allowed = await file(caLine());
    const files = await orasPullReferrer(env, work, pushed.reference.replace(/:v1$/, ''), referrer.digest);
    const openssh = await sshKeygenVerify(allowed, principal, 'lading', files);
    expect(openssh.code, openssh.stderr).toBe(0);
    expect(openssh.stdout).toContain(
      `Good "lading" signature for ${principal} with ECDSA-CERT key ${user.fingerprint}`,
    );
    const pulled = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: allowed, principals: [principal] }),
    ]);
    expect(pulled.error).toBeUndefined();
    expect(pulled.verified).toMatchObject([
      { identity: principal, keyHint: user.fingerprint, keyType: 'ecdsa-sha2-nistp256-cert-v01@openssh.com' },
    ]);
  });

  it('ssh-keygen -Y sign with the certificate, attached with oras attach; lading accepts', async () => {
    const pushed = await pushSample(client, host(), work, `ssh-cert/by-openssh-${unique()}`);
    const dir = await mkdtemp(path.join(work, 'cert-'));
    await writeFile(path.join(dir, 'statement.json'), statementFor(pushed.descriptor));
    // ssh-keygen loads the private key beside the certificate (user-valid-cert.pub → user-valid).
    await copyFile(user.file, path.join(work, 'user-valid'));
    await run('ssh-keygen', ['-Y', 'sign', '-f', userCert, '-n', 'lading', 'statement.json'], {
      cwd: dir,
      env: { ...env, SSH_AUTH_SOCK: '' },
    });
    await orasAttach(env, dir, `${pushed.reference.replace(/:v1$/, '')}@${pushed.descriptor.digest}`);
    const allowed = await file(caLine());
    const pulled = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: allowed, principals: [principal] }),
    ]);
    expect(pulled.error).toBeUndefined();
    expect(pulled.verified).toMatchObject([
      { identity: principal, keyType: 'ecdsa-sha2-nistp256-cert-v01@openssh.com' },
    ]);
  });

  it('refuses an expired certificate, a principal the certificate does not name, a CA without cert-authority, a revoked CA', async () => {
    const expired = await pushSample(client, host(), work, `ssh-cert/expired-${unique()}`);
    const expiredReferrer = await ladingSign(expired, { keyFile: user.file, certificateFile: expiredCert });
    const allowed = await file(caLine());
    await expectRefused(
      expired,
      { allowedSigners: allowed, principals: [principal] },
      /expired certificate: valid before 2020-01-02/,
    );
    const files = await orasPullReferrer(env, work, expired.reference.replace(/:v1$/, ''), expiredReferrer.digest);
    expect((await sshKeygenVerify(allowed, principal, 'lading', files)).code).not.toBe(0);

    const pushed = await pushSample(client, host(), work, `ssh-cert/${unique()}`);
    await ladingSign(pushed, { keyFile: user.file, certificateFile: userCert });
    await expectRefused(
      pushed,
      { allowedSigners: allowed, principals: ['bob@example.com'] },
      'wrong principal: the certificate "user-valid-id" names "alice@example.com,alice", not "bob@example.com"',
    );
    const plainCA = await file(allowedLine('*@example.com', ca));
    await expectRefused(
      pushed,
      { allowedSigners: plainCA, principals: [principal] },
      /unknown key: certificate SHA256:\S+ \(CA SHA256:\S+\) is not in allowed_signers \(no cert-authority line for its CA\)/,
    );
    const revoked = path.join(work, `revoked-${unique()}`);
    await writeFile(revoked, `${ca.publicLine}\n`);
    await expectRefused(
      pushed,
      { allowedSigners: allowed, principals: [principal], revoked },
      `revoked key: the certificate's CA ${ca.fingerprint} is listed in ${revoked}:1`,
    );
  });

  it('a key and its certificate held by ssh-agent: lading signs with the certificate through the agent', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-agent-'));
    const sock = path.join(dir, 'agent.sock');
    const second = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      await waitFor('second ssh-agent socket', () => Promise.resolve(existsSync(sock)));
      // ssh-add loads user-valid-cert.pub beside the key user-valid: the agent holds the key and its certificate.
      await copyFile(user.file, path.join(work, 'user-valid'));
      await run('ssh-add', [path.join(work, 'user-valid')], { env: { ...env, SSH_AUTH_SOCK: sock } });
      const listed = await run('ssh-add', ['-l'], { env: { ...env, SSH_AUTH_SOCK: sock } });
      expect(listed.stdout).toContain('ECDSA-CERT');
      const pushed = await pushSample(client, host(), work, `ssh-cert/agent-${unique()}`);
      const referrer = await ladingSign(pushed, { agent: sock, certificateFile: userCert });
      const allowed = await file(caLine());
      const files = await orasPullReferrer(env, work, pushed.reference.replace(/:v1$/, ''), referrer.digest);
      const openssh = await sshKeygenVerify(allowed, principal, 'lading', files);
      expect(openssh.stdout).toContain(`with ECDSA-CERT key ${user.fingerprint}`);
      const pulled = await gatedPull(pushed, work, [
        createSshVerifier({ allowedSigners: allowed, principals: [principal] }),
      ]);
      expect(pulled.error).toBeUndefined();
      expect(pulled.verified).toMatchObject([
        { identity: principal, keyType: 'ecdsa-sha2-nistp256-cert-v01@openssh.com' },
      ]);
    } finally {
      second.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
