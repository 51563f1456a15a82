import { describe, expect, it } from 'vitest';

import { allOf, anyOf } from '../authorities.js';
import type { Descriptor, Platform } from '../descriptor.js';
import { descriptorFor } from '../digest.js';
import { ErrorCodes, LadingError } from '../errors.js';
import { MemoryStore } from '../memory-store.js';
import { EmptyJSON, MediaTypeImageIndex, MediaTypeImageManifest } from '../media-types.js';
import { signatureGate } from '../signatures.js';
import type { Signer, SignRequest, Verifier } from '../trust.js';
import { attestArtifact, MaxRecursiveManifests, signArtifact, type SignEvent } from './sign.js';
import { verifyArtifact } from './verify.js';

const sigType = 'application/vnd.test.signature';
const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

async function stored(store: MemoryStore, mediaType: string, value: unknown, tag?: string): Promise<Descriptor> {
  const bytes = json(value);
  const desc = descriptorFor(mediaType, bytes);
  await store.push(desc, bytes);
  if (tag !== undefined) await store.tag(desc, tag);
  return desc;
}

function manifest(store: MemoryStore, note: string, tag?: string): Promise<Descriptor> {
  const config = { mediaType: EmptyJSON.mediaType, digest: EmptyJSON.digest, size: EmptyJSON.size };
  const value = { schemaVersion: 2, mediaType: MediaTypeImageManifest, config, layers: [], annotations: { note } };
  return stored(store, MediaTypeImageManifest, value, tag);
}

function index(store: MemoryStore, entries: { desc: Descriptor; platform?: Platform }[], tag?: string) {
  const manifests = entries.map(({ desc, platform }) => ({ ...desc, ...(platform && { platform }) }));
  return stored(store, MediaTypeImageIndex, { schemaVersion: 2, mediaType: MediaTypeImageIndex, manifests }, tag);
}

/** Signs `<predicate type> <digest>` in plain text; records what it was asked. */
function toySigner(): Signer & { asked: SignRequest[] } {
  const asked: SignRequest[] = [];
  return {
    asked,
    sign(request) {
      asked.push(request);
      const content = Buffer.from(`${request.predicateType ?? 'plain'} ${request.subject.digest}`);
      return Promise.resolve({ artifactType: sigType, layerMediaType: sigType, content, annotations: {} });
    },
  };
}

/** Accepts toy signatures about the candidate's subject stating `predicateType`. */
function toyVerifier(name: string, predicateType = 'plain'): Verifier {
  return {
    name,
    accepts: ({ layer }) => layer.mediaType === sigType,
    verify(candidate) {
      const text = Buffer.from(candidate.content).toString();
      if (text !== `${predicateType} ${candidate.subject.digest}`) {
        return Promise.reject(new LadingError(ErrorCodes.verification, `${name}: not ${predicateType}`));
      }
      return Promise.resolve({ verifier: name, predicateType, referrer: candidate.referrer.digest });
    },
  };
}

describe('signArtifact', () => {
  it('signs what the reference names, attaches the signature, and moves the tags last', async () => {
    const store = new MemoryStore();
    const desc = await manifest(store, 'one');
    const signer = toySigner();
    const events: SignEvent['type'][] = [];
    // Whether the tag named anything when the signature was attached: it must not yet.
    let tagWhenSigned: Promise<string> | undefined;
    const result = await signArtifact(store, desc.digest, signer, {
      tags: ['v1', 'v1'],
      onEvent: (event) => {
        if (event.type === 'signed')
          tagWhenSigned = store.resolve('v1').then(
            (d) => d.digest,
            () => 'none',
          );
        events.push(event.type);
      },
    });
    expect(events).toEqual(['signed', 'tagged']);
    expect(await tagWhenSigned).toBe('none');
    expect(result.tags).toEqual(['v1']);
    expect((await store.resolve('v1')).digest).toBe(desc.digest);
    expect(signer.asked).toEqual([{ subject: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size } }]);
    const [made] = result.signatures;
    expect(made?.artifactType).toBe(sigType);
    expect((await store.referrers(desc)).map((r) => r.digest)).toEqual([made?.referrer.digest]);
  });

  it('with recursive, signs the index and each manifest it lists once, with its platform', async () => {
    const store = new MemoryStore();
    const amd = await manifest(store, 'amd');
    const arm = await manifest(store, 'arm');
    const platform = (architecture: string): Platform => ({ os: 'linux', architecture });
    const idx = await index(
      store,
      [
        { desc: amd, platform: platform('amd64') },
        { desc: arm, platform: platform('arm64') },
        { desc: amd, platform: platform('amd64') },
      ],
      'v1',
    );
    const plain = await signArtifact(store, 'v1', toySigner());
    expect(plain.signatures.map((s) => s.subject.digest)).toEqual([idx.digest]);
    const all = await signArtifact(store, 'v1', toySigner(), { recursive: true });
    expect(all.signatures.map((s) => [s.subject.digest, s.platform?.architecture])).toEqual([
      [idx.digest, undefined],
      [amd.digest, 'amd64'],
      [arm.digest, 'arm64'],
    ]);
    // A pull of one platform accepts the platform manifest's own signature.
    const gate = signatureGate({ verifiers: [toyVerifier('toy')] });
    const verified = await verifyArtifact(store, 'v1', { gate, platform: 'linux/arm64' });
    expect(verified.descriptor.digest).toBe(arm.digest);
    expect(verified.index?.digest).toBe(idx.digest);
    // The index's two signatures are one referrer: the toy signature of a digest is always the same bytes.
    expect(verified.verified.map((s) => s.subject).sort()).toEqual([idx.digest, arm.digest].sort());
  });

  it(`refuses an index of more than ${MaxRecursiveManifests} manifests before signing anything`, async () => {
    const store = new MemoryStore();
    const entries = [];
    for (let i = 0; i < MaxRecursiveManifests; i += 1) entries.push({ desc: await manifest(store, `m${i}`) });
    await index(store, entries, 'big');
    const signer = toySigner();
    const error = await signArtifact(store, 'big', signer, { recursive: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: ErrorCodes.usage,
      message: `sign big: the index lists more than ${MaxRecursiveManifests} manifests; nothing was signed`,
    });
    expect(signer.asked).toEqual([]);
  });
});

describe('attestArtifact and verifyArtifact', () => {
  it('attests with the predicate; verify returns what each required authority vouched for', async () => {
    const store = new MemoryStore();
    const desc = await manifest(store, 'attested', 'v1');
    const signer = toySigner();
    await signArtifact(store, 'v1', signer);
    const provenance = 'https://slsa.dev/provenance/v1';
    const attested = await attestArtifact(store, 'v1', signer, { predicateType: provenance, predicate: { a: 1 } });
    expect(signer.asked.at(-1)).toMatchObject({ predicateType: provenance, predicate: { a: 1 } });
    expect(attested.signatures).toHaveLength(1);

    const both = signatureGate({ verifiers: [allOf([toyVerifier('sig'), toyVerifier('prov', provenance)])] });
    const result = await verifyArtifact(store, 'v1', { gate: both });
    expect(result.descriptor.digest).toBe(desc.digest);
    expect(result.verified.map((s) => [s.verifier, s.subject])).toEqual([
      ['sig', desc.digest],
      ['prov', desc.digest],
    ]);
    expect(result.warnings).toEqual([]);

    const other = 'https://example.com/other';
    const missing = signatureGate({ verifiers: [toyVerifier('sig'), toyVerifier('other', other)] });
    await expect(verifyArtifact(store, 'v1', { gate: missing })).rejects.toMatchObject({
      code: ErrorCodes.verification,
    });
    const either = signatureGate({
      verifiers: [anyOf([toyVerifier('other', other), toyVerifier('prov', provenance)])],
    });
    expect((await verifyArtifact(store, 'v1', { gate: either })).verified.map((s) => s.verifier)).toEqual(['prov']);
  });

  it('refuses a predicate that is not a JSON object, and an empty type, before signing', async () => {
    const store = new MemoryStore();
    await manifest(store, 'x', 'v1');
    const signer = toySigner();
    const bad = [] as unknown as object;
    await expect(attestArtifact(store, 'v1', signer, { predicateType: 'p', predicate: bad })).rejects.toMatchObject({
      code: ErrorCodes.usage,
      message: 'attest v1: the predicate must be a JSON object',
    });
    await expect(attestArtifact(store, 'v1', signer, { predicateType: '', predicate: {} })).rejects.toMatchObject({
      code: ErrorCodes.usage,
    });
    expect(signer.asked).toEqual([]);
  });
});
