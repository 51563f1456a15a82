/**
 * Shared pieces of the `@lading/ssh` interop tests: keys made by `ssh-keygen`, an artifact pushed to a real
 * registry, signing and attaching through core, and reading back through the verification gate.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  attachSignature,
  openTarget,
  pullArtifact,
  pushArtifact,
  signatureGate,
  type Descriptor,
  type GraphTarget,
  type RegistryClient,
  type VerifiedSignature,
  type Verifier,
} from '@lading/core';
import { createSshSigner, type SshSignerOptions } from '@lading/ssh';
import { expect } from 'vitest';
import { run, type RunResult } from '../testbed/index.js';

export const unique = (): string => randomBytes(4).toString('hex');

/** The passphrase of the encrypted test keys. */
export const passphrase = 'correct horse battery staple';

/** A key made by ssh-keygen: its private key file, its `.pub`, and its fingerprint as `ssh-keygen -l` prints it. */
export interface TestKey {
  name: string;
  file: string;
  pub: string;
  publicLine: string;
  fingerprint: string;
  encrypted: boolean;
}

/** `ssh-keygen -t` arguments for every key type lading signs with, and the two encrypted-key ciphers. */
export const keySpecs = [
  { name: 'ed25519', args: ['-t', 'ed25519'] },
  { name: 'ecdsa-p256', args: ['-t', 'ecdsa', '-b', '256'] },
  { name: 'ecdsa-p384', args: ['-t', 'ecdsa', '-b', '384'] },
  { name: 'ecdsa-p521', args: ['-t', 'ecdsa', '-b', '521'] },
  { name: 'rsa-3072', args: ['-t', 'rsa', '-b', '3072'] },
  { name: 'ed25519-aes256-ctr', args: ['-t', 'ed25519', '-Z', 'aes256-ctr'], encrypted: true },
  {
    name: 'ecdsa-p256-aes256-gcm',
    args: ['-t', 'ecdsa', '-b', '256', '-Z', 'aes256-gcm@openssh.com'],
    encrypted: true,
  },
] as const;

/** Generates a key with ssh-keygen (`-N ''` or the test passphrase) in `dir`. */
export async function makeKey(dir: string, name: string, args: readonly string[], encrypted = false): Promise<TestKey> {
  const file = path.join(dir, name);
  const comment = `${name}@lading.test`;
  await run('ssh-keygen', ['-q', ...args, '-N', encrypted ? passphrase : '', '-C', comment, '-f', file]);
  const pub = `${file}.pub`;
  const publicLine = (await readFile(pub, 'utf8')).trim();
  const listed = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub]);
  const fingerprint = listed.stdout.split(' ')[1] ?? '';
  expect(fingerprint).toMatch(/^SHA256:/);
  return { name, file, pub, publicLine, fingerprint, encrypted };
}

/** One allowed_signers line: `principals [options] <key type> <base64>`. */
export function allowedLine(principals: string, key: TestKey | string, options = ''): string {
  const line = typeof key === 'string' ? key : key.publicLine.split(' ').slice(0, 2).join(' ');
  return `${principals}${options ? ` ${options}` : ''} ${line}\n`;
}

/** A small artifact pushed to `reference` (one file), with the target it lives in. */
export interface Pushed {
  reference: string;
  target: GraphTarget;
  descriptor: Descriptor;
}

/** Pushes one small file as an artifact tagged `v1` to `${host}/${repository}`. */
export async function pushSample(
  client: RegistryClient,
  host: string,
  work: string,
  repository: string,
): Promise<Pushed> {
  const reference = `${host}/${repository}:v1`;
  const src = await mkdtemp(path.join(work, 'src-'));
  await writeFile(path.join(src, 'app.yaml'), `name: ${repository}\n`);
  const { target } = await openTarget(reference, { client, create: true });
  const pushed = await pushArtifact(target, [{ path: 'app.yaml' }], { cwd: src, tags: ['v1'] });
  return { reference, target, descriptor: pushed.descriptor };
}

/** Signs `pushed` with lading's SSH signer and attaches the referrer; returns the referrer's descriptor. */
export async function ladingSign(pushed: Pushed, options: SshSignerOptions): Promise<Descriptor> {
  const signer = await createSshSigner(options);
  const signed = await signer.sign({ subject: pushed.descriptor });
  return attachSignature(pushed.target, pushed.descriptor, signed);
}

/** Result of {@link gatedPull}: what the gate reported, or the error it stopped with, and the destination. */
export interface GatedPull {
  verified: VerifiedSignature[];
  error?: Error;
  destination: string;
}

/** Pulls `pushed` (tag v1) into a fresh destination through the signature gate with `verifiers`. */
export async function gatedPull(pushed: Pushed, work: string, verifiers: Verifier[]): Promise<GatedPull> {
  const destination = path.join(work, `out-${unique()}`);
  const gate = signatureGate({ verifiers });
  try {
    const { verified } = await pullArtifact(pushed.target, 'v1', { destination, gate });
    return { verified, destination };
  } catch (e) {
    return { verified: [], error: e as Error, destination };
  }
}

/** `oras pull` of a referrer into a fresh folder: the `statement.json` and `statement.json.sig` files it gives. */
export async function orasPullReferrer(
  env: NodeJS.ProcessEnv,
  work: string,
  repository: string,
  referrer: string,
): Promise<{ dir: string; statement: string; signature: string }> {
  const dir = path.join(work, `oras-${unique()}`);
  await mkdir(dir);
  await run('oras', ['pull', '--plain-http', '-o', dir, `${repository}@${referrer}`], { env });
  return { dir, statement: path.join(dir, 'statement.json'), signature: path.join(dir, 'statement.json.sig') };
}

/** `ssh-keygen -Y verify -f allowed -I principal -n namespace -s sig < statement`. */
export async function sshKeygenVerify(
  allowedSigners: string,
  principal: string,
  namespace: string,
  files: { statement: string; signature: string },
): Promise<RunResult> {
  return run(
    'ssh-keygen',
    ['-Y', 'verify', '-f', allowedSigners, '-I', principal, '-n', namespace, '-s', files.signature],
    { input: await readFile(files.statement), check: false },
  );
}

/** `oras attach` of a statement and its signature (files named statement.json[.sig] in `dir`) to `subject`. */
export async function orasAttach(env: NodeJS.ProcessEnv, dir: string, subject: string): Promise<void> {
  await run(
    'oras',
    [
      'attach',
      '--plain-http',
      '--artifact-type',
      'application/vnd.lading.sshsig.v1',
      subject,
      'statement.json:application/vnd.in-toto+json',
      'statement.json.sig:application/vnd.lading.sshsig.signature.v1',
    ],
    { env, cwd: dir },
  );
}
