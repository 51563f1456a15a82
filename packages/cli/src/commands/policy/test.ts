import {
  ErrorCodes,
  evaluatePolicy,
  LadingError,
  openTarget,
  type PolicyEvaluation,
  type VerificationGate,
} from '@lading/core';
import { loadArtifact } from '@lading/core/internal';
import * as Args from '@oclif/core/args';

import { RegistryCommand } from '../../base-command.js';
import { ExitCodes } from '../../exit-codes.js';
import { terminalSafe } from '../../format.js';
import { describeDecision, loadPolicy, policyVerifierFactory } from '../../policy-flags.js';
import { describeVerified } from '../../verification-from-flags.js';
import { platformFlag } from '../pull.js';

/** What `lading policy test --json` prints: the whole evaluation. */
export type PolicyTestResult = PolicyEvaluation;

/** The lines of a policy evaluation, for people: rule, each authority, each attestation and its conditions, decision. */
export function describeEvaluation(evaluation: PolicyEvaluation): string[] {
  const lines: string[] = [];
  if (evaluation.rule) {
    const { rule } = evaluation;
    lines.push(
      `Rule ${rule.name} (line ${rule.line}) matched by ${rule.pattern}; mode ${rule.mode}; ${evaluation.threshold ?? 1} of ${evaluation.authorities.length} authorities required`,
    );
  } else lines.push('No rule matched');
  for (const authority of evaluation.authorities) {
    lines.push(
      `  authority ${authority.name} (${authority.kind}): ${authority.satisfied ? 'satisfied' : 'not satisfied'}`,
    );
    for (const signature of authority.verified) lines.push(`    ${describeVerified(signature)}`);
    if (authority.reason !== undefined) lines.push(`    ${authority.reason}`);
  }
  for (const attestation of evaluation.attestations) {
    lines.push(`  attestation ${attestation.predicateType}: ${attestation.satisfied ? 'satisfied' : 'not satisfied'}`);
    for (const c of attestation.conditions) {
      lines.push(
        `    ${c.met ? 'met' : 'unmet'}: ${c.path} ${c.test}${c.actual === undefined ? '' : ` (is ${c.actual})`}`,
      );
    }
    if (attestation.reason !== undefined) lines.push(`    ${attestation.reason}`);
  }
  for (const reason of evaluation.reasons) lines.push(`Reason: ${reason}`);
  lines.push(describeDecision(evaluation));
  return lines.map((line) => terminalSafe(line));
}

/** `lading policy test`: what a policy decides for one artifact, in full, without reading its content. */
export class PolicyTest extends RegistryCommand<typeof PolicyTest> {
  static override summary = 'Show what a verification policy decides for an artifact, and why.';
  static override description = `Resolves the reference and evaluates the policy exactly as pull, ls, cat and verify do with --policy: which rule matched (the first whose pattern covers the reference), each authority's result (the signatures it accepted, or why none), each required attestation with its conditions, and the decision. No content is read.

Exit 0 when the policy allows the artifact (or a warn-mode rule lets it through), 5 when it denies it; the report is printed either way (with --json, the evaluation).`;

  static override examples = [
    {
      description: 'Why would a pull be refused?',
      command: '<%= config.bin %> policy test policy.yaml ghcr.io/acme/config:v1',
    },
    {
      description: 'The evaluation as JSON, for one platform of a multi-platform artifact.',
      command: '<%= config.bin %> policy test --json --platform linux/arm64 policy.yaml ghcr.io/acme/app:v1',
    },
  ];

  static override args = {
    file: Args.string({ required: true, description: 'The policy file (YAML or JSON).' }),
    reference: Args.string({
      required: true,
      description: 'The artifact: host[:port]/repository:tag, …@sha256:…, or oci:<dir>:tag.',
    }),
  };

  static override flags = { platform: platformFlag };

  override async run(): Promise<PolicyTestResult> {
    const { args, flags } = this;
    const policy = await loadPolicy(args.file, 'policy test');
    const client = await this.registryClient();
    const opened = await openTarget(args.reference, { client });
    if (opened.reference === undefined) {
      throw new LadingError(ErrorCodes.usage, `policy test ${opened.display}: name a tag or a digest`);
    }
    let evaluation: PolicyEvaluation | undefined;
    // The gate every read passes, with the evaluation kept instead of enforced: the same subject, the same rule.
    const recorder: VerificationGate = {
      async verify(subject, call) {
        evaluation = await evaluatePolicy(policy, subject, { ...call, verifierFor: policyVerifierFactory() });
        return { verified: evaluation.verified, warnings: evaluation.warnings };
      },
    };
    await loadArtifact(opened.target, opened.reference, opened.display, {
      signal: this.signal,
      gate: recorder,
      readTOC: false,
      ...(flags.platform === undefined ? {} : { platform: flags.platform }),
    });
    if (evaluation === undefined) throw new Error(`policy test ${opened.display}: the gate was not asked`);
    for (const line of describeEvaluation(evaluation)) this.log(line);
    if (evaluation.decision === 'deny') process.exitCode = ExitCodes.verification;
    return evaluation;
  }
}
