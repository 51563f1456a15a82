// The registry client against real registries (CNCF distribution in four configurations, crane's registry) and
// real peers as oracles: what core pushes, oras/crane/skopeo read; what oras and cosign push, core reads.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { ErrorCodes, LadingError, RegistryClient, isLadingError, type RegistryClientOptions } from '@lading/core';
import { referrersTag } from '@lading/core/internal';
import { beforeAll, describe, expect, it } from 'vitest';

import { writeEmptySigningConfig } from '../sigstore/fixtures.js';
import { makeToolHome, run, testbed, type RegistryInfo, type TestBed } from '../testbed/index.js';
import {
  collect,
  emptyConfig,
  imageManifest,
  isolatedClient,
  jsonBlob,
  pushSmallArtifact,
  randomBlob,
} from './helpers.js';

const bed: TestBed = testbed();
let home: string;
let env: NodeJS.ProcessEnv;
beforeAll(async () => {
  ({ home, env } = await makeToolHome(bed.dir));
});

const unique = (): string => randomBytes(4).toString('hex');

interface Case {
  name: string;
  info: RegistryInfo;
  /** Repository prefix the credentials may push to. */
  prefix: string;
  client: () => RegistryClient;
  /** Flags for oras to reach the registry with the same credentials. */
  oras: string[];
}

function cases(): Case[] {
  const r = bed.registries;
  const alice = bed.tokenServer.users.alice;
  const ca = r.tls.caFile;
  return [
    {
      name: 'distribution anonymous',
      info: r.anonymous,
      prefix: 'anon',
      client: () => isolatedClient(),
      oras: ['--plain-http'],
    },
    {
      name: 'distribution htpasswd',
      info: r.htpasswd,
      prefix: 'basic',
      client: () => isolatedClient({ credential: { kind: 'basic', ...r.htpasswd.credentials } }),
      oras: ['--plain-http', '-u', r.htpasswd.credentials.username, '-p', r.htpasswd.credentials.password],
    },
    {
      name: 'distribution token',
      info: r.token,
      prefix: 'alice',
      client: () =>
        isolatedClient({ credential: { kind: 'basic', username: alice.username, password: alice.password } }),
      oras: ['--plain-http', '-u', alice.username, '-p', alice.password],
    },
    {
      name: 'distribution TLS',
      info: r.tls,
      prefix: 'tls',
      client: () => isolatedClient({ ca: bed.ca.pem, plainHTTP: false }),
      oras: ['--ca-file', ca],
    },
    { name: 'crane registry', info: r.crane, prefix: 'crane', client: () => isolatedClient(), oras: ['--plain-http'] },
  ];
}

describe.each(cases())('$name', (c) => {
  it('round-trips blobs (monolithic and chunked), manifests, tags and referrers', async () => {
    const real = c.client();
    try {
      const name = `${c.info.host}/${c.prefix}/roundtrip-${unique()}`;
      const { manifest, layer } = await pushSmallArtifact(real, name, 'v1', 'round trip');
      const repo = real.repository(name);
      expect((await repo.resolve('v1')).digest).toBe(manifest.digest);
      expect((await collect(await repo.fetch(layer))).toString()).toBe('round trip');
      const big = randomBlob(3 * 1024 * 1024 + 5);
      const chunked = new RegistryClient({ ...clientOptions(c), chunkSize: 1024 * 1024 });
      await chunked.repository(name).push(big.desc, big.bytes);
      expect(await collect(await repo.fetch(big.desc))).toEqual(big.bytes);
      await chunked.close();
      expect(await repo.tags()).toEqual(['v1']);
      const note = jsonBlob({ note: 'hi' }, 'application/json');
      await repo.push(note.desc, note.bytes);
      const ref = imageManifest([note.desc], { subject: manifest, artifactType: 'application/vnd.lading.test' });
      await repo.pushManifest(ref.desc, ref.bytes);
      // None of these registries serves the referrers API: the fallback tag carries the referrer.
      expect(await repo.supportsReferrersAPI(manifest)).toBe(false);
      expect((await repo.tags()).sort()).toEqual([referrersTag(manifest.digest), 'v1'].sort());
      const listed = await repo.referrers(manifest, { artifactType: 'application/vnd.lading.test' });
      expect(listed.map((d) => d.digest)).toEqual([ref.desc.digest]);
    } finally {
      await real.close();
    }
  });

  it('pushes what oras pull, crane and skopeo read; reads what oras pushes; oras discover sees its referrers', async () => {
    const client = c.client();
    try {
      const repoName = `${c.prefix}/interop-${unique()}`;
      const name = `${c.info.host}/${repoName}`;
      const { manifest } = await pushSmallArtifact(client, name, 'v1', 'from lading');
      const out = path.join(home, `pull-${unique()}`);
      await run('oras', ['pull', ...c.oras, '-o', out, `${name}:v1`], { env });
      expect(await readFile(path.join(out, 'hello.txt'), 'utf8')).toBe('from lading');

      // An oras-made artifact, read by core.
      const src = path.join(home, `src-${unique()}`);
      await mkdir(src);
      await writeFile(path.join(src, 'notes.txt'), 'from oras');
      await run('oras', ['push', ...c.oras, `${name}:oras`, 'notes.txt:text/plain'], { env, cwd: src });
      const repo = client.repository(name);
      const fetched = await repo.fetchManifest('oras');
      const doc = JSON.parse(Buffer.from(fetched.bytes).toString()) as {
        layers: { digest: string; size: number; mediaType: string; annotations?: Record<string, string> }[];
      };
      const layer = doc.layers[0];
      expect(layer?.annotations?.['org.opencontainers.image.title']).toBe('notes.txt');
      if (!layer) throw new Error('no layer');
      expect((await collect(await repo.fetch(layer))).toString()).toBe('from oras');

      // A referrer core attaches appears in oras discover.
      const note = jsonBlob({ n: 1 }, 'application/json');
      await repo.push(note.desc, note.bytes);
      await repo.push(emptyConfig.desc, emptyConfig.bytes);
      const ref = imageManifest([note.desc], { subject: manifest, artifactType: 'application/vnd.lading.note' });
      await repo.pushManifest(ref.desc, ref.bytes);
      const discovered = await run('oras', ['discover', ...c.oras, '--format', 'json', `${name}:v1`], { env });
      expect(discovered.stdout).toContain(ref.desc.digest);
      expect(discovered.stdout).toContain('application/vnd.lading.note');

      // A referrer oras attaches is listed by core.
      await writeFile(path.join(src, 'sbom.json'), '{"sbom":true}');
      await run(
        'oras',
        [
          'attach',
          ...c.oras,
          '--artifact-type',
          'application/vnd.example.sbom',
          `${name}:v1`,
          'sbom.json:application/json',
        ],
        { env, cwd: src },
      );
      const types = (await repo.referrers(manifest)).map((d) => d.artifactType).sort();
      expect(types).toEqual(['application/vnd.example.sbom', 'application/vnd.lading.note']);

      if (c.info.auth === 'anonymous' && c.info.plainHTTP) {
        const crane = await run('crane', ['manifest', '--insecure', `${name}:v1`], { env });
        expect(JSON.parse(crane.stdout)).toMatchObject({
          layers: [{ annotations: { 'org.opencontainers.image.title': 'hello.txt' } }],
        });
        const skopeo = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${name}:v1`], { env });
        expect(JSON.parse(skopeo.stdout)).toMatchObject({ mediaType: 'application/vnd.oci.image.manifest.v1+json' });
      }
    } finally {
      await client.close();
    }
  });
});

function clientOptions(c: Case): RegistryClientOptions {
  const r = bed.registries;
  const base: RegistryClientOptions = { credentials: false, retry: { minDelayMs: 5, maxDelayMs: 50 } };
  if (c.info === r.htpasswd) base.credential = { kind: 'basic', ...r.htpasswd.credentials };
  if (c.info === r.token)
    base.credential = {
      kind: 'basic',
      username: bed.tokenServer.users.alice.username,
      password: bed.tokenServer.users.alice.password,
    };
  if (c.info === r.tls) {
    base.ca = bed.ca.pem;
    base.plainHTTP = false;
  }
  return base;
}

describe('credentials and scopes on distribution', () => {
  it('reads credentials from a docker config credHelpers entry that runs a helper program', async () => {
    const r = bed.registries.htpasswd;
    const bin = path.join(home, `bin-${unique()}`);
    const config = path.join(home, `docker-${unique()}`);
    await mkdir(bin);
    await mkdir(config);
    const helper = path.join(bin, 'docker-credential-ladingtest');
    // The helper answers `get` with the registry's credentials, and "not found" for any other server.
    await writeFile(
      helper,
      [
        '#!/bin/sh',
        '[ "$1" = get ] || exit 2',
        'read server',
        `[ "$server" = "${r.host}" ] || { echo "credentials not found in native keychain"; exit 1; }`,
        `printf '{"ServerURL":"%s","Username":"${r.credentials.username}","Secret":"${r.credentials.password}"}' "$server"`,
        '',
      ].join('\n'),
    );
    await chmod(helper, 0o755);
    const token = bed.registries.token;
    await writeFile(
      path.join(config, 'config.json'),
      JSON.stringify({ credHelpers: { [r.host]: 'ladingtest', [token.host]: 'ladingtest' } }),
    );
    const credentialOptions = {
      env: { DOCKER_CONFIG: config, PATH: `${bin}:${process.env.PATH ?? ''}` },
      homedir: home,
    };
    const client = new RegistryClient({ credentialOptions, retry: { minDelayMs: 5 } });
    try {
      const { manifest } = await pushSmallArtifact(client, `${r.host}/helper/app`, 'v1');
      expect((await client.repository(`${r.host}/helper/app`).resolve('v1')).digest).toBe(manifest.digest);
      // The helper has nothing for the token registry: the error names the registry and where lading looked.
      const err: unknown = await client
        .repository(`${token.host}/alice/x`)
        .resolve('v1')
        .catch((e: unknown) => e);
      expect(isLadingError(err, ErrorCodes.auth)).toBe(true);
      expect(String(err)).toContain(token.host);
      expect(String(err)).toContain('docker-credential-ladingtest');
    } finally {
      await client.close();
    }
  });

  it('refuses wrong credentials naming the registry, never the secret', async () => {
    const r = bed.registries.htpasswd;
    const client = isolatedClient({
      credential: { kind: 'basic', username: r.credentials.username, password: 'not-the-password-9f2c' },
      retry: { retries: 0 },
    });
    try {
      const err: unknown = await client
        .repository(`${r.host}/basic/x`)
        .resolve('v1')
        .catch((e: unknown) => e);
      expect(isLadingError(err, ErrorCodes.auth)).toBe(true);
      expect(String(err)).toContain(r.host);
      expect(String(err)).not.toContain('not-the-password-9f2c');
    } finally {
      await client.close();
    }
  });

  it('reports a push the token server does not grant as an auth error on that repository', async () => {
    const r = bed.registries.token;
    const alice = bed.tokenServer.users.alice;
    const client = isolatedClient({
      credential: { kind: 'basic', username: alice.username, password: alice.password },
      retry: { retries: 0 },
    });
    try {
      const err: unknown = await pushSmallArtifact(client, `${r.host}/shared/not-alices`, 'v1').catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LadingError);
      expect((err as LadingError).code).toBe(ErrorCodes.auth);
      expect((err as LadingError).message).toContain(`${r.host}/shared/not-alices`);
    } finally {
      await client.close();
    }
  });
});

describe('peers writing referrers on distribution', () => {
  it('lists the signature and attestation cosign attaches (empty-typed fallback entries)', async () => {
    const r = bed.registries.anonymous;
    const client = isolatedClient();
    try {
      const name = `${r.host}/cosign/signed-${unique()}`;
      const { manifest } = await pushSmallArtifact(client, name, 'v1');
      const dir = path.join(home, `cosign-${unique()}`);
      await mkdir(dir);
      const cenv = { ...env, COSIGN_PASSWORD: '' };
      await run('cosign', ['generate-key-pair'], { env: cenv, cwd: dir });
      // Offline signing: a signing config with no services (no Fulcio, no Rekor, no TSA).
      const signingConfig = await writeEmptySigningConfig(dir);
      const common = ['--key', 'cosign.key', '--signing-config', signingConfig, '--allow-http-registry', '--yes'];
      await run('cosign', ['sign', ...common, `${name}@${manifest.digest}`], { env: cenv, cwd: dir });
      await writeFile(path.join(dir, 'predicate.json'), '{"builder":"test"}');
      const attest = [
        'attest',
        ...common,
        '--predicate',
        'predicate.json',
        '--type',
        'https://example.com/predicate/v1',
      ];
      await run('cosign', [...attest, `${name}@${manifest.digest}`], { env: cenv, cwd: dir });
      const repo = client.repository(name);
      // cosign wrote the fallback index with artifactType application/vnd.oci.empty.v1+json and no annotations.
      const index = (await repo.fetchManifest(referrersTag(manifest.digest))).bytes;
      const raw = JSON.parse(Buffer.from(index).toString()) as { manifests: { artifactType?: string }[] };
      expect(raw.manifests.map((m) => m.artifactType)).toEqual([
        'application/vnd.oci.empty.v1+json',
        'application/vnd.oci.empty.v1+json',
      ]);
      const listed = await repo.referrers(manifest, { artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' });
      expect(listed.map((d) => d.annotations?.['dev.sigstore.bundle.predicateType']).sort()).toEqual([
        'https://example.com/predicate/v1',
        'https://sigstore.dev/cosign/sign/v1',
      ]);
    } finally {
      await client.close();
    }
  });

  it('keeps 20 concurrent referrer writes from separate clients (distribution has no conditional PUT)', async () => {
    const r = bed.registries.anonymous;
    const setup = isolatedClient();
    const name = `${r.host}/concurrent/subject-${unique()}`;
    const { manifest } = await pushSmallArtifact(setup, name, 'v1');
    const clients = Array.from({ length: 20 }, () => isolatedClient());
    try {
      const written = await Promise.all(
        clients.map(async (c, i) => {
          const repo = c.repository(name);
          const note = jsonBlob({ writer: i }, 'application/json');
          await repo.push(note.desc, note.bytes);
          const m = imageManifest([note.desc], {
            subject: manifest,
            artifactType: 'application/vnd.lading.concurrent',
          });
          await repo.pushManifest(m.desc, m.bytes);
          return m.desc.digest;
        }),
      );
      const listed = (await setup.repository(name).referrers(manifest)).map((d) => d.digest);
      const survived = written.filter((d) => listed.includes(d)).length;
      console.info(`distribution 2.8 (no conditional PUT): ${survived}/20 concurrent referrer writes survived`);
      expect(survived).toBe(20);
    } finally {
      await Promise.all([setup, ...clients].map((c) => c.close()));
    }
  });
});

describe('identity tokens (OAuth2 refresh-token grant)', () => {
  it('exchanges a docker config identitytoken at the realm and pushes with the scoped token', async () => {
    const r = bed.registries.token;
    const alice = bed.tokenServer.users.alice;
    // What `docker login` stores as identitytoken: a refresh token from the token server.
    const url = new URL(bed.tokenServer.realm);
    url.searchParams.set('service', bed.tokenServer.service);
    url.searchParams.set('offline_token', 'true');
    url.searchParams.set('client_id', 'lading-test');
    const res = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(`${alice.username}:${alice.password}`).toString('base64')}` },
    });
    const { refresh_token: refresh } = (await res.json()) as { refresh_token?: string };
    expect(typeof refresh).toBe('string');
    const config = path.join(home, `docker-${unique()}`);
    await mkdir(config);
    await writeFile(
      path.join(config, 'config.json'),
      JSON.stringify({ auths: { [r.host]: { identitytoken: refresh } } }),
    );
    const client = new RegistryClient({ credentialOptions: { env: { DOCKER_CONFIG: config }, homedir: home } });
    try {
      const name = `${r.host}/alice/identity-${unique()}`;
      const { manifest } = await pushSmallArtifact(client, name, 'v1');
      expect((await client.repository(name).resolve('v1')).digest).toBe(manifest.digest);
      const grants = (await (await fetch(bed.tokenServer.requestsURL)).json()) as {
        grant: string;
        account: string | null;
      }[];
      expect(grants.some((g) => g.grant === 'refresh_token' && g.account === alice.username)).toBe(true);
    } finally {
      await client.close();
    }
  });
});
