// SSH signatures on a real registry, checked both ways with real OpenSSH and oras:
//
//   lading signs (each key type, both encrypted-key ciphers) → `oras pull` of the referrer gives statement.json and
//   statement.json.sig → `ssh-keygen -Y verify -f allowed_signers -I <principal> -n lading -s statement.json.sig
//   < statement.json` accepts, and lading's gate lets the pull through;
//
//   `ssh-keygen -Y sign -n lading statement.json` over lading's statement → `oras attach` → lading's gate accepts.
//
// distribution has no referrers API (tag-schema fallback); the fake registry serves the API.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RegistryClient } from '@lading/core';
import { createSshVerifier, type SSHVerifiedSignature } from '@lading/ssh';
import { statementFor } from '@lading/ssh/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeRegistry, type FakeRegistry } from '../fake-registry/index.js';
import { isolatedClient } from '../registry/helpers.js';
import { makeToolHome, run, testbed } from '../testbed/index.js';
import {
  allowedLine,
  gatedPull,
  keySpecs,
  ladingSign,
  makeKey,
  orasAttach,
  orasPullReferrer,
  passphrase,
  pushSample,
  sshKeygenVerify,
  unique,
  type TestKey,
} from './fixtures.js';

const principal = 'alice@example.com';
let work: string;
let env: NodeJS.ProcessEnv;
let client: RegistryClient;
let fake: FakeRegistry;
const keys = new Map<string, TestKey>();

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'ssh-interop-'));
  client = isolatedClient();
  fake = await startFakeRegistry({ referrersAPI: true });
  for (const spec of keySpecs) {
    keys.set(spec.name, await makeKey(work, spec.name, spec.args, 'encrypted' in spec ? spec.encrypted : false));
  }
});

afterAll(async () => {
  await client.close();
  await fake.close();
});

function key(name: string): TestKey {
  const found = keys.get(name);
  if (!found) throw new Error(`no test key ${name}`);
  return found;
}

async function allowedSigners(text: string): Promise<string> {
  const file = path.join(work, `allowed_signers-${unique()}`);
  await writeFile(file, text);
  return file;
}

describe.each([
  ['distribution (tag fallback)', () => testbed().registries.anonymous.host],
  ['the fake registry (referrers API)', () => fake.host],
])('on %s', (_where, host) => {
  it.each(keySpecs.map((s) => s.name))(
    '%s: lading signs; ssh-keygen -Y verify accepts the files oras pull gives; lading pull accepts',
    async (name) => {
      const k = key(name);
      const repository = `ssh/${name}-${unique()}`;
      const pushed = await pushSample(client, host(), work, repository);
      const referrer = await ladingSign(pushed, {
        keyFile: k.file,
        env: k.encrypted ? { LADING_SSH_PASSPHRASE: passphrase } : {},
      });

      const allowed = await allowedSigners(allowedLine(principal, k));
      const files = await orasPullReferrer(env, work, `${host()}/${repository}`, referrer.digest);
      const checked = await sshKeygenVerify(allowed, principal, 'lading', files);
      expect(checked.code, checked.stderr).toBe(0);
      expect(checked.stdout).toContain(`Good "lading" signature for ${principal}`);
      expect(checked.stdout).toContain(k.fingerprint);
      const statement = JSON.parse(await readFile(files.statement, 'utf8')) as {
        subject: { digest: { sha256: string } }[];
      };
      expect(`sha256:${statement.subject[0]?.digest.sha256 ?? ''}`).toBe(pushed.descriptor.digest);

      const pulled = await gatedPull(pushed, work, [
        createSshVerifier({ allowedSigners: allowed, principals: [principal] }),
      ]);
      expect(pulled.error).toBeUndefined();
      expect(await readFile(path.join(pulled.destination, 'app.yaml'), 'utf8')).toBe(`name: ${repository}\n`);
      const [verified] = pulled.verified as SSHVerifiedSignature[];
      expect(verified).toMatchObject({
        verifier: 'ssh',
        identity: principal,
        keyHint: k.fingerprint,
        namespace: 'lading',
        referrer: referrer.digest,
        subject: pushed.descriptor.digest,
        predicateType: 'https://sigstore.dev/cosign/sign/v1',
      });
      expect(verified?.keyType).toBe(name.startsWith('rsa') ? 'rsa-sha2-512' : k.publicLine.split(' ')[0]);
    },
  );

  it.each(keySpecs.filter((s) => !('encrypted' in s)).map((s) => s.name))(
    "%s: ssh-keygen -Y sign over lading's statement, attached with oras attach; lading pull accepts",
    async (name) => {
      const k = key(name);
      const repository = `ssh/by-openssh-${name}-${unique()}`;
      const pushed = await pushSample(client, host(), work, repository);
      const dir = await mkdtemp(path.join(work, 'openssh-'));
      await writeFile(path.join(dir, 'statement.json'), statementFor(pushed.descriptor));
      await run('ssh-keygen', ['-Y', 'sign', '-f', k.file, '-n', 'lading', 'statement.json'], { cwd: dir });
      await orasAttach(env, dir, `${host()}/${repository}@${pushed.descriptor.digest}`);

      const allowed = await allowedSigners(allowedLine(principal, k));
      const pulled = await gatedPull(pushed, work, [
        createSshVerifier({ allowedSigners: allowed, principals: [principal] }),
      ]);
      expect(pulled.error).toBeUndefined();
      expect(existsSync(path.join(pulled.destination, 'app.yaml'))).toBe(true);
      expect(pulled.verified).toMatchObject([{ verifier: 'ssh', identity: principal, keyHint: k.fingerprint }]);
    },
  );
});
