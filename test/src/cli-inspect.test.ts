// `lading inspect`, `lading manifest fetch` and `lading discover` (the tree) as the built binary, on distribution:
// lading artifacts, an image crane pushed, an artifact oras pushed, and an image index. oras (manifest fetch,
// discover) is the oracle for bytes, descriptors and referrers.

import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type {
  DiscoverCommandResult,
  InspectCommandResult,
  ManifestFetchCommandResult,
  PushCommandResult,
  SignCommandResult,
} from '@lading/cli';
import { descriptorFor, MediaTypeImageIndex } from '@lading/core';
import { sha256 } from '@lading/core/internal';
import { beforeAll, describe, expect, it } from 'vitest';

import { expectOK, expectVerificationRefused, json, ladingIn } from './cli-runner.js';
import { isolatedClient } from './registry/helpers.js';
import { makeToolHome, run, testbed } from './testbed/index.js';

const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
/** A signed lading artifact (two files in a folder and one file), with a signature of its signature. */
let signed: { name: string; digest: string; signature: string; countersignature: string };
/** An image index over two lading artifacts, linux/amd64 and linux/arm64, tagged v1. */
let multi: { name: string; index: string; amd64: string; arm64: string };

const lading = ladingIn(() => ({ cwd: work, env: { ...env, COSIGN_PASSWORD: 'pw' } }), { inProcess: true });
const unique = (what: string): string => `${host}/inspect/${what}-${randomBytes(4).toString('hex')}`;

async function tool(name: string, args: readonly string[]): Promise<string> {
  return (await run(name, args, { env, cwd: work })).stdout;
}

beforeAll(async () => {
  const bed = testbed();
  ({ env } = await makeToolHome(bed.dir));
  host = bed.registries.anonymous.host;
  work = await mkdtemp(path.join(bed.dir, 'cli-inspect-'));
  await mkdir(path.join(work, 'config/conf.d'), { recursive: true });
  await writeFile(path.join(work, 'config/app.yaml'), 'name: app\n');
  await writeFile(path.join(work, 'config/conf.d/log.yaml'), 'level: info\n');
  await writeFile(path.join(work, 'deploy.sh'), '#!/bin/sh\necho deployed\n'); // 10 + 12 + 24 = 46 bytes of files
  expectOK(await lading(['key', 'generate']), 'key generate');
  expectOK(await lading(['key', 'generate', '--output-key-prefix', 'other']), 'key generate other');

  const name = unique('signed');
  const pushed = await lading(['push', '--json', '--sign', '--key', 'cosign.key', `${name}:v1`, 'config', 'deploy.sh']);
  expectOK(pushed, 'push --sign');
  const { digest, signature } = json<PushCommandResult>(pushed);
  const countersigned = await lading(['sign', '--json', '--key', 'cosign.key', `${name}@${signature?.digest ?? ''}`]);
  expectOK(countersigned, 'sign the signature');
  signed = {
    name,
    digest,
    signature: signature?.digest ?? '',
    countersignature: json<SignCommandResult>(countersigned).signature.digest,
  };

  const multiName = unique('multi');
  const digests: string[] = [];
  for (const arch of ['amd64', 'arm64']) {
    await writeFile(path.join(work, 'tool.txt'), `tool for ${arch}\n`);
    const build = await lading(['push', '--json', `${multiName}:${arch}`, 'tool.txt']);
    expectOK(build, `push ${arch}`);
    digests.push(json<PushCommandResult>(build).digest);
  }
  const client = isolatedClient();
  const repo = client.repository(multiName);
  const manifests = await Promise.all(
    digests.map(async (d, i) => ({
      ...(await repo.resolve(d)),
      platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
    })),
  );
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests }));
  const index = descriptorFor(MediaTypeImageIndex, bytes);
  await repo.pushManifest(index, bytes, ['v1']);
  await client.close();
  multi = { name: multiName, index: index.digest, amd64: digests[0] ?? '', arm64: digests[1] ?? '' };
});

describe('lading inspect', () => {
  it('a lading artifact: manifest, table of contents, layers, referrers by type', async () => {
    const result = await lading(['inspect', '--json', `${signed.name}:v1`]);
    expectOK(result, 'inspect');
    const inspected = json<InspectCommandResult>(result);
    expect(inspected).toMatchObject({
      reference: `${signed.name}:v1`,
      kind: 'manifest',
      artifactType: 'application/vnd.lading.artifact.v1',
      descriptor: { digest: signed.digest, mediaType: 'application/vnd.oci.image.manifest.v1+json' },
      config: { mediaType: 'application/vnd.lading.toc.v1+json' },
      toc: { files: 3, directories: 2, symlinks: 0, size: 46 },
      referrers: [{ artifactType: bundleType, count: 1 }],
    });
    const manifest = JSON.parse(
      await tool('oras', ['manifest', 'fetch', '--plain-http', `${signed.name}:v1`]),
    ) as InspectCommandResult & { layers: unknown[] };
    expect(inspected.layers).toEqual(manifest.layers);

    const text = await lading(['inspect', `${signed.name}:v1`]);
    expectOK(text);
    expect(text.stdout).toContain(`Digest:        ${signed.digest}\n`);
    expect(text.stdout).toMatch(/^Contents: {6}3 files, 2 folders, 0 symlinks, 46 B \(table of contents\)$/m);
    expect(text.stdout).toMatch(new RegExp(`^Referrers: {5}1\\n {2}${bundleType.replace(/[.+]/g, '\\$&')}: 1$`, 'm'));
  });

  it('an image crane pushed and an artifact oras pushed: no table of contents, their own types', async () => {
    const image = unique('crane');
    await run('tar', ['-cf', 'layer.tar', 'deploy.sh'], { cwd: work });
    await tool('crane', ['append', '--insecure', '--oci-empty-base', '-f', 'layer.tar', '-t', `${image}:v1`]);
    const crane = json<InspectCommandResult>(await lading(['inspect', '--json', `${image}:v1`]));
    expect(crane).toMatchObject({ kind: 'manifest', referrers: [] });
    expect(crane.toc).toBeUndefined();
    expect(crane.config?.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    expect(crane.layers).toHaveLength(1);

    const artifact = unique('oras');
    const type = 'application/vnd.example.notes';
    await tool('oras', ['push', '--plain-http', '--artifact-type', type, `${artifact}:v1`, 'deploy.sh']);
    const oras = json<InspectCommandResult>(await lading(['inspect', '--json', `${artifact}:v1`]));
    expect(oras).toMatchObject({ kind: 'manifest', artifactType: type, referrers: [] });
    expect(oras.layers?.[0]?.annotations?.['org.opencontainers.image.title']).toBe('deploy.sh');
  });

  it('an index lists its platforms; --platform inspects one; --verify-key gates it', async () => {
    const index = json<InspectCommandResult>(await lading(['inspect', '--json', `${multi.name}:v1`]));
    expect(index).toMatchObject({ kind: 'index', descriptor: { digest: multi.index } });
    expect(index.manifests?.map((m) => [m.digest, m.platform?.architecture])).toEqual([
      [multi.amd64, 'amd64'],
      [multi.arm64, 'arm64'],
    ]);
    const arm = await lading(['inspect', '--json', '--platform', 'linux/arm64', `${multi.name}:v1`]);
    expect(json<InspectCommandResult>(arm)).toMatchObject({
      kind: 'manifest',
      descriptor: { digest: multi.arm64 },
      index: { digest: multi.index },
      platform: { architecture: 'arm64' },
      toc: { files: 1 },
    });
    expectVerificationRefused(await lading(['inspect', '--json', '--verify-key', 'cosign.pub', `${multi.name}:v1`]));
    const allowed = await lading(['inspect', '--json', '--verify-key', 'cosign.pub', `${signed.name}:v1`]);
    expectOK(allowed);
    expect(json<InspectCommandResult>(allowed).verified).toHaveLength(1);
  });
});

describe('lading manifest fetch', () => {
  it('prints the bytes oras prints, the descriptor, and writes -o only when verified', async () => {
    const raw = await lading(['manifest', 'fetch', `${signed.name}:v1`]);
    expectOK(raw);
    expect(raw.stdout).toBe(await tool('oras', ['manifest', 'fetch', '--plain-http', `${signed.name}:v1`]));
    expect(sha256(Buffer.from(raw.stdout))).toBe(signed.digest);

    const descriptor = await lading(['manifest', 'fetch', '--descriptor', `${signed.name}:v1`]);
    expectOK(descriptor);
    const byOras = await tool('oras', ['manifest', 'fetch', '--plain-http', '--descriptor', `${signed.name}:v1`]);
    expect(JSON.parse(descriptor.stdout)).toEqual(JSON.parse(byOras));

    const asJSON = json<ManifestFetchCommandResult>(await lading(['manifest', 'fetch', '--json', `${multi.name}:v1`]));
    expect(asJSON.descriptor.digest).toBe(multi.index);
    expect(asJSON.manifest).toMatchObject({ mediaType: MediaTypeImageIndex });

    const arm = await lading(['manifest', 'fetch', '--platform', 'linux/arm64', '-o', 'arm.json', `${multi.name}:v1`]);
    expectOK(arm);
    expect(arm.stdout).toBe('');
    expect(sha256(await readFile(path.join(work, 'arm.json')))).toBe(multi.arm64);

    const refused = ['manifest', 'fetch', '--json', '--verify-key', 'other.pub', '-o', 'refused.json'];
    expectVerificationRefused(await lading([...refused, `${signed.name}:v1`]));
    await expect(access(path.join(work, 'refused.json'))).rejects.toThrow();
    const missing = await lading(['manifest', 'fetch', `${signed.name}:nope`]);
    expect(missing.code).toBe(3);
  });
});

describe('lading discover', () => {
  it('prints referrers of referrers as a tree, down to --depth', async () => {
    const tree = await lading(['discover', `${signed.name}:v1`]);
    expectOK(tree);
    const lines = tree.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`${signed.name}:v1@${signed.digest}`);
    expect(lines[1]).toMatch(new RegExp(`^└── ${signed.signature}  ${bundleType.replace(/[.+]/g, '\\$&')}  `));
    expect(lines[2]).toMatch(new RegExp(`^ {4}└── ${signed.countersignature}  `));
    expect(lines).toHaveLength(3);

    const byDigest = await lading(['discover', `${signed.name}@${signed.digest}`]);
    expect(byDigest.stdout.split('\n').slice(0, 3)).toEqual([`${signed.name}@${signed.digest}`, ...lines.slice(1)]);

    const shallow = await lading(['discover', '--depth', '1', `${signed.name}:v1`]);
    expect(shallow.stdout.trimEnd().split('\n')).toEqual(lines.slice(0, 2));

    const asJSON = json<DiscoverCommandResult>(await lading(['discover', '--format', 'json', `${signed.name}:v1`]));
    expect(asJSON.referrers.map((r) => [r.digest, r.referrers?.map((c) => c.digest)])).toEqual([
      [signed.signature, [signed.countersignature]],
    ]);
    const oras = JSON.parse(
      await tool('oras', ['discover', '--plain-http', '--format', 'json', `${signed.name}:v1`]),
    ) as { manifests?: { digest: string }[]; referrers?: { digest: string }[] };
    expect((oras.manifests ?? oras.referrers ?? []).map((d) => d.digest)).toEqual([signed.signature]);

    const none = await lading(['discover', '--json', '--artifact-type', 'application/spdx+json', `${signed.name}:v1`]);
    expect(json<DiscoverCommandResult>(none).referrers).toEqual([]);
  });
});
