import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parsePublicKey, plainKeyBlob, signWithKey, verifySignature, type SSHKeyType } from './keys.js';
import { armorSSHSIG, parseSSHSIG, signedData } from './sshsig.js';
import { WireWriter } from './wire.js';

const pairs: [SSHKeyType, () => { publicKey: KeyObject; privateKey: KeyObject }][] = [
  ['ssh-ed25519', () => generateKeyPairSync('ed25519')],
  ['ecdsa-sha2-nistp256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
  ['ecdsa-sha2-nistp384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' })],
  ['ecdsa-sha2-nistp521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' })],
  ['ssh-rsa', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
];

describe('SSHSIG', () => {
  it.each(pairs)('%s: armors, parses and verifies; another message or namespace does not verify', (type, make) => {
    const { publicKey, privateKey } = make();
    const key = parsePublicKey(plainKeyBlob({ keyType: type, key: publicKey }));
    const message = Buffer.from('{"hello":"world"}');
    const signature = signWithKey(type, privateKey, signedData('lading', 'sha512', message));
    const armored = armorSSHSIG(key.blob, 'lading', 'sha512', signature);
    expect(armored.split('\n').every((l) => l.length <= 70 || l.startsWith('-----'))).toBe(true);
    const parsed = parseSSHSIG(armored);
    expect(parsed.namespace).toBe('lading');
    expect(parsed.publicKey.fingerprint).toBe(key.fingerprint);
    const algorithm = verifySignature(parsed.publicKey, signedData('lading', 'sha512', message), parsed.signature);
    expect(algorithm).toBe(type === 'ssh-rsa' ? 'rsa-sha2-512' : type);
    expect(() => verifySignature(key, signedData('lading', 'sha512', Buffer.from('{}')), parsed.signature)).toThrow(
      'the signature does not verify',
    );
    expect(() => verifySignature(key, signedData('git', 'sha512', message), parsed.signature)).toThrow(
      'the signature does not verify',
    );
  });

  it("refuses SHA-1 ssh-rsa signatures and an algorithm that is not the key's", () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = parsePublicKey(plainKeyBlob({ keyType: 'ssh-rsa', key: publicKey }));
    const sha1 = new WireWriter().string('ssh-rsa').string(Buffer.alloc(256)).bytes();
    expect(() => verifySignature(key, Buffer.from('x'), sha1)).toThrow(
      'ssh-rsa (RSA with SHA-1), which is never accepted',
    );
    const ed = new WireWriter().string('ssh-ed25519').string(Buffer.alloc(64)).bytes();
    expect(() => verifySignature(key, Buffer.from('x'), ed)).toThrow('does not belong to a ssh-rsa key');
  });

  it('refuses malformed armor, a bad preamble and a hash other than sha256/sha512', () => {
    expect(() => parseSSHSIG('hello')).toThrow('not an armored SSH signature');
    const wrap = (b: Buffer): string =>
      `-----BEGIN SSH SIGNATURE-----\n${b.toString('base64')}\n-----END SSH SIGNATURE-----\n`;
    expect(() => parseSSHSIG(wrap(Buffer.from('NOTSIG')))).toThrow('bad preamble');
    const { publicKey } = generateKeyPairSync('ed25519');
    const blob = plainKeyBlob({ keyType: 'ssh-ed25519', key: publicKey });
    const sha1 = new WireWriter()
      .raw('SSHSIG')
      .uint32(1)
      .string(blob)
      .string('lading')
      .string('')
      .string('sha1')
      .string('x')
      .bytes();
    expect(() => parseSSHSIG(wrap(sha1))).toThrow('SSHSIG hash "sha1" is not allowed');
  });
});
