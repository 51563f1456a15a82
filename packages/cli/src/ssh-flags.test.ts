import { ErrorCodes, LadingError, type SignatureCandidate, type Verifier } from '@lading/core';
import { describe, expect, it } from 'vitest';

import { anyOf, createSshVerifierFromFlags, type SshVerificationFlagValues } from './ssh-flags.js';

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

describe('createSshVerifierFromFlags', () => {
  it('is undefined without --allowed-signers; the SSH options alone are usage errors', async () => {
    await expect(createSshVerifierFromFlags({})).resolves.toBeUndefined();
    for (const [flags, named] of [
      [{ 'verify-principal': ['a@b'] }, '--verify-principal'],
      [{ 'ssh-namespace': 'x' }, '--ssh-namespace'],
      [{ 'ssh-revoked': 'r' }, '--ssh-revoked'],
    ] as [SshVerificationFlagValues, string][]) {
      await expect(createSshVerifierFromFlags(flags)).rejects.toMatchObject({
        code: ErrorCodes.usage,
        message: `${named}: give the allowed_signers file too, with --allowed-signers`,
      });
    }
    await expect(createSshVerifierFromFlags({}, { git: { gitDir: '.' } })).rejects.toMatchObject({
      code: ErrorCodes.usage,
    });
    await expect(createSshVerifierFromFlags({ 'allowed-signers': 'f' })).rejects.toMatchObject({
      code: ErrorCodes.usage,
      message: expect.stringContaining('--verify-principal') as unknown,
    });
  });
});
