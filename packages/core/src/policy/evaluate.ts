/**
 * Evaluating a verification policy for one artifact: the first rule whose pattern covers the reference decides;
 * each of its authorities is checked through the signature gate (one gate per authority, so N-of-M counts distinct
 * authorities, each with its own signature), then each required attestation, with conditions on its verified
 * predicate. The result says everything that was found; {@link policyGate} turns it into a verification gate.
 */
import type { ByteStream, CallOptions, GraphTarget, ReferrersOptions } from '../content.js';
import type { Descriptor } from '../descriptor.js';
import { ErrorCodes, isLadingError, LadingError } from '../errors.js';
import { signatureGate } from '../signatures.js';
import type { GateResult, GateSubject, VerificationGate, VerifiedSignature, Verifier } from '../trust.js';
import type {
  AttestationRequirement,
  Policy,
  PolicyAuthority,
  PolicyMode,
  PolicyRule,
  PredicateCondition,
} from './document.js';
import { matchesPattern, matchSubject } from './match.js';

/** The predicate type of a plain signature (cosign's): what authorities sign when no attestation is asked for. */
export const PolicySignaturePredicateType = 'https://sigstore.dev/cosign/sign/v1';

/** What a {@link PolicyVerifierFactory} is asked for: a verifier of `authority` requiring `predicateType`. */
export interface PolicyVerifierRequest {
  policy: Policy;
  authority: PolicyAuthority;
  /** The in-toto predicate type a signature must state ({@link PolicySignaturePredicateType} for signatures). */
  predicateType: string;
}

/**
 * Turns a policy authority into a {@link Verifier} (the CLI uses `@lading/sigstore` for keyless and key authorities,
 * `@lading/ssh` for SSH ones). Called only for the authorities of the rule that matched, once per authority and
 * predicate type. Throw `ERR_LADING_USAGE` for an authority that cannot be built (unreadable key file…).
 */
export type PolicyVerifierFactory = (request: PolicyVerifierRequest) => Verifier | Promise<Verifier>;

/** One authority's outcome. */
export interface AuthorityOutcome {
  name: string;
  kind: PolicyAuthority['kind'];
  /** True when this authority counts toward the threshold (a signature of its own, not counted for another). */
  satisfied: boolean;
  /** Every signature this authority accepted. */
  verified: VerifiedSignature[];
  /** Why it is not satisfied. */
  reason?: string;
}

/** One condition's outcome on the attestation that came closest. */
export interface ConditionOutcome {
  path: string;
  /** `equals "x"`, `matches "re"`, `one of [..]`. */
  test: string;
  met: boolean;
  /** The value found (JSON), absent when the path was not there. */
  actual?: string;
}

/** One required attestation's outcome. */
export interface AttestationOutcome {
  predicateType: string;
  satisfied: boolean;
  /** The attestations accepted (signed by an allowed authority, conditions met). */
  verified: VerifiedSignature[];
  /** The conditions, as checked on the accepted attestation or on the last one refused for its predicate. */
  conditions: ConditionOutcome[];
  reason?: string;
}

/** The decision: read it, refuse it, or (mode `warn`, or `unmatched: warn`) read it and warn. */
export type PolicyDecision = 'allow' | 'deny' | 'warn';

/** Everything {@link evaluatePolicy} found: plain data, for `--json`. */
export interface PolicyEvaluation {
  policy: string;
  reference: string;
  digest: string;
  /** The rule that matched and the pattern of it that did; absent when no rule matched. */
  rule?: { name: string; index: number; line: number; pattern: string; mode: PolicyMode };
  threshold?: number;
  authorities: AuthorityOutcome[];
  attestations: AttestationOutcome[];
  decision: PolicyDecision;
  /** Why the artifact does not satisfy the policy (empty when it does). */
  reasons: string[];
  /** Signatures and attestations that counted toward the decision. */
  verified: VerifiedSignature[];
  /** What a `warn` decision reports. */
  warnings: string[];
}

/** Options of {@link evaluatePolicy}. */
export interface EvaluatePolicyOptions extends CallOptions {
  verifierFor: PolicyVerifierFactory;
}

/** The first rule covering `subject`, and the pattern that did. */
export function findRule(
  policy: Policy,
  reference: string,
  digests: readonly string[],
): { rule: PolicyRule; pattern: string } | undefined {
  const subject = matchSubject(reference, digests);
  for (const rule of policy.rules) {
    const pattern = rule.match.find((p) => matchesPattern(p, subject));
    if (pattern) return { rule, pattern: pattern.text };
  }
  return undefined;
}

/** The value at a dot-separated `path` in `value` (numbers index arrays); undefined when absent. */
export function valueAt(value: unknown, path: string): unknown {
  let here: unknown = value;
  for (const part of path.split('.')) {
    if (Array.isArray(here) && /^\d+$/.test(part)) here = here[Number(part)];
    else if (typeof here === 'object' && here !== null && !Array.isArray(here)) {
      here = Object.hasOwn(here, part) ? (here as Record<string, unknown>)[part] : undefined;
    } else return undefined;
  }
  return here;
}

/** Checks one condition against a predicate. */
export function checkCondition(condition: PredicateCondition, predicate: unknown): ConditionOutcome {
  const actual = valueAt(predicate, condition.path);
  const shown = actual === undefined ? {} : { actual: JSON.stringify(actual) };
  if (condition.equals !== undefined) {
    return {
      path: condition.path,
      test: `equals ${JSON.stringify(condition.equals)}`,
      met: actual === condition.equals,
      ...shown,
    };
  }
  if (condition.oneOf !== undefined) {
    const met = condition.oneOf.some((v) => v === actual);
    return { path: condition.path, test: `one of ${JSON.stringify(condition.oneOf)}`, met, ...shown };
  }
  const pattern = condition.matches ?? '';
  const met = typeof actual === 'string' && new RegExp(`^(?:${pattern})$`, 'u').test(actual);
  return { path: condition.path, test: `matches ${JSON.stringify(pattern)}`, met, ...shown };
}

function describeCondition(o: ConditionOutcome): string {
  return `${o.path} ${o.test}: ${o.actual === undefined ? 'absent' : `is ${o.actual}`}`;
}

/**
 * A verifier that accepts what `inner` accepts only when the verified statement's predicate meets `conditions`;
 * otherwise it refuses (`ERR_LADING_VERIFICATION`) naming the first unmet condition. `last` receives the outcome of
 * the conditions on each attestation checked.
 */
function conditioned(
  inner: Verifier,
  requirement: AttestationRequirement,
  last: (outcomes: ConditionOutcome[]) => void,
): Verifier {
  if (requirement.conditions.length === 0) return inner;
  return {
    name: inner.name,
    accepts: (candidate) => inner.accepts(candidate),
    async verify(candidate, options) {
      const signature = await inner.verify(candidate, options);
      const { statement } = signature;
      if (statement === undefined) {
        throw new LadingError(
          ErrorCodes.verification,
          `verify ${candidate.referrer.digest}: the ${inner.name} verifier reported no verified statement, so the predicate conditions cannot be checked`,
        );
      }
      const outcomes = requirement.conditions.map((c) => checkCondition(c, statement.predicate));
      last(outcomes);
      const unmet = outcomes.find((o) => !o.met);
      if (unmet) {
        throw new LadingError(
          ErrorCodes.verification,
          `verify ${candidate.referrer.digest}: predicate ${describeCondition(unmet)}`,
        );
      }
      return signature;
    },
  };
}

/**
 * The largest set of authorities that each get a signature of their own: one signature (referrer) counts for one
 * authority only, so two authorities whose identities overlap cannot both be satisfied by one signature. A
 * maximum bipartite matching (augmenting paths; a rule has a handful of authorities).
 */
function distinctAuthorities(accepted: readonly (readonly string[])[]): Set<number> {
  const owner = new Map<string, number>();
  const tryAssign = (authority: number, seen: Set<string>): boolean => {
    for (const referrer of accepted[authority] ?? []) {
      if (seen.has(referrer)) continue;
      seen.add(referrer);
      const current = owner.get(referrer);
      if (current === undefined || tryAssign(current, seen)) {
        owner.set(referrer, authority);
        return true;
      }
    }
    return false;
  };
  accepted.forEach((_, i) => tryAssign(i, new Set()));
  return new Set(owner.values());
}

/**
 * Runs a one-verifier signature gate: the verified signatures and, for counting distinct signatures, one id per
 * accepted candidate (subject, referrer and layer digests: a legacy `.sig` manifest holds several signatures, one per
 * layer); or the refusal's message.
 */
async function runGate(
  verifier: Verifier,
  subject: GateSubject,
  call: CallOptions,
): Promise<{ verified: VerifiedSignature[]; signatures: string[]; reason?: string }> {
  const signatures: string[] = [];
  const recording: Verifier = {
    name: verifier.name,
    accepts: (candidate) => verifier.accepts(candidate),
    async verify(candidate, options) {
      const signature = await verifier.verify(candidate, options);
      signatures.push(`${candidate.subject.digest} ${candidate.referrer.digest} ${candidate.layer.digest}`);
      return signature;
    },
  };
  const gate = signatureGate({ verifiers: [recording] });
  try {
    const { verified } = await gate.verify(subject, call);
    return { verified, signatures };
  } catch (error) {
    // A refusal is an outcome; anything else (network, abort, a broken trusted root) stops the evaluation.
    if (call.signal?.aborted === true || !isLadingError(error, ErrorCodes.verification)) throw error;
    // The gate's own "nothing was read" is said once, by the policy gate's message.
    return { verified: [], signatures: [], reason: error.message.replace(/; nothing was read$/, '') };
  }
}

/** A stream of bytes already verified. */
async function* replay(bytes: Uint8Array): ByteStream {
  await Promise.resolve();
  yield bytes;
}

/** Largest content {@link readOnce} keeps for the other gates of an evaluation: a signature layer's cap. */
const maxKept = 4 * 1024 * 1024;

/**
 * `target` for the gates of one evaluation: each authority and attestation runs its own gate over the same
 * referrers, so listings, tag resolutions and small contents (referrer manifests, signature layers) are read from
 * the registry once and served again from memory. Content is kept only after `target`'s stream has ended cleanly,
 * that is after `target` verified it against its digest; a failed content read is not kept. Writes are not expected here
 * and go straight through.
 */
function readOnce(target: GraphTarget): GraphTarget {
  const listings = new Map<string, Promise<Descriptor[]>>();
  const resolved = new Map<string, Promise<Descriptor>>();
  const contents = new Map<string, Uint8Array>();
  const once = <T>(cache: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> => {
    let pending = cache.get(key);
    if (!pending) {
      pending = read();
      // A failure is kept too: "no such tag" is an answer (legacy signatures absent), and any other failure stops
      // the evaluation at the gate that met it.
      cache.set(key, pending);
    }
    return pending;
  };
  async function* keep(desc: Descriptor, stream: ByteStream): ByteStream {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of stream) {
      size += chunk.byteLength;
      if (size <= maxKept) chunks.push(chunk);
      yield chunk;
    }
    if (size <= maxKept) contents.set(`${desc.digest} ${desc.size}`, Buffer.concat(chunks));
  }
  return {
    referrers: (subject: Descriptor, options?: ReferrersOptions) =>
      once(listings, `${subject.digest} ${options?.artifactType ?? ''}`, () => target.referrers(subject, options)),
    resolve: (reference: string, options?: CallOptions) =>
      once(resolved, reference, () => target.resolve(reference, options)),
    async fetch(desc: Descriptor, options?: CallOptions): Promise<ByteStream> {
      const kept = contents.get(`${desc.digest} ${desc.size}`);
      if (kept) return replay(kept);
      const stream = await target.fetch(desc, options);
      return desc.size <= maxKept ? keep(desc, stream) : stream;
    },
    exists: (desc, options) => target.exists(desc, options),
    push: (desc, content, options) => target.push(desc, content, options),
    tag: (desc, reference, options) => target.tag(desc, reference, options),
  };
}

/**
 * Evaluates `policy` for `subject`: finds the first rule whose patterns cover the reference (matched against
 * `subject.reference`, normalised, and the resolved digests — the index's and, for a platform read, the platform
 * manifest's — so `…@sha256:` pins hold whatever tag was read). No rule: `unmatched` decides (`deny` by default).
 * Otherwise every authority of the rule is checked with its own {@link signatureGate}; the rule is satisfied when at
 * least `threshold` distinct authorities each accepted a signature of their own, and every required attestation was
 * signed by one of its authorities with all its conditions met. An unsatisfied rule is `deny` in mode `enforce` and
 * `warn` in mode `warn`.
 *
 * Resolves with the whole outcome; it rejects only when the evaluation itself fails: an unparsable reference
 * (`ERR_LADING_INVALID_REFERENCE`), a verifier that cannot be built (`ERR_LADING_USAGE`), or a network or registry
 * error while reading signatures — never with a partial "allow".
 */
export async function evaluatePolicy(
  policy: Policy,
  subject: GateSubject,
  options: EvaluatePolicyOptions,
): Promise<PolicyEvaluation> {
  const { verifierFor, ...call } = options;
  const digests = [subject.descriptor.digest, ...(subject.platform ? [subject.platform.descriptor.digest] : [])];
  const base = {
    policy: policy.file,
    reference: subject.reference,
    digest: subject.descriptor.digest,
    authorities: [] as AuthorityOutcome[],
    attestations: [] as AttestationOutcome[],
    verified: [] as VerifiedSignature[],
  };
  const found = findRule(policy, subject.reference, digests);
  if (!found) {
    const reason = `no rule of policy ${policy.file} matches ${subject.reference}, and unmatched references are ${policy.unmatched === 'deny' ? 'denied' : policy.unmatched === 'allow' ? 'allowed' : 'allowed with a warning'}`;
    if (policy.unmatched === 'allow') return { ...base, decision: 'allow', reasons: [], warnings: [] };
    if (policy.unmatched === 'warn') return { ...base, decision: 'warn', reasons: [reason], warnings: [reason] };
    return { ...base, decision: 'deny', reasons: [reason], warnings: [] };
  }
  const { rule, pattern } = found;
  // Every gate below reads the same referrers: from the registry once.
  const shared: GateSubject = { ...subject, target: readOnce(subject.target) };
  const verifiers = new Map<string, Verifier>();
  const verifierOf = async (authority: PolicyAuthority, predicateType: string): Promise<Verifier> => {
    const key = `${authority.name}\n${predicateType}`;
    let verifier = verifiers.get(key);
    if (!verifier) {
      verifier = await verifierFor({ policy, authority, predicateType });
      verifiers.set(key, verifier);
    }
    return verifier;
  };

  const authorities: AuthorityOutcome[] = [];
  const accepted: string[][] = [];
  for (const authority of rule.authorities) {
    const outcome = await runGate(await verifierOf(authority, PolicySignaturePredicateType), shared, call);
    accepted.push(outcome.signatures);
    authorities.push({
      name: authority.name,
      kind: authority.kind,
      satisfied: false,
      verified: outcome.verified,
      ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
    });
  }
  const counted = distinctAuthorities(accepted);
  for (const [i, outcome] of authorities.entries()) {
    outcome.satisfied = counted.has(i);
    if (!outcome.satisfied && outcome.reason === undefined) {
      outcome.reason = 'its only signatures already count for another authority (one signature counts once)';
    }
  }

  const attestations: AttestationOutcome[] = [];
  for (const requirement of rule.attestations) {
    const reasons: string[] = [];
    // The conditions as checked on the first attestation that met them all, else on the last one checked.
    let met: ConditionOutcome[] | undefined;
    let unmet: ConditionOutcome[] | undefined;
    let verified: VerifiedSignature[] = [];
    for (const name of requirement.authorities) {
      const authority = rule.authorities.find((a) => a.name === name);
      if (!authority) continue;
      const verifier = conditioned(await verifierOf(authority, requirement.predicateType), requirement, (o) => {
        if (o.every((c) => c.met)) met ??= o;
        else unmet = o;
      });
      const outcome = await runGate(verifier, shared, call);
      if (outcome.reason === undefined) {
        verified = outcome.verified;
        break;
      }
      reasons.push(`${name}: ${outcome.reason}`);
    }
    const satisfied = verified.length > 0;
    // No attestation got as far as the conditions: each is reported unmet, with no value found.
    const conditions =
      (satisfied ? met : unmet) ??
      requirement.conditions.map((c) => {
        const { actual: _actual, ...outcome } = checkCondition(c, undefined);
        return { ...outcome, met: false };
      });
    attestations.push({
      predicateType: requirement.predicateType,
      satisfied,
      verified,
      conditions,
      ...(satisfied ? {} : { reason: reasons.join('; ') }),
    });
  }

  const reasons: string[] = [];
  const satisfiedCount = authorities.filter((a) => a.satisfied).length;
  if (satisfiedCount < rule.threshold) {
    const why = authorities
      .filter((a) => !a.satisfied)
      .map((a) => `${a.name}: ${a.reason ?? 'not satisfied'}`)
      .join('; ');
    reasons.push(
      `${satisfiedCount} of the ${rule.threshold} authorities required signed (${authorities.length} listed): ${why}`,
    );
  }
  for (const a of attestations) {
    if (!a.satisfied) reasons.push(`attestation ${a.predicateType}: ${a.reason ?? 'none acceptable'}`);
  }
  const verified = [
    ...authorities.filter((a) => a.satisfied).flatMap((a) => a.verified),
    ...attestations.flatMap((a) => a.verified),
  ];
  const decision: PolicyDecision = reasons.length === 0 ? 'allow' : rule.mode === 'warn' ? 'warn' : 'deny';
  const ruleInfo = { name: rule.name, index: rule.index, line: rule.source.line, pattern, mode: rule.mode };
  const where = `policy ${policy.file} rule ${rule.name} (line ${rule.source.line})`;
  return {
    ...base,
    rule: ruleInfo,
    threshold: rule.threshold,
    authorities,
    attestations,
    decision,
    reasons,
    verified,
    warnings:
      decision === 'warn' ? reasons.map((r) => `${where}, mode warn: ${subject.reference}: ${r}; proceeding`) : [],
  };
}

/** Options of {@link policyGate}. */
export interface PolicyGateOptions {
  verifierFor: PolicyVerifierFactory;
  /** Receives each evaluation (allow, warn, and deny before the gate rejects), for `--json` output. */
  onEvaluated?: (evaluation: PolicyEvaluation) => void;
}

/**
 * The verification gate of a policy: evaluates it ({@link evaluatePolicy}) before any content is read; a `deny`
 * rejects with `ERR_LADING_VERIFICATION` naming the policy file, the rule and its line (or the unmatched default)
 * and every reason; `warn` lets the read proceed with the evaluation's warnings in the gate's result (the caller
 * reports them: libraries never print); `allow` lets it proceed. Fails
 * closed: an error while evaluating stops the read with that error.
 */
export function policyGate(policy: Policy, options: PolicyGateOptions): VerificationGate {
  return {
    async verify(subject: GateSubject, call: CallOptions = {}): Promise<GateResult> {
      const evaluation = await evaluatePolicy(policy, subject, { ...call, verifierFor: options.verifierFor });
      options.onEvaluated?.(evaluation);
      if (evaluation.decision === 'deny') {
        const where = evaluation.rule
          ? `policy ${policy.file} rule ${evaluation.rule.name} (line ${evaluation.rule.line})`
          : `policy ${policy.file}`;
        throw new LadingError(
          ErrorCodes.verification,
          `verify ${subject.reference}@${subject.descriptor.digest}: ${where}: ${evaluation.reasons.join('; ')}; nothing was read`,
        );
      }
      return { verified: evaluation.verified, warnings: evaluation.warnings };
    },
  };
}
