// SSH signing and verifying on the command line: the built `lading` binary against the test bed's anonymous
// distribution (no referrers API: the tag fallback), with real OpenSSH (ssh-keygen, ssh-agent) and oras as oracles.
//
//   lading push --sign --ssh-key → oras pull of the referrer → ssh-keygen -Y verify accepts;
//   ssh-keygen -Y sign + oras attach → lading verify/pull --allowed-signers --verify-principal accept;
//   refusals exit 5 and write nothing; usage errors exit 2 before anything is uploaded.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type {
  AttestCommandResult,
  ErrorJSON,
  KeyGenerateResult,
  PullCommandResult,
  PushCommandResult,
  SignCommandResult,
  VerifyCommandResult,
} from '@lading/cli';
import { statementFor } from '@lading/ssh/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  expectOK,
  expectVerificationRefused,
  json,
  ladingIn,
  runLadingAtTerminal,
  type LadingTextRun,
} from '../cli-runner.js';
import { makeToolHome, run, testbed, waitFor } from '../testbed/index.js';
import {
  allowedLine,
  makeKey,
  orasAttach,
  orasPullReferrer,
  passphrase,
  sshKeygenVerify,
  unique,
  type TestKey,
} from './fixtures.js';

const principal = 'alice@example.com';
const sshsigType = 'application/vnd.lading.sshsig.v1';
const signType = 'https://sigstore.dev/cosign/sign/v1';

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let alice: TestKey;
let aliceEncrypted: TestKey;
let mallory: TestKey;
let allowed: string;
let agent: ChildProcess | undefined;
let socketDir: string;
let socket: string;

const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });
const repository = (what: string): string => `${host}/cli-ssh/${what}-${unique()}`;

/** Pushes notes.txt to `name:v1` with `signing` flags; expects success and returns the result. */
async function push(
  name: string,
  signing: readonly string[],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<PushCommandResult> {
  const result = await lading(['push', '--json', '--no-progress', ...signing, `${name}:v1`, 'notes.txt'], extraEnv);
  expectOK(result, `push ${signing.join(' ')}`);
  return json<PushCommandResult>(result);
}

/** The repositories distribution knows (any blob or manifest pushed creates one). */
async function catalog(): Promise<string[]> {
  const listed = await run('crane', ['catalog', '--insecure', host], { env });
  return listed.stdout.split('\n').filter((line) => line !== '');
}

/** Expects a usage error (exit 2) naming `flag` in the `--json` error. */
function expectUsage(result: LadingTextRun, mentions: string): void {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(2);
  const error = json<ErrorJSON>(result).error;
  expect(error.code).toBe('ERR_LADING_USAGE');
  expect(error.message).toContain(mentions);
}

async function writeAllowed(text: string): Promise<string> {
  const file = path.join(work, `allowed_signers-${unique()}`);
  await writeFile(file, text);
  return file;
}

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  ({ env } = await makeToolHome(bed.dir));
  // No agent of the machine's: only the one this file starts.
  env = { ...env, SSH_AUTH_SOCK: '' };
  work = await mkdtemp(path.join(bed.dir, 'cli-ssh-'));
  await writeFile(path.join(work, 'notes.txt'), 'release notes\n');
  alice = await makeKey(work, 'alice', ['-t', 'ed25519']);
  aliceEncrypted = await makeKey(work, 'alice-enc', ['-t', 'ecdsa', '-b', '256', '-Z', 'aes256-ctr'], true);
  mallory = await makeKey(work, 'mallory', ['-t', 'ed25519']);
  allowed = await writeAllowed(allowedLine(principal, alice) + allowedLine(principal, aliceEncrypted));
  socketDir = await mkdtemp(path.join(tmpdir(), 'lading-cli-agent-'));
  socket = path.join(socketDir, 'agent.sock');
  agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  await waitFor('ssh-agent socket', () => Promise.resolve(existsSync(socket)));
  await run('ssh-add', ['-q', alice.file, mallory.file], { env: { ...env, SSH_AUTH_SOCK: socket } });
});

afterAll(async () => {
  agent?.kill();
  await rm(socketDir, { recursive: true, force: true });
});

describe('lading signs with an SSH key; OpenSSH verifies', () => {
  it('push --sign --ssh-key: oras pull of the referrer gives two files ssh-keygen -Y verify accepts', async () => {
    const name = repository('push');
    const pushed = await push(name, ['--sign', '--ssh-key', alice.file]);
    expect(pushed.signature?.artifactType).toBe(sshsigType);
    expect(pushed.tags).toEqual(['v1']);
    const files = await orasPullReferrer(env, work, name, pushed.signature?.digest ?? '');
    const accepted = await sshKeygenVerify(allowed, principal, 'lading', files);
    expect(accepted.code, accepted.stderr).toBe(0);
    expect(accepted.stdout).toContain(`Good "lading" signature for ${principal}`);
    const statement = JSON.parse(await readFile(files.statement, 'utf8')) as {
      subject: { digest: { sha256: string } }[];
    };
    expect(`sha256:${statement.subject[0]?.digest.sha256 ?? ''}`).toBe(pushed.digest);

    // And lading reads its own signature back, reporting principal, key type, fingerprint and namespace.
    const verified = await lading([
      'verify',
      '--json',
      '--allowed-signers',
      allowed,
      '--verify-principal',
      principal,
      `${name}:v1`,
    ]);
    expectOK(verified, 'verify');
    expect(json<VerifyCommandResult>(verified).verified).toEqual([
      expect.objectContaining({
        verifier: 'ssh',
        identity: principal,
        keyType: 'ssh-ed25519',
        keyHint: alice.fingerprint,
        namespace: 'lading',
        referrer: pushed.signature?.digest,
        subject: pushed.digest,
      }),
    ]);
  });

  it('--ssh-namespace: the signature is in that namespace, which ssh-keygen must be given', async () => {
    const name = repository('namespace');
    const pushed = await push(name, ['--sign', '--ssh-key', alice.file, '--ssh-namespace', 'release']);
    const files = await orasPullReferrer(env, work, name, pushed.signature?.digest ?? '');
    expect((await sshKeygenVerify(allowed, principal, 'release', files)).code).toBe(0);
    expect((await sshKeygenVerify(allowed, principal, 'lading', files)).code).not.toBe(0);
  });

  it('an encrypted key signs with LADING_SSH_PASSPHRASE; without it, nothing is uploaded (exit 2)', async () => {
    const refusedName = repository('encrypted-no-passphrase');
    const refused = await lading([
      'push',
      '--json',
      '--sign',
      '--ssh-key',
      aliceEncrypted.file,
      `${refusedName}:v1`,
      'notes.txt',
    ]);
    expectUsage(refused, 'LADING_SSH_PASSPHRASE');
    const wrong = await lading(
      ['push', '--json', '--sign', '--ssh-key', aliceEncrypted.file, `${refusedName}:v1`, 'notes.txt'],
      { LADING_SSH_PASSPHRASE: 'not it' },
    );
    expectUsage(wrong, 'wrong passphrase');
    expect(`${wrong.stdout}${wrong.stderr}`).not.toContain('not it');
    expect(await catalog()).not.toContain(refusedName.slice(host.length + 1));

    const name = repository('encrypted');
    const pushed = await push(name, ['--sign', '--ssh-key', aliceEncrypted.file], {
      LADING_SSH_PASSPHRASE: passphrase,
    });
    const files = await orasPullReferrer(env, work, name, pushed.signature?.digest ?? '');
    expect((await sshKeygenVerify(allowed, principal, 'lading', files)).code).toBe(0);
  });

  it('--ssh-agent: a key held by a real ssh-agent, chosen by --ssh-key-fingerprint among two', async () => {
    const agentEnv = { SSH_AUTH_SOCK: socket };
    const several = repository('agent-several');
    const ambiguous = await lading(['push', '--json', '--sign', '--ssh-agent', `${several}:v1`, 'notes.txt'], agentEnv);
    expectUsage(ambiguous, '--ssh-key-fingerprint');
    expect(await catalog()).not.toContain(several.slice(host.length + 1));

    const name = repository('agent');
    const pushed = await push(name, ['--sign', '--ssh-agent', '--ssh-key-fingerprint', alice.fingerprint], agentEnv);
    const files = await orasPullReferrer(env, work, name, pushed.signature?.digest ?? '');
    expect((await sshKeygenVerify(allowed, principal, 'lading', files)).code).toBe(0);
  });

  it('sign --ssh-key signs an artifact already pushed, then moves the tag', async () => {
    const name = repository('sign');
    const unsigned = await push(name, []);
    const signed = await lading([
      'sign',
      '--json',
      '--ssh-key',
      alice.file,
      '--tag',
      'v2',
      `${name}@${unsigned.digest}`,
    ]);
    expectOK(signed, 'sign');
    const result = json<SignCommandResult>(signed);
    expect(result.signature.artifactType).toBe(sshsigType);
    expect(result.tags).toEqual(['v2']);
    const files = await orasPullReferrer(env, work, name, result.signature.digest);
    expect((await sshKeygenVerify(allowed, principal, 'lading', files)).code).toBe(0);
  });

  it('attest --ssh-key: the statement carries the predicate as given; verify --attestation-type accepts it', async () => {
    const name = repository('attest');
    const pushed = await push(name, []);
    const predicate = { builder: { id: 'https://ci.example/builder' }, nested: { list: [1, 2] } };
    await writeFile(path.join(work, 'predicate.json'), JSON.stringify(predicate));
    const type = 'https://example.com/predicate/v1';
    const attested = await lading([
      'attest',
      '--json',
      '--ssh-key',
      alice.file,
      '--predicate',
      'predicate.json',
      '--type',
      type,
      `${name}:v1`,
    ]);
    expectOK(attested, 'attest');
    const result = json<AttestCommandResult>(attested);
    expect(result.attestation.artifactType).toBe(sshsigType);
    const files = await orasPullReferrer(env, work, name, result.attestation.digest);
    expect((await sshKeygenVerify(allowed, principal, 'lading', files)).code).toBe(0);
    const statement = JSON.parse(await readFile(files.statement, 'utf8')) as {
      predicateType: string;
      predicate: unknown;
    };
    expect(statement).toMatchObject({ predicateType: type, predicate });

    const flags = ['--allowed-signers', allowed, '--verify-principal', principal];
    const verified = await lading(['verify', '--json', ...flags, '--attestation-type', type, `${name}:v1`]);
    expectOK(verified, 'verify --attestation-type');
    expect(json<VerifyCommandResult>(verified).verified[0]?.predicateType).toBe(type);
    // --json carries the verified statement.json as signed, predicate included.
    expect(json<VerifyCommandResult>(verified).verified[0]?.statement).toEqual(
      JSON.parse(await readFile(files.statement, 'utf8')),
    );
    // A plain signature is what verify asks for by default: the attestation is not one.
    expectVerificationRefused(await lading(['verify', '--json', ...flags, pushed.reference]));
    expect(pushed.digest).toBe(result.digest);
  });
});

describe('OpenSSH signs; lading verifies', () => {
  let name: string;
  let pushed: PushCommandResult;

  beforeAll(async () => {
    name = repository('by-openssh');
    pushed = await push(name, []);
    const dir = await mkdtemp(path.join(work, 'openssh-'));
    await writeFile(
      path.join(dir, 'statement.json'),
      statementFor({ mediaType: pushed.mediaType, digest: pushed.digest, size: pushed.size }),
    );
    await run('ssh-keygen', ['-Y', 'sign', '-f', alice.file, '-n', 'lading', 'statement.json'], { cwd: dir, env });
    await orasAttach(env, dir, `${name}@${pushed.digest}`);
  });

  it('verify and pull --allowed-signers --verify-principal accept (exit 0), reporting the signer in --json', async () => {
    const flags = [
      '--allowed-signers',
      allowed,
      '--verify-principal',
      'bob@example.com',
      '--verify-principal',
      principal,
    ];
    const verified = await lading(['verify', '--json', ...flags, `${name}:v1`]);
    expectOK(verified, 'verify');
    const [signature] = json<VerifyCommandResult>(verified).verified;
    expect(signature).toMatchObject({
      verifier: 'ssh',
      identity: principal,
      keyType: 'ssh-ed25519',
      keyHint: alice.fingerprint,
      namespace: 'lading',
      predicateType: signType,
    });

    const plain = await lading(['verify', ...flags, `${name}:v1`]);
    expectOK(plain, 'verify (text)');
    expect(plain.stdout).toContain(
      `Verified signature by ${principal} (ssh-ed25519 key ${alice.fingerprint}, namespace lading)`,
    );

    const destination = path.join(work, `pulled-${unique()}`);
    const pulled = await lading(['pull', '--json', '--no-progress', ...flags, `${name}:v1`, destination]);
    expectOK(pulled, 'pull');
    expect(json<PullCommandResult>(pulled).verified?.[0]?.identity).toBe(principal);
    expect(await readFile(path.join(destination, 'notes.txt'), 'utf8')).toBe('release notes\n');

    const listed = await lading(['ls', ...flags, `${name}:v1`]);
    expectOK(listed, 'ls');
    expect(listed.stdout).toBe('notes.txt\n');
    const cat = await lading(['cat', ...flags, `${name}:v1`, 'notes.txt']);
    expectOK(cat, 'cat');
    expect(cat.stdout).toBe('release notes\n');
  });

  it.each([
    [
      'a principal the key is not allowed for',
      () => ['--allowed-signers', allowed, '--verify-principal', 'bob@example.com'],
      'bob@example.com',
    ],
    [
      'another namespace',
      () => ['--allowed-signers', allowed, '--verify-principal', principal, '--ssh-namespace', 'release'],
      'wrong namespace',
    ],
    ['an unknown key', () => ['--verify-principal', principal], 'unknown key'],
  ])('refuses %s: exit 5 with the SSH verifier’s message, destination untouched', async (_what, flags, mentions) => {
    let given = flags();
    if (!given.includes('--allowed-signers')) {
      given = ['--allowed-signers', await writeAllowed(allowedLine(principal, mallory)), ...given];
    }
    const destination = path.join(work, `refused-${unique()}`);
    const pulled = await lading(['pull', '--json', '--no-progress', ...given, `${name}:v1`, destination]);
    const error = expectVerificationRefused(pulled);
    expect(error.message).toContain('ssh');
    expect(error.message).toContain(mentions);
    expect(existsSync(destination)).toBe(false);
    expect((await readdir(work)).filter((n) => n.startsWith('refused-'))).toEqual([]);
    expectVerificationRefused(await lading(['verify', '--json', ...given, `${name}:v1`]));
  });

  it('a revoked key (--ssh-revoked) is refused with exit 5', async () => {
    const revoked = path.join(work, `revoked-${unique()}`);
    await writeFile(revoked, `${alice.publicLine}\n`);
    const error = expectVerificationRefused(
      await lading([
        'verify',
        '--json',
        '--allowed-signers',
        allowed,
        '--verify-principal',
        principal,
        '--ssh-revoked',
        revoked,
        `${name}:v1`,
      ]),
    );
    expect(error.message).toContain('revoked');
  });
});

describe('SSH and Sigstore authorities together: any one suffices', () => {
  it('--verify-key and --allowed-signers, only the SSH key signed: accepted; --verify-key alone: refused', async () => {
    const generated = await lading(['key', 'generate', '--json', '--output-key-prefix', `cosign-${unique()}`], {
      COSIGN_PASSWORD: 'pw',
    });
    expectOK(generated, 'key generate (cosign)');
    const cosignPub = json<KeyGenerateResult>(generated).publicKey;
    const name = repository('mixed');
    await push(name, ['--sign', '--ssh-key', alice.file]);

    const both = await lading([
      'verify',
      '--json',
      '--verify-key',
      cosignPub,
      '--allowed-signers',
      allowed,
      '--verify-principal',
      principal,
      `${name}:v1`,
    ]);
    expectOK(both, 'verify with both authorities');
    expect(json<VerifyCommandResult>(both).verified.map((v) => v.verifier)).toEqual(['ssh']);
    const destination = path.join(work, `mixed-${unique()}`);
    expectOK(
      await lading([
        'pull',
        '--no-progress',
        '--verify-key',
        cosignPub,
        '--allowed-signers',
        allowed,
        '--verify-principal',
        principal,
        `${name}:v1`,
        destination,
      ]),
      'pull with both authorities',
    );
    expect(existsSync(path.join(destination, 'notes.txt'))).toBe(true);

    expectVerificationRefused(await lading(['verify', '--json', '--verify-key', cosignPub, `${name}:v1`]));
  });
});

describe('usage errors exit 2 before anything is uploaded', () => {
  it.each([
    [
      'a missing key file',
      (n: string) => ['push', '--sign', '--ssh-key', path.join(work, 'missing'), `${n}:v1`, 'notes.txt'],
      'missing',
    ],
    [
      '--ssh-key with --ssh-agent',
      (n: string) => ['push', '--sign', '--ssh-key', alice.file, '--ssh-agent', `${n}:v1`, 'notes.txt'],
      '--ssh-agent',
    ],
    [
      '--ssh-key with a Sigstore flag',
      (n: string) => ['push', '--sign', '--ssh-key', alice.file, '--key', 'cosign.key', `${n}:v1`, 'notes.txt'],
      '--key',
    ],
    ['--ssh-key without --sign', (n: string) => ['push', '--ssh-key', alice.file, `${n}:v1`, 'notes.txt'], '--sign'],
    [
      '--ssh-namespace without a key',
      (n: string) => ['push', '--sign', '--ssh-namespace', 'x', `${n}:v1`, 'notes.txt'],
      '--ssh-key',
    ],
    [
      'a certificate for another key',
      (n: string) => [
        'push',
        '--sign',
        '--ssh-key',
        alice.file,
        '--ssh-certificate',
        mallory.pub,
        `${n}:v1`,
        'notes.txt',
      ],
      'certificate',
    ],
  ])('push with %s', async (_what, args, mentions) => {
    const name = repository('usage');
    const result = await lading([...args(name), '--json']);
    expectUsage(result, mentions);
    expect(await catalog()).not.toContain(name.slice(host.length + 1));
  });

  it.each([
    ['--verify-principal without --allowed-signers', ['--verify-principal', principal], '--allowed-signers'],
    ['--allowed-signers without --verify-principal', ['--allowed-signers', 'ALLOWED'], '--verify-principal'],
    [
      'a missing allowed_signers file',
      ['--allowed-signers', 'no-such-file', '--verify-principal', principal],
      'no-such-file',
    ],
    ['--ssh-revoked without --allowed-signers', ['--ssh-revoked', 'ALLOWED'], '--allowed-signers'],
  ])('pull with %s', async (_what, flags, mentions) => {
    const destination = path.join(work, `usage-${unique()}`);
    const given = flags.map((f) => (f === 'ALLOWED' ? allowed : f));
    const result = await lading(['pull', '--json', ...given, `${host}/cli-ssh/none:v1`, destination]);
    expectUsage(result, mentions);
    expect(existsSync(destination)).toBe(false);
  });
});

describe('lading key generate --type ssh-…: OpenSSH reads the keys', () => {
  it.each(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'])(
    '%s, unencrypted and with a passphrase: ssh-keygen -y -f gives the .pub; mode 0600; ssh-keygen -l gives the same fingerprint',
    async (type) => {
      for (const secret of [undefined, 'gen passphrase']) {
        const prefix = path.join(work, `gen-${unique()}`);
        const extra = secret === undefined ? {} : { LADING_SSH_PASSPHRASE: secret };
        const result = await lading(
          ['key', 'generate', '--json', '--type', type, '--comment', 'ci@example', '--output-key-prefix', prefix],
          extra,
        );
        expectOK(result, `key generate --type ${type}`);
        const out = json<KeyGenerateResult>(result);
        expect(out).toMatchObject({
          privateKey: prefix,
          publicKey: `${prefix}.pub`,
          type,
          encrypted: secret !== undefined,
        });
        expect((await stat(prefix)).mode & 0o777).toBe(0o600);
        const pub = (await readFile(`${prefix}.pub`, 'utf8')).trim();
        expect(pub).toMatch(new RegExp(`^${type} [A-Za-z0-9+/=]+ ci@example$`));
        const derived = await run('ssh-keygen', ['-y', '-P', secret ?? '', '-f', prefix], { env, check: false });
        expect(derived.code, derived.stderr).toBe(0);
        expect(derived.stdout.trim().split(' ').slice(0, 2)).toEqual(pub.split(' ').slice(0, 2));
        if (secret !== undefined) {
          expect((await run('ssh-keygen', ['-y', '-P', 'wrong', '-f', prefix], { env, check: false })).code).not.toBe(
            0,
          );
        }
        const listed = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${prefix}.pub`], { env });
        expect(listed.stdout.split(' ')[1]).toBe(out.keyHint);
      }
    },
  );

  it('a generated key signs a push that ssh-keygen -Y verify accepts; existing files are never overwritten', async () => {
    const prefix = path.join(work, `gen-push-${unique()}`);
    expectOK(await lading(['key', 'generate', '--type', 'ssh-ed25519', '--output-key-prefix', prefix]), 'key generate');
    const name = repository('generated');
    const pushed = await push(name, ['--sign', '--ssh-key', prefix]);
    const files = await orasPullReferrer(env, work, name, pushed.signature?.digest ?? '');
    const signers = await writeAllowed(`${principal} ${await readFile(`${prefix}.pub`, 'utf8')}`);
    expect((await sshKeygenVerify(signers, principal, 'lading', files)).code).toBe(0);

    const before = await readFile(prefix, 'utf8');
    const again = await lading(['key', 'generate', '--json', '--type', 'ssh-ed25519', '--output-key-prefix', prefix]);
    expectUsage(again, 'not overwritten');
    expect(await readFile(prefix, 'utf8')).toBe(before);
  });
});

describe('passphrases asked at a terminal, never echoed', () => {
  it('push --sign --ssh-key of an encrypted key asks for its passphrase; a wrong answer is exit 2, nothing pushed', async () => {
    const name = repository('prompted');
    const atTerminal = (answer: string) =>
      runLadingAtTerminal(
        ['push', '--no-progress', '--sign', '--ssh-key', aliceEncrypted.file, `${name}:v1`, 'notes.txt'],
        {
          cwd: work,
          env,
          answers: [answer],
          prompt: 'Enter passphrase',
        },
      );
    const wrong = await atTerminal('not the passphrase');
    expect(wrong.code, wrong.screen).toBe(2);
    expect(wrong.answered).toBe(1);
    expect(wrong.screen).toContain('wrong passphrase');
    expect(wrong.screen).not.toContain('not the passphrase');
    expect(await catalog()).not.toContain(name.slice(host.length + 1));

    const right = await atTerminal(passphrase);
    expect(right.code, right.screen).toBe(0);
    expect(right.screen).toContain(`Enter passphrase for ${aliceEncrypted.file}: `);
    expect(right.screen).not.toContain(passphrase);
    expectOK(
      await lading(['verify', '--allowed-signers', allowed, '--verify-principal', principal, `${name}:v1`]),
      'verify the prompted signature',
    );
  });

  it('key generate --type ssh-ed25519 asks twice; the key opens with that passphrase', async () => {
    const prefix = path.join(work, `gen-tty-${unique()}`);
    const typed = await runLadingAtTerminal(
      ['key', 'generate', '--type', 'ssh-ed25519', '--output-key-prefix', prefix],
      {
        cwd: work,
        env,
        answers: ['tty passphrase', 'tty passphrase'],
        // Each question shows `Enter ` once (the first says passphrase twice).
        prompt: 'Enter ',
      },
    );
    expect(typed.code, typed.screen).toBe(0);
    expect(typed.answered).toBe(2);
    expect(typed.screen).not.toContain('tty passphrase');
    expect((await run('ssh-keygen', ['-y', '-P', 'tty passphrase', '-f', prefix], { env, check: false })).code).toBe(0);
    expect((await run('ssh-keygen', ['-y', '-P', '', '-f', prefix], { env, check: false })).code).not.toBe(0);
  });
});

describe('the git anchor: push --git-commit, verify --require-signed-commit', () => {
  let repo: string;
  let gitEnv: NodeJS.ProcessEnv;
  const git = async (args: string[]): Promise<string> =>
    (await run('git', ['-C', repo, ...args], { env: gitEnv })).stdout.trim();
  /** An empty commit, signed by `key` (gpg.format ssh) or unsigned; its id. */
  const commit = async (message: string, key?: TestKey): Promise<string> => {
    const sign = key ? ['-c', `user.signingkey=${key.file}`, 'commit', '-S'] : ['commit', '--no-gpg-sign'];
    await git([...sign, '--allow-empty', '-q', '-m', message]);
    return git(['rev-parse', 'HEAD']);
  };

  beforeAll(async () => {
    gitEnv = { ...env, GIT_CONFIG_NOSYSTEM: '1' };
    repo = path.join(work, `repo-${unique()}`);
    await run('git', ['init', '-q', repo], { env: gitEnv });
    await git(['config', 'user.name', 'Alice']);
    await git(['config', 'user.email', principal]);
    await git(['config', 'gpg.format', 'ssh']);
  });

  it('a commit signed by an allowed key is accepted; an unsigned one, or none recorded, is refused (exit 5)', async () => {
    const signed = await commit('signed', alice);
    const name = repository('git-signed');
    await push(name, ['--sign', '--ssh-key', alice.file, '--git-commit', signed]);
    const flags = ['--allowed-signers', allowed, '--verify-principal', principal];
    const ok = await lading(['verify', '--json', ...flags, '--require-signed-commit', '--git-dir', repo, `${name}:v1`]);
    expectOK(ok, 'verify --require-signed-commit');
    expect(json<VerifyCommandResult>(ok).verified[0]).toMatchObject({ gitCommit: signed, gitCommitSigner: principal });

    const unsigned = await commit('unsigned');
    const other = repository('git-unsigned');
    await push(other, ['--sign', '--ssh-key', alice.file, '--git-commit', unsigned]);
    const refused = expectVerificationRefused(
      await lading(['verify', '--json', ...flags, '--require-signed-commit', '--git-dir', repo, `${other}:v1`]),
    );
    expect(refused.message).toContain(unsigned);

    const none = repository('git-none');
    await push(none, ['--sign', '--ssh-key', alice.file]);
    const noCommit = expectVerificationRefused(
      await lading(['verify', '--json', ...flags, '--require-signed-commit', '--git-dir', repo, `${none}:v1`]),
    );
    expect(noCommit.message).toContain('records no git commit');
    // Without --require-signed-commit the commit is not checked.
    expectOK(await lading(['verify', ...flags, `${other}:v1`]), 'verify without the anchor');
  });

  it('--git-commit that is not a full commit id is a usage error before the upload', async () => {
    const name = repository('git-bad');
    expectUsage(
      await lading([
        'push',
        '--json',
        '--sign',
        '--ssh-key',
        alice.file,
        '--git-commit',
        'HEAD',
        `${name}:v1`,
        'notes.txt',
      ]),
      'ssh signer',
    );
    expect(await catalog()).not.toContain(name.slice(host.length + 1));
  });
});
