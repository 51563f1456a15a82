/**
 * The SSH verifier plugin: checks SSHSIG referrers (`statement.json` + `statement.json.sig`) against an OpenSSH
 * allowed_signers file, the way `ssh-keygen -Y verify` does, and that the signed statement names the manifest.
 */
import { readFileSync } from 'node:fs';
import {
  AnnotationTitle,
  ErrorCodes,
  LadingError,
  type CallOptions,
  type Descriptor,
  type SignatureCandidate,
  type VerifiedSignature,
  type Verifier,
} from '@lading/core';
import { matchPatternList, parseAllowedSigners, type AllowedSigner } from './allowed-signers.js';
import { commitSignature, DigestGitCommit, GitNamespace, readCommit } from './git-anchor.js';
import {
  fingerprintOf,
  plainKeyBlob,
  SecurityKeyFlags,
  verifySignatureDetails,
  type SignatureDetails,
  type SSHPublicKey,
} from './keys.js';
import {
  ArtifactTypeSSHSIG,
  DefaultNamespace,
  MediaTypeInToto,
  PredicateTypeSign,
  TitleSignature,
  TitleStatement,
} from './media-types.js';
import { loadRevokedKeys, type RevokedKeys } from './revoked.js';
import { parseSSHSIG, signedData, type SSHSIG } from './sshsig.js';
import { parseStatement, statementDigests } from './statement.js';

/** Name of the verifier, in results and messages. */
export const SSHVerifierName = 'ssh';

/** What a {@link createSshVerifier} verifier accepts. */
export interface SshVerifierPolicy {
  /** The allowed_signers file: its path, or `{ text, name }` for text already read. */
  allowedSigners: string | { text: string; name: string };
  /**
   * The principals a signature may be for (`ssh-keygen -Y verify -I`); a signature counts when it is valid for any
   * one of them. At least one is required.
   */
  principals: readonly string[];
  /** The SSHSIG namespace required. Default `lading`. */
  namespace?: string;
  /** The in-toto predicate type required. Default `https://sigstore.dev/cosign/sign/v1` (a plain signature). */
  predicateType?: string;
  /**
   * Revoked keys (`ssh-keygen -Y verify -r`): a path to a file of public keys, one per line in authorized_keys
   * form. A signature by a revoked key, or by a certificate whose key or CA is revoked, is refused. Default none.
   */
  revoked?: string | { text: string; name: string };
  /**
   * The time at which `valid-after`/`valid-before` and certificate validity are checked. Default: the clock, now
   * (as `ssh-keygen -Y verify` does without `-Overify-time`).
   */
  clock?: () => Date;
  /**
   * The git anchor: the statement must record a git commit (see the signer's `gitCommit`), that commit must exist
   * in the repository at `gitDir` (read with `git cat-file`), and its own SSH signature (namespace `git`) must
   * verify and be allowed by the same allowed_signers file for one of the principals, at the same time, with the
   * same revocations. Default: commits are neither required nor checked (a recorded one is still reported).
   */
  git?: { gitDir: string };
}

/** What the SSH verifier reports, beyond the common fields: `identity` is the principal, `keyHint` the fingerprint. */
export type SSHVerifiedSignature = VerifiedSignature & {
  identity: string;
  keyHint: string;
  keyType: string;
  namespace: string;
  /** The git commit the statement records, when it records one. */
  gitCommit?: string;
  /** With the git anchor: the principal the commit's signature is allowed for. */
  gitCommitSigner?: string;
};

/**
 * Creates the `ssh` verifier. Reads and checks the allowed_signers and revoked-keys files now (throws
 * `ERR_LADING_USAGE` naming the file and line: unreadable, malformed, no principal given).
 *
 * `verify` accepts a candidate only when all of these hold, and otherwise rejects with `ERR_LADING_VERIFICATION`
 * "verify <referrer digest>: <which check failed>": the referrer has the `statement.json` and `statement.json.sig`
 * layers; the SSHSIG parses, is in the required namespace, and verifies over `statement.json` (else: tampered);
 * the key is not revoked; an allowed_signers line lists the key (or, with `cert-authority`, the certificate's CA),
 * one of the principals matches its patterns, its `namespaces=` allows the namespace and the time is within its
 * `valid-after`/`valid-before`; a certificate is a valid user certificate for that principal at that time; the
 * statement names the candidate's subject digest (else: a signature for, or moved from, another artifact); its
 * predicate type is the required one. The result's `statement` is the verified `statement.json` (parsed, every field).
 */
export function createSshVerifier(policy: SshVerifierPolicy): Verifier {
  return new SSHVerifier(policy);
}

type Fail = (why: string, cause?: unknown) => LadingError;

class SSHVerifier implements Verifier {
  readonly name = SSHVerifierName;
  readonly #signers: AllowedSigner[];
  readonly #principals: readonly string[];
  readonly #namespace: string;
  readonly #predicateType: string;
  readonly #revoked: RevokedKeys;
  readonly #clock: () => Date;
  readonly #git: { gitDir: string } | undefined;

  constructor(policy: SshVerifierPolicy) {
    if (policy.principals.length === 0 || policy.principals.some((p) => p === '')) {
      throw new LadingError(ErrorCodes.usage, 'ssh verifier: give at least one principal (--verify-principal)');
    }
    this.#signers = readSigners(policy.allowedSigners);
    this.#principals = policy.principals;
    this.#namespace = policy.namespace ?? DefaultNamespace;
    this.#predicateType = policy.predicateType ?? PredicateTypeSign;
    this.#revoked = policy.revoked === undefined ? loadRevokedKeys(undefined) : loadRevokedKeys(policy.revoked);
    this.#clock = policy.clock ?? (() => new Date());
    this.#git = policy.git;
  }

  accepts(candidate: Pick<SignatureCandidate, 'referrer' | 'layer'>): boolean {
    return candidate.referrer.artifactType === ArtifactTypeSSHSIG;
  }

  async verify(candidate: SignatureCandidate, options: CallOptions = {}): Promise<SSHVerifiedSignature> {
    options.signal?.throwIfAborted();
    const fail: Fail = (why, cause) =>
      new LadingError(ErrorCodes.verification, `verify ${candidate.referrer.digest}: ${why}`, cause ? { cause } : {});
    if (!this.accepts(candidate)) throw fail(`artifact type is not ${ArtifactTypeSSHSIG}`);
    const { statement, signature } = findLayers(candidate, fail);
    let sig: SSHSIG;
    try {
      sig = parseSSHSIG(new TextDecoder().decode(signature));
    } catch (e) {
      throw fail(`malformed ${TitleSignature}: ${(e as Error).message}`, e);
    }
    if (sig.namespace !== this.#namespace) {
      throw fail(
        `wrong namespace: signed in ${JSON.stringify(sig.namespace)}, required ${JSON.stringify(this.#namespace)}`,
      );
    }
    let details: SignatureDetails;
    try {
      details = verifySignatureDetails(
        sig.publicKey,
        signedData(sig.namespace, sig.hashAlgorithm, statement),
        sig.signature,
      );
    } catch (e) {
      throw fail(
        `tampered statement or bad signature: ${(e as Error).message} over ${TitleStatement} (key ${fingerprintOf(plainKeyBlob(sig.publicKey))})`,
        e,
      );
    }
    const revoked = this.#revoked.check(sig.publicKey);
    if (revoked !== undefined) throw fail(revoked);
    const now = this.#clock();
    const principal = this.#authorize(sig.publicKey, details, now, fail);
    let digests: string[];
    let predicateType: string;
    let gitCommit: string | undefined;
    let statementJSON: Record<string, unknown>;
    try {
      const parsed = parseStatement(statement);
      // parseStatement checked it is a UTF-8 JSON object; this keeps every field as signed, for `--json`.
      statementJSON = JSON.parse(new TextDecoder().decode(statement)) as Record<string, unknown>;
      digests = statementDigests(parsed);
      predicateType = parsed.predicateType;
      gitCommit = parsed.subject
        .find((s) => s.digest[DigestGitCommit] !== undefined)
        ?.digest[DigestGitCommit]?.toLowerCase();
    } catch (e) {
      throw fail(`${TitleStatement}: ${(e as Error).message}`, e);
    }
    if (!digests.includes(candidate.subject.digest)) {
      throw fail(
        `the signed statement is for another artifact (${digests.join(', ')}), not ${candidate.subject.digest}: ` +
          'a signature moved from another artifact is refused',
      );
    }
    if (predicateType !== this.#predicateType) {
      throw fail(`predicate type ${JSON.stringify(predicateType)}, required ${JSON.stringify(this.#predicateType)}`);
    }
    const result: SSHVerifiedSignature = {
      verifier: SSHVerifierName,
      predicateType,
      identity: principal,
      keyHint: fingerprintOf(plainKeyBlob(sig.publicKey)),
      keyType: sig.publicKey.certificate ? sig.publicKey.type : details.algorithm,
      namespace: sig.namespace,
      referrer: candidate.referrer.digest,
      statement: statementJSON,
    };
    if (gitCommit !== undefined) result.gitCommit = gitCommit;
    if (this.#git) {
      if (gitCommit === undefined) throw fail('the statement records no git commit, and a signed commit is required');
      result.gitCommitSigner = await this.#checkCommit(this.#git.gitDir, gitCommit, now, fail, options.signal);
    }
    return result;
  }

  /** The git anchor: the commit exists, is SSH-signed in namespace `git`, by an allowed, unrevoked key. */
  async #checkCommit(gitDir: string, commit: string, now: Date, fail: Fail, signal?: AbortSignal): Promise<string> {
    const failCommit: Fail = (why, cause) => fail(`git commit ${commit}: ${why}`, cause);
    let object: Buffer;
    try {
      object = await readCommit(gitDir, commit, signal);
    } catch (e) {
      signal?.throwIfAborted();
      throw fail((e as Error).message, e);
    }
    const signed = commitSignature(object);
    if (!signed) throw failCommit('not signed');
    let sig: SSHSIG;
    try {
      sig = parseSSHSIG(signed.signature);
    } catch (e) {
      throw failCommit(`its signature is not an SSH signature (${(e as Error).message})`, e);
    }
    if (sig.namespace !== GitNamespace)
      throw failCommit(`signed in namespace ${JSON.stringify(sig.namespace)}, not "git"`);
    let details: SignatureDetails;
    try {
      const data = signedData(sig.namespace, sig.hashAlgorithm, signed.payload);
      details = verifySignatureDetails(sig.publicKey, data, sig.signature);
    } catch (e) {
      throw failCommit(`its SSH signature does not verify (${(e as Error).message})`, e);
    }
    const revoked = this.#revoked.check(sig.publicKey);
    if (revoked !== undefined) throw failCommit(revoked);
    return this.#authorize(sig.publicKey, details, now, failCommit, GitNamespace);
  }

  /** The first configured principal an allowed_signers line grants this key; otherwise fails with the reason. */
  #authorize(key: SSHPublicKey, details: SignatureDetails, now: Date, fail: Fail, namespace = this.#namespace): string {
    const reasons = new Set<string>();
    let known = false;
    const fp = fingerprintOf(plainKeyBlob(key));
    for (const line of this.#signers) {
      if (!signerCovers(line, key)) continue;
      known = true;
      for (const principal of this.#principals) {
        const why = lineRefuses(line, key, principal, namespace, now) ?? touchRefused(line, details);
        if (why === undefined) return principal;
        reasons.add(why);
      }
    }
    const what = key.certificate
      ? `certificate ${fp} (CA ${key.certificate.signatureKey.fingerprint})`
      : `key ${fp} (${key.keyType})`;
    if (!known) {
      throw fail(
        `unknown key: ${what} is not in allowed_signers${key.certificate ? ' (no cert-authority line for its CA)' : ''}`,
      );
    }
    throw fail(`${what} is not allowed: ${[...reasons].join('; ')}`);
  }
}

/** Whether an allowed_signers line is about this key: the same key, or the CA of this certificate. */
function signerCovers(line: AllowedSigner, key: SSHPublicKey): boolean {
  if (key.certificate) return line.certAuthority && line.key.blob.equals(key.certificate.signatureKey.blob);
  return !line.certAuthority && line.key.blob.equals(key.blob);
}

const foreverSeconds = 0xffff_ffff_ffff_ffffn;

/**
 * FIDO signatures must show user presence (the token was touched). OpenSSH 9.2's `ssh-keygen -Y verify` does not
 * check this flag and its allowed_signers has no option about it; lading refuses untouched signatures, so a key
 * made with `ssh-keygen -O no-touch-required` cannot sign for lading.
 */
function touchRefused(line: AllowedSigner, details: SignatureDetails): string | undefined {
  const flags = details.securityKey?.flags;
  if (flags === undefined || flags & SecurityKeyFlags.userPresence) return undefined;
  return `no user presence: the security key was not touched (flags 0x${flags.toString(16).padStart(2, '0')}; ${line.source})`;
}

function lineRefuses(
  line: AllowedSigner,
  key: SSHPublicKey,
  principal: string,
  namespace: string,
  now: Date,
): string | undefined {
  if (!matchPatternList(principal, line.principals)) {
    return `wrong principal: ${JSON.stringify(principal)} does not match ${JSON.stringify(line.principals)} (${line.source})`;
  }
  if (line.namespaces !== undefined && !matchPatternList(namespace, line.namespaces)) {
    return `wrong namespace: ${JSON.stringify(namespace)} is not in namespaces=${JSON.stringify(line.namespaces)} (${line.source})`;
  }
  if (line.validAfter && now < line.validAfter) {
    return `outside the validity window: ${now.toISOString()} is before valid-after ${line.validAfter.toISOString()} (${line.source})`;
  }
  if (line.validBefore && now > line.validBefore) {
    return `outside the validity window: ${now.toISOString()} is after valid-before ${line.validBefore.toISOString()} (${line.source})`;
  }
  const cert = key.certificate;
  if (cert) {
    if (!cert.signatureValid) return `the certificate's CA signature does not verify (${line.source})`;
    if (cert.certType !== 1) return `not a user certificate (${line.source})`;
    if (cert.criticalOptions.length > 0) {
      return `the certificate has critical options lading does not enforce (${cert.criticalOptions.join(', ')})`;
    }
    const seconds = BigInt(Math.floor(now.getTime() / 1000));
    if (seconds < cert.validAfter) {
      return `certificate not yet valid: valid after ${secondsToISO(cert.validAfter)}, now ${now.toISOString()}`;
    }
    if (cert.validBefore !== foreverSeconds && seconds >= cert.validBefore) {
      return `expired certificate: valid before ${secondsToISO(cert.validBefore)}, now ${now.toISOString()}`;
    }
    if (!cert.principals.includes(principal)) {
      return `wrong principal: the certificate ${JSON.stringify(cert.keyId)} names ${JSON.stringify(cert.principals.join(','))}, not ${JSON.stringify(principal)}`;
    }
  }
  return undefined;
}

function secondsToISO(seconds: bigint): string {
  return new Date(Number(seconds) * 1000).toISOString();
}

function readSigners(source: SshVerifierPolicy['allowedSigners']): AllowedSigner[] {
  const name = typeof source === 'string' ? source : source.name;
  let text: string;
  try {
    text = typeof source === 'string' ? readFileSync(source, 'utf8') : source.text;
  } catch (e) {
    throw new LadingError(ErrorCodes.usage, `allowed signers ${name}: cannot read it (${(e as Error).message})`, {
      cause: e,
    });
  }
  try {
    const signers = parseAllowedSigners(text, name);
    if (signers.length === 0) throw new Error(`${name}: lists no key`);
    return signers;
  } catch (e) {
    throw new LadingError(ErrorCodes.usage, `allowed signers ${(e as Error).message}`, { cause: e });
  }
}

function findLayers(candidate: SignatureCandidate, fail: Fail): { statement: Uint8Array; signature: Uint8Array } {
  const layers = candidate.layers ?? [{ descriptor: candidate.layer, content: candidate.content }];
  const titled = (title: string): { descriptor: Descriptor; content: Uint8Array }[] =>
    layers.filter((l) => l.descriptor.annotations?.[AnnotationTitle] === title);
  const [statement, ...moreStatements] = titled(TitleStatement);
  const [signature, ...moreSignatures] = titled(TitleSignature);
  if (!statement || !signature || moreStatements.length > 0 || moreSignatures.length > 0) {
    throw fail(`the referrer must have exactly one ${TitleStatement} and one ${TitleSignature} layer (by title)`);
  }
  if (statement.descriptor.mediaType !== MediaTypeInToto) {
    throw fail(`${TitleStatement} has media type ${statement.descriptor.mediaType}, not ${MediaTypeInToto}`);
  }
  return { statement: statement.content, signature: signature.content };
}
