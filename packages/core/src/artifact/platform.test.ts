import { describe, expect, it } from 'vitest';

import type { Descriptor, Platform } from '../descriptor.js';
import { descriptorFor, readAll } from '../digest.js';
import { ErrorCodes, isLadingError } from '../errors.js';
import { MemoryStore } from '../memory-store.js';
import { EmptyJSON, MediaTypeImageIndex, MediaTypeImageManifest } from '../media-types.js';
import type { GateSubject, VerificationGate } from '../trust.js';
import {
  MaxIndexDepth,
  formatPlatform,
  hostPlatform,
  parsePlatform,
  resolvePlatformManifest,
  type PlatformManifest,
} from './platform.js';
import { loadArtifact } from './load.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Stores an empty-config manifest made unique by `note`; returns its descriptor. */
async function manifest(store: MemoryStore, note: string): Promise<Descriptor> {
  const bytes = text(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypeImageManifest,
      artifactType: 'application/vnd.lading.test',
      config: { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size },
      layers: [],
      annotations: { note },
    }),
  );
  const desc = descriptorFor(MediaTypeImageManifest, bytes);
  await store.push(desc, bytes);
  return desc;
}

/** Stores an image index listing `entries` (each optionally with a platform), tagged `tag` when given. */
async function index(
  store: MemoryStore,
  entries: readonly { desc: Descriptor; platform?: Platform }[],
  tag?: string,
): Promise<Descriptor> {
  const bytes = text(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypeImageIndex,
      manifests: entries.map((e) => ({
        mediaType: e.desc.mediaType,
        digest: e.desc.digest,
        size: e.desc.size,
        ...(e.platform && { platform: e.platform }),
      })),
    }),
  );
  const desc = descriptorFor(MediaTypeImageIndex, bytes);
  await store.push(desc, bytes);
  if (tag !== undefined) await store.tag(desc, tag);
  return desc;
}

/** Resolves `reference` in `store` and chooses its platform manifest. */
async function choose(store: MemoryStore, reference: string, platform?: string): Promise<PlatformManifest> {
  const desc = await store.resolve(reference);
  const doc = JSON.parse(new TextDecoder().decode(await readAll(await store.fetch(desc), desc.size, 'test'))) as {
    manifests: Descriptor[];
  };
  return resolvePlatformManifest(
    store,
    { descriptor: desc, manifests: doc.manifests },
    `test:${reference}`,
    platform === undefined ? {} : { platform },
  );
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => new Error(`resolved: ${JSON.stringify(value)}`),
    (e: unknown) => e as Error,
  );
}

const linux = (architecture: string, variant?: string): Platform =>
  variant === undefined ? { os: 'linux', architecture } : { os: 'linux', architecture, variant };

describe('parsePlatform', () => {
  it('reads os/arch[/variant], normalised as containerd does', () => {
    expect(parsePlatform('linux/amd64')).toEqual(linux('amd64'));
    expect(parsePlatform('Linux/X86_64')).toEqual(linux('amd64'));
    expect(parsePlatform('linux/aarch64')).toEqual(linux('arm64'));
    expect(parsePlatform('linux/arm64/v8')).toEqual(linux('arm64'));
    expect(parsePlatform('linux/arm/7')).toEqual(linux('arm', 'v7'));
    expect(parsePlatform('linux/armhf')).toEqual(linux('arm', 'v7'));
    expect(parsePlatform('windows/amd64')).toEqual({ os: 'windows', architecture: 'amd64' });
    expect(parsePlatform('macos/arm64')).toEqual({ os: 'darwin', architecture: 'arm64' });
  });

  it('refuses anything else with ERR_LADING_USAGE naming the flag', () => {
    for (const bad of ['linux', 'linux/', '/amd64', 'linux/arm/v7/x', 'linux/amd 64', '']) {
      let error: unknown;
      try {
        parsePlatform(bad);
      } catch (e) {
        error = e;
      }
      expect(isLadingError(error, ErrorCodes.usage), bad).toBe(true);
      expect((error as Error).message).toContain(`--platform ${JSON.stringify(bad)}: not a platform`);
    }
  });

  it('formats back to os/arch[/variant]', () => {
    expect(formatPlatform(linux('arm', 'v6'))).toBe('linux/arm/v6');
    expect(formatPlatform(undefined)).toBe('no platform');
  });
});

describe('hostPlatform', () => {
  it("maps Node's platform and architecture to OCI's", () => {
    const host = hostPlatform();
    const os = { win32: 'windows', sunos: 'solaris' }[process.platform as string] ?? process.platform;
    expect(host.os).toBe(os);
    const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', s390x: 's390x' };
    if (expected[process.arch]) expect(host.architecture).toBe(expected[process.arch]);
    expect(host.architecture).not.toBe('x64');
  });
});

describe('resolvePlatformManifest', () => {
  it('chooses by --platform, by the only manifest, and by this machine', async () => {
    const store = new MemoryStore();
    const amd = await manifest(store, 'amd64');
    const arm = await manifest(store, 'arm64');
    await index(
      store,
      [
        { desc: amd, platform: linux('amd64') },
        { desc: arm, platform: linux('arm64') },
      ],
      'two',
    );
    expect((await choose(store, 'two', 'linux/arm64')).descriptor.digest).toBe(arm.digest);
    const chosen = await choose(store, 'two', 'linux/x86_64');
    expect(chosen.descriptor.digest).toBe(amd.digest);
    expect(chosen.platform).toEqual(linux('amd64'));
    expect(new TextDecoder().decode(chosen.bytes)).toContain('"note":"amd64"');

    const host = hostPlatform();
    const mine = await manifest(store, 'mine');
    await index(
      store,
      [
        { desc: amd, platform: { os: 'plan9', architecture: '386' } },
        { desc: mine, platform: host },
      ],
      'host',
    );
    expect((await choose(store, 'host')).descriptor.digest).toBe(mine.digest);

    // The only manifest, even without a platform, when none is asked for.
    await index(store, [{ desc: arm }], 'one');
    expect((await choose(store, 'one')).descriptor.digest).toBe(arm.digest);
    const none = await failure(choose(store, 'one', 'linux/arm64'));
    expect(isLadingError(none, ErrorCodes.usage), none.message).toBe(true);
  });

  it('no match is a usage error listing the platforms and naming --platform', async () => {
    const store = new MemoryStore();
    const a = await manifest(store, 'a');
    const b = await manifest(store, 'b');
    const idx = await index(
      store,
      [
        { desc: a, platform: { os: 'plan9', architecture: '386' } },
        { desc: b, platform: { os: 'plan9', architecture: 'amd64' } },
      ],
      'plan9',
    );
    const error = await failure(choose(store, 'plan9'));
    expect(isLadingError(error, ErrorCodes.usage), error.message).toBe(true);
    expect(error.message).toBe(
      `read test:plan9: image index ${idx.digest} has no manifest for this machine's platform ${formatPlatform(hostPlatform())}; it has plan9/386 (${a.digest}), plan9/amd64 (${b.digest}); choose one with --platform os/arch[/variant]`,
    );
    const asked = await failure(choose(store, 'plan9', 'windows/amd64'));
    expect(asked.message).toContain(`has no manifest for windows/amd64; it has plan9/386 (${a.digest})`);
  });

  it('variants: an exact match wins, several equal matches are refused', async () => {
    const store = new MemoryStore();
    const v6 = await manifest(store, 'v6');
    const v7 = await manifest(store, 'v7');
    await index(
      store,
      [
        { desc: v6, platform: linux('arm', 'v6') },
        { desc: v7, platform: linux('arm', 'v7') },
      ],
      'arm',
    );
    expect((await choose(store, 'arm', 'linux/arm/v6')).descriptor.digest).toBe(v6.digest);
    expect((await choose(store, 'arm', 'linux/arm/v7')).descriptor.digest).toBe(v7.digest);
    const ambiguous = await failure(choose(store, 'arm', 'linux/arm'));
    expect(isLadingError(ambiguous, ErrorCodes.usage), ambiguous.message).toBe(true);
    expect(ambiguous.message).toContain('has several manifests for linux/arm: linux/arm/v6');
    // An entry without a variant is arm/v7 (containerd's default).
    await index(
      store,
      [
        { desc: v7, platform: linux('arm') },
        { desc: v6, platform: linux('arm', 'v6') },
      ],
      'plain',
    );
    expect((await choose(store, 'plain', 'linux/arm/v7')).descriptor.digest).toBe(v7.digest);
  });

  it('skips attestation manifests (unknown/unknown) when choosing', async () => {
    const store = new MemoryStore();
    const image = await manifest(store, 'image');
    const attestation = await manifest(store, 'attestation');
    await index(
      store,
      [
        { desc: image, platform: linux('riscv64') },
        { desc: attestation, platform: { os: 'unknown', architecture: 'unknown' } },
      ],
      'buildx',
    );
    expect((await choose(store, 'buildx', 'linux/riscv64')).descriptor.digest).toBe(image.digest);
    const error = await failure(choose(store, 'buildx', 'unknown/unknown'));
    expect(error.message).toContain(`it has linux/riscv64 (${image.digest});`);
  });

  it('follows nested indexes, inheriting their platform, up to MaxIndexDepth levels', async () => {
    const store = new MemoryStore();
    const arm = await manifest(store, 'nested-arm');
    const amd = await manifest(store, 'nested-amd');
    const inner = await index(store, [{ desc: arm }]);
    const middle = await index(store, [{ desc: inner, platform: linux('arm64') }]);
    await index(store, [{ desc: middle }, { desc: amd, platform: linux('amd64') }], 'outer');
    const chosen = await choose(store, 'outer', 'linux/arm64');
    expect(chosen.descriptor.digest).toBe(arm.digest);
    expect(chosen.platform).toEqual(linux('arm64'));

    let deepest = await index(store, [{ desc: arm, platform: linux('arm64') }]);
    for (let level = 1; level < MaxIndexDepth; level++) deepest = await index(store, [{ desc: deepest }]);
    await store.tag(deepest, 'deep-enough');
    expect((await choose(store, 'deep-enough', 'linux/arm64')).descriptor.digest).toBe(arm.digest);
    await index(store, [{ desc: deepest }], 'too-deep');
    const error = await failure(choose(store, 'too-deep', 'linux/arm64'));
    expect(isLadingError(error, ErrorCodes.protocol), error.message).toBe(true);
    expect(error.message).toContain(`image indexes nest more than ${MaxIndexDepth} levels deep`);
  });

  it('fetches the chosen manifest digest-checked: an entry with a wrong size is an integrity error', async () => {
    const store = new MemoryStore();
    const arm = await manifest(store, 'sized');
    await index(store, [{ desc: { ...arm, size: arm.size + 1 }, platform: linux('arm64') }], 'lying');
    const error = await failure(choose(store, 'lying', 'linux/arm64'));
    expect(isLadingError(error, ErrorCodes.integrity), error.message).toBe(true);
  });
});

describe('loadArtifact on an image index', () => {
  it('asks the gate once about the index, with the chosen platform manifest, before reading on', async () => {
    const store = new MemoryStore();
    const amd = await manifest(store, 'gate-amd');
    const arm = await manifest(store, 'gate-arm');
    const idx = await index(
      store,
      [
        { desc: amd, platform: linux('amd64') },
        { desc: arm, platform: linux('arm64') },
      ],
      'v1',
    );
    const asked: GateSubject[] = [];
    const gate: VerificationGate = {
      verify(subject) {
        asked.push(subject);
        return Promise.resolve({ verified: [], warnings: ['noted'] });
      },
    };
    const loaded = await loadArtifact(store, 'v1', 'test:v1', { gate, platform: 'linux/arm64' });
    expect(loaded.descriptor.digest).toBe(arm.digest);
    expect(loaded.index?.digest).toBe(idx.digest);
    expect(loaded.platform).toEqual(linux('arm64'));
    expect(loaded.warnings).toEqual(['noted']);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.descriptor.digest).toBe(idx.digest);
    expect(asked[0]?.platform?.descriptor.digest).toBe(arm.digest);
    expect(new TextDecoder().decode(asked[0]?.platform?.manifest)).toContain('"note":"gate-arm"');

    const refusing: VerificationGate = {
      verify: () => Promise.reject(new Error('refused by the gate')),
    };
    const refused = await failure(loadArtifact(store, 'v1', 'test:v1', { gate: refusing, platform: 'linux/amd64' }));
    expect(refused.message).toBe('refused by the gate');
  });

  it('--platform on a single manifest is a usage error; a malformed one fails before any fetch', async () => {
    const store = new MemoryStore();
    const single = await manifest(store, 'single');
    await store.tag(single, 'single');
    const error = await failure(loadArtifact(store, 'single', 'test:single', { platform: 'linux/amd64' }));
    expect(isLadingError(error, ErrorCodes.usage), error.message).toBe(true);
    expect(error.message).toContain('it is a single manifest');
    const malformed = await failure(loadArtifact(store, 'missing-tag', 'test:missing', { platform: 'linux' }));
    expect(isLadingError(malformed, ErrorCodes.usage), malformed.message).toBe(true);
  });
});
