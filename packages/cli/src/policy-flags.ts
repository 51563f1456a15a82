/**
 * `--policy FILE` (also `LADING_POLICY`) and `--trust DIR`: the verification policy file on every read command, and
 * how its authorities become `@lading/sigstore` and `@lading/ssh` verifiers. signing.ts spreads these flags into the
 * shared verification flags and hands over to {@link createPolicyVerification} when one is given, so every command
 * that takes the verification flags enforces the policy through the one core gate (`policyGate`).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import {
  ErrorCodes,
  isLadingError,
  LadingError,
  parsePolicy,
  policyGate,
  type Policy,
  type PolicyAuthority,
  type PolicyContent,
  type PolicyEvaluation,
  type PolicyVerifierFactory,
  type VerificationGate,
  type Verifier,
} from '@lading/core';
// Types only: the plugins are loaded when the first verifier of a matched rule is built.
import type { CertificateIdentity } from '@lading/sigstore';
import * as Flags from '@oclif/core/flags';

import { terminalSafe } from './format.js';
import type { OfflineFlagValues } from './github-flags.js';

/** Environment variable naming the policy file, as `--policy` does. */
export const PolicyEnv = 'LADING_POLICY';

/** The file `lading trust export` writes the policy to, and `--trust DIR` reads. */
export const TrustPolicyFile = 'policy.yaml';

const verifyGroup = 'VERIFICATION';

/** `--policy` and `--trust`: shared by every command that reads artifact content (see signing.ts). */
export const policyFlags = {
  policy: Flags.string({
    helpGroup: verifyGroup,
    env: PolicyEnv,
    description: `Enforce this verification policy file (YAML or JSON, docs/policy.md): the first rule matching the reference says who must sign; unmatched references are denied unless the file says otherwise. Default: ${PolicyEnv}. Not with the --verify-* or SSH verification flags.`,
  }),
  trust: Flags.string({
    helpGroup: verifyGroup,
    description: `Enforce the policy of a folder written by lading trust export (its ${TrustPolicyFile}, with the trusted roots, keys and allowed_signers beside it), instead of ${PolicyEnv}. Not with --policy.`,
  }),
};

/** The parsed {@link policyFlags}. */
export interface PolicyFlagValues {
  policy?: string | undefined;
  trust?: string | undefined;
}

/**
 * Reads and checks a policy file. `ERR_LADING_USAGE` when it cannot be read (naming the file and where it was
 * named) or is invalid (`PolicyError`: file:line: field for each problem).
 */
export async function loadPolicy(file: string, from = '--policy'): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new LadingError(ErrorCodes.usage, `${from} ${file}: ${(cause as Error).message}`, { cause });
  }
  return parsePolicy(text, file);
}

/**
 * The policy file the flags name: `--trust DIR`'s, else `--policy` (or `LADING_POLICY`); undefined for neither.
 * `--trust` replaces a policy that comes from `LADING_POLICY`, as `--policy` does; `--trust` with `--policy` is a
 * usage error.
 */
export function policyFileFromFlags(
  flags: PolicyFlagValues,
  env: NodeJS.ProcessEnv = process.env,
): { file: string; from: string } | undefined {
  if (flags.trust !== undefined) {
    if (flags.policy !== undefined && flags.policy !== env[PolicyEnv]) {
      throw new LadingError(ErrorCodes.usage, '--trust: not with --policy (one policy per read); give one of them');
    }
    return { file: path.join(flags.trust, TrustPolicyFile), from: '--trust' };
  }
  if (flags.policy !== undefined) return { file: flags.policy, from: `--policy (or ${PolicyEnv})` };
  return undefined;
}

/**
 * The keyless authorities of `policy` that have no trusted root (neither their own `trustedRoot` nor the file's):
 * they trust the public-good root fetched with TUF when read, so they need the network.
 */
export function authoritiesNeedingTUF(policy: Policy): PolicyAuthority[] {
  if (policy.trustedRoot !== undefined) return [];
  return policy.rules.flatMap((rule) =>
    rule.authorities.filter((a) => a.kind === 'keyless' && a.trustedRoot === undefined),
  );
}

/**
 * The `--offline` refusal of a keyless authority without a trusted root, naming its place in the policy file and
 * what to do. `ERR_LADING_USAGE`.
 */
export function offlinePolicyRefusal(policy: Policy, authority: PolicyAuthority): LadingError {
  return new LadingError(
    ErrorCodes.usage,
    `--offline: ${located(policy, authority)}: a keyless authority without trustedRoot trusts the public-good root fetched with TUF, which needs the network; name a trusted_root.json in the policy (trustedRoot), or write a bundle with lading trust export (it fetches the root with TUF once) and read with --trust DIR --offline`,
  );
}

/** Where an authority is in its policy file, for messages. */
function located(policy: Policy, authority: PolicyAuthority): string {
  return `policy ${policy.file}:${authority.source.line}: ${authority.source.field} (${authority.name})`;
}

async function readContent(policy: Policy, authority: PolicyAuthority, content: PolicyContent): Promise<string> {
  if ('inline' in content) return content.inline;
  try {
    return await readFile(content.file, 'utf8');
  } catch (cause) {
    throw new LadingError(ErrorCodes.usage, `${located(policy, authority)}: ${(cause as Error).message}`, { cause });
  }
}

/** Runs `build`, naming the authority in a usage error (a bad key, a bad allowed_signers line, a bad root). */
async function building(policy: Policy, authority: PolicyAuthority, build: () => Promise<Verifier>): Promise<Verifier> {
  try {
    return await build();
  } catch (cause) {
    if (isLadingError(cause, ErrorCodes.usage)) {
      throw new LadingError(ErrorCodes.usage, `${located(policy, authority)}: ${cause.message}`, { cause });
    }
    throw cause;
  }
}

/**
 * The verifier factory of the CLI: keyless and key authorities become `@lading/sigstore` verifiers (keyless ones
 * against the authority's `trustedRoot`, else the policy's, else the public-good root from TUF), SSH authorities
 * `@lading/ssh` verifiers reading the allowed_signers file (or inline text) with the authority's principals and
 * namespace. Each is asked for the predicate type the policy evaluation needs (a signature, or an attestation's).
 * `offline` (default false): the Sigstore verifiers are built offline, and a keyless authority that would fetch the
 * root with TUF is refused ({@link offlinePolicyRefusal}, `ERR_LADING_USAGE`).
 */
export function policyVerifierFactory(options: { offline?: boolean } = {}): PolicyVerifierFactory {
  const offline = options.offline === true ? { offline: true } : {};
  return async ({ policy, authority, predicateType }) => {
    if (authority.kind === 'ssh') {
      const { createSshVerifier } = await import('@lading/ssh');
      const text = await readContent(policy, authority, authority.allowedSigners);
      const name =
        'file' in authority.allowedSigners ? authority.allowedSigners.file : `${policy.file}:${authority.source.line}`;
      return building(policy, authority, () =>
        Promise.resolve(
          createSshVerifier({
            allowedSigners: { text, name },
            principals: authority.principals,
            predicateType,
            ...(authority.namespace === undefined ? {} : { namespace: authority.namespace }),
          }),
        ),
      );
    }
    const { createSigstoreVerifier, loadTrustedRoot } = await import('@lading/sigstore');
    if (authority.kind === 'key') {
      const key = await readContent(policy, authority, authority.key);
      return building(policy, authority, () =>
        Promise.resolve(createSigstoreVerifier({ keys: [key], predicateType, ...offline })),
      );
    }
    const identity: CertificateIdentity = {};
    if (authority.issuer !== undefined) identity.issuer = authority.issuer;
    if (authority.issuerRegExp !== undefined) identity.issuerRegExp = authority.issuerRegExp;
    if (authority.subject !== undefined) identity.subject = authority.subject;
    if (authority.subjectRegExp !== undefined) identity.subjectRegExp = authority.subjectRegExp;
    if (authority.extensions !== undefined) identity.extensions = authority.extensions;
    if (authority.extensionRegExps !== undefined) identity.extensionRegExps = authority.extensionRegExps;
    const root = authority.trustedRoot ?? policy.trustedRoot;
    if (root === undefined && options.offline === true) throw offlinePolicyRefusal(policy, authority);
    return building(policy, authority, async () =>
      createSigstoreVerifier({
        identities: [identity],
        predicateType,
        ...offline,
        ...(root === undefined ? { tuf: true } : { trustedRoot: await loadTrustedRoot(root) }),
      }),
    );
  };
}

/** A policy gate for a read that keeps what it found once it has run. */
export interface PolicyVerificationGate extends VerificationGate {
  /** The last evaluation (rule, authorities, attestations, decision, warnings), for `--json`; undefined before. */
  readonly evaluation: PolicyEvaluation | undefined;
}

/** The policy evaluation a gate made, when the gate is a policy's ({@link createPolicyVerification}). */
export function policyEvaluationOf(gate: VerificationGate | undefined): PolicyEvaluation | undefined {
  return gate !== undefined && 'evaluation' in gate ? (gate as PolicyVerificationGate).evaluation : undefined;
}

/**
 * The policy gate the flags ask for, or undefined without `--policy`, `LADING_POLICY` or `--trust`. The policy file
 * is read and checked now (`ERR_LADING_USAGE`, file:line: field). `others` names the other verification flags given
 * (`--verify-key`, `--allowed-signers`, `--attestation-type`…): with a policy they are a usage error, as the policy
 * alone says whom to trust — two sources of trust would leave it unclear which one a read was held to. A `warn`
 * decision comes back in the gate's result (`warnings`: the command prints them on standard error and puts them in
 * `--json`); the evaluation stays on the gate ({@link policyEvaluationOf}). With `--offline` the whole policy is
 * checked first: a keyless authority of any rule without a trusted root is a usage error naming its line
 * ({@link offlinePolicyRefusal}), before the registry is asked anything; no verifier fetches a root with TUF.
 */
export async function createPolicyVerification(
  flags: PolicyFlagValues & OfflineFlagValues,
  others: readonly string[],
): Promise<PolicyVerificationGate | undefined> {
  const named = policyFileFromFlags(flags);
  if (named === undefined) return undefined;
  const [other] = others;
  if (other !== undefined) {
    throw new LadingError(
      ErrorCodes.usage,
      `--${other}: not with a verification policy (${named.from} ${named.file}): the policy says whom to trust; put this requirement in the policy, or drop ${named.from === '--trust' ? '--trust' : `--policy and unset ${PolicyEnv}`}`,
    );
  }
  const policy = await loadPolicy(named.file, named.from);
  const offline = flags.offline === true;
  const [online] = offline ? authoritiesNeedingTUF(policy) : [];
  if (online !== undefined) throw offlinePolicyRefusal(policy, online);
  let evaluation: PolicyEvaluation | undefined;
  const gate = policyGate(policy, {
    verifierFor: policyVerifierFactory({ offline }),
    onEvaluated: (evaluated) => {
      evaluation = evaluated;
    },
  });
  return {
    verify: (subject, options) => gate.verify(subject, options),
    get evaluation() {
      return evaluation;
    },
  };
}

/** One line saying what a policy decided for a read: for `lading verify` and `lading policy test`. */
export function describeDecision(evaluation: PolicyEvaluation): string {
  const rule = evaluation.rule
    ? `rule ${evaluation.rule.name} (line ${evaluation.rule.line}, pattern ${evaluation.rule.pattern}, mode ${evaluation.rule.mode})`
    : 'no rule (unmatched)';
  const verb = { allow: 'allows', deny: 'denies', warn: 'would deny, mode warn: proceeds with' }[evaluation.decision];
  return terminalSafe(`Policy ${evaluation.policy}: ${rule} ${verb} ${evaluation.reference}@${evaluation.digest}`);
}
