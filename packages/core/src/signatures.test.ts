import { describe, expect, it } from 'vitest';

import type { GraphTarget } from './content.js';
import type { Descriptor } from './descriptor.js';
import { descriptorFor } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';
import { MemoryStore } from './memory-store.js';
import { attachSignature, signatureGate } from './signatures.js';
import type { GateSubject, SignatureCandidate, Verifier } from './trust.js';

const sigType = 'application/vnd.test.signature';

/** A toy verifier: a signature is valid when its content is `ok:<subject digest>`. */
function toyVerifier(name = 'toy'): Verifier & { seen: string[] } {
  const seen: string[] = [];
  return {
    name,
    seen,
    accepts: (c) => c.layer.mediaType === sigType,
    verify: (c: SignatureCandidate) => {
      seen.push(c.referrer.digest);
      const text = Buffer.from(c.content).toString();
      if (text !== `ok:${c.subject.digest}`) {
        return Promise.reject(
          new LadingError(ErrorCodes.verification, `verify ${c.referrer.digest}: bad toy signature`),
        );
      }
      return Promise.resolve({ verifier: name, predicateType: 'toy', referrer: c.referrer.digest, identity: 'tester' });
    },
  };
}

async function subjectIn(store: MemoryStore, note = 'ours'): Promise<GateSubject> {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: descriptorFor('x', Buffer.from('{}')).digest,
        size: 2,
      },
      layers: [],
      annotations: { note },
    }),
  );
  await store.push(descriptorFor('application/vnd.oci.empty.v1+json', Buffer.from('{}')), Buffer.from('{}'));
  const descriptor = descriptorFor('application/vnd.oci.image.manifest.v1+json', bytes);
  await store.push(descriptor, bytes);
  return { target: store, reference: 'test:v1', descriptor, manifest: bytes };
}

function sign(content: string): {
  artifactType: string;
  layerMediaType: string;
  content: Buffer;
  annotations: Record<string, string>;
} {
  return {
    artifactType: sigType,
    layerMediaType: sigType,
    content: Buffer.from(content),
    annotations: { who: 'test' },
  };
}

describe('signatures', () => {
  it('attaches a referrer the gate finds and a verifier accepts', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    const ref = await attachSignature(store, subject.descriptor, sign(`ok:${subject.descriptor.digest}`));
    const listed = await store.referrers(subject.descriptor);
    expect(listed.map((d) => [d.digest, d.artifactType, d.annotations?.who])).toEqual([[ref.digest, sigType, 'test']]);
    const seen: unknown[] = [];
    const verifier = toyVerifier();
    await signatureGate({ verifiers: [verifier], onVerified: (v) => seen.push(...v) }).verify(subject);
    expect(seen).toEqual([{ verifier: 'toy', predicateType: 'toy', referrer: ref.digest, identity: 'tester' }]);
  });

  it('fails closed without any signature', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    await expect(signatureGate({ verifiers: [toyVerifier()] }).verify(subject)).rejects.toThrow(
      /no toy signature among 0 referrer\(s\); nothing was read/,
    );
  });

  it('says why each candidate was refused', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    await attachSignature(store, subject.descriptor, sign('ok:sha256:someone-else'));
    const error: unknown = await signatureGate({ verifiers: [toyVerifier()] })
      .verify(subject)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LadingError);
    expect((error as LadingError).code).toBe(ErrorCodes.verification);
    expect((error as LadingError).message).toMatch(
      /none of the 1 toy signature\(s\) is acceptable: .*bad toy signature/,
    );
  });

  it('requires one valid signature per verifier', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    await attachSignature(store, subject.descriptor, sign(`ok:${subject.descriptor.digest}`));
    const other: Verifier = { ...toyVerifier('other'), accepts: () => false };
    await expect(signatureGate({ verifiers: [toyVerifier(), other] }).verify(subject)).rejects.toThrow(
      /no other signature/,
    );
  });

  it('never trusts a listing: a referrer whose own subject is another manifest is not offered', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    const elsewhere = await subjectIn(new MemoryStore(), 'theirs');
    // A valid signature of another artifact, listed (by a lying registry) as a referrer of ours.
    const foreign = await attachSignature(store, { ...elsewhere.descriptor }, sign(`ok:${subject.descriptor.digest}`));
    const lying: GraphTarget = {
      fetch: (d, o) => store.fetch(d, o),
      push: (d, c, o) => store.push(d, c, o),
      exists: (d, o) => store.exists(d, o),
      resolve: (r, o) => store.resolve(r, o),
      tag: (d, r, o) => store.tag(d, r, o),
      referrers: (): Promise<Descriptor[]> => Promise.resolve([{ ...foreign, artifactType: sigType }]),
    };
    const verifier = toyVerifier();
    await expect(signatureGate({ verifiers: [verifier] }).verify({ ...subject, target: lying })).rejects.toThrow(
      /its subject is not/,
    );
    expect(verifier.seen).toEqual([]);
  });

  it('refuses to be built without verifiers', () => {
    expect(() => signatureGate({ verifiers: [] })).toThrow(/at least one verifier/);
  });
});
