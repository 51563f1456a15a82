import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { repoRoot, run } from './testbed/tools.js';

interface PackageJSON {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const packages = ['core', 'sigstore', 'ssh', 'cli'] as const;

function readJSON(file: string): unknown {
  return JSON.parse(readFileSync(path.join(repoRoot, file), 'utf8'));
}

function ladingDeps(pkg: PackageJSON): string[] {
  const all = { ...pkg.dependencies, ...pkg.peerDependencies };
  return Object.keys(all)
    .filter((n) => n.startsWith('@lading/'))
    .sort();
}

interface PnpmListNode {
  dependencies?: Record<string, PnpmListNode>;
}

function collectNames(deps: Record<string, PnpmListNode> | undefined, into: Set<string>): void {
  for (const [name, node] of Object.entries(deps ?? {})) {
    if (into.has(name)) continue;
    into.add(name);
    collectNames(node.dependencies, into);
  }
}

describe('workspace', () => {
  it('keeps the package graph one way: cli → sigstore, ssh → core', () => {
    const graph = Object.fromEntries(
      packages.map((p) => [p, ladingDeps(readJSON(`packages/${p}/package.json`) as PackageJSON)]),
    );
    expect(graph).toEqual({
      core: [],
      sigstore: ['@lading/core'],
      ssh: ['@lading/core'],
      cli: ['@lading/core', '@lading/sigstore', '@lading/ssh'],
    });
    const refs = (p: string): string[] =>
      ((readJSON(`packages/${p}/tsconfig.json`) as { references?: { path: string }[] }).references ?? [])
        .map((r) => path.basename(r.path))
        .sort();
    expect(refs('core')).toEqual([]);
    expect(refs('sigstore')).toEqual(['core']);
    expect(refs('ssh')).toEqual(['core']);
    expect(refs('cli')).toEqual(['core', 'sigstore', 'ssh']);
  });

  it("has no sigstore package in @lading/core's production dependency tree", async () => {
    const { stdout } = await run(
      'pnpm',
      ['--filter', '@lading/core', 'list', '--prod', '--depth', 'Infinity', '--json'],
      {
        cwd: repoRoot,
      },
    );
    const [tree] = JSON.parse(stdout) as PnpmListNode[];
    const names = new Set<string>();
    collectNames(tree?.dependencies, names);
    // The tree is real: core's declared runtime dependencies are in it.
    expect([...names]).toEqual(expect.arrayContaining(['undici', 'tar-stream', 'p-limit']));
    expect([...names].filter((n) => n === 'sigstore' || n.startsWith('@sigstore/'))).toEqual([]);
  });

  it('fails lint when core imports a sibling package', async () => {
    const probe = path.join(repoRoot, 'packages/core/src/lint-probe-one-way.ts');
    await writeFile(probe, "export { commands } from '@lading/cli';\nexport * from '../../sigstore/src/index.js';\n");
    try {
      const result = await run('pnpm', ['exec', 'eslint', '--format', 'json', probe], { cwd: repoRoot, check: false });
      expect(result.code).toBe(1);
      const [report] = JSON.parse(result.stdout) as { messages: { ruleId: string | null; line: number }[] }[];
      const restricted = (report?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports');
      expect(restricted.map((m) => m.line).sort()).toEqual([1, 2]);
    } finally {
      await rm(probe, { force: true });
    }
  });

  it('builds dist/ with declarations for every package', () => {
    for (const p of packages) {
      expect(existsSync(path.join(repoRoot, `packages/${p}/dist/index.js`)), p).toBe(true);
      expect(existsSync(path.join(repoRoot, `packages/${p}/dist/index.d.ts`)), p).toBe(true);
    }
  });

  it('runs the lading binary', async () => {
    const { stdout } = await run(
      process.execPath,
      [path.join(repoRoot, 'packages/cli/bin/run.js'), 'version', '--json'],
      {
        cwd: repoRoot,
      },
    );
    const parsed = JSON.parse(stdout) as { lading: string; node: string };
    expect(parsed.lading).toBe((readJSON('packages/cli/package.json') as { version: string }).version);
    expect(parsed.node).toBe(process.versions.node);
  });
});
