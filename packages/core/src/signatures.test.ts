import { describe, expect, it } from 'vitest';

import type { GraphTarget } from './content.js';
import type { Descriptor } from './descriptor.js';
import { descriptorFor } from './digest.js';
import { ErrorCodes, LadingError } from './errors.js';
import { MemoryStore } from './memory-store.js';
import { MediaTypeCosignSimpleSigning } from './media-types.js';
import { attachSignature, legacySignatureTag, signatureGate } from './signatures.js';
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
    const verifier = toyVerifier();
    const { verified: seen, warnings } = await signatureGate({ verifiers: [verifier] }).verify(subject);
    expect(warnings).toEqual([]);
    expect(seen).toEqual([
      {
        verifier: 'toy',
        predicateType: 'toy',
        referrer: ref.digest,
        identity: 'tester',
        subject: subject.descriptor.digest,
      },
    ]);
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

  it('reports every valid signature, not only the first', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    const one = await attachSignature(store, subject.descriptor, sign(`ok:${subject.descriptor.digest}`));
    await attachSignature(store, subject.descriptor, sign('forged'));
    const two = await attachSignature(store, subject.descriptor, {
      ...sign(`ok:${subject.descriptor.digest}`),
      annotations: { who: 'second' },
    });
    const { verified } = await signatureGate({ verifiers: [toyVerifier()] }).verify(subject);
    const seen = verified.map((s) => s.referrer);
    expect(seen.sort()).toEqual([one.digest, two.digest].sort());
  });

  it('given signatures replace the registry: no referrer is read, each is offered about the manifest', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    // A valid referrer in the registry is not looked at when signatures are given.
    await attachSignature(store, subject.descriptor, sign(`ok:${subject.descriptor.digest}`));
    const good = Buffer.from(`ok:${subject.descriptor.digest}`);
    const verifier = toyVerifier();
    const gate = signatureGate({
      verifiers: [verifier],
      given: [
        { name: 'f line 1', mediaType: sigType, content: Buffer.from('forged') },
        { name: 'f line 2', mediaType: sigType, content: good },
      ],
    });
    const { verified } = await gate.verify(subject);
    expect(verified.map((v) => v.referrer)).toEqual([descriptorFor(sigType, good).digest]);
    expect(verifier.seen).toHaveLength(2);
    const refused = signatureGate({
      verifiers: [toyVerifier()],
      given: [{ name: 'f', mediaType: sigType, content: Buffer.from('forged') }],
    });
    await expect(refused.verify(subject)).rejects.toThrow(/none of the 1 toy signature\(s\) is acceptable/);
    const none = signatureGate({ verifiers: [toyVerifier()], given: [] });
    await expect(none.verify(subject)).rejects.toThrow(
      /no toy signature among 0 given signature\(s\); nothing was read/,
    );
  });

  it('reads at most maxCandidates referrers and says so', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    for (const who of ['a', 'b', 'c']) {
      await attachSignature(store, subject.descriptor, { ...sign('forged'), annotations: { who } });
    }
    const verifier = toyVerifier();
    await expect(signatureGate({ verifiers: [verifier], maxCandidates: 1 }).verify(subject)).rejects.toThrow(
      /none of the 1 toy signature/,
    );
    expect(verifier.seen).toHaveLength(1);
  });

  describe('bounded: a crowd of referrers cannot crowd out a signature or make the gate read without end', () => {
    /** `store` with its referrers listed as `listing` says, counting every fetch. */
    function listed(store: MemoryStore, listing: () => Promise<Descriptor[]>): GraphTarget & { fetched: string[] } {
      const fetched: string[] = [];
      return {
        fetched,
        fetch: (d, o) => {
          fetched.push(d.digest);
          return store.fetch(d, o);
        },
        push: (d, c, o) => store.push(d, c, o),
        exists: (d, o) => store.exists(d, o),
        resolve: (r, o) => store.resolve(r, o),
        tag: (d, r, o) => store.tag(d, r, o),
        referrers: listing,
      };
    }

    it('reads a digest listed many times once', async () => {
      const store = new MemoryStore();
      const subject = await subjectIn(store);
      const elsewhere = await subjectIn(new MemoryStore(), 'theirs');
      const foreign = await attachSignature(store, elsewhere.descriptor, sign('ok:whatever'));
      const target = listed(store, () => Promise.resolve(Array.from({ length: 1000 }, () => ({ ...foreign }))));
      await expect(signatureGate({ verifiers: [toyVerifier()] }).verify({ ...subject, target })).rejects.toThrow(
        /no toy signature among 1 referrer\(s\) \(.*its subject is not/,
      );
      expect(target.fetched).toEqual([foreign.digest]);
    });

    it('reads first the referrers whose listing says a verifier reads them', async () => {
      const store = new MemoryStore();
      const subject = await subjectIn(store);
      const junk: Descriptor[] = [];
      for (let i = 0; i < 130; i++) {
        const one = { ...sign(`junk ${i}`), artifactType: 'application/vnd.example.junk' };
        junk.push({ ...(await attachSignature(store, subject.descriptor, one)), artifactType: one.artifactType });
      }
      const good = await attachSignature(store, subject.descriptor, sign(`ok:${subject.descriptor.digest}`));
      const target = listed(store, () => Promise.resolve([...junk, { ...good, artifactType: sigType }]));
      const { verified: seen } = await signatureGate({ verifiers: [toyVerifier()] }).verify({ ...subject, target });
      expect(seen.map((v) => v.referrer)).toEqual([good.digest]);
      // The genuine one was read first; the junk only up to the request bound (128, two requests a referrer).
      expect(target.fetched[0]).toBe(good.digest);
      expect(target.fetched.length).toBeLessThanOrEqual(128);
    });

    it('says how many listed signatures it did not read when a bound stops it', async () => {
      const store = new MemoryStore();
      const subject = await subjectIn(store);
      for (let i = 0; i < 10; i++) {
        await attachSignature(store, subject.descriptor, { ...sign(`forged ${i}`), annotations: { who: `${i}` } });
      }
      const verifier = toyVerifier();
      const error = await signatureGate({ verifiers: [verifier], maxRequests: 7 })
        .verify(subject)
        .then(
          () => new LadingError(ErrorCodes.usage, 'accepted'),
          (e: unknown) => e as LadingError,
        );
      expect(error.code).toBe(ErrorCodes.verification);
      // One request for the legacy tag, then two per referrer: three read, seven not.
      expect(error.message).toMatch(
        /none of the 3 toy signature\(s\) is acceptable: .*; 7 listed signature\(s\) were not read, as the gate makes at most 7 requests; nothing was read$/,
      );
      expect(verifier.seen).toHaveLength(3);
    });

    it('bounds the bytes read, quoting a few reasons and counting the rest', async () => {
      const store = new MemoryStore();
      const subject = await subjectIn(store);
      for (let i = 0; i < 10; i++) {
        await attachSignature(store, subject.descriptor, { ...sign(`forged ${i}`.padEnd(1000)), annotations: {} });
      }
      const error = await signatureGate({ verifiers: [toyVerifier()], maxBytes: 8 * 1500 })
        .verify(subject)
        .then(
          () => new LadingError(ErrorCodes.usage, 'accepted'),
          (e: unknown) => e as LadingError,
        );
      expect(error.message).toMatch(/none of the (\d) toy signature\(s\) is acceptable: /);
      expect(error.message).toMatch(
        /; and \d more; \d listed signature\(s\) were not read, as the gate reads at most 12000 bytes;/,
      );
    });
  });

  describe('an index read through one platform manifest', () => {
    async function indexed(store: MemoryStore): Promise<GateSubject> {
      const platform = await subjectIn(store, 'linux/amd64');
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests: [{ ...platform.descriptor, platform: { os: 'linux', architecture: 'amd64' } }],
        }),
      );
      const descriptor = descriptorFor('application/vnd.oci.image.index.v1+json', bytes);
      await store.push(descriptor, bytes);
      return {
        target: store,
        reference: 'test:v1',
        descriptor,
        manifest: bytes,
        platform: { descriptor: platform.descriptor, manifest: platform.manifest },
      };
    }

    it('accepts a signature on the index', async () => {
      const store = new MemoryStore();
      const subject = await indexed(store);
      await attachSignature(store, subject.descriptor, sign(`ok:${subject.descriptor.digest}`));
      const { verified } = await signatureGate({ verifiers: [toyVerifier()] }).verify(subject);
      const seen = verified.map((s) => s.subject);
      expect(seen).toEqual([subject.descriptor.digest]);
    });

    it('accepts a signature on the platform manifest', async () => {
      const store = new MemoryStore();
      const subject = await indexed(store);
      const platform = subject.platform?.descriptor as Descriptor;
      await attachSignature(store, platform, sign(`ok:${platform.digest}`));
      const { verified } = await signatureGate({ verifiers: [toyVerifier()] }).verify(subject);
      const seen = verified.map((s) => s.subject);
      expect(seen).toEqual([platform.digest]);
    });

    it('refuses when neither is signed, naming both', async () => {
      const store = new MemoryStore();
      const subject = await indexed(store);
      // Signed as the wrong manifest: the index's signature content names the platform manifest.
      await attachSignature(store, subject.descriptor, sign(`ok:${subject.platform?.descriptor.digest ?? ''}`));
      await expect(signatureGate({ verifiers: [toyVerifier()] }).verify(subject)).rejects.toThrow(
        /index sha256:[0-9a-f]{64} or platform manifest sha256:[0-9a-f]{64}\) is acceptable/,
      );
    });
  });

  describe('legacy cosign signatures (sha256-<hex>.sig)', () => {
    /** A toy verifier of simple-signing layers: valid when the layer is `ok:<subject digest>`. */
    function legacyVerifier(): Verifier & { offered: SignatureCandidate[] } {
      const offered: SignatureCandidate[] = [];
      return {
        name: 'legacy',
        offered,
        accepts: (c) => c.layer.mediaType === MediaTypeCosignSimpleSigning,
        verify: (c) => {
          offered.push(c);
          return Buffer.from(c.content).toString() === `ok:${c.subject.digest}`
            ? Promise.resolve({ verifier: 'legacy', predicateType: 'legacy', referrer: c.referrer.digest })
            : Promise.reject(new LadingError(ErrorCodes.verification, 'bad legacy signature'));
        },
      };
    }

    async function tagLegacy(store: MemoryStore, subject: GateSubject, payloads: string[]): Promise<Descriptor> {
      const layers: Descriptor[] = [];
      for (const payload of [...payloads, 'not a signature']) {
        const bytes = Buffer.from(payload);
        const type = payload === 'not a signature' ? 'application/octet-stream' : MediaTypeCosignSimpleSigning;
        const layer = { ...descriptorFor(type, bytes), annotations: { 'dev.cosignproject.cosign/signature': 'c2ln' } };
        await store.push(layer, bytes);
        layers.push(layer);
      }
      const config = Buffer.from('{}');
      const configDesc = descriptorFor('application/vnd.oci.image.config.v1+json', config);
      await store.push(configDesc, config);
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: configDesc,
          layers,
        }),
      );
      const desc = descriptorFor('application/vnd.oci.image.manifest.v1+json', bytes);
      await store.push(desc, bytes);
      await store.tag(desc, legacySignatureTag(subject.descriptor.digest));
      return desc;
    }

    it('names the tag as cosign does', () => {
      expect(legacySignatureTag(`sha256:${'a'.repeat(64)}`)).toBe(`sha256-${'a'.repeat(64)}.sig`);
    });

    it('offers each simple-signing layer of the .sig manifest, with its annotations', async () => {
      const store = new MemoryStore();
      const subject = await subjectIn(store);
      const sig = await tagLegacy(store, subject, ['forged', `ok:${subject.descriptor.digest}`]);
      const verifier = legacyVerifier();
      const { verified: seen } = await signatureGate({ verifiers: [verifier] }).verify(subject);
      expect(verifier.offered).toHaveLength(2);
      expect(verifier.offered[0]?.referrer).toMatchObject({
        digest: sig.digest,
        artifactType: MediaTypeCosignSimpleSigning,
      });
      expect(verifier.offered[0]?.layer.annotations).toEqual({ 'dev.cosignproject.cosign/signature': 'c2ln' });
      expect(seen).toEqual([
        { verifier: 'legacy', predicateType: 'legacy', referrer: sig.digest, subject: subject.descriptor.digest },
      ]);
    });

    it('fails closed when the .sig tag cannot be read', async () => {
      const store = new MemoryStore();
      const subject = await subjectIn(store);
      const broken: GraphTarget = {
        fetch: (d, o) => store.fetch(d, o),
        push: (d, c, o) => store.push(d, c, o),
        exists: (d, o) => store.exists(d, o),
        resolve: () => Promise.reject(new LadingError(ErrorCodes.network, 'connection reset')),
        tag: (d, r, o) => store.tag(d, r, o),
        referrers: (d, o) => store.referrers(d, o),
      };
      await attachSignature(store, subject.descriptor, sign(`ok:${subject.descriptor.digest}`));
      await expect(
        signatureGate({ verifiers: [toyVerifier()] }).verify({ ...subject, target: broken }),
      ).rejects.toThrow(/connection reset/);
    });
  });

  it('stops with a verifier error that is not a refusal (the trusted root is unreachable), keeping its code', async () => {
    const store = new MemoryStore();
    const subject = await subjectIn(store);
    await attachSignature(store, subject.descriptor, sign(`ok:${subject.descriptor.digest}`));
    const offline: Verifier = {
      ...toyVerifier(),
      verify: () => Promise.reject(new LadingError(ErrorCodes.network, 'load trusted root: ENOTFOUND')),
    };
    const error = await signatureGate({ verifiers: [offline] })
      .verify(subject)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LadingError);
    expect((error as LadingError).code).toBe(ErrorCodes.network);
  });

  it('refuses to be built without verifiers', () => {
    expect(() => signatureGate({ verifiers: [] })).toThrow(/at least one verifier/);
  });
});
