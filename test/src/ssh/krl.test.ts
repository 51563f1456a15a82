// OpenSSH KRLs (`ssh-keygen -k`) as the revoked-keys file: what `ssh-keygen -Q` says is revoked, lading refuses,
// and what it says is not, lading accepts. Explicit keys, SHA-256 key hashes, and certificates revoked by serial
// (list, range and the bitmap ssh-keygen picks for dense serials) and by key ID.
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RegistryClient } from '@lading/core';
import { createSshVerifier } from '@lading/ssh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedClient } from '../registry/helpers.js';
import { run, testbed } from '../testbed/index.js';
import { allowedLine, gatedPull, ladingSign, makeKey, pushSample, unique, type TestKey } from './fixtures.js';

const principal = 'alice@example.com';
let work: string;
let client: RegistryClient;
let ca: TestKey;
let user: TestKey;
let other: TestKey;
let hashed: TestKey;
const host = (): string => testbed().registries.anonymous.host;

async function certify(serial: number, keyId: string): Promise<string> {
  const pub = path.join(work, `cert-${serial}-${keyId}.pub`);
  await copyFile(user.pub, pub);
  await run('ssh-keygen', [
    '-q',
    '-s',
    ca.file,
    '-I',
    keyId,
    '-n',
    principal,
    '-z',
    String(serial),
    '-V',
    '-1h:+1h',
    pub,
  ]);
  return pub.replace(/\.pub$/, '-cert.pub');
}

/** `ssh-keygen -Q -f krl file`: true when OpenSSH says the key or certificate is revoked. */
async function opensshRevoked(krl: string, file: string): Promise<boolean> {
  const result = await run('ssh-keygen', ['-Q', '-f', krl, file], { check: false });
  expect(result.stdout + result.stderr).toMatch(/REVOKED|ok/);
  return result.code !== 0;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(testbed().dir, 'ssh-krl-'));
  client = isolatedClient();
  ca = await makeKey(work, 'ca', ['-t', 'ed25519']);
  user = await makeKey(work, 'user', ['-t', 'ed25519']);
  other = await makeKey(work, 'other', ['-t', 'ecdsa', '-b', '256']);
  hashed = await makeKey(work, 'hashed', ['-t', 'ed25519']);
});

afterAll(async () => {
  await client.close();
});

async function verdict(
  krl: string,
  sign: { keyFile: string; certificateFile?: string },
  allowed: string,
): Promise<string | undefined> {
  const pushed = await pushSample(client, host(), work, `ssh-krl/${unique()}`);
  await ladingSign(pushed, sign);
  const pulled = await gatedPull(pushed, work, [
    createSshVerifier({ allowedSigners: allowed, principals: [principal], revoked: krl }),
  ]);
  if (pulled.error) expect(existsSync(pulled.destination)).toBe(false);
  return pulled.error?.message;
}

describe('KRL revoked-keys files', () => {
  it('explicit keys and SHA-256 hashes: revoked keys are refused, others accepted, as ssh-keygen -Q says', async () => {
    const spec = path.join(work, 'keys.spec');
    await writeFile(spec, `${user.publicLine}\nhash: ${hashed.fingerprint}\n`);
    const krl = path.join(work, 'keys.krl');
    await run('ssh-keygen', ['-q', '-k', '-f', krl, spec]);
    const allowed = path.join(work, 'allowed-keys');
    await writeFile(allowed, [user, other, hashed].map((k) => allowedLine(principal, k)).join(''));
    for (const key of [user, hashed]) {
      expect(await opensshRevoked(krl, key.pub)).toBe(true);
      expect(await verdict(krl, { keyFile: key.file }, allowed)).toContain(
        `revoked key: ${key.fingerprint} is revoked by the KRL ${krl}`,
      );
    }
    expect(await opensshRevoked(krl, other.pub)).toBe(false);
    expect(await verdict(krl, { keyFile: other.file }, allowed)).toBeUndefined();
  });

  it('certificates by serial (list, range, bitmap) and key ID under their CA', async () => {
    const spec = path.join(work, 'certs.spec');
    const dense = [1000, 1002, 1003, 1005, 1008, 1009, 1011, 1013, 1017, 1020];
    await writeFile(
      spec,
      ['serial: 7', 'serial: 100-200', ...dense.map((s) => `serial: ${s}`), 'id: stolen-laptop', ''].join('\n'),
    );
    const krl = path.join(work, 'certs.krl');
    await run('ssh-keygen', ['-q', '-k', '-f', krl, '-s', ca.pub, spec]);
    const allowed = path.join(work, 'allowed-ca');
    await writeFile(allowed, allowedLine('*@example.com', ca, 'cert-authority'));
    const cases: [number, string, boolean][] = [
      [7, 'ok-id', true],
      [150, 'ok-id', true],
      [1009, 'ok-id', true],
      [8, 'stolen-laptop', true],
      [8, 'ok-id', false],
      [1010, 'ok-id', false],
    ];
    for (const [serial, keyId, revoked] of cases) {
      const cert = await certify(serial, keyId);
      expect(await opensshRevoked(krl, cert), `ssh-keygen -Q, serial ${serial} id ${keyId}`).toBe(revoked);
      const message = await verdict(krl, { keyFile: user.file, certificateFile: cert }, allowed);
      if (revoked)
        expect(message).toMatch(
          /revoked key: certificate (serial \d+|key ID "stolen-laptop") of CA SHA256:\S+ is revoked by the KRL/,
        );
      else expect(message).toBeUndefined();
    }
  });
});
