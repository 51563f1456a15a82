import { describe, expect, it } from 'vitest';

import type { Descriptor } from '../descriptor.js';
import { ErrorCodes, isLadingError } from '../errors.js';
import { MemoryStore } from '../memory-store.js';
import { EmptyJSON, MediaTypeCosignSimpleSigning } from '../media-types.js';
import { legacySignatureTag } from '../signatures.js';
import { DefaultDiscoverDepth, discoverReferrers, MaxDiscoveredReferrers } from './discover.js';
import { packManifest } from './pack.js';

const config: Descriptor = { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size };
const sbom = 'application/spdx+json';
const bundle = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** Stores a manifest (a referrer of `subject` when given) and returns its descriptor. */
async function put(store: MemoryStore, note: string, artifactType?: string, subject?: Descriptor): Promise<Descriptor> {
  const packed = packManifest({
    config,
    layers: [],
    annotations: { note },
    ...(artifactType === undefined ? {} : { artifactType }),
    ...(subject === undefined ? {} : { subject }),
  });
  await store.push(packed.descriptor, packed.bytes);
  return packed.descriptor;
}

/** app:v1, signed (a bundle), with an SBOM that is signed in turn, whose signature is countersigned. */
interface Digests {
  signature: string;
  sbom: string;
  sbomSignature: string;
  counter: string;
}

async function graph(): Promise<{ store: MemoryStore; app: Descriptor; digests: Digests }> {
  const store = new MemoryStore();
  const app = await put(store, 'app');
  await store.tag(app, 'v1');
  const signature = await put(store, 'signature', bundle, app);
  const spdx = await put(store, 'sbom', sbom, app);
  const sbomSignature = await put(store, 'sbom signature', bundle, spdx);
  const counter = await put(store, 'countersignature', bundle, sbomSignature);
  const digests = {
    signature: signature.digest,
    sbom: spdx.digest,
    sbomSignature: sbomSignature.digest,
    counter: counter.digest,
  };
  return { store, app, digests };
}

/** The tree as digests only, children sorted, for comparison. */
interface Node {
  digest: string;
  referrers?: Node[];
}
function shape(nodes: readonly Node[]): Node[] {
  return nodes
    .map((n) => ({ digest: n.digest, ...(n.referrers === undefined ? {} : { referrers: shape(n.referrers) }) }))
    .sort((a, b) => a.digest.localeCompare(b.digest));
}

describe('discoverReferrers', () => {
  it('lists the referrers as a tree, down to the depth asked (default 3)', async () => {
    const { store, app, digests } = await graph();
    expect(DefaultDiscoverDepth).toBe(3);
    const found = await discoverReferrers(store, 'v1');
    expect(found.descriptor.digest).toBe(app.digest);
    expect(found.legacySignatures).toBeUndefined();
    expect(shape(found.referrers)).toEqual(
      shape([
        { digest: digests.signature, referrers: [] },
        {
          digest: digests.sbom,
          referrers: [{ digest: digests.sbomSignature, referrers: [{ digest: digests.counter }] }],
        },
      ]),
    );
    const sbomNode = found.referrers.find((r) => r.digest === digests.sbom);
    expect(sbomNode?.artifactType).toBe(sbom);

    const shallow = await discoverReferrers(store, app.digest, { depth: 1 });
    expect(shape(shallow.referrers)).toEqual(shape([{ digest: digests.signature }, { digest: digests.sbom }]));
  });

  it('filters every level by artifact type', async () => {
    const { store, digests } = await graph();
    const bundles = await discoverReferrers(store, 'v1', { artifactType: bundle });
    expect(shape(bundles.referrers)).toEqual([{ digest: digests.signature, referrers: [] }]);
    const sboms = await discoverReferrers(store, 'v1', { artifactType: sbom, depth: 2 });
    expect(shape(sboms.referrers)).toEqual([{ digest: digests.sbom, referrers: [] }]);
  });

  it("finds cosign's legacy signature tag unless another artifact type is asked for", async () => {
    const { store, app } = await graph();
    const legacy = await put(store, 'legacy', MediaTypeCosignSimpleSigning);
    const tag = legacySignatureTag(app.digest);
    await store.tag(legacy, tag);
    expect((await discoverReferrers(store, 'v1')).legacySignatures).toEqual({ tag, digest: legacy.digest });
    expect(
      (await discoverReferrers(store, 'v1', { artifactType: MediaTypeCosignSimpleSigning })).legacySignatures,
    ).toEqual({ tag, digest: legacy.digest });
    expect((await discoverReferrers(store, 'v1', { artifactType: sbom })).legacySignatures).toBeUndefined();
  });

  it(`refuses more than ${MaxDiscoveredReferrers} referrers in all, and a depth below 1`, async () => {
    const store = new MemoryStore();
    const app = await put(store, 'app');
    await store.tag(app, 'v1');
    for (let i = 0; i <= MaxDiscoveredReferrers; i++) await put(store, `signature ${i}`, bundle, app);
    const error = await discoverReferrers(store, 'v1', { display: 'r.example/app:v1' }).catch((e: unknown) => e);
    expect(isLadingError(error, ErrorCodes.protocol)).toBe(true);
    expect((error as Error).message).toBe(
      `discover r.example/app:v1: more than ${MaxDiscoveredReferrers} referrers; lower the depth or filter by artifact type`,
    );
    const usage = await discoverReferrers(store, 'v1', { depth: 0 }).catch((e: unknown) => e);
    expect(isLadingError(usage, ErrorCodes.usage)).toBe(true);
  });
});
