// Multi-platform artifacts: an OCI image index over two lading artifacts (one per platform, the platforms set in
// the index entries since lading artifacts have an empty config), read with `pull`, `ls` and `cat` by
// `--platform` and by this machine's platform, verified with `--verify-key` (a signature on the index or on the
// chosen platform manifest counts), and signed recursively. The built binary runs against the test bed's
// anonymous distribution (no referrers API: the sha256-<hex> tag fallback); cosign 3.1.1, offline, is the oracle:
//
//   cosign verify --key cosign.pub --insecure-ignore-tlog --allow-http-registry <repo>@<platform manifest digest>
//   cosign sign --recursive --key other.key --signing-config <no services> --allow-http-registry --yes <repo>@<index>

import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import {
  MediaTypeImageIndex,
  attachSignature,
  descriptorFor,
  type Descriptor,
  type Platform,
  type RemoteRepository,
} from '@lading/core';
import { readAll } from '@lading/core';
import type {
  CatCommandResult,
  ErrorJSON,
  ListCommandResult,
  PullCommandResult,
  PushCommandResult,
  SignCommandResult,
  VerifyCommandResult,
} from '@lading/cli';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  expectOK,
  expectVerificationRefused,
  json,
  ladingIn,
  occupiedDestination,
  snapshot,
  type LadingTextRun,
} from './cli-runner.js';
import { isolatedClient } from './registry/helpers.js';
import { cosignKeyFlags, cosignVerifyKeyArgs, writeEmptySigningConfig } from './sigstore/fixtures.js';
import { makeToolHome, run, testbed, type RunResult } from './testbed/index.js';

let env: NodeJS.ProcessEnv;
let work: string;
let host: string;
let noServices: string;

const linuxAMD64: Platform = { os: 'linux', architecture: 'amd64' };
const linuxARM64: Platform = { os: 'linux', architecture: 'arm64' };

/** This machine's platform in OCI terms, for the common hosts (what `lading` should pick by default). */
function hostPlatform(): Platform {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const architecture = ({ x64: 'amd64', ia32: '386' } as Record<string, string>)[process.arch] ?? process.arch;
  return { os, architecture };
}

/** Runs `lading args…` in `work` with the isolated environment (plus `extraEnv`). */
const lading = ladingIn(() => ({ cwd: work, env }), { inProcess: true });

/** The arguments of a read of `platform` from `name:v1` that trusts only `<key>.pub`. */
function verifiedPlatform(name: string, platform: string, key: 'cosign' | 'other' = 'cosign'): string[] {
  return ['--verify-key', `${key}.pub`, '--platform', platform, `${name}:v1`];
}

/** Expects exit 2 with `ERR_LADING_USAGE` in the JSON error; returns the message. */
function expectUsage(result: LadingTextRun): string {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(2);
  const error = json<ErrorJSON>(result).error;
  expect(error.code).toBe('ERR_LADING_USAGE');
  return error.message;
}

/** cosign 3.1.1 offline in `work`; never throws on its exit code. */
function cosign(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run('cosign', args, { env: { ...env, ...extraEnv }, cwd: work, check: false });
}

/** A multi-platform artifact: a repository holding one lading artifact per platform and an index over them. */
interface MultiPlatform {
  /** `host/repository`. */
  name: string;
  repo: RemoteRepository;
  /** The index, tagged `v1`. */
  index: Descriptor;
  /** The linux/amd64 and linux/arm64 manifests. */
  amd64: Descriptor;
  arm64: Descriptor;
}

/** Pushes `<platform>/tool.txt` as `name:<tag>` with lading; returns the manifest descriptor. */
async function pushBuild(name: string, platform: 'amd64' | 'arm64'): Promise<Descriptor> {
  const result = await lading(
    ['push', '--json', `${name}:${platform}`, 'tool.txt'],
    {},
    { cwd: path.join(work, platform) },
  );
  expectOK(result, `push ${platform}`);
  const pushed = json<PushCommandResult>(result);
  const repo = isolatedClient().repository(name);
  const desc = await repo.resolve(pushed.digest);
  expect(desc.digest).toBe(pushed.digest);
  return desc;
}

/** Pushes an OCI image index listing `entries` (with their platforms) to `repo`, tagged `tag`. */
async function pushIndex(
  repo: RemoteRepository,
  entries: readonly { desc: Descriptor; platform?: Platform }[],
  tag: string,
): Promise<Descriptor> {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypeImageIndex,
      manifests: entries.map((e) => ({
        mediaType: e.desc.mediaType,
        digest: e.desc.digest,
        size: e.desc.size,
        ...(e.platform && { platform: e.platform }),
      })),
      // Every index of this file is distinct: a signature on one is never a signature on another.
      annotations: { 'org.opencontainers.image.description': `${tag} ${randomBytes(4).toString('hex')}` },
    }),
  );
  const desc = descriptorFor(MediaTypeImageIndex, bytes);
  await repo.pushManifest(desc, bytes, [tag]);
  return desc;
}

/** A new repository with the two builds and an index over them (linux/amd64, linux/arm64) tagged v1. */
async function multiPlatform(what: string): Promise<MultiPlatform> {
  const name = `${host}/multi-platform/${what}-${randomBytes(4).toString('hex')}`;
  const amd64 = await pushBuild(name, 'amd64');
  const arm64 = await pushBuild(name, 'arm64');
  const repo = isolatedClient().repository(name);
  const index = await pushIndex(
    repo,
    [
      { desc: amd64, platform: linuxAMD64 },
      { desc: arm64, platform: linuxARM64 },
    ],
    'v1',
  );
  return { name, repo, index, amd64, arm64 };
}

/** Expects a `--json` run (cat, verify) to have read the `arch` manifest of `artifact`, chosen in its index. */
function expectReadThroughIndex(
  result: LadingTextRun,
  what: string,
  artifact: MultiPlatform,
  arch: 'amd64' | 'arm64',
): void {
  expectOK(result, what);
  expect(json<CatCommandResult | VerifyCommandResult>(result)).toMatchObject({
    digest: artifact[arch].digest,
    index: artifact.index.digest,
    platform: arch === 'amd64' ? linuxAMD64 : linuxARM64,
  });
}

/** `lading sign --key <key>` of `reference` (the index only, or everything with `--recursive`). */
async function sign(reference: string, key: 'cosign' | 'other', recursive = false): Promise<SignCommandResult> {
  const result = await lading(
    ['sign', '--json', ...(recursive ? ['--recursive'] : []), '--key', `${key}.key`, reference],
    { COSIGN_PASSWORD: key === 'cosign' ? 'pw-1' : 'pw-2' },
  );
  expectOK(result, `sign ${reference}`);
  return json<SignCommandResult>(result);
}

beforeAll(async () => {
  const bed = testbed();
  host = bed.registries.anonymous.host;
  ({ env } = await makeToolHome(bed.dir));
  work = await mkdtemp(path.join(bed.dir, 'multi-platform-'));
  for (const platform of ['amd64', 'arm64']) {
    await mkdir(path.join(work, platform));
    await writeFile(path.join(work, platform, 'tool.txt'), `${platform} build\n`);
  }
  noServices = await writeEmptySigningConfig(work);
  expectOK(await lading(['key', 'generate'], { COSIGN_PASSWORD: 'pw-1' }), 'key generate');
  expectOK(
    await lading(['key', 'generate', '--output-key-prefix', 'other'], { COSIGN_PASSWORD: 'pw-2' }),
    'key generate other',
  );
});

describe('reading an image index: --platform, the only manifest, this machine', () => {
  let artifact: MultiPlatform;

  beforeAll(async () => {
    artifact = await multiPlatform('read');
  });

  it('pull --platform pulls that platform and says which manifest it read', async () => {
    const dest = await mkdtemp(path.join(work, 'pull-arm64-'));
    const result = await lading(['pull', '--json', '--platform', 'linux/arm64', `${artifact.name}:v1`, dest]);
    expectOK(result, 'pull --platform linux/arm64');
    const out = json<PullCommandResult>(result);
    expect(out.digest).toBe(artifact.arm64.digest);
    expect(out.index).toBe(artifact.index.digest);
    expect(out.platform).toEqual(linuxARM64);
    expect(await readFile(path.join(dest, 'tool.txt'), 'utf8')).toBe('arm64 build\n');

    const amd64Dest = await mkdtemp(path.join(work, 'pull-amd64-'));
    const text = await lading(['pull', '--platform', 'linux/amd64', `${artifact.name}:v1`, amd64Dest]);
    expectOK(text, 'pull --platform linux/amd64');
    expect(text.stdout).toBe(
      `Pulled ${artifact.name}:v1@${artifact.index.digest} (linux/amd64 manifest ${artifact.amd64.digest}) into ${amd64Dest}: 1 file, 12 B\n`,
    );
    expect(text.stderr).toContain(
      `Resolved image index ${artifact.index.digest}: linux/amd64 manifest ${artifact.amd64.digest}`,
    );
  });

  it('ls and cat --platform read the chosen manifest only', async () => {
    const ls = await lading(['ls', '--json', '--platform', 'linux/amd64', `${artifact.name}:v1`]);
    expectOK(ls, 'ls --platform');
    const listed = json<ListCommandResult>(ls);
    expect(listed.descriptor.digest).toBe(artifact.amd64.digest);
    expect(listed.index?.digest).toBe(artifact.index.digest);
    expect(listed.platform).toEqual(linuxAMD64);
    expect(listed.entries.map((e) => e.path)).toEqual(['tool.txt']);

    for (const [platform, content] of [
      ['linux/amd64', 'amd64 build\n'],
      ['linux/arm64', 'arm64 build\n'],
    ] as const) {
      const cat = await lading(['cat', '--platform', platform, `${artifact.name}:v1`, 'tool.txt']);
      expectOK(cat, `cat --platform ${platform}`);
      expect(cat.stdout).toBe(content);
    }
    const catJSON = await lading(['cat', '--json', '--platform', 'linux/arm64', `${artifact.name}:v1`, 'tool.txt']);
    expectReadThroughIndex(catJSON, 'cat --json --platform', artifact, 'arm64');
  });

  it("without --platform: the index's only manifest, else this machine's platform", async () => {
    const only = await pushIndex(artifact.repo, [{ desc: artifact.arm64 }], 'only');
    const ls = await lading(['ls', '--json', `${artifact.name}:only`]);
    expectOK(ls, 'ls an index of one manifest');
    expect(json<ListCommandResult>(ls).descriptor.digest).toBe(artifact.arm64.digest);
    expect(json<ListCommandResult>(ls).index?.digest).toBe(only.digest);

    // The machine's platform next to one that is nobody's: the machine's is read.
    await pushIndex(
      artifact.repo,
      [
        { desc: artifact.arm64, platform: { os: 'plan9', architecture: '386' } },
        { desc: artifact.amd64, platform: hostPlatform() },
      ],
      'host',
    );
    const cat = await lading(['cat', '--json', `${artifact.name}:host`, 'tool.txt']);
    expectOK(cat, 'cat by host platform');
    expect(json<CatCommandResult>(cat)).toMatchObject({ digest: artifact.amd64.digest, platform: hostPlatform() });
    const dest = await mkdtemp(path.join(work, 'pull-host-'));
    expectOK(await lading(['pull', `${artifact.name}:host`, dest]), 'pull by host platform');
    expect(await readFile(path.join(dest, 'tool.txt'), 'utf8')).toBe('amd64 build\n');
  });

  it('no manifest for the platform: exit 2 listing the platforms and naming --platform, nothing written', async () => {
    const { dir, before } = await occupiedDestination(work, 'no-platform');
    const message = expectUsage(
      await lading(['pull', '--json', '--platform', 'windows/amd64', `${artifact.name}:v1`, dir]),
    );
    expect(message).toBe(
      `read ${artifact.name}:v1: image index ${artifact.index.digest} has no manifest for windows/amd64; it has linux/amd64 (${artifact.amd64.digest}), linux/arm64 (${artifact.arm64.digest}); choose one with --platform os/arch[/variant]`,
    );
    expect(await snapshot(dir)).toEqual(before);

    const nobody = await pushIndex(
      artifact.repo,
      [
        { desc: artifact.amd64, platform: { os: 'plan9', architecture: '386' } },
        { desc: artifact.arm64, platform: { os: 'plan9', architecture: 'arm' } },
      ],
      'plan9',
    );
    const text = await lading(['ls', `${artifact.name}:plan9`]);
    expect(text.code).toBe(2);
    expect(text.stderr).toContain(
      `Error: read ${artifact.name}:plan9: image index ${nobody.digest} has no manifest for this machine's platform ${hostPlatform().os}/${hostPlatform().architecture}; it has plan9/386 (${artifact.amd64.digest}), plan9/arm (${artifact.arm64.digest});`,
    );
    expect(text.stderr).toContain('choose one with --platform os/arch[/variant]');
    expect(text.stdout).toBe('');
  });

  it('a malformed --platform, or --platform on a single manifest, is exit 2', async () => {
    expect(expectUsage(await lading(['ls', '--json', '--platform', 'linux', `${artifact.name}:v1`]))).toBe(
      '--platform "linux": not a platform; write os/arch[/variant], e.g. linux/amd64 or linux/arm/v7',
    );
    expect(
      expectUsage(await lading(['cat', '--json', '--platform', 'linux/arm64', `${artifact.name}:arm64`, 'tool.txt'])),
    ).toBe(
      `read ${artifact.name}:arm64: --platform linux/arm64: it is a single manifest (${artifact.arm64.digest}), not an image index; drop --platform`,
    );
  });

  it('follows a nested index, whose entry gives the platform', async () => {
    const inner = await pushIndex(artifact.repo, [{ desc: artifact.arm64 }], 'inner');
    await pushIndex(
      artifact.repo,
      [
        { desc: artifact.amd64, platform: linuxAMD64 },
        { desc: inner, platform: linuxARM64 },
      ],
      'outer',
    );
    const cat = await lading(['cat', '--json', '--platform', 'linux/arm64', `${artifact.name}:outer`, 'tool.txt']);
    expectOK(cat, 'cat through a nested index');
    expect(json<CatCommandResult>(cat)).toMatchObject({ digest: artifact.arm64.digest, platform: linuxARM64 });
  });
});

describe('verifying an image index: a signature on the index or on the platform manifest', () => {
  it('index signed: pull --verify-key accepts each platform; verify accepts the index', async () => {
    const artifact = await multiPlatform('index-signed');
    const signed = await sign(`${artifact.name}:v1`, 'cosign');
    expect(signed.digest).toBe(artifact.index.digest);
    expect(signed.signatures).toHaveLength(1);

    const dest = await mkdtemp(path.join(work, 'index-signed-'));
    const pulled = await lading(['pull', '--json', ...verifiedPlatform(artifact.name, 'linux/arm64'), dest]);
    expectOK(pulled, 'pull --verify-key (index signed)');
    const out = json<PullCommandResult>(pulled);
    expect(out.digest).toBe(artifact.arm64.digest);
    expect(out.verified?.map((v) => [v.subject, v.referrer])).toEqual([
      [artifact.index.digest, signed.signature.digest],
    ]);
    expect(await readFile(path.join(dest, 'tool.txt'), 'utf8')).toBe('arm64 build\n');

    const verified = await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${artifact.name}:v1`]);
    expectOK(verified, 'verify the index');
    expect(json<VerifyCommandResult>(verified)).toMatchObject({
      digest: artifact.index.digest,
      verified: [{ referrer: signed.signature.digest }],
    });
    expect(json<VerifyCommandResult>(verified).index).toBeUndefined();

    const forPlatform = await lading(['verify', '--json', ...verifiedPlatform(artifact.name, 'linux/amd64')]);
    expectReadThroughIndex(forPlatform, 'verify --platform (index signed)', artifact, 'amd64');
  });

  it('only the platform manifest signed: that platform is accepted, the other and the index are not', async () => {
    const artifact = await multiPlatform('platform-signed');
    const signed = await sign(`${artifact.name}@${artifact.arm64.digest}`, 'cosign');

    const dest = await mkdtemp(path.join(work, 'platform-signed-'));
    const pulled = await lading(['pull', '--json', ...verifiedPlatform(artifact.name, 'linux/arm64'), dest]);
    expectOK(pulled, 'pull --verify-key (platform manifest signed)');
    expect(json<PullCommandResult>(pulled).verified?.map((v) => [v.subject, v.referrer])).toEqual([
      [artifact.arm64.digest, signed.signature.digest],
    ]);
    expect(await readFile(path.join(dest, 'tool.txt'), 'utf8')).toBe('arm64 build\n');

    const { dir, before } = await occupiedDestination(work, 'other-platform');
    expectVerificationRefused(
      await lading(['pull', '--json', '--overwrite', ...verifiedPlatform(artifact.name, 'linux/amd64'), dir]),
    );
    expect(await snapshot(dir)).toEqual(before);
    expectVerificationRefused(await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${artifact.name}:v1`]));
    const text = await lading(['verify', ...verifiedPlatform(artifact.name, 'linux/arm64')]);
    expectOK(text, 'verify --platform (platform manifest signed)');
    expect(text.stdout).toMatch(
      new RegExp(
        `^Verified signature by key [A-Za-z0-9+/]{43}=, referrer ${signed.signature.digest}, on the platform manifest ${artifact.arm64.digest}\n$`,
      ),
    );
  });

  it('neither signed, or signed by another key: exit 5 and nothing written', async () => {
    const artifact = await multiPlatform('unsigned');
    const { dir, before } = await occupiedDestination(work, 'unsigned');
    const message = expectVerificationRefused(
      await lading(['pull', '--json', '--overwrite', ...verifiedPlatform(artifact.name, 'linux/arm64'), dir]),
    ).message;
    expect(message).toContain('nothing was read');
    expect(await snapshot(dir)).toEqual(before);

    await sign(`${artifact.name}:v1`, 'other', true);
    expectVerificationRefused(await lading(['pull', '--json', ...verifiedPlatform(artifact.name, 'linux/arm64'), dir]));
    expect(await snapshot(dir)).toEqual(before);
    expectVerificationRefused(
      await lading(['cat', '--json', ...verifiedPlatform(artifact.name, 'linux/amd64'), 'tool.txt']),
    );
  });

  it("another index's signature attached to this index is refused", async () => {
    const signedIndex = await multiPlatform('signed-elsewhere');
    const signed = await sign(`${signedIndex.name}:v1`, 'cosign');
    const victim = await multiPlatform('copied-signature');

    // The bundle signed for the first index, attached as a referrer of the second (subject rewritten).
    const referrer = await signedIndex.repo.resolve(signed.signature.digest);
    const manifest = JSON.parse(
      Buffer.from(
        await readAll(await signedIndex.repo.fetch(referrer), referrer.size, 'signature manifest'),
      ).toString(),
    ) as { artifactType: string; layers: Descriptor[]; annotations?: Record<string, string> };
    const [layer] = manifest.layers;
    if (!layer) throw new Error('the signature manifest has no layer');
    const bundle = await readAll(await signedIndex.repo.fetch(layer), layer.size, 'bundle');
    await attachSignature(victim.repo, victim.index, {
      artifactType: manifest.artifactType,
      layerMediaType: layer.mediaType,
      content: bundle,
      annotations: manifest.annotations ?? {},
    });

    const { dir, before } = await occupiedDestination(work, 'copied');
    const message = expectVerificationRefused(
      await lading(['pull', '--json', '--overwrite', ...verifiedPlatform(victim.name, 'linux/amd64'), dir]),
    ).message;
    expect(message).toContain(signedIndex.index.digest.slice('sha256:'.length));
    expect(await snapshot(dir)).toEqual(before);
    expectVerificationRefused(await lading(['verify', '--json', '--verify-key', 'cosign.pub', `${victim.name}:v1`]));
  });
});

describe('recursive signing', () => {
  it('lading sign --recursive signs the index and each platform manifest; cosign verify accepts each', async () => {
    const artifact = await multiPlatform('recursive');
    const signed = await sign(`${artifact.name}:v1`, 'cosign', true);
    expect(signed.digest).toBe(artifact.index.digest);
    expect(signed.signatures.map((s) => [s.reference, s.mediaType, s.platform, s.signature.artifactType])).toEqual([
      [
        `${artifact.name}@${artifact.index.digest}`,
        MediaTypeImageIndex,
        undefined,
        'application/vnd.dev.sigstore.bundle.v0.3+json',
      ],
      [
        `${artifact.name}@${artifact.amd64.digest}`,
        artifact.amd64.mediaType,
        linuxAMD64,
        'application/vnd.dev.sigstore.bundle.v0.3+json',
      ],
      [
        `${artifact.name}@${artifact.arm64.digest}`,
        artifact.arm64.mediaType,
        linuxARM64,
        'application/vnd.dev.sigstore.bundle.v0.3+json',
      ],
    ]);
    expect(signed.signature).toEqual(signed.signatures[0]?.signature);

    for (const digest of [artifact.index.digest, artifact.amd64.digest, artifact.arm64.digest]) {
      const result = await cosign(cosignVerifyKeyArgs('cosign.pub', `${artifact.name}@${digest}`));
      expectOK(result, `cosign verify ${digest}`);
      expect(result.stdout).toContain(digest.slice('sha256:'.length));
    }
    const wrongKey = await cosign(cosignVerifyKeyArgs('other.pub', `${artifact.name}@${artifact.arm64.digest}`));
    expect(wrongKey.code).not.toBe(0);

    // Both signatures that concern the read are reported.
    const ls = await lading(['ls', '--json', ...verifiedPlatform(artifact.name, 'linux/arm64')]);
    expectOK(ls, 'ls --verify-key after sign --recursive');
    expect(
      json<ListCommandResult>(ls)
        .verified?.map((v) => v.subject)
        .sort(),
    ).toEqual([artifact.index.digest, artifact.arm64.digest].sort());
  });

  it('without --recursive only the index is signed (as cosign)', async () => {
    const artifact = await multiPlatform('not-recursive');
    const signed = await sign(`${artifact.name}:v1`, 'cosign');
    expect(signed.signatures.map((s) => s.digest)).toEqual([artifact.index.digest]);
    const result = await cosign(cosignVerifyKeyArgs('cosign.pub', `${artifact.name}@${artifact.arm64.digest}`));
    expect(result.code).not.toBe(0);
  });

  it('cosign sign --recursive on our index: lading pull --verify-key accepts it', async () => {
    const artifact = await multiPlatform('cosign-recursive');
    const signed = await cosign(
      ['sign', '--recursive', ...cosignKeyFlags('other.key', noServices), `${artifact.name}@${artifact.index.digest}`],
      { COSIGN_PASSWORD: 'pw-2' },
    );
    expectOK(signed, 'cosign sign --recursive');
    const dest = await mkdtemp(path.join(work, 'cosign-recursive-'));
    const pulled = await lading(['pull', '--json', ...verifiedPlatform(artifact.name, 'linux/amd64', 'other'), dest]);
    expectOK(pulled, 'pull --verify-key other.pub (cosign --recursive)');
    expect(
      json<PullCommandResult>(pulled)
        .verified?.map((v) => v.subject)
        .sort(),
    ).toEqual([artifact.index.digest, artifact.amd64.digest].sort());
    expect(await readFile(path.join(dest, 'tool.txt'), 'utf8')).toBe('amd64 build\n');
    // cosign signed the platform manifest itself too: lading verify of that manifest alone accepts it.
    expectOK(
      await lading(['verify', '--verify-key', 'other.pub', `${artifact.name}@${artifact.arm64.digest}`]),
      'verify the platform manifest cosign signed',
    );
  });
});
