import { describe, expect, it } from 'vitest';
import { firstPEMBlock, loadPrivateKey, publicKeyHint, publicKeyPEM, toPublicKey } from './keys.js';
import { generateKeyPair, pemEncode, type KeyAlgorithm } from './key-pair.js';

describe('generateKeyPair', () => {
  it.each<[KeyAlgorithm, string, number | undefined]>([
    ['ecdsa-p256', 'prime256v1', undefined],
    ['ecdsa-p384', 'secp384r1', undefined],
    ['rsa-2048', '', 2048],
    ['ed25519', '', undefined],
  ])('writes cosign files for %s that load back with the password', async (algorithm, curve, bits) => {
    const pair = await generateKeyPair({ password: 'pw', algorithm });
    expect(firstPEMBlock(pair.privateKey)?.type).toBe('ENCRYPTED SIGSTORE PRIVATE KEY');
    expect(firstPEMBlock(pair.publicKey)?.type).toBe('PUBLIC KEY');
    const key = await loadPrivateKey(pair.privateKey, 'pw');
    expect(publicKeyPEM(key)).toBe(pair.publicKey);
    expect(pair.keyHint).toBe(publicKeyHint(toPublicKey(pair.publicKey)));
    if (curve) expect(key.asymmetricKeyDetails?.namedCurve).toBe(curve);
    if (bits) expect(key.asymmetricKeyDetails?.modulusLength).toBe(bits);
    await expect(loadPrivateKey(pair.privateKey, 'wrong')).rejects.toThrow(/wrong password/);
  });

  it('defaults to ECDSA P-256, as cosign generate-key-pair', async () => {
    const key = await loadPrivateKey((await generateKeyPair({ password: '' })).privateKey, '');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  });
});

describe('pemEncode', () => {
  it('wraps base64 at 64 characters and ends with a newline', () => {
    const text = pemEncode('TEST', Buffer.alloc(100, 1));
    const lines = text.split('\n');
    expect(lines[0]).toBe('-----BEGIN TEST-----');
    expect(lines[1]).toHaveLength(64);
    expect(lines.at(-2)).toBe('-----END TEST-----');
    expect(text.endsWith('\n')).toBe(true);
    expect(firstPEMBlock(text)?.body).toEqual(Buffer.alloc(100, 1));
  });
});
