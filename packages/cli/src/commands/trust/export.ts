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
import { authoritiesNeedingTUF, loadPolicy, PolicyEnv, TrustPolicyFile } from '../../policy-flags.js';

/** The TUF repository of the Sigstore public-good instance, where the root comes from without `--tuf-mirror`. */
const PublicGoodTUF = 'https://tuf-repo-cdn.sigstore.dev';

/** The file, in the folder, holding the trusted root fetched with TUF; the written policy's `trustedRoot`. */
const TrustTUFRootFile = 'trusted_root.json';

/** What `lading trust export --json` prints. */
export interface TrustExportResult {
  /** The folder written. */
  out: string;
  /** The policy written there (`policy.yaml`), pointing at the copies. */
  policy: string;
  /** Each file copied: where from, and its path in the folder. */
  files: { from: string; to: string }[];
  /**
   * The trusted root fetched with TUF for the keyless authorities that named none: the mirror asked, and the file
   * written (`trusted_root.json`, the written policy's `trustedRoot`). Absent when every keyless authority named one.
   */
  tuf?: { mirror: string; to: string };
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

A keyless authority that names no trusted root (trustedRoot in the policy, per authority or for the whole file) trusts the public-good root fetched with TUF when read: the export fetches that root now, with TUF (the public good's repository, or --tuf-mirror with its initial --tuf-root), writes it as ${TrustTUFRootFile} and makes it the written policy's trustedRoot. The folder then holds everything a read needs: with --trust DIR --offline, pull, ls, cat and verify use no network but the registry. The folder must not exist or be empty; nothing is written when the root cannot be fetched.`;

  static override examples = [
    {
      description: 'Export, then verify with the folder alone.',
      command: `<%= config.bin %> trust export --policy policy.yaml --out trust\n<%= config.bin %> pull --trust trust ghcr.io/acme/config:v1 ./config`,
    },
    {
      description: 'Fetch the keyless root from a private TUF mirror, then verify with no network but the registry.',
      command: `<%= config.bin %> trust export --policy policy.yaml --out trust --tuf-mirror https://tuf.example.com --tuf-root root.json\n<%= config.bin %> verify --trust trust --offline ghcr.io/acme/config:v1`,
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
    'tuf-mirror': Flags.string({
      description: `Fetch the trusted root of the keyless authorities that name none with TUF from this repository instead of the public good (${PublicGoodTUF}). Give its initial root.json with --tuf-root. Refused when every keyless authority names its root.`,
    }),
    'tuf-root': Flags.string({
      description:
        "The initial root.json of the TUF repository (--tuf-mirror's, else the public good's): the keys trusted first, from which root rotations are followed. Default for the public good: the root built into lading.",
    }),
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
    // The root the keyless authorities without one would fetch when read, fetched now (before anything is written).
    const [needsTUF] = authoritiesNeedingTUF(policy);
    let tufRoot: { mirror: string; json: string } | undefined;
    if (needsTUF !== undefined) {
      const { fetchTrustedRootJSON } = await import('@lading/sigstore');
      const mirror = flags['tuf-mirror'];
      const rootPath = flags['tuf-root'];
      tufRoot = {
        mirror: mirror ?? PublicGoodTUF,
        json: await fetchTrustedRootJSON({
          ...(mirror === undefined ? {} : { mirrorURL: mirror }),
          ...(rootPath === undefined ? {} : { rootPath }),
        }),
      };
    } else {
      const given =
        flags['tuf-mirror'] === undefined ? (flags['tuf-root'] === undefined ? undefined : 'tuf-root') : 'tuf-mirror';
      if (given !== undefined) {
        throw new LadingError(
          ErrorCodes.usage,
          `trust export --${given}: policy ${policy.file} has no keyless authority without a trusted root, so nothing is fetched with TUF; drop --${given}`,
        );
      }
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
        if (a.kind === 'keyless' && a.trustedRoot !== undefined) plan(a.trustedRoot, 'roots', `${base}.json`);
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
    let exported: Policy = policy;
    let tuf: TrustExportResult['tuf'];
    if (tufRoot !== undefined) {
      await writeFile(path.join(out, TrustTUFRootFile), tufRoot.json, { flag: 'wx' });
      tuf = { mirror: tufRoot.mirror, to: TrustTUFRootFile };
      // The file's root is what the authorities without one fell back to (TUF): now the file it was saved to.
      exported = { ...policy, trustedRoot: TrustTUFRootFile };
    }
    const rename = (file: string): string => planned.get(file) ?? file;
    const origin =
      tuf === undefined
        ? ''
        : `# ${TrustTUFRootFile}: fetched with TUF from ${tuf.mirror} on ${new Date().toISOString()}.\n`;
    const text = `# Written by lading trust export from ${path.basename(policy.file)}; paths are relative to this folder.\n${origin}${stringify(toDocument(exported, rename))}`;
    const written = path.join(out, TrustPolicyFile);
    // What is written must read back as a valid policy naming only the copies.
    parsePolicy(text, written);
    await writeFile(written, text, { flag: 'wx' });
    this.log(`Wrote ${written} and ${files.length + (tuf === undefined ? 0 : 1)} file(s):`);
    if (tuf !== undefined) this.log(`  ${tuf.to} (fetched with TUF from ${tuf.mirror})`);
    for (const file of files) this.log(`  ${file.to}`);
    return { out, policy: written, files, ...(tuf === undefined ? {} : { tuf }) };
  }

  protected override async catch(error: Interfaces.CommandError): Promise<void> {
    reportStandaloneFailure(error, this.jsonEnabled(), (out) => {
      this.logJson(out);
    });
    await Promise.resolve();
  }
}
