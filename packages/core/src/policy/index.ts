/** Verification policies: the policy file, reference patterns, evaluation and the gate. */
export { parsePolicy, PolicyCertificateExtensions, PolicyError, PolicyVersion } from './document.js';
export type {
  AttestationRequirement,
  KeyAuthority,
  KeylessAuthority,
  ParsePolicyOptions,
  Policy,
  PolicyAuthority,
  PolicyContent,
  PolicyMode,
  PolicyProblem,
  PolicyRule,
  PolicySource,
  PredicateCondition,
  SshAuthority,
  UnmatchedAction,
} from './document.js';
export { compilePattern } from './match.js';
export type { ReferencePattern } from './match.js';
export { checkCondition, evaluatePolicy, findRule, policyGate, PolicySignaturePredicateType } from './evaluate.js';
export type {
  AttestationOutcome,
  AuthorityOutcome,
  ConditionOutcome,
  EvaluatePolicyOptions,
  PolicyDecision,
  PolicyEvaluation,
  PolicyGateOptions,
  PolicyVerifierFactory,
  PolicyVerifierRequest,
} from './evaluate.js';
