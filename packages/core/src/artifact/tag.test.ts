import { describe, expect, it } from 'vitest';

import { ErrorCodes, isLadingError } from '../errors.js';
import { MemoryStore } from '../memory-store.js';
import { EmptyJSON } from '../media-types.js';
import { packManifest } from './pack.js';
import { tagArtifact } from './push.js';

describe('tagArtifact by reference', () => {
  it('resolves the reference, fetches the manifest and points each tag at it once', async () => {
    const store = new MemoryStore();
    const config = { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size };
    const packed = packManifest({ config, layers: [], annotations: { note: 'tag' } });
    await store.push(packed.descriptor, packed.bytes);
    await store.tag(packed.descriptor, 'build-42');
    const events: string[] = [];
    const result = await tagArtifact(store, 'build-42', ['v1', 'latest', 'v1'], {
      onEvent: (event) => {
        if (event.type === 'tagged') events.push(event.tag);
      },
    });
    expect(result.descriptor.digest).toBe(packed.descriptor.digest);
    expect(result.tags).toEqual(['v1', 'latest']);
    expect(events).toEqual(['v1', 'latest']);
    for (const tag of ['v1', 'latest']) expect((await store.resolve(tag)).digest).toBe(packed.descriptor.digest);
    // By digest too.
    expect((await tagArtifact(store, packed.descriptor.digest, ['stable'])).tags).toEqual(['stable']);
    expect((await store.resolve('stable')).digest).toBe(packed.descriptor.digest);
  });

  it('refuses an empty reference (usage) and one that names nothing (not found), moving no tag', async () => {
    const store = new MemoryStore();
    const empty = await tagArtifact(store, '', ['v1'], { display: 'oci:./layout' }).catch((e: unknown) => e);
    expect(isLadingError(empty, ErrorCodes.usage)).toBe(true);
    expect((empty as Error).message).toBe('tag oci:./layout: name a tag or a digest of the artifact');
    const missing = await tagArtifact(store, 'nope', ['v1']).catch((e: unknown) => e);
    expect(isLadingError(missing, ErrorCodes.notFound)).toBe(true);
    expect(await store.tags()).toEqual([]);
  });
});
