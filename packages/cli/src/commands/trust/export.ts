import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import {
  ErrorCodes,
  LadingError,
  parsePolicy,
  type Policy,
  type PolicyAuthority,
  type PolicyContent,
} from '@lading/core';
import type { Interfaces } from '@oclif/core';
import { Command } from '@oclif/core/command';
import * as Flags from '@oclif/core/flags';
import { stringify } from 'yaml';

import { reportStandaloneFailure } from '../../base-command.js';
import { loadPolicy, PolicyEnv, TrustPolicyFile } from '../../policy-flags.js';

/** What `lading trust export --json` prints. */
export interface TrustExportResult {
  /** The folder written. */
  out: string;
  /** The policy written there (`policy.yaml`), pointing at the copies. */
  policy: string;
  /** Each file copied: where from, and its path in the folder. */
  files: { from: string; to: string }[];
}

/** A file name from an authority name: letters, digits, `.`, `_`, `-` only. */
function safeName(name: string): string {
  return name.replace(/[^\w.-]+/g, '_').replace(/^\.+/, '_') || 'authority';
}

/**
 * The version 1 document of `policy` with every file path replaced by `rename(absolute path)` (a path relative to
 * the folder the document is written to). Inline content stays inline.
 */
function toDocument(policy: Policy, rename: (file: string) => string): Record<string, unknown> {
  const content = (c: PolicyContent, fileKey: string, inlineKey: string) =>
    'file' in c ? { [fileKey]: rename(c.file) } : { [inlineKey]: c.inline };
  const authority = (a: PolicyAuthority): Record<string, unknown> => {
    if (a.kind === 'key') return { name: a.name, key: content(a.key, 'file', 'pem') };
    if (a.kind === 'ssh') {
      return {
        name: a.name,
        ssh: {
          ...content(a.allowedSigners, 'allowedSignersFile', 'allowedSigners'),
          principals: a.principals,
          ...(a.namespace === undefined ? {} : { namespace: a.namespace }),
        },
      };
    }
    const { kind: _kind, name, source: _source, trustedRoot, ...identity } = a;
    return {
      name,
      keyless: { ...identity, ...(trustedRoot === undefined ? {} : { trustedRoot: rename(trustedRoot) }) },
    };
  };
  return {
    version: policy.version,
    unmatched: policy.unmatched,
    ...(policy.trustedRoot === undefined ? {} : { trustedRoot: rename(policy.trustedRoot) }),
    rules: policy.rules.map((rule) => ({
      name: rule.name,
      match: rule.match.map((p) => p.text),
      mode: rule.mode,
      threshold: rule.threshold,
      authorities: rule.authorities.map(authority),
      ...(rule.attestations.length === 0
        ? {}
        : {
            attestations: rule.attestations.map((a) => ({
              predicateType: a.predicateType,
              authorities: a.authorities,
              ...(a.conditions.length === 0
                ? {}
                : { conditions: a.conditions.map(({ source: _source, ...condition }) => condition) }),
            })),
          }),
    })),
  };
}

/** `lading trust export`: one folder holding a policy and everything it trusts, for offline or pinned verification. */
export class TrustExport extends Command {
  static override summary =
    'Write a policy and every key, allowed_signers file and trusted root it names into one folder.';
  static override description = `Copies the files the policy's authorities name — cosign public keys, SSH allowed_signers files, Sigstore trusted roots — into --out (keys/, allowed_signers/, roots/) and writes ${TrustPolicyFile} there: the same rules, with every path pointing at the copies (relative to the folder). Pass the folder to pull, ls, cat and verify with --trust DIR. The policy written is read back and checked before the command succeeds.

Keyless authorities must name their trusted root (trustedRoot in the policy, per authority or for the whole file): a root fetched from TUF at read time is not exported. The folder must not exist or be empty.`;

  static override examples = [
    {
      description: 'Export, then verify with the folder alone.',
      command: `<%= config.bin %> trust export --policy policy.yaml --out trust\n<%= config.bin %> pull --trust trust ghcr.io/acme/config:v1 ./config`,
    },
  ];

  static override enableJsonFlag = true;

  static override flags = {
    policy: Flags.string({
      required: true,
      env: PolicyEnv,
      description: `The policy file to export. Default: ${PolicyEnv}.`,
    }),
    out: Flags.string({ required: true, description: 'The folder to write (created; must not exist or be empty).' }),
  };

  override async run(): Promise<TrustExportResult> {
    const { flags } = await this.parse(TrustExport);
    const policy = await loadPolicy(flags.policy, 'trust export --policy');
    const out = flags.out;
    try {
      const existing = await readdir(out);
      if (existing.length > 0) {
        throw new LadingError(ErrorCodes.usage, `trust export --out ${out}: not empty; choose a new folder`);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    // Plan first: every source file and its name in the folder, each source copied once.
    const planned = new Map<string, string>();
    const taken = new Set<string>();
    const plan = (file: string, folder: string, base: string): void => {
      if (planned.has(file)) return;
      let name = `${folder}/${base}`;
      for (let n = 2; taken.has(name); n += 1) name = `${folder}/${base}-${n}`;
      taken.add(name);
      planned.set(file, name);
    };
    if (policy.trustedRoot !== undefined) plan(policy.trustedRoot, 'roots', 'trusted_root.json');
    for (const rule of policy.rules) {
      for (const a of rule.authorities) {
        const base = safeName(`${rule.name}-${a.name}`);
        if (a.kind === 'key' && 'file' in a.key) plan(a.key.file, 'keys', `${base}.pub`);
        if (a.kind === 'ssh' && 'file' in a.allowedSigners) plan(a.allowedSigners.file, 'allowed_signers', base);
        if (a.kind === 'keyless') {
          if (a.trustedRoot !== undefined) plan(a.trustedRoot, 'roots', `${base}.json`);
          else if (policy.trustedRoot === undefined) {
            throw new LadingError(
              ErrorCodes.usage,
              `trust export: policy ${policy.file}:${a.source.line}: ${a.source.field} (${a.name}): a keyless authority without trustedRoot uses the public-good root from TUF, which is not exported; name a trusted_root.json in the policy (trustedRoot)`,
            );
          }
        }
      }
    }
    await mkdir(out, { recursive: true });
    const files: TrustExportResult['files'] = [];
    for (const [from, to] of planned) {
      await mkdir(path.join(out, path.dirname(to)), { recursive: true });
      try {
        await copyFile(from, path.join(out, to));
      } catch (cause) {
        throw new LadingError(ErrorCodes.usage, `trust export: policy ${policy.file}: ${(cause as Error).message}`, {
          cause,
        });
      }
      files.push({ from, to });
    }
    const rename = (file: string): string => planned.get(file) ?? file;
    const text = `# Written by lading trust export from ${path.basename(policy.file)}; paths are relative to this folder.\n${stringify(toDocument(policy, rename))}`;
    const written = path.join(out, TrustPolicyFile);
    // What is written must read back as a valid policy naming only the copies.
    parsePolicy(text, written);
    await writeFile(written, text, { flag: 'wx' });
    this.log(`Wrote ${written} and ${files.length} file(s):`);
    for (const file of files) this.log(`  ${file.to}`);
    return { out, policy: written, files };
  }

  protected override async catch(error: Interfaces.CommandError): Promise<void> {
    reportStandaloneFailure(error, this.jsonEnabled(), (out) => {
      this.logJson(out);
    });
    await Promise.resolve();
  }
}
