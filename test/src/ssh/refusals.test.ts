// What lading's SSH verifier refuses, each with a message naming the check that failed, and nothing written: the
// pull's destination does not exist afterwards. Where OpenSSH has the same check, `ssh-keygen -Y verify` on the
// same files refuses too (the oracle). All on distribution (tag-schema referrers).
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RegistryClient } from '@lading/core';
import { createSshSigner, createSshVerifier, type SshVerifierPolicy } from '@lading/ssh';
import { statementFor } from '@lading/ssh/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed } from '../testbed/index.js';
import {
  allowedLine,
  gatedPull,
  ladingSign,
  makeKey,
  orasAttach,
  orasPullReferrer,
  passphrase,
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
let alice: TestKey;
let mallory: TestKey;
let encrypted: TestKey;
const host = (): string => testbed().registries.anonymous.host;

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'ssh-refusals-'));
  client = isolatedClient();
  alice = await makeKey(work, 'alice', ['-t', 'ed25519']);
  mallory = await makeKey(work, 'mallory', ['-t', 'ed25519']);
  encrypted = await makeKey(work, 'encrypted', ['-t', 'ed25519', '-Z', 'aes256-gcm@openssh.com'], true);
});

afterAll(async () => {
  await client.close();
});

async function file(text: string, name = 'allowed_signers'): Promise<string> {
  const f = path.join(work, `${name}-${unique()}`);
  await writeFile(f, text);
  return f;
}

/** Pulls through the gate with an SSH verifier; expects a refusal containing `reason` and no destination. */
async function expectRefused(pushed: Pushed, policy: SshVerifierPolicy, reason: string | RegExp): Promise<string> {
  const pulled = await gatedPull(pushed, work, [createSshVerifier(policy)]);
  expect(pulled.error, 'the pull should have been refused').toBeDefined();
  expect(pulled.error).toMatchObject({ code: 'ERR_LADING_VERIFICATION' });
  expect(pulled.error?.message).toMatch(reason);
  expect(pulled.error?.message).toContain('nothing was read');
  expect(existsSync(pulled.destination)).toBe(false);
  return pulled.error?.message ?? '';
}

async function signedByAlice(namespace?: string): Promise<{ pushed: Pushed; referrer: string }> {
  const pushed = await pushSample(client, host(), work, `ssh-refusals/${unique()}`);
  const referrer = await ladingSign(pushed, { keyFile: alice.file, ...(namespace ? { namespace } : {}) });
  return { pushed, referrer: referrer.digest };
}

describe('lading refuses, and says which check failed', () => {
  it('unknown key: the signing key is not in allowed_signers', async () => {
    const { pushed, referrer } = await signedByAlice();
    const allowed = await file(allowedLine(principal, mallory));
    await expectRefused(
      pushed,
      { allowedSigners: allowed, principals: [principal] },
      /unknown key: key SHA256:\S+ \(ssh-ed25519\) is not in allowed_signers/,
    );
    const files = await orasPullReferrer(env, work, pushed.reference.replace(/:v1$/, ''), referrer);
    expect((await sshKeygenVerify(allowed, principal, 'lading', files)).code).not.toBe(0);
  });

  it('wrong principal: the key is allowed only for other principals (patterns with wildcards and negation)', async () => {
    const { pushed } = await signedByAlice();
    const allowed = await file(allowedLine('*@example.com,!alice@example.com', alice));
    const message = await expectRefused(
      pushed,
      { allowedSigners: allowed, principals: [principal] },
      /wrong principal/,
    );
    expect(message).toContain('"alice@example.com" does not match "*@example.com,!alice@example.com"');
    // The same file grants bob: the pattern list works as OpenSSH's.
    const pulled = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: allowed, principals: ['bob@example.com'] }),
    ]);
    expect(pulled.error).toBeUndefined();
    expect(pulled.verified).toMatchObject([{ identity: 'bob@example.com' }]);
  });

  it('wrong namespace: signed in another namespace, or a namespace the line does not allow', async () => {
    const { pushed, referrer } = await signedByAlice('git');
    const allowed = await file(allowedLine(principal, alice));
    await expectRefused(
      pushed,
      { allowedSigners: allowed, principals: [principal] },
      'wrong namespace: signed in "git", required "lading"',
    );
    const files = await orasPullReferrer(env, work, pushed.reference.replace(/:v1$/, ''), referrer);
    const openssh = await sshKeygenVerify(allowed, principal, 'lading', files);
    expect(openssh.code).not.toBe(0);

    const { pushed: other } = await signedByAlice();
    const onlyGit = await file(allowedLine(principal, alice, 'namespaces="git,file"'));
    await expectRefused(
      other,
      { allowedSigners: onlyGit, principals: [principal] },
      'wrong namespace: "lading" is not in namespaces="git,file"',
    );
  });

  it('outside the validity window: valid-before in the past, valid-after in the future', async () => {
    const { pushed, referrer } = await signedByAlice();
    const expired = await file(allowedLine(principal, alice, 'valid-before="20200101Z"'));
    await expectRefused(
      pushed,
      { allowedSigners: expired, principals: [principal] },
      /outside the validity window: \S+ is after valid-before 2020-01-01T00:00:00.000Z/,
    );
    const files = await orasPullReferrer(env, work, pushed.reference.replace(/:v1$/, ''), referrer);
    expect((await sshKeygenVerify(expired, principal, 'lading', files)).code).not.toBe(0);
    const future = await file(allowedLine(principal, alice, 'valid-after="29990101"'));
    await expectRefused(
      pushed,
      { allowedSigners: future, principals: [principal] },
      /outside the validity window: \S+ is before valid-after/,
    );
    const within = await file(allowedLine(principal, alice, 'valid-after="20200101",valid-before="29990101000000Z"'));
    expect(
      (await gatedPull(pushed, work, [createSshVerifier({ allowedSigners: within, principals: [principal] })])).error,
    ).toBeUndefined();
    expect((await sshKeygenVerify(within, principal, 'lading', files)).code).toBe(0);
  });

  it('revoked key: the signing key is listed in the revoked-keys file', async () => {
    const { pushed, referrer } = await signedByAlice();
    const allowed = await file(allowedLine(principal, alice));
    const revoked = await file(`# revoked on 2026-01-01\n${mallory.publicLine}\n${alice.publicLine}\n`, 'revoked');
    await expectRefused(
      pushed,
      { allowedSigners: allowed, principals: [principal], revoked },
      `revoked key: ${alice.fingerprint} is listed in ${revoked}:3`,
    );
    const files = await orasPullReferrer(env, work, pushed.reference.replace(/:v1$/, ''), referrer);
    const openssh = await run(
      'ssh-keygen',
      ['-Y', 'verify', '-f', allowed, '-I', principal, '-n', 'lading', '-r', revoked, '-s', files.signature],
      { input: await readFile(files.statement), check: false },
    );
    expect(openssh.code).not.toBe(0);
  });

  it('tampered statement: statement.json changed after signing', async () => {
    const pushed = await pushSample(client, host(), work, `ssh-refusals/${unique()}`);
    const dir = await mkdtemp(path.join(work, 'tampered-'));
    const statement = path.join(dir, 'statement.json');
    await writeFile(statement, statementFor(pushed.descriptor));
    await run('ssh-keygen', ['-Y', 'sign', '-f', alice.file, '-n', 'lading', 'statement.json'], { cwd: dir });
    await writeFile(statement, statementFor(pushed.descriptor, 'https://slsa.dev/provenance/v1'));
    await orasAttach(env, dir, `${pushed.reference.replace(/:v1$/, '')}@${pushed.descriptor.digest}`);
    const allowed = await file(allowedLine(principal, alice));
    await expectRefused(
      pushed,
      { allowedSigners: allowed, principals: [principal] },
      'tampered statement or bad signature: the signature does not verify over statement.json',
    );
    expect(
      (await sshKeygenVerify(allowed, principal, 'lading', { statement, signature: `${statement}.sig` })).code,
    ).not.toBe(0);
  });

  it('a statement for another artifact, signed by an allowed key and attached here', async () => {
    const pushed = await pushSample(client, host(), work, `ssh-refusals/${unique()}`);
    const elsewhere = await pushSample(client, host(), work, `ssh-refusals/${unique()}`);
    const dir = await mkdtemp(path.join(work, 'other-'));
    await writeFile(path.join(dir, 'statement.json'), statementFor(elsewhere.descriptor));
    await run('ssh-keygen', ['-Y', 'sign', '-f', alice.file, '-n', 'lading', 'statement.json'], { cwd: dir });
    await orasAttach(env, dir, `${pushed.reference.replace(/:v1$/, '')}@${pushed.descriptor.digest}`);
    const allowed = await file(allowedLine(principal, alice));
    await expectRefused(
      pushed,
      { allowedSigners: allowed, principals: [principal] },
      `the signed statement is for another artifact (${elsewhere.descriptor.digest}), not ${pushed.descriptor.digest}`,
    );
  });

  it("a signature moved to another artifact's referrers", async () => {
    const { pushed: original, referrer } = await signedByAlice();
    const files = await orasPullReferrer(env, work, original.reference.replace(/:v1$/, ''), referrer);
    const victim = await pushSample(client, host(), work, `ssh-refusals/${unique()}`);
    await orasAttach(env, files.dir, `${victim.reference.replace(/:v1$/, '')}@${victim.descriptor.digest}`);
    const allowed = await file(allowedLine(principal, alice));
    // The signature is genuine (ssh-keygen accepts the files): only the statement's subject gives the move away.
    expect((await sshKeygenVerify(allowed, principal, 'lading', files)).code).toBe(0);
    await expectRefused(
      victim,
      { allowedSigners: allowed, principals: [principal] },
      /a signature moved from another artifact is refused/,
    );
  });
});

describe('encrypted keys and bad input', () => {
  it('an encrypted key without a passphrase, or with a wrong one, is refused before signing; the callback is used', async () => {
    await expect(createSshSigner({ keyFile: encrypted.file, env: {} })).rejects.toThrow(
      `ssh key ${encrypted.file}: the key is encrypted; give its passphrase (at the prompt, or in LADING_SSH_PASSPHRASE)`,
    );
    const wrong = createSshSigner({ keyFile: encrypted.file, env: { LADING_SSH_PASSPHRASE: 'not it' } });
    await expect(wrong).rejects.toThrow(`ssh key ${encrypted.file}: wrong passphrase (the key does not decrypt)`);
    await expect(wrong).rejects.not.toThrow('not it');
    const asked: string[] = [];
    const signer = await createSshSigner({
      keyFile: encrypted.file,
      env: { LADING_SSH_PASSPHRASE: 'not it' },
      passphrase: (f) => {
        asked.push(f);
        return passphrase;
      },
    });
    expect(asked).toEqual([encrypted.file]);
    expect(signer.fingerprint).toBe(encrypted.fingerprint);
  });

  it('a PEM key, a wrong fingerprint, and a malformed allowed_signers line are usage errors naming the file', async () => {
    const pem = path.join(work, 'pem-key');
    await run('ssh-keygen', ['-q', '-t', 'ecdsa', '-m', 'PEM', '-N', '', '-f', pem]);
    expect(await readFile(pem, 'utf8')).toContain('-----BEGIN EC PRIVATE KEY-----');
    await expect(createSshSigner({ keyFile: pem })).rejects.toThrow(/a PEM private key, not an OpenSSH one/);
    await expect(createSshSigner({ keyFile: alice.file, fingerprint: mallory.fingerprint })).rejects.toThrow(
      `the key is ${alice.fingerprint}, not the requested ${mallory.fingerprint}`,
    );
    const bad = await file(`${allowedLine(principal, alice)}bob@example.com no-such-option ${alice.publicLine}\n`);
    expect(() => createSshVerifier({ allowedSigners: bad, principals: [principal] })).toThrow(
      `${bad}:2: unsupported option "no-such-option"`,
    );
    expect(() => createSshVerifier({ allowedSigners: bad, principals: [] })).toThrow('give at least one principal');
  });
});
