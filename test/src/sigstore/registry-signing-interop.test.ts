// Every kind of signature lading makes, on real registries: `lading push --sign` with each key type and keyless
// (against the loopback Sigstore harness) to distribution (tag fallback) and to the fake registry with the
// referrers API; `cosign verify` (the oracle) and `lading pull --verify-*` accept it, and another key or identity
// is refused. And the other way: what `cosign sign` makes there (key, and keyless) lading verifies and pulls.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { PushCommandResult, VerifyCommandResult } from '@lading/cli';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn } from '../cli-runner.js';
import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { startSigstoreHarness, type SigstoreHarness } from '../sigstore-harness/index.js';
import { makeToolHome, testbed } from '../testbed/index.js';
import {
  cosign,
  cosignIdentityFlags,
  cosignKeyFlags,
  cosignKeylessFlags,
  cosignVerifyKeyArgs,
  ladingIdentityFlags,
  ladingKeylessFlags,
  writeEmptySigningConfig,
} from './fixtures.js';

interface KeyType {
  name: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const keyTypes = (): KeyType[] => [
  { name: 'p256', ...generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
  { name: 'p384', ...generateKeyPairSync('ec', { namedCurve: 'P-384' }) },
  { name: 'rsa3072', ...generateKeyPairSync('rsa', { modulusLength: 3072 }) },
  { name: 'ed25519', ...generateKeyPairSync('ed25519') },
];

let env: NodeJS.ProcessEnv;
let work: string;
let harness: SigstoreHarness;
let fake: FakeRegistry;
let emptySigningConfig: string;
const types = keyTypes();
const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'key-types-'));
  await mkdir(path.join(work, 'config'));
  await writeFile(path.join(work, 'config/app.yaml'), 'name: app\n');
  for (const type of types) {
    await writeFile(path.join(work, `${type.name}.key`), type.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(path.join(work, `${type.name}.pub`), type.publicKey.export({ type: 'spki', format: 'pem' }));
  }
  harness = await startSigstoreHarness();
  emptySigningConfig = await writeEmptySigningConfig(work);
  fake = await startFakeRegistry({ referrersAPI: true });
});

afterAll(async () => {
  await fake.close();
  await harness.close();
});

describe.each([
  ['distribution (tag fallback)', () => testbed().registries.anonymous.host],
  ['the fake registry (referrers API)', () => fake.host],
])('on %s', (_where, host) => {
  it.each(types.map((t) => t.name))('%s: lading signs, cosign verify and lading pull accept', async (name) => {
    const repository = `${host()}/key-types/${name}-${randomBytes(4).toString('hex')}`;
    const pushed = await lading(['push', '--json', '--sign', '--key', `${name}.key`, `${repository}:v1`, 'config']);
    expectOK(pushed, 'push --sign');
    const { digest } = json<PushCommandResult>(pushed);

    expectOK(await cosign(harness, work, cosignVerifyKeyArgs(`${name}.pub`, `${repository}@${digest}`)), 'cosign');
    const dest = path.join(await mkdtemp(path.join(work, `${name}-`)), 'out');
    expectOK(await lading(['pull', '--verify-key', `${name}.pub`, `${repository}:v1`, dest]), 'pull --verify-key');
    expect(await readFile(path.join(dest, 'config/app.yaml'), 'utf8')).toBe('name: app\n');

    const other = types.find((t) => t.name !== name)?.name ?? '';
    const refused = await cosign(harness, work, cosignVerifyKeyArgs(`${other}.pub`, `${repository}@${digest}`));
    expect(refused.code).not.toBe(0);
    expectVerificationRefused(await lading(['verify', '--json', '--verify-key', `${other}.pub`, `${repository}:v1`]));
  });

  it('keyless: lading signs, cosign verify --trusted-root and lading pull --verify-issuer/--verify-subject accept', async () => {
    const repository = `${host()}/key-types/keyless-${randomBytes(4).toString('hex')}`;
    const token = harness.identityToken({ subject: 'carol@example.com', email: 'carol@example.com' });
    const pushed = await lading([
      'push',
      '--json',
      '--sign',
      ...ladingKeylessFlags(harness, token),
      `${repository}:v1`,
      'config',
    ]);
    expectOK(pushed, 'push --sign (keyless)');
    const { digest } = json<PushCommandResult>(pushed);
    const image = `${repository}@${digest}`;
    const identity = cosignIdentityFlags(harness, 'carol@example.com');
    expectOK(await cosign(harness, work, ['verify', ...identity, '--allow-http-registry', image]), 'cosign verify');
    const dest = path.join(await mkdtemp(path.join(work, 'keyless-')), 'out');
    const pull = ['pull', ...ladingIdentityFlags(harness, 'carol@example.com'), `${repository}:v1`, dest];
    expectOK(await lading(pull), 'pull --verify-issuer --verify-subject');
    expect(await readFile(path.join(dest, 'config/app.yaml'), 'utf8')).toBe('name: app\n');

    const mallory = cosignIdentityFlags(harness, 'mallory@example.com');
    expect((await cosign(harness, work, ['verify', ...mallory, '--allow-http-registry', image])).code).not.toBe(0);
    const refused = ['verify', '--json', ...ladingIdentityFlags(harness, 'mallory@example.com'), `${repository}:v1`];
    expectVerificationRefused(await lading(refused));
  });

  it('cosign signs (key, and keyless against the harness): lading pull accepts, another key or identity is refused', async () => {
    const repository = `${host()}/key-types/by-cosign-${randomBytes(4).toString('hex')}`;
    const pushed = await lading(['push', '--json', `${repository}:v1`, 'config']);
    expectOK(pushed, 'push');
    const image = `${repository}@${json<PushCommandResult>(pushed).digest}`;
    const key = `by-cosign-${randomBytes(4).toString('hex')}`;
    expectOK(await lading(['key', 'generate', '--output-key-prefix', key], { COSIGN_PASSWORD: 'pw' }), 'key generate');
    const signWithKey = ['sign', ...cosignKeyFlags(`${key}.key`, emptySigningConfig), image];
    expectOK(await cosign(harness, work, signWithKey, { COSIGN_PASSWORD: 'pw' }), 'cosign sign --key');
    const token = harness.identityToken({ subject: 'dave@example.com', email: 'dave@example.com' });
    const keyless = ['sign', ...cosignKeylessFlags(harness, token), '--allow-http-registry', image];
    expectOK(await cosign(harness, work, keyless), 'cosign sign (keyless)');

    const dest = path.join(await mkdtemp(path.join(work, 'by-cosign-')), 'out');
    expectOK(await lading(['pull', '--verify-key', `${key}.pub`, `${repository}:v1`, dest]), 'pull --verify-key');
    const identity = ladingIdentityFlags(harness, 'dave@example.com');
    const verified = await lading(['verify', '--json', ...identity, '--verify-key', `${key}.pub`, `${repository}:v1`]);
    expectOK(verified, 'verify (key and identity)');
    const kinds = json<VerifyCommandResult>(verified).verified.map((v) => v.identity ?? 'key');
    expect(kinds.sort()).toEqual(['dave@example.com', 'key']);

    expectVerificationRefused(await lading(['verify', '--json', '--verify-key', 'ed25519.pub', `${repository}:v1`]));
    const mallory = ['verify', '--json', ...ladingIdentityFlags(harness, 'mallory@example.com'), `${repository}:v1`];
    expectVerificationRefused(await lading(mallory));
  });
});
