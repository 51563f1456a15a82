// FIDO security keys (sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com). No token is attached to
// this machine, so the test plays the authenticator: it signs SHA256(application) ‖ flags ‖ counter ‖
// SHA256(message) as PROTOCOL.u2f says a token does, with node:crypto keys. `ssh-keygen -Y verify` is the oracle
// that these are real SSHSIG FIDO signatures; lading agrees with it, except that lading also requires the
// user-presence flag, which ssh-keygen 9.2 does not check.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RegistryClient } from '@lading/core';
import { createSshVerifier, type SSHVerifiedSignature } from '@lading/ssh';
import { armorSSHSIG, signedData, statementFor } from '@lading/ssh/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed } from '../testbed/index.js';
import { gatedPull, orasAttach, pushSample, sshKeygenVerify, unique, type Pushed } from './fixtures.js';

const principal = 'alice@example.com';
const application = 'ssh:';
let work: string;
let env: NodeJS.ProcessEnv;
let client: RegistryClient;
const host = (): string => testbed().registries.anonymous.host;

function str(b: Uint8Array | string): Buffer {
  const bytes = Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([len, bytes]);
}

function mpint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const t = b.subarray(i);
  return str((t[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.alloc(1), t]) : t);
}

interface Token {
  type: 'sk-ssh-ed25519@openssh.com' | 'sk-ecdsa-sha2-nistp256@openssh.com';
  privateKey: KeyObject;
  blob: Buffer;
  line: string;
}

function makeToken(kind: 'ed25519' | 'ecdsa'): Token {
  if (kind === 'ed25519') {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const x = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
    const type = 'sk-ssh-ed25519@openssh.com';
    const blob = Buffer.concat([str(type), str(x), str(application)]);
    return { type, privateKey, blob, line: `${type} ${blob.toString('base64')}` };
  }
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  ]);
  const type = 'sk-ecdsa-sha2-nistp256@openssh.com';
  const blob = Buffer.concat([str(type), str('nistp256'), str(point), str(application)]);
  return { type, privateKey, blob, line: `${type} ${blob.toString('base64')}` };
}

/** What the token returns for `message`: the SSH signature blob with its flags and counter. */
function tokenSign(token: Token, message: Buffer, flags: number, counter: number): Buffer {
  const counterBytes = Buffer.alloc(4);
  counterBytes.writeUInt32BE(counter, 0);
  const sha256 = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest();
  const data = Buffer.concat([sha256(application), Buffer.from([flags]), counterBytes, sha256(message)]);
  let sig: Buffer;
  if (token.type === 'sk-ssh-ed25519@openssh.com') sig = sign(null, data, token.privateKey);
  else {
    const raw = sign('sha256', data, { key: token.privateKey, dsaEncoding: 'ieee-p1363' });
    sig = Buffer.concat([mpint(raw.subarray(0, 32)), mpint(raw.subarray(32))]);
  }
  return Buffer.concat([str(token.type), str(sig), Buffer.from([flags]), counterBytes]);
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'ssh-sk-'));
  client = isolatedClient();
});

afterAll(async () => {
  await client.close();
});

/** Pushes an artifact, has the token sign lading's statement about it, attaches the files with oras attach. */
async function tokenSigned(
  token: Token,
  flags: number,
): Promise<{ pushed: Pushed; files: { statement: string; signature: string } }> {
  const pushed = await pushSample(client, host(), work, `ssh-sk/${unique()}`);
  const dir = await mkdtemp(path.join(work, 'sk-'));
  const statement = Buffer.from(statementFor(pushed.descriptor));
  const signature = tokenSign(token, signedData('lading', 'sha512', statement), flags, 42);
  const files = { statement: path.join(dir, 'statement.json'), signature: path.join(dir, 'statement.json.sig') };
  await writeFile(files.statement, statement);
  await writeFile(files.signature, armorSSHSIG(token.blob, 'lading', 'sha512', signature));
  await orasAttach(env, dir, `${pushed.reference.replace(/:v1$/, '')}@${pushed.descriptor.digest}`);
  return { pushed, files };
}

async function allowed(token: Token, options = ''): Promise<string> {
  const f = path.join(work, `allowed-${unique()}`);
  await writeFile(f, `${principal}${options ? ` ${options}` : ''} ${token.line}\n`);
  return f;
}

describe.each(['ed25519', 'ecdsa'] as const)('FIDO %s security key', (kind) => {
  it('a touched signature: ssh-keygen -Y verify and lading accept; key type and fingerprint reported', async () => {
    const token = makeToken(kind);
    const { pushed, files } = await tokenSigned(token, 0x01);
    const signers = await allowed(token);
    const openssh = await sshKeygenVerify(signers, principal, 'lading', files);
    expect(openssh.code, openssh.stderr).toBe(0);
    const fingerprint = (await run('ssh-keygen', ['-l', '-f', signers])).stdout.split(' ')[1];
    const pulled = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: signers, principals: [principal] }),
    ]);
    expect(pulled.error).toBeUndefined();
    expect(pulled.verified[0] as SSHVerifiedSignature).toMatchObject({
      identity: principal,
      keyType: token.type,
      keyHint: fingerprint,
    });
  });

  it('an untouched signature is refused (ssh-keygen 9.2 does not check the flag: a deliberate difference)', async () => {
    const token = makeToken(kind);
    const { pushed, files } = await tokenSigned(token, 0x00);
    const signers = await allowed(token);
    expect((await sshKeygenVerify(signers, principal, 'lading', files)).code).toBe(0);
    const refused = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: signers, principals: [principal] }),
    ]);
    expect(refused.error?.message).toContain('no user presence: the security key was not touched (flags 0x00;');
    expect(existsSync(refused.destination)).toBe(false);
    // User verification (PIN) on top of presence is accepted by both.
    const verifiedUser = await tokenSigned(token, 0x05);
    expect((await sshKeygenVerify(signers, principal, 'lading', verifiedUser.files)).code).toBe(0);
    const pulled = await gatedPull(verifiedUser.pushed, work, [
      createSshVerifier({ allowedSigners: signers, principals: [principal] }),
    ]);
    expect(pulled.error).toBeUndefined();
  });

  it('a certificate for the security key, under a cert-authority line: ssh-keygen and lading accept', async () => {
    const token = makeToken(kind);
    const ca = path.join(work, `ca-${unique()}`);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', ca]);
    const pub = path.join(work, `token-${unique()}.pub`);
    await writeFile(pub, `${token.line}\n`);
    await run('ssh-keygen', ['-q', '-s', ca, '-I', 'token-id', '-n', principal, '-V', '-1h:+1h', pub]);
    const certLine = (await readFile(pub.replace(/\.pub$/, '-cert.pub'), 'utf8')).trim().split(' ');
    const certified: Token = { ...token, blob: Buffer.from(certLine[1] ?? '', 'base64') };
    const { pushed, files } = await tokenSigned(certified, 0x01);
    const signers = path.join(work, `allowed-ca-${unique()}`);
    const caLine = (await readFile(`${ca}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    await writeFile(signers, `*@example.com cert-authority ${caLine}\n`);
    expect((await sshKeygenVerify(signers, principal, 'lading', files)).code).toBe(0);
    const pulled = await gatedPull(pushed, work, [
      createSshVerifier({ allowedSigners: signers, principals: [principal] }),
    ]);
    expect(pulled.error).toBeUndefined();
    expect(pulled.verified[0] as SSHVerifiedSignature).toMatchObject({ keyType: certLine[0] });
  });
});
