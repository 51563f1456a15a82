import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readPrivateKey } from './private-key.js';
import { WireWriter } from './wire.js';

/** An unencrypted openssh-key-v1 file holding one key of `type` with public blob `pub` and private fields `fields`. */
function keyFile(pub: Buffer, type: string, fields: (w: WireWriter) => WireWriter): string {
  let section = fields(new WireWriter().uint32(7).uint32(7).string(type)).string('comment');
  const length = section.bytes().length;
  for (let i = 1; (length + i - 1) % 8 !== 0; i++) section = section.raw(Buffer.from([i]));
  const body = new WireWriter()
    .raw(Buffer.from('openssh-key-v1\0', 'latin1'))
    .string('none')
    .string('none')
    .string('')
    .uint32(1)
    .string(pub)
    .string(section.bytes())
    .bytes();
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

function ed25519(): { pk: Buffer; seed: Buffer } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { pk: Buffer.from(jwk.x ?? '', 'base64url'), seed: Buffer.from(jwk.d ?? '', 'base64url') };
}

describe('readPrivateKey', () => {
  it('reads an unencrypted Ed25519 key and its comment', async () => {
    const { pk, seed } = ed25519();
    const pub = new WireWriter().string('ssh-ed25519').string(pk).bytes();
    const text = keyFile(pub, 'ssh-ed25519', (w) => w.string(pk).string(Buffer.concat([seed, pk])));
    const key = await readPrivateKey(text, 'id');
    expect(key.keyType).toBe('ssh-ed25519');
    expect(key.comment).toBe('comment');
    expect(key.privateKey.export({ format: 'jwk' }).d).toBe(seed.toString('base64url'));
  });

  it('refuses a FIDO sk- key file: its private key is on the token', async () => {
    const { pk } = ed25519();
    const type = 'sk-ssh-ed25519@openssh.com';
    const pub = new WireWriter().string(type).string(pk).string('ssh:').bytes();
    const text = keyFile(pub, type, (w) =>
      w
        .string(pk)
        .string('ssh:')
        .raw(Buffer.from([1]))
        .string('handle')
        .string(''),
    );
    await expect(readPrivateKey(text, 'id_sk')).rejects.toThrow(
      'ssh key id_sk: a FIDO security key (sk-ssh-ed25519@openssh.com): its private key is on the token; sign through ssh-agent',
    );
  });

  it('refuses what is not an OpenSSH key, a key whose halves disagree, and bad padding', async () => {
    await expect(readPrivateKey('hello', 'f')).rejects.toThrow('ssh key f: not an OpenSSH private key file');
    const { pk, seed } = ed25519();
    const pub = new WireWriter().string('ssh-ed25519').string(pk).bytes();
    const rsaPub = new WireWriter()
      .string('ssh-rsa')
      .mpint(Buffer.from([1, 0, 1]))
      .mpint(Buffer.alloc(256, 0xff))
      .bytes();
    const mismatched = keyFile(rsaPub, 'ssh-ed25519', (w) => w.string(pk).string(Buffer.concat([seed, pk])));
    await expect(readPrivateKey(mismatched, 'f')).rejects.toThrow(
      'the private key is ssh-ed25519 but the public key is ssh-rsa',
    );
    const good = keyFile(pub, 'ssh-ed25519', (w) => w.string(pk).string(Buffer.concat([seed, pk])));
    const body = Buffer.from(good.split('\n')[1] ?? '', 'base64');
    body[body.length - 1] = 0x42;
    const badPadding = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;
    await expect(readPrivateKey(badPadding, 'f')).rejects.toThrow('bad padding (corrupt key)');
  });
});
