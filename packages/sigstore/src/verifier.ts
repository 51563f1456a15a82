/**
 * The Sigstore verifier plugin: checks cosign 3 / sigstore-js bundles attached as referrers against a policy.
 */
import type { KeyObject } from 'node:crypto';
import {
  ErrorCodes,
  LadingError,
  parseDigest,
  type CallOptions,
  type SignatureCandidate,
  type VerifiedSignature,
  type Verifier,
} from '@lading/core';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type SignedEntity } from '@sigstore/verify';
import { checkClaim, readBundleClaim, type BundleClaim } from './bundle-claims.js';
import { compileIdentities, type CertificateIdentity, type IdentityMatcher } from './identity-policy.js';
import { checkSigningKey, publicKeyHint, toPublicKey } from './keys.js';
import { isLegacySignature, readLegacyClaim } from './legacy.js';
import { PredicateTypeCosignSign, SigstoreBundleMediaTypes } from './media-types.js';
import type { Clock } from './referrer.js';
import {
  certificateExtensions,
  describeVerificationError,
  isSignatureMismatch,
  toEntity,
  trustedTimes,
  verifyEntity,
  withoutLogEvidence,
  withVerificationTime,
  type Thresholds,
  type VerifiedSigner,
} from './signed-entity.js';
import {
  checkTrustedRoot,
  emptyTrustedRoot,
  fetchTrustedRoot,
  loadTrustedRoot,
  type TUFOptions,
} from './trusted-root.js';

/** What a {@link createSigstoreVerifier} verifier accepts. Give identities, keys, or both. */
export interface SigstoreVerifierPolicy {
  /**
   * The trusted root (CAs, logs, TSAs): a parsed `TrustedRoot` or the path of a `trusted_root.json`. Exclusive
   * with `tuf`. Needed for keyless bundles and for checking log entries of key-based ones. Checked strictly,
   * whatever its source (`checkTrustedRoot`): every log key and authority must have a `validFor.start`.
   */
  trustedRoot?: TrustedRoot | string;
  /** Take the public-good trusted root from TUF (`true`, or options such as the cache folder). */
  tuf?: boolean | TUFOptions;
  /** Keyless: the certificate identities trusted to sign (any one suffices). */
  identities?: readonly CertificateIdentity[];
  /** Key-based: PEM public keys trusted to sign (any one suffices). */
  keys?: readonly (string | Uint8Array)[];
  /** The predicate type a signature must state. Default `https://sigstore.dev/cosign/sign/v1` (a signature). */
  predicateType?: string;
  /**
   * Minimum evidence. Defaults for keyless bundles: tlog 1, ctlog 1, timestamp 1 (sigstore-js' defaults; cosign
   * also wants a log entry unless `--insecure-ignore-tlog`). Defaults for key-based bundles: all 0 (lading's key
   * signer logs nothing unless asked). Each field given here applies to both kinds.
   */
  thresholds?: Partial<Thresholds>;
  /**
   * Accept any certificate identity that chains to the trusted root. Unsafe: anyone with an OIDC account can sign.
   * For inspecting, never for gating. Default false.
   */
  unsafeAnyIdentity?: boolean;
  /**
   * Clock for checking a certificate when its bundle has no trusted timestamp and the timestamp threshold is 0.
   * Default the system clock.
   */
  clock?: Clock;
}

/** sigstore-js' defaults, and what keyless signing provides with Fulcio + Rekor. */
export const DefaultKeylessThresholds: Readonly<Thresholds> = { tlog: 1, ctlog: 1, timestamp: 1 };

/** Key-based bundles: the key is the trust; log entries and timestamps are optional evidence. */
export const DefaultKeyThresholds: Readonly<Thresholds> = { tlog: 0, ctlog: 0, timestamp: 0 };

/** Name of the verifier, in results and messages. */
export const SigstoreVerifierName = 'sigstore';

interface TrustedKey {
  key: KeyObject;
  hint: string;
}

/**
 * Creates the `sigstore` verifier. Checks the policy now (throws `ERR_LADING_USAGE`: no identity nor key, a bad
 * regexp or key, both `trustedRoot` and `tuf`, keyless identities without either, bad thresholds); loads the
 * trusted root on first use and keeps it (a failed TUF fetch is retried on the next call).
 *
 * `verify` accepts a candidate only when all of these hold, and otherwise rejects with `ERR_LADING_VERIFICATION`
 * "verify <referrer digest>: <why>": the layer is a Sigstore bundle; its signature verifies; the certificate chains
 * to the trusted root with its SCTs (or the key is one of `keys`); log entries and timestamps verify and meet the
 * thresholds; the certificate identity, and the Fulcio extensions an identity requires, match one of `identities`
 * (unless `unsafeAnyIdentity`); the in-toto statement (v1 or v0.1) lists the candidate's subject digest; and its
 * predicate type is the required one (cosign does not check that; lading does). A message-signature bundle must sign
 * `candidate.subjectBytes` and counts as predicate type `https://sigstore.dev/cosign/sign/v1`. For a keyless
 * bundle, the result's `extensions` lists the certificate's Fulcio extensions; for a DSSE bundle, `statement` is the
 * verified in-toto statement as signed (parsed JSON, every field).
 */
export function createSigstoreVerifier(policy: SigstoreVerifierPolicy): Verifier {
  return new SigstoreVerifier(policy);
}

class SigstoreVerifier implements Verifier {
  readonly name = SigstoreVerifierName;
  readonly #policy: SigstoreVerifierPolicy;
  readonly #identities: IdentityMatcher[];
  readonly #keys: TrustedKey[];
  readonly #predicateType: string;
  readonly #thresholds: Partial<Thresholds>;
  readonly #clock: Clock;
  #root: Promise<TrustedRoot> | undefined;

  constructor(policy: SigstoreVerifierPolicy) {
    this.#policy = policy;
    this.#identities = compileIdentities(policy.identities ?? []);
    this.#keys = (policy.keys ?? []).map((pem, index) => trustedKey(pem, index));
    this.#predicateType = policy.predicateType ?? PredicateTypeCosignSign;
    this.#thresholds = checkThresholds(policy.thresholds ?? {});
    this.#clock = policy.clock ?? (() => new Date());
    checkPolicy(policy, this.#identities.length, this.#keys.length, this.#predicateType);
    // A root given as an object gets the checks of a root read from a file or TUF, before anything trusts it.
    if (typeof policy.trustedRoot === 'object') checkTrustedRoot(policy.trustedRoot);
  }

  accepts(candidate: Pick<SignatureCandidate, 'referrer' | 'layer'>): boolean {
    return (
      isBundleMediaType(candidate.layer.mediaType) ||
      isBundleMediaType(candidate.referrer.artifactType) ||
      isLegacySignature(candidate.layer)
    );
  }

  async verify(candidate: SignatureCandidate, options: CallOptions = {}): Promise<VerifiedSignature> {
    options.signal?.throwIfAborted();
    const fail = (why: string, cause?: unknown) =>
      new LadingError(ErrorCodes.verification, `verify ${candidate.referrer.digest}: ${why}`, cause ? { cause } : {});
    if (!this.accepts(candidate)) {
      throw fail(`unsupported media type ${JSON.stringify(candidate.layer.mediaType)} (not a Sigstore bundle)`);
    }
    // A legacy cosign signature (`sha256-<hex>.sig`) is read as the message-signature bundle it amounts to, so every
    // check below (key or certificate, evidence, thresholds, identity, predicate type) applies to it unchanged.
    const claim = attempt(
      () => (isLegacySignature(candidate.layer) ? readLegacyClaim(candidate) : readBundleClaim(candidate)),
      fail,
    );
    const root = await this.#trustedRoot();
    options.signal?.throwIfAborted();
    const entity = attempt(() => toEntity(claim), fail);
    const checked =
      claim.bundle.verificationMaterial.content.$case === 'publicKey'
        ? this.#verifyWithKeys(claim, entity, root, fail)
        : this.#verifyWithCertificate(entity, root, fail);
    const predicateType = attempt(() => checkClaim(claim, subjectDigest(candidate, fail), this.#predicateType), fail);
    const verified = result(candidate, predicateType, checked);
    if (claim.kind === 'dsse') verified.statement = claim.statementJSON;
    return verified;
  }

  #verifyWithCertificate(entity: SignedEntity, root: TrustedRoot, fail: Fail): Checked {
    if (this.#identities.length === 0 && this.#policy.unsafeAnyIdentity !== true) {
      throw fail('the bundle is keyless (a certificate) but the policy trusts only keys');
    }
    const thresholds = { ...DefaultKeylessThresholds, ...this.#thresholds };
    const timed =
      entity.timestamps.length === 0 && thresholds.timestamp === 0
        ? withVerificationTime(entity, this.#clock())
        : entity;
    const signer = attempt(() => verifyEntity(timed, toTrustMaterial(root), thresholds), fail);
    const subject = signer.identity?.subjectAlternativeName;
    const issuer = signer.identity?.extensions?.issuer;
    const extensions = attempt(() => certificateExtensions(signer.identity?.oids ?? []), fail);
    if (this.#policy.unsafeAnyIdentity !== true) {
      const reasons = this.#identities.map((m) => m.mismatch(subject, issuer, extensions));
      if (!reasons.includes(undefined)) throw fail(`untrusted certificate identity: ${reasons.join('; ')}`);
    }
    return { signer, entity, extensions, ...(subject ? { subject } : {}), ...(issuer ? { issuer } : {}) };
  }

  #verifyWithKeys(claim: BundleClaim, entity: SignedEntity, root: TrustedRoot, fail: Fail): Checked {
    const hint =
      claim.bundle.verificationMaterial.content.$case === 'publicKey'
        ? claim.bundle.verificationMaterial.content.publicKey.hint
        : '';
    if (this.#keys.length === 0) {
      throw fail(`the bundle is signed by a key (hint ${JSON.stringify(hint)}) but the policy trusts no key`);
    }
    const thresholds = { ...DefaultKeyThresholds, ...this.#thresholds };
    const evidence = this.#hasTrustedRoot() || thresholds.tlog > 0 ? entity : withoutLogEvidence(entity);
    // The hint only orders the tries: cosign ignores it, and a bundle may carry none.
    const ordered = [...this.#keys].sort((a, b) => Number(b.hint === hint) - Number(a.hint === hint));
    const errors: unknown[] = [];
    for (const trusted of ordered) {
      try {
        const material = toTrustMaterial(root, () => ({ publicKey: trusted.key, validFor: () => true }));
        return { signer: verifyEntity(evidence, material, thresholds), entity: evidence, keyHint: trusted.hint };
      } catch (e) {
        errors.push(e);
      }
    }
    const other = errors.find((e) => !isSignatureMismatch(e));
    if (other !== undefined) throw fail(describeVerificationError(other), other);
    const hinted = hint === '' ? '' : ` (bundle key hint ${hint})`;
    throw fail(`the signature verifies with none of the ${this.#keys.length} trusted keys${hinted}`);
  }

  #hasTrustedRoot(): boolean {
    return this.#policy.trustedRoot !== undefined || (this.#policy.tuf ?? false) !== false;
  }

  #trustedRoot(): Promise<TrustedRoot> {
    this.#root ??= loadRoot(this.#policy).catch((e: unknown) => {
      this.#root = undefined;
      throw e;
    });
    return this.#root;
  }
}

type Fail = (why: string, cause?: unknown) => LadingError;

/** A verified signature before the claim checks: the signer, the entity as verified, and who or which key. */
interface Checked {
  signer: VerifiedSigner;
  entity: SignedEntity;
  subject?: string;
  issuer?: string;
  /** Keyless: the certificate's Fulcio extensions, by name. */
  extensions?: Record<string, string>;
  keyHint?: string;
}

function result(candidate: SignatureCandidate, predicateType: string, checked: Checked): VerifiedSignature {
  const verified: VerifiedSignature = {
    verifier: SigstoreVerifierName,
    predicateType,
    referrer: candidate.referrer.digest,
  };
  if (checked.subject !== undefined) verified.identity = checked.subject;
  if (checked.issuer !== undefined) verified.issuer = checked.issuer;
  if (checked.keyHint !== undefined) verified.keyHint = checked.keyHint;
  if (checked.extensions !== undefined && Object.keys(checked.extensions).length > 0) {
    verified.extensions = checked.extensions;
  }
  const entry = checked.entity.tlogEntries[0];
  if (entry !== undefined) verified.tlogIndex = entry.logIndex;
  // Times of the entity as verified (never the stand-in verification time, which is not evidence).
  const time = trustedTimes(checked.entity)[0];
  if (time !== undefined) verified.timestamp = time.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return verified;
}

/** Runs `step`; any error becomes `fail(<its message>)`, so nothing escapes as a success or an unlabelled error. */
function attempt<T>(step: () => T, fail: Fail): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof LadingError && e.code === ErrorCodes.verification) throw e;
    throw fail(describeVerificationError(e), e);
  }
}

function subjectDigest(candidate: SignatureCandidate, fail: Fail): string {
  try {
    parseDigest(candidate.subject.digest, 'subject digest');
  } catch (e) {
    throw fail((e as Error).message, e);
  }
  return candidate.subject.digest;
}

async function loadRoot(policy: SigstoreVerifierPolicy): Promise<TrustedRoot> {
  if (typeof policy.trustedRoot === 'string') return loadTrustedRoot(policy.trustedRoot);
  if (policy.trustedRoot !== undefined) return policy.trustedRoot;
  if (policy.tuf !== undefined && policy.tuf !== false) return fetchTrustedRoot(policy.tuf === true ? {} : policy.tuf);
  return emptyTrustedRoot();
}

function trustedKey(pem: string | Uint8Array, index: number): TrustedKey {
  const key = toPublicKey(pem);
  checkSigningKey(key, `policy keys[${index}]`);
  return { key, hint: publicKeyHint(key) };
}

function checkPolicy(policy: SigstoreVerifierPolicy, identities: number, keys: number, predicateType: string): void {
  const usage = (reason: string) => new LadingError(ErrorCodes.usage, `sigstore policy: ${reason}`);
  if (policy.trustedRoot !== undefined && policy.tuf !== undefined && policy.tuf !== false) {
    throw usage('give trustedRoot or tuf, not both');
  }
  if (identities === 0 && keys === 0 && policy.unsafeAnyIdentity !== true) {
    throw usage('name trusted identities or keys (or set unsafeAnyIdentity to accept any signer)');
  }
  if (policy.unsafeAnyIdentity === true && identities > 0) {
    throw usage('unsafeAnyIdentity and identities contradict each other');
  }
  const keyless = identities > 0 || policy.unsafeAnyIdentity === true;
  if (keyless && policy.trustedRoot === undefined && (policy.tuf ?? false) === false) {
    throw usage('keyless identities need a trustedRoot or tuf');
  }
  if (predicateType === '') throw usage('predicateType is empty');
}

function checkThresholds(thresholds: Partial<Thresholds>): Partial<Thresholds> {
  for (const [name, value] of Object.entries(thresholds) as [string, unknown][]) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
      throw new LadingError(
        ErrorCodes.usage,
        `sigstore policy thresholds.${name}: ${JSON.stringify(value)} is not a count`,
      );
    }
  }
  return thresholds;
}

/** Media types compared without case and spaces around parameters (`…+json; version=0.3` is the same type). */
function isBundleMediaType(mediaType: string | undefined): boolean {
  if (mediaType === undefined) return false;
  const normal = mediaType.toLowerCase().replace(/\s*;\s*/g, ';');
  return SigstoreBundleMediaTypes.includes(normal);
}
