// Conformance of the fake registry with real clients: oras 1.3 and crane drive it, and the test checks both what
// they report and what the registry stored.

import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type FakeRegistry, MediaType, startFakeRegistry } from './fake-registry/index.js';
import { writeEmptySigningConfig } from './sigstore/fixtures.js';
import { type RunResult, run, toolPath } from './testbed/tools.js';

let work: string;
let counter = 0;

/** A fresh folder under the test's temporary root. */
async function freshDir(label: string): Promise<string> {
  const dir = path.join(work, `${label}-${++counter}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/**
 * An environment with an empty HOME and docker config, so no credentials or settings of the machine's user reach
 * the tools, and no proxy diverts loopback traffic.
 */
function isolatedEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    DOCKER_CONFIG: path.join(home, '.docker'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_RUNTIME_DIR: path.join(home, '.run'),
    REGISTRY_AUTH_FILE: path.join(home, 'auth.json'),
    NO_PROXY: '*',
  };
}

let env: NodeJS.ProcessEnv;

async function oras(args: string[], options: { cwd?: string; check?: boolean } = {}): Promise<RunResult> {
  return run('oras', [...args], { env, ...options });
}

async function crane(args: string[], options: { cwd?: string; check?: boolean } = {}): Promise<RunResult> {
  return run('crane', ['--insecure', ...args], { env, ...options });
}

/** Relative path → sha256 of every file under `dir`. */
async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full)] = createHash('sha256')
      .update(await readFile(full))
      .digest('hex');
  }
  return out;
}

/** A folder with two files and a nested directory, as an oras push source. */
async function makeSource(): Promise<string> {
  const src = await freshDir('src');
  await writeFile(path.join(src, 'hello.txt'), 'hello from lading\n');
  await writeFile(path.join(src, 'data.bin'), Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256)));
  await mkdir(path.join(src, 'docs', 'deep'), { recursive: true });
  await writeFile(path.join(src, 'docs', 'readme.md'), '# docs\n');
  await writeFile(path.join(src, 'docs', 'deep', 'note.txt'), 'nested\n');
  return src;
}

interface Layer {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

function layersOf(registry: FakeRegistry, repo: string, reference: string): Layer[] {
  const bytes = registry.getManifest(repo, reference)?.bytes;
  if (!bytes) throw new Error(`no manifest ${repo}:${reference}`);
  return (JSON.parse(Buffer.from(bytes).toString('utf8')) as { layers: Layer[] }).layers;
}

interface DiscoverJSON {
  digest: string;
  referrers: { digest: string; artifactType: string; annotations?: Record<string, string> }[];
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'lading-fake-registry-'));
  const home = path.join(work, 'home');
  await mkdir(path.join(home, '.docker'), { recursive: true });
  env = isolatedEnv(home);
  expect((await oras(['version'])).stdout).toMatch(/Version:\s+1\.3\./);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('oras against the fake registry (referrers API on)', () => {
  let registry: FakeRegistry;
  let src: string;
  beforeAll(async () => {
    registry = await startFakeRegistry();
    src = await makeSource();
    // oras does not treat 127.0.0.1 as plain HTTP on its own: without --plain-http it dials HTTPS.
    await oras(['push', '--plain-http', `${registry.host}/oras/files:v1`, 'hello.txt', 'data.bin', 'docs'], {
      cwd: src,
    });
  });
  afterEach(() => {
    registry.clearFaults();
    registry.clearExpectations();
  });
  afterAll(async () => {
    await registry.close();
  });

  it('stores one titled layer per file and a tar+gzip layer for the folder', () => {
    const layers = layersOf(registry, 'oras/files', 'v1');
    expect(layers.map((l) => l.annotations?.['org.opencontainers.image.title'])).toEqual([
      'hello.txt',
      'data.bin',
      'docs',
    ]);
    expect(layers[2]?.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(layers[2]?.annotations?.['io.deis.oras.content.unpack']).toBe('true');
    for (const layer of layers) expect(registry.getBlob('oras/files', layer.digest)?.length).toBe(layer.size);
  });

  it('pulls into a fresh folder byte for byte', async () => {
    const out = await freshDir('pull');
    await oras(['pull', '--plain-http', `${registry.host}/oras/files:v1`, '-o', out]);
    expect(await tree(out)).toEqual(await tree(src));
  });

  it('fetches the stored manifest bytes with oras manifest fetch', async () => {
    const fetched = await oras(['manifest', 'fetch', '--plain-http', `${registry.host}/oras/files:v1`]);
    const stored = registry.getManifest('oras/files', 'v1');
    expect(fetched.stdout).toBe(Buffer.from(stored?.bytes ?? []).toString('utf8'));
    const descriptor = await oras([
      'manifest',
      'fetch',
      '--plain-http',
      '--descriptor',
      `${registry.host}/oras/files:v1`,
    ]);
    expect(JSON.parse(descriptor.stdout)).toMatchObject({ mediaType: MediaType.ociManifest, digest: stored?.digest });
  });

  it('lists tags with oras repo tags after oras tag', async () => {
    await oras(['tag', '--plain-http', `${registry.host}/oras/files:v1`, 'v2', 'stable']);
    const tags = await oras(['repo', 'tags', '--plain-http', `${registry.host}/oras/files`]);
    expect(tags.stdout.trim().split('\n')).toEqual(['stable', 'v1', 'v2']);
    expect(registry.tags('oras/files')).toEqual(['stable', 'v1', 'v2']);
  });

  it('attaches through the referrers API: no fallback tag, the API lists the referrer, discover shows it', async () => {
    const subject = registry.getManifest('oras/files', 'v1');
    if (!subject) throw new Error('subject missing');
    const signature = path.join(await freshDir('sig'), 'sig.json');
    await writeFile(signature, '{"sig":true}');
    registry.clearLog();
    await oras(
      [
        'attach',
        '--plain-http',
        '--artifact-type',
        'application/vnd.example.sig',
        `${registry.host}/oras/files:v1`,
        'sig.json',
      ],
      { cwd: path.dirname(signature) },
    );
    const fallbackTag = subject.digest.replace(':', '-');
    expect(registry.tags('oras/files')).not.toContain(fallbackTag);
    const stored = registry.referrers('oras/files', subject.digest);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.artifactType).toBe('application/vnd.example.sig');

    const discovered = await oras(['discover', '--plain-http', '--format', 'json', `${registry.host}/oras/files:v1`]);
    const json = JSON.parse(discovered.stdout) as DiscoverJSON;
    expect(json.digest).toBe(subject.digest);
    expect(json.referrers.map((r) => [r.digest, r.artifactType])).toEqual([
      [stored[0]?.digest, 'application/vnd.example.sig'],
    ]);
    const apiCalls = registry.requests.filter((r) => r.path === `/v2/oras/files/referrers/${subject.digest}`);
    expect(apiCalls.map((r) => r.status)).toContain(200);
  });

  it('pulls under strict mode when every request is expected', async () => {
    const out = await freshDir('strict-ok');
    registry.expect(
      { method: ['GET', 'HEAD'], path: '/v2/oras/files/manifests/v1' },
      { method: 'GET', path: /^\/v2\/oras\/files\/blobs\/sha256:[0-9a-f]{64}$/, times: 3 },
    );
    await oras(['pull', '--plain-http', `${registry.host}/oras/files:v1`, '-o', out]);
    registry.assertNoUnexpected();
    expect(await tree(out)).toEqual(await tree(src));
  });

  it('makes oras fail under strict mode when it sends a request the test did not expect', async () => {
    const out = await freshDir('strict-bad');
    registry.expect({ method: ['GET', 'HEAD'], path: '/v2/oras/files/manifests/v1' });
    const result = await oras(['pull', '--plain-http', `${registry.host}/oras/files:v1`, '-o', out], { check: false });
    expect(result.code).not.toBe(0);
    expect(registry.unexpected.length).toBeGreaterThan(0);
    expect(() => {
      registry.assertNoUnexpected();
    }).toThrow(/unexpected request\(s\):[\s\S]*\/v2\/oras\/files\/blobs\//);
  });

  it('lets oras retry a 503 on a blob and still pull the right bytes', async () => {
    const out = await freshDir('retry');
    const rule = registry.inject({
      method: 'GET',
      path: /\/v2\/oras\/files\/blobs\//,
      times: 1,
      action: { kind: 'status', status: 503 },
    });
    await oras(['pull', '--plain-http', `${registry.host}/oras/files:v1`, '-o', out]);
    expect(rule.fired).toBe(1);
    expect(await tree(out)).toEqual(await tree(src));
  });

  it('makes oras refuse corrupted blob bytes', async () => {
    const out = await freshDir('corrupt');
    const dataLayer = layersOf(registry, 'oras/files', 'v1')[1];
    const rule = registry.inject({
      method: 'GET',
      path: `/v2/oras/files/blobs/${dataLayer?.digest ?? ''}`,
      action: { kind: 'corrupt' },
    });
    const result = await oras(['pull', '--plain-http', `${registry.host}/oras/files:v1`, '-o', out], { check: false });
    expect(rule.fired).toBeGreaterThan(0);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/digest|mismatch|verif/i);
  });
});

describe('oras against the fake registry (referrers API off)', () => {
  let registry: FakeRegistry;
  let subjectDigest: string;
  beforeAll(async () => {
    registry = await startFakeRegistry({ referrersAPI: false });
    const src = await makeSource();
    await oras(['push', '--plain-http', `${registry.host}/fallback/app:v1`, 'hello.txt'], { cwd: src });
    subjectDigest = registry.getManifest('fallback/app', 'v1')?.digest ?? '';
  });
  afterAll(async () => {
    await registry.close();
  });

  it('makes oras write and read the sha256-<hex> fallback tag index', async () => {
    const dir = await freshDir('attach');
    await writeFile(path.join(dir, 'sig.json'), '{"sig":1}');
    await writeFile(path.join(dir, 'sbom.json'), '{"sbom":1}');
    for (const [type, file] of [
      ['application/vnd.example.sig', 'sig.json'],
      ['application/vnd.example.sbom', 'sbom.json'],
    ] as const) {
      await oras(['attach', '--plain-http', '--artifact-type', type, `${registry.host}/fallback/app:v1`, file], {
        cwd: dir,
      });
    }
    const fallbackTag = subjectDigest.replace(':', '-');
    expect(registry.tags('fallback/app')).toEqual([fallbackTag, 'v1']);
    const index = registry.getManifest('fallback/app', fallbackTag);
    expect(index?.mediaType).toBe(MediaType.ociIndex);
    const entries = index?.fields?.manifests ?? [];
    expect(entries.map((e) => e.artifactType)).toEqual(['application/vnd.example.sig', 'application/vnd.example.sbom']);
    for (const entry of entries) {
      expect(entry.mediaType).toBe(MediaType.ociManifest);
      expect(entry.annotations?.['org.opencontainers.image.created']).toBeDefined();
      expect(registry.getManifest('fallback/app', entry.digest)?.fields?.subject?.digest).toBe(subjectDigest);
    }

    registry.clearLog();
    const discovered = await oras(['discover', '--plain-http', '--format', 'json', `${registry.host}/fallback/app:v1`]);
    const json = JSON.parse(discovered.stdout) as DiscoverJSON;
    expect(json.referrers.map((r) => r.digest)).toEqual(entries.map((e) => e.digest));
    const seen = registry.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(seen).toContain(`GET /v2/fallback/app/referrers/${subjectDigest} 404`);
    expect(seen).toContain(`GET /v2/fallback/app/manifests/${fallbackTag} 200`);
  });
});

describe('crane against the fake registry', () => {
  let registry: FakeRegistry;
  let layerFile: string;
  beforeAll(async () => {
    registry = await startFakeRegistry();
    const src = await makeSource();
    layerFile = path.join(await freshDir('layer'), 'layer.tar.gz');
    await run('tar', ['-czf', layerFile, '-C', src, 'hello.txt', 'data.bin']);
    await crane(['append', '-f', layerFile, '-t', `${registry.host}/crane/img:v1`]);
  });
  afterAll(async () => {
    await registry.close();
  });

  it('serves crane manifest, crane digest, crane ls and crane blob from what crane append stored', async () => {
    const stored = registry.getManifest('crane/img', 'v1');
    if (!stored) throw new Error('crane append stored nothing');
    expect((await crane(['manifest', `${registry.host}/crane/img:v1`])).stdout).toBe(
      Buffer.from(stored.bytes).toString('utf8'),
    );
    expect((await crane(['digest', `${registry.host}/crane/img:v1`])).stdout.trim()).toBe(stored.digest);
    expect((await crane(['ls', `${registry.host}/crane/img`])).stdout.trim()).toBe('v1');
    const layer = stored.fields?.layers?.[0];
    // run() decodes stdout as text, so let a shell write the binary blob to a file.
    const out = path.join(await freshDir('crane-blob'), 'layer.tar.gz');
    const ref = `${registry.host}/crane/img@${layer?.digest ?? ''}`;
    await run('sh', ['-c', '"$0" blob --insecure "$1" > "$2"', toolPath('crane'), ref, out], { env });
    expect((await readFile(out)).equals(await readFile(layerFile))).toBe(true);
  });

  it('copies to another repository by cross-repository mount', async () => {
    registry.clearLog();
    await crane(['copy', `${registry.host}/crane/img:v1`, `${registry.host}/crane/copy:v2`]);
    const mounts = registry.requests.filter((r) => r.method === 'POST' && r.query.includes('mount='));
    expect(mounts.length).toBeGreaterThan(0);
    expect(mounts.every((r) => r.status === 201 && r.query.includes('from=crane%2Fimg'))).toBe(true);
    expect(registry.getManifest('crane/copy', 'v2')?.digest).toBe(registry.getManifest('crane/img', 'v1')?.digest);
  });

  it('round-trips through crane pull and crane push with the same digest', async () => {
    const dir = await freshDir('crane-pull');
    const tarball = path.join(dir, 'image.tar');
    await crane(['pull', `${registry.host}/crane/img:v1`, tarball]);
    await crane(['push', tarball, `${registry.host}/crane/pushed:v3`]);
    expect(registry.getManifest('crane/pushed', 'v3')?.digest).toBe(registry.getManifest('crane/img', 'v1')?.digest);
    const layout = path.join(dir, 'layout');
    await crane(['pull', '--format', 'oci', `${registry.host}/crane/img:v1`, layout]);
    const layer = registry.getManifest('crane/img', 'v1')?.fields?.layers?.[0];
    const hex = layer?.digest.replace('sha256:', '') ?? '';
    expect((await readFile(path.join(layout, 'blobs', 'sha256', hex))).equals(await readFile(layerFile))).toBe(true);
  });
});

describe('cosign against the fake registry', () => {
  const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
  let keys: string;
  let cosignEnv: NodeJS.ProcessEnv;
  beforeAll(async () => {
    keys = await freshDir('cosign');
    cosignEnv = { ...env, COSIGN_PASSWORD: '' };
    await run('cosign', ['generate-key-pair'], { cwd: keys, env: cosignEnv });
    // Offline signing: a signing config with no services (no Fulcio, Rekor or TSA).
    await copyFile(await writeEmptySigningConfig(keys), path.join(keys, 'signing-config.json'));
  });

  /** Seeds an image, signs it with cosign and verifies it with cosign; returns the image digest. */
  async function signAndVerify(registry: FakeRegistry, repo: string): Promise<string> {
    const config = registry.putBlob(repo, '{}', MediaType.ociEmpty);
    const layer = registry.putBlob(repo, 'payload', 'application/vnd.example.layer');
    const image = registry.putManifest(repo, {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config,
      layers: [layer],
    });
    const ref = `${registry.host}/${repo}@${image.digest}`;
    const common = ['--allow-http-registry'];
    await run(
      'cosign',
      ['sign', ...common, '--key', 'cosign.key', '--signing-config', 'signing-config.json', '-y', ref],
      {
        cwd: keys,
        env: cosignEnv,
      },
    );
    const verified = await run('cosign', ['verify', ...common, '--key', 'cosign.pub', '--insecure-ignore-tlog', ref], {
      cwd: keys,
      env: cosignEnv,
    });
    expect(verified.stdout).toContain(image.digest);
    return image.digest;
  }

  it('signs and verifies through the referrers API', async () => {
    const registry = await startFakeRegistry();
    try {
      const digest = await signAndVerify(registry, 'cosign/api');
      const referrers = registry.referrers('cosign/api', digest);
      expect(referrers.map((r) => r.artifactType)).toEqual([bundleType]);
      expect(referrers[0]?.annotations?.['dev.sigstore.bundle.content']).toBe('dsse-envelope');
      expect(registry.tags('cosign/api')).toEqual([]);
    } finally {
      await registry.close();
    }
  });

  it('signs and verifies through the fallback tag when the API is off, with an empty-typed entry', async () => {
    const registry = await startFakeRegistry({ referrersAPI: false });
    try {
      const digest = await signAndVerify(registry, 'cosign/tag');
      const fallbackTag = digest.replace(':', '-');
      expect(registry.tags('cosign/tag')).toEqual([fallbackTag]);
      const [entry] = registry.getManifest('cosign/tag', fallbackTag)?.fields?.manifests ?? [];
      // go-containerregistry lists cosign's bundle as an empty-typed entry without annotations (interop.md).
      expect(entry?.artifactType).toBe(MediaType.ociEmpty);
      expect(entry?.annotations).toBeUndefined();
      expect(registry.getManifest('cosign/tag', entry?.digest ?? '')?.fields?.artifactType).toBe(bundleType);
    } finally {
      await registry.close();
    }
  });
});

describe('real clients with basic auth and redirected blob downloads', () => {
  let registry: FakeRegistry;
  beforeAll(async () => {
    registry = await startFakeRegistry({ auth: { username: 'alice', password: 's3cret' }, redirectBlobs: true });
  });
  afterAll(async () => {
    await registry.close();
  });

  it('lets oras and crane authenticate and never sends their credentials to the storage origin', async () => {
    const src = await makeSource();
    const ref = `${registry.host}/private/app:v1`;
    const denied = await oras(['push', '--plain-http', ref, 'hello.txt'], { cwd: src, check: false });
    expect(denied.code).not.toBe(0);
    await oras(['push', '--plain-http', '-u', 'alice', '-p', 's3cret', ref, 'hello.txt', 'data.bin'], { cwd: src });

    const out = await freshDir('auth-pull');
    await oras(['pull', '--plain-http', '-u', 'alice', '-p', 's3cret', ref, '-o', out]);
    expect(await readFile(path.join(out, 'data.bin'))).toEqual(await readFile(path.join(src, 'data.bin')));

    const home = env.HOME ?? '';
    const config = { auths: { [registry.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } } };
    await writeFile(path.join(home, '.docker', 'config.json'), JSON.stringify(config));
    try {
      const layer = layersOf(registry, 'private/app', 'v1')[0];
      const blob = await crane(['blob', `${registry.host}/private/app@${layer?.digest ?? ''}`]);
      expect(blob.stdout).toBe('hello from lading\n');
    } finally {
      await rm(path.join(home, '.docker', 'config.json'));
    }

    const storageHits = registry.requests.filter((r) => r.listener === 'storage');
    expect(storageHits.length).toBeGreaterThanOrEqual(3);
    expect(storageHits.every((r) => r.status === 200)).toBe(true);
    expect(registry.storage?.authorizations).toEqual([]);
    const registryHits = registry.requests.filter((r) => r.listener === 'registry' && r.status !== 401);
    expect(registryHits.every((r) => r.headers.authorization === 'Basic <redacted>')).toBe(true);
  });
});
