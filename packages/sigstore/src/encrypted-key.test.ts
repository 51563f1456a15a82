import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { decryptSigstoreKey, DefaultScryptParams, encryptSigstoreKey } from './encrypted-key.js';
import { firstPEMBlock } from './keys.js';

const fixture = (name: string) => readFile(new URL(`../../../testdata/sigstore/${name}`, import.meta.url), 'utf8');

describe('cosign encrypted keys', () => {
  it('decrypts a key cosign 3.1.1 wrote (testdata/sigstore/cosign-p256.key) to the PKCS#8 of cosign-p256.pub', async () => {
    const block = firstPEMBlock(await fixture('cosign-p256.key'));
    expect(block?.type).toBe('ENCRYPTED SIGSTORE PRIVATE KEY');
    const der = await decryptSigstoreKey(block?.body ?? new Uint8Array(), 'lading-test');
    const key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    const expected = createPublicKey(await fixture('cosign-p256.pub'));
    expect(createPublicKey(key).export({ format: 'der', type: 'spki' })).toEqual(
      expected.export({ format: 'der', type: 'spki' }),
    );
  });

  it('round-trips with cosign default parameters, a fresh salt and nonce each time', async () => {
    const der = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' });
    const a = await encryptSigstoreKey(der, 'pw');
    const b = await encryptSigstoreKey(der, 'pw');
    const doc = JSON.parse(Buffer.from(a).toString()) as {
      kdf: { params: unknown; salt: string };
      cipher: { name: string; nonce: string };
    };
    expect(doc.kdf.params).toEqual(DefaultScryptParams);
    expect(doc.cipher.name).toBe('nacl/secretbox');
    expect(Buffer.from(doc.kdf.salt, 'base64')).toHaveLength(32);
    expect(Buffer.from(doc.cipher.nonce, 'base64')).toHaveLength(24);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(await decryptSigstoreKey(a, 'pw')).equals(der)).toBe(true);
  });

  it('refuses a wrong password', async () => {
    const encrypted = await encryptSigstoreKey(Buffer.from('secret'), 'right');
    await expect(decryptSigstoreKey(encrypted, 'wrong')).rejects.toThrow(/wrong password/);
  });

  it('refuses scrypt parameters go-securesystemslib does not accept (no unbounded work from a key file)', async () => {
    const doc = JSON.parse(Buffer.from(await encryptSigstoreKey(Buffer.from('x'), 'pw')).toString()) as {
      kdf: { params: { N: number } };
    };
    doc.kdf.params.N = 2 ** 24;
    await expect(decryptSigstoreKey(Buffer.from(JSON.stringify(doc)), 'pw')).rejects.toThrow(/unsupported scrypt/);
  });

  it('refuses unknown ciphers and malformed documents', async () => {
    const doc = JSON.parse(Buffer.from(await encryptSigstoreKey(Buffer.from('x'), 'pw')).toString()) as {
      cipher: { name: string };
    };
    doc.cipher.name = 'aes-gcm';
    await expect(decryptSigstoreKey(Buffer.from(JSON.stringify(doc)), 'pw')).rejects.toThrow(/unknown cipher/);
    await expect(decryptSigstoreKey(Buffer.from('not json'), 'pw')).rejects.toThrow(/not JSON/);
  });
});
