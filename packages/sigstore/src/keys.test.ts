import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isLadingError } from '@lading/core';
import { generateKeyPair } from './key-pair.js';
import {
  acceptedHashes,
  loadPrivateKey,
  publicKeyHint,
  publicKeyPEM,
  signData,
  signingHash,
  toPublicKey,
  verifyData,
} from './keys.js';

const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).privateKey;
const rsa = (modulusLength: number) => generateKeyPairSync('rsa', { modulusLength }).privateKey;
const ed25519 = () => generateKeyPairSync('ed25519').privateKey;

function pem(key: KeyObject, type: 'pkcs8' | 'sec1' | 'pkcs1', passphrase?: string): string {
  if (passphrase === undefined) return key.export({ format: 'pem', type } as never).toString();
  return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }).toString();
}

function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  return publicKeyPEM(a) === publicKeyPEM(b);
}

describe('loadPrivateKey', () => {
  it.each([
    ['P-256 PKCS#8', () => ec('prime256v1'), 'pkcs8'],
    ['P-256 SEC 1 (EC PRIVATE KEY)', () => ec('prime256v1'), 'sec1'],
    ['P-384 PKCS#8', () => ec('secp384r1'), 'pkcs8'],
    ['RSA-2048 PKCS#1 (RSA PRIVATE KEY)', () => rsa(2048), 'pkcs1'],
    ['RSA-2048 PKCS#8', () => rsa(2048), 'pkcs8'],
    ['Ed25519 PKCS#8', ed25519, 'pkcs8'],
  ] as const)('reads %s', async (_name, make, type) => {
    const key = make();
    expect(samePublicKey(await loadPrivateKey(pem(key, type)), key)).toBe(true);
    expect(samePublicKey(await loadPrivateKey(Buffer.from(pem(key, type))), key)).toBe(true);
  });

  it('reads encrypted PKCS#8 with its password, and refuses it without one or with a wrong one', async () => {
    const key = ec('prime256v1');
    const text = pem(key, 'pkcs8', 'hunter2');
    expect(text).toContain('ENCRYPTED PRIVATE KEY');
    expect(samePublicKey(await loadPrivateKey(text, 'hunter2'), key)).toBe(true);
    await expect(loadPrivateKey(text)).rejects.toThrow(
      /load private key: ENCRYPTED PRIVATE KEY is encrypted: a password is required/,
    );
    await expect(loadPrivateKey(text, 'wrong')).rejects.toThrow(/load private key: ENCRYPTED PRIVATE KEY/);
  });

  it('reads the cosign key of testdata (ENCRYPTED SIGSTORE PRIVATE KEY) and refuses a wrong password', async () => {
    const text = await readFile(new URL('../../../testdata/sigstore/cosign-p256.key', import.meta.url), 'utf8');
    const pub = await readFile(new URL('../../../testdata/sigstore/cosign-p256.pub', import.meta.url), 'utf8');
    expect(samePublicKey(await loadPrivateKey(text, 'lading-test'), createPublicKey(pub))).toBe(true);
    const refused = await loadPrivateKey(text, 'nope').catch((e: unknown) => e);
    expect(isLadingError(refused, 'ERR_LADING_USAGE')).toBe(true);
    expect((refused as Error).message).toMatch(/ENCRYPTED SIGSTORE PRIVATE KEY: wrong password/);
  });

  it('reads a key from generateKeyPair with an empty password (cosign with an empty COSIGN_PASSWORD)', async () => {
    const pair = await generateKeyPair({ password: '' });
    expect(publicKeyPEM(await loadPrivateKey(pair.privateKey))).toBe(pair.publicKey);
  });

  it.each([
    ['RSA-1024', () => pem(rsa(1024), 'pkcs8'), /RSA key of 1024 bits is too short/],
    ['P-521', () => pem(ec('secp521r1'), 'pkcs8'), /ECDSA curve secp521r1 is not supported/],
    ['X25519', () => pem(generateKeyPairSync('x25519').privateKey, 'pkcs8'), /key type x25519 is not supported/],
    ['a public key', () => publicKeyPEM(ec('prime256v1')), /unsupported PEM type "PUBLIC KEY"/],
    ['no PEM', () => 'hello', /no PEM block found/],
  ])('refuses %s with ERR_LADING_USAGE', async (_name, make, message) => {
    const refused = await loadPrivateKey(make()).catch((e: unknown) => e);
    expect(isLadingError(refused, 'ERR_LADING_USAGE')).toBe(true);
    expect((refused as Error).message).toMatch(message);
  });
});

describe('hashes and hints', () => {
  it('signs so peers verify by default: P-256 and P-384 over SHA-256, RSA SHA-256, Ed25519 pure', () => {
    expect(signingHash(ec('prime256v1'))).toBe('sha256');
    expect(signingHash(ec('secp384r1'))).toBe('sha256');
    expect(signingHash(rsa(2048))).toBe('sha256');
    expect(signingHash(ed25519())).toBeNull();
  });

  it('accepts P-384 signatures over SHA-384 and SHA-256, and nothing else', () => {
    const key = ec('secp384r1');
    const data = Buffer.from('payload');
    const pub = toPublicKey(key);
    expect(acceptedHashes(pub)).toEqual(['sha256', 'sha384']);
    expect(verifyData(pub, data, signData(key, data))).toBe(true);
    expect(verifyData(pub, data, sign('sha256', data, key))).toBe(true);
    expect(verifyData(pub, data, sign('sha512', data, key))).toBe(false);
    expect(verifyData(pub, Buffer.from('other'), signData(key, data))).toBe(false);
  });

  it('verifies RSA PKCS#1 v1.5 and Ed25519, and never throws on garbage', () => {
    for (const key of [rsa(2048), ed25519()]) {
      const data = Buffer.from('payload');
      expect(verifyData(toPublicKey(key), data, signData(key, data))).toBe(true);
      expect(verifyData(toPublicKey(key), data, Buffer.from('garbage'))).toBe(false);
    }
  });

  it('computes the key hint as base64 SHA-256 of the DER SPKI, from a private or a public key', () => {
    const key = ec('prime256v1');
    const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
    const expected = createHash('sha256').update(der).digest('base64');
    expect(publicKeyHint(key)).toBe(expected);
    expect(publicKeyHint(toPublicKey(publicKeyPEM(key)))).toBe(expected);
  });

  it('refuses text that is not a public key with ERR_LADING_USAGE', () => {
    expect(() => toPublicKey('not a key')).toThrow(/load public key/);
  });
});
