import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';

import { generateKeyPair } from '@lading/sigstore';
import { describe, expect, it } from 'vitest';

import { createSignerFromFlags } from './signer-from-flags.js';
import { createVerificationFromFlags, describeVerified } from './verification-from-flags.js';

const usage = (message: string | RegExp): unknown =>
  expect.objectContaining({ code: 'ERR_LADING_USAGE', message: expect.stringMatching(message) as unknown });

describe('createVerificationFromFlags', () => {
  it('is undefined without verification flags: nothing is checked', async () => {
    await expect(createVerificationFromFlags({}, () => undefined)).resolves.toBeUndefined();
  });

  it('refuses half an identity, unsafe with an identity, and a trusted root alone', async () => {
    const warn = () => undefined;
    await expect(createVerificationFromFlags({ 'verify-issuer': 'https://i' }, warn)).rejects.toThrow(
      usage(/^--verify-issuer: give the signer too/),
    );
    await expect(createVerificationFromFlags({ 'verify-subject-regexp': '.*' }, warn)).rejects.toThrow(
      usage(/^--verify-subject: give the OIDC issuer too/),
    );
    await expect(
      createVerificationFromFlags(
        { 'verify-unsafe': true, 'verify-issuer': 'https://i', 'verify-subject': 'a@b' },
        warn,
      ),
    ).rejects.toThrow(usage(/^--verify-unsafe: contradicts/));
    await expect(createVerificationFromFlags({ 'trusted-root': 'root.json' }, warn)).rejects.toThrow(
      usage(/^--trusted-root: say whom to trust/),
    );
  });

  it('reads the keys now (a missing file is a usage error naming the flag) and gates with them', async () => {
    await expect(
      createVerificationFromFlags({ 'verify-key': ['/nonexistent/k.pub'] }, () => undefined),
    ).rejects.toThrow(usage(/^--verify-key \/nonexistent\/k\.pub: ENOENT/));
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-signing-'));
    const pub = path.join(dir, 'cosign.pub');
    await writeFile(pub, (await generateKeyPair({ password: '' })).publicKey);
    const gate = await createVerificationFromFlags({ 'verify-key': [pub] }, () => undefined);
    expect(typeof gate?.verify).toBe('function');
  });

  it('warns for --verify-unsafe', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-signing-'));
    const root = path.join(dir, 'trusted_root.json');
    await writeFile(
      root,
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs: [],
        certificateAuthorities: [],
        ctlogs: [],
        timestampAuthorities: [],
      }),
    );
    const warnings: string[] = [];
    await createVerificationFromFlags({ 'verify-unsafe': true, 'trusted-root': root }, (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringMatching(/^--verify-unsafe: any keyless signature/)]);
  });
});

describe('createSignerFromFlags', () => {
  it('reads the key password from COSIGN_PASSWORD, or standard input when asked', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lading-signing-'));
    const key = path.join(dir, 'cosign.key');
    await writeFile(key, (await generateKeyPair({ password: 'pw' })).privateKey);
    await expect(
      createSignerFromFlags({ key }, { stdinTaken: false, env: { COSIGN_PASSWORD: 'pw' } }),
    ).resolves.toHaveProperty('sign');
    await expect(
      createSignerFromFlags(
        { key, 'key-password-stdin': true },
        { stdinTaken: false, env: {}, stdin: Readable.from([Buffer.from('pw\n')]) },
      ),
    ).resolves.toHaveProperty('sign');
    await expect(createSignerFromFlags({ key }, { stdinTaken: false, env: { COSIGN_PASSWORD: 'no' } })).rejects.toThrow(
      usage(new RegExp(`^--key ${key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `)),
    );
    await expect(
      createSignerFromFlags({ key, 'key-password-stdin': true }, { stdinTaken: true, env: {} }),
    ).rejects.toThrow(usage(/^--key-password-stdin: standard input is already in use$/));
  });
});

describe('describeVerified', () => {
  it('names the identity and issuer, or the key hint', () => {
    expect(
      describeVerified({
        verifier: 'sigstore',
        predicateType: 'p',
        identity: 'a@b',
        issuer: 'https://i',
        referrer: 'sha256:1',
      }),
    ).toBe('Verified signature by a@b (issuer https://i), referrer sha256:1');
    expect(describeVerified({ verifier: 'sigstore', predicateType: 'p', keyHint: 'h=', referrer: 'sha256:2' })).toBe(
      'Verified signature by key h=, referrer sha256:2',
    );
  });

  it('escapes control characters a certificate or an allowed_signers principal may carry', () => {
    const line = describeVerified({
      verifier: 'sigstore',
      predicateType: 'p',
      identity: 'a@b\u001b]0;owned\u0007',
      issuer: 'https://i\u001b[2J',
      referrer: 'sha256:1',
    });
    expect(line).toBe('Verified signature by a@b\\x1b]0;owned\\x07 (issuer https://i\\x1b[2J), referrer sha256:1');
  });
});
