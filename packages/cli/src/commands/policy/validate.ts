import type { Policy } from '@lading/core';
import type { Interfaces } from '@oclif/core';
import * as Args from '@oclif/core/args';
import { Command } from '@oclif/core/command';

import { reportStandaloneFailure } from '../../base-command.js';
import { loadPolicy } from '../../policy-flags.js';

/** What `lading policy validate --json` prints. */
export interface PolicyValidateResult {
  /** The file as given. */
  file: string;
  /** The file's version (1). */
  version: number;
  /** What happens to references no rule matches: `deny`, `allow` or `warn`. */
  unmatched: Policy['unmatched'];
  /** Each rule in order (the first match wins): name, line, patterns, mode, threshold, authorities. */
  rules: { name: string; line: number; match: string[]; mode: string; threshold: number; authorities: string[] }[];
}

/** `lading policy validate`: checks a verification policy file without reading any artifact. */
export class PolicyValidate extends Command {
  static override summary = 'Check a verification policy file (YAML or JSON) and list its rules.';
  static override description = `Parses the file as lading does before a read with --policy: version 1, every field known and well-typed, reference patterns, regular expressions, thresholds, attestation authorities (docs/policy.md; the JSON Schema is schemas/policy.v1.json). Key files, allowed_signers files and trusted roots are not opened: that happens when a rule that names them matches a read.

Exit 0 and a summary of the rules when the file is valid; exit 2 listing every problem as file:line: field: what is wrong.`;

  static override examples = [
    { description: 'Check a policy.', command: '<%= config.bin %> policy validate policy.yaml' },
    { description: 'The rules as JSON.', command: '<%= config.bin %> policy validate --json policy.yaml' },
  ];

  static override enableJsonFlag = true;

  static override args = {
    file: Args.string({ required: true, description: 'The policy file.' }),
  };

  override async run(): Promise<PolicyValidateResult> {
    const { args } = await this.parse(PolicyValidate);
    const policy = await loadPolicy(args.file, 'policy validate');
    const rules = policy.rules.map((rule) => ({
      name: rule.name,
      line: rule.source.line,
      match: rule.match.map((p) => p.text),
      mode: rule.mode,
      threshold: rule.threshold,
      authorities: rule.authorities.map((a) => `${a.name} (${a.kind})`),
    }));
    this.log(`${args.file}: valid, ${rules.length} rule(s); unmatched references: ${policy.unmatched}`);
    for (const rule of rules) {
      this.log(
        `  ${rule.name} (line ${rule.line}): ${rule.match.join(', ')}: ${rule.threshold} of ${rule.authorities.join(', ')}, ${rule.mode}`,
      );
    }
    return { file: args.file, version: policy.version, unmatched: policy.unmatched, rules };
  }

  protected override async catch(error: Interfaces.CommandError): Promise<void> {
    reportStandaloneFailure(error, this.jsonEnabled(), (out) => {
      this.logJson(out);
    });
    await Promise.resolve();
  }
}
