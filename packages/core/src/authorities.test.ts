import { describe, expect, it } from 'vitest';

import { allOf, anyOf, requiredVerifiers } from './authorities.js';
import { ErrorCodes, LadingError } from './errors.js';
import type { SignatureCandidate, Verifier } from './trust.js';

const candidate = (artifactType: string): SignatureCandidate => ({
  subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:aa', size: 1 },
  subjectBytes: new Uint8Array(),
  referrer: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:bb', size: 1, artifactType },
  manifest: new Uint8Array(),
  layer: { mediaType: artifactType, digest: 'sha256:cc', size: 1 },
  content: new Uint8Array(),
});

/** A verifier of `kind` artifacts that accepts, refuses, or fails otherwise. */
function verifier(name: string, kind: string, outcome: 'accept' | 'refuse' | 'network'): Verifier {
  return {
    name,
    accepts: (c) => c.referrer.artifactType === kind,
    verify: (c) => {
      if (outcome === 'accept')
        return Promise.resolve({ verifier: name, predicateType: 'p', referrer: c.referrer.digest });
      const code = outcome === 'refuse' ? ErrorCodes.verification : ErrorCodes.network;
      return Promise.reject(new LadingError(code, `${name} says no`));
    },
  };
}

describe('anyOf', () => {
  it('is the verifier itself when there is one', () => {
    const only = verifier('ssh', 'x', 'accept');
    expect(anyOf([only])).toBe(only);
  });

  it('offers a candidate to each verifier reading its kind; the first acceptance wins', async () => {
    const both = anyOf([verifier('sigstore', 'bundle', 'refuse'), verifier('ssh', 'sshsig', 'accept')]);
    expect(both.name).toBe('sigstore or ssh');
    expect(both.accepts(candidate('sshsig'))).toBe(true);
    expect(both.accepts(candidate('other'))).toBe(false);
    await expect(both.verify(candidate('sshsig'))).resolves.toMatchObject({ verifier: 'ssh' });
    await expect(both.verify(candidate('bundle'))).rejects.toMatchObject({
      code: ErrorCodes.verification,
      message: 'sigstore: sigstore says no',
    });
  });

  it('refuses with every reason when all refuse; an error that is not a refusal stops at once', async () => {
    const refusing = anyOf([verifier('a', 'k', 'refuse'), verifier('b', 'k', 'refuse')]);
    await expect(refusing.verify(candidate('k'))).rejects.toMatchObject({
      code: ErrorCodes.verification,
      message: 'a: a says no; b: b says no',
    });
    const failing = anyOf([verifier('a', 'k', 'network'), verifier('b', 'k', 'accept')]);
    await expect(failing.verify(candidate('k'))).rejects.toMatchObject({ code: ErrorCodes.network });
  });
});

describe('allOf', () => {
  it('is spread out into the verifiers that must each be satisfied, nested or not', () => {
    const a = verifier('a', 'k', 'accept');
    const b = verifier('b', 'k', 'accept');
    const c = verifier('c', 'k', 'accept');
    const either = anyOf([b, c]);
    expect(requiredVerifiers([allOf([a, allOf([either])])])).toEqual([a, either]);
    expect(requiredVerifiers([a, b])).toEqual([a, b]);
  });

  it('refuses to be empty, as anyOf does', () => {
    expect(() => allOf([])).toThrow(expect.objectContaining({ code: ErrorCodes.usage }) as Error);
    expect(() => anyOf([])).toThrow(expect.objectContaining({ code: ErrorCodes.usage }) as Error);
  });
});
