// core `copy` under a verification policy, as a library user calls it: the source is verified by the policy gate
// before anything is pushed. Real distribution registries of the test bed, a real cosign key signature made by
// lading's key signer, and @lading/sigstore's verifier built by the same factory shape the CLI uses.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';

import {
  attachSignature,
  copy,
  evaluatePolicy,
  isLadingError,
  openTarget,
  parsePolicy,
  policyGate,
  pushArtifact,
  type PolicyEvaluation,
  type GraphTarget,
  type PolicyVerifierFactory,
  type RegistryClient,
} from '@lading/core';
import { fetchAll } from '@lading/core/internal';
import { createKeySigner, createSigstoreVerifier, generateKeyPair } from '@lading/sigstore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isolatedClient } from '../registry/helpers.js';
import { testbed } from '../testbed/index.js';

let client: RegistryClient;
let host: string;
let dir: string;
let signedRef: string;
let signerPub: string;
let otherPub: string;

/** The CLI's factory, reduced to key authorities with inline PEM (what these policies use). */
const verifierFor: PolicyVerifierFactory = ({ authority, predicateType }) => {
  if (authority.kind !== 'key' || !('inline' in authority.key)) throw new Error('key authorities with pem only');
  return createSigstoreVerifier({ keys: [authority.key.inline], predicateType });
};

const keyAuthority = (pem: string) =>
  `      - key:\n          pem: |\n${pem
    .trim()
    .split('\n')
    .map((line) => `            ${line}`)
    .join('\n')}\n`;

const policyFor = (...pems: string[]) =>
  parsePolicy(
    `version: 1\nrules:\n  - name: source\n    match: "${host}/copy-gate/**"\n    authorities:\n${pems.map(keyAuthority).join('')}`,
    path.join(dir, 'policy.yaml'),
  );

/** `target`, counting the registry calls made through it: listings, tag resolutions, and fetches by digest. */
function counting(target: GraphTarget): {
  target: GraphTarget;
  referrers: number;
  resolves: number;
  fetches: Map<string, number>;
} {
  const counts = { referrers: 0, resolves: 0, fetches: new Map<string, number>() };
  const wrapped: GraphTarget = {
    referrers: (subject, options) => {
      counts.referrers += 1;
      return target.referrers(subject, options);
    },
    resolve: (reference, options) => {
      counts.resolves += 1;
      return target.resolve(reference, options);
    },
    fetch: (desc, options) => {
      counts.fetches.set(desc.digest, (counts.fetches.get(desc.digest) ?? 0) + 1);
      return target.fetch(desc, options);
    },
    exists: (desc, options) => target.exists(desc, options),
    push: (desc, content, options) => target.push(desc, content, options),
    tag: (desc, reference, options) => target.tag(desc, reference, options),
  };
  return Object.assign(counts, { target: wrapped });
}

beforeAll(async () => {
  host = testbed().registries.anonymous.host;
  client = isolatedClient();
  dir = await mkdtemp(path.join(testbed().dir, 'copy-gate-'));
  await writeFile(path.join(dir, 'notes.txt'), `copy gate ${randomBytes(4).toString('hex')}\n`);
  const signer = await generateKeyPair({ password: 'pw' });
  signerPub = signer.publicKey;
  otherPub = (await generateKeyPair({ password: 'pw' })).publicKey;
  signedRef = `${host}/copy-gate/src-${randomBytes(4).toString('hex')}:v1`;
  const opened = await openTarget(signedRef, { client });
  const { descriptor } = await pushArtifact(opened, [{ path: 'notes.txt' }], { cwd: dir });
  const keySigner = await createKeySigner({ key: Buffer.from(signer.privateKey), password: 'pw' });
  await attachSignature(opened.target, descriptor, await keySigner.sign({ subject: descriptor }));
});

afterAll(async () => {
  await client.close();
});

describe('one evaluation reads the referrers once, however many authorities check them', () => {
  it('three authorities: one listing, one legacy tag look-up, each referrer and layer fetched once', async () => {
    const src = await openTarget(signedRef, { client });
    const counted = counting(src.target);
    const descriptor = await src.target.resolve('v1');
    const manifest = await fetchAll(src.target, descriptor, 'test');
    const evaluation = await evaluatePolicy(
      policyFor(otherPub, signerPub, otherPub),
      { target: counted.target, reference: src.display, descriptor, manifest },
      { verifierFor },
    );
    expect(evaluation.authorities.map((a) => a.satisfied)).toEqual([false, true, false]);
    expect(evaluation.decision).toBe('allow');
    // Without sharing, each of the three gates lists the referrers and looks up the legacy tag itself.
    expect(counted.referrers).toBe(1);
    expect(counted.resolves).toBe(1);
    expect(
      [...counted.fetches.values()].every((n) => n === 1),
      JSON.stringify([...counted.fetches]),
    ).toBe(true);
    expect(counted.fetches.size).toBe(2); // the signature's referrer manifest and its bundle layer
  });
});

describe('copy with a policy gate', () => {
  it('copies a source the policy allows, and reports the evaluation', async () => {
    const src = await openTarget(signedRef, { client });
    const dstRef = `${host}/copy-gate/dst-ok-${randomBytes(4).toString('hex')}:v1`;
    const dst = await openTarget(dstRef, { client });
    const evaluations: PolicyEvaluation[] = [];
    const copied = await copy(src.target, 'v1', dst.target, 'v1', {
      display: src.display,
      gate: policyGate(policyFor(signerPub), { verifierFor, onEvaluated: (e) => evaluations.push(e) }),
    });
    expect(evaluations.map((e) => [e.decision, e.rule?.name])).toEqual([['allow', 'source']]);
    expect((await dst.target.resolve('v1')).digest).toBe(copied.descriptor.digest);
    // The result carries what the gate vouched for, as pull's does.
    expect(copied.verified).toHaveLength(1);
    expect(copied.verified).toEqual(evaluations[0]?.verified);
  });

  it('refuses a source the policy denies before anything is pushed to the destination', async () => {
    const src = await openTarget(signedRef, { client });
    const repository = `copy-gate/dst-denied-${randomBytes(4).toString('hex')}`;
    const dst = await openTarget(`${host}/${repository}:v1`, { client });
    const error = await copy(src.target, 'v1', dst.target, 'v1', {
      display: src.display,
      gate: policyGate(policyFor(otherPub), { verifierFor }),
    }).then(
      () => new Error('copied'),
      (e: unknown) => e as Error,
    );
    expect(isLadingError(error, 'ERR_LADING_VERIFICATION'), error.message).toBe(true);
    expect(error.message).toContain('rule source (line 3): 0 of the 1 authorities required signed');
    // Nothing reached the destination: not the tag, not the manifest, not a blob (the repository does not exist).
    const catalog = await fetch(`http://${host}/v2/_catalog?n=1000`).then(
      (r) => r.json() as Promise<{ repositories: string[] }>,
    );
    expect(catalog.repositories).not.toContain(repository);
  });

  it('a policy gate given a bare tag as the reference refuses it (it could match the wrong rule)', async () => {
    const src = await openTarget(signedRef, { client });
    const dst = await openTarget(`${host}/copy-gate/dst-usage:v1`, { client });
    const error = await copy(src.target, 'v1', dst.target, 'v1', {
      gate: policyGate(policyFor(signerPub), { verifierFor }),
    }).then(
      () => new Error('copied'),
      (e: unknown) => e as Error,
    );
    expect(isLadingError(error, 'ERR_LADING_USAGE'), error.message).toBe(true);
    // Without `display` the gate is asked about `v1` itself, which names no registry or repository.
    expect(error.message).toMatch(/^policy: reference "v1" is not in normalised form/);
  });
});
