// @lading/ssh must work with no sigstore package installed: its production dependency tree (as pnpm resolves it)
// has none, and none of its built modules imports one. @lading/core's tree has neither sigstore nor SSH packages.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, run } from '../testbed/index.js';

interface PnpmListNode {
  dependencies?: Record<string, PnpmListNode>;
}

async function productionTree(pkg: string): Promise<string[]> {
  const { stdout } = await run('pnpm', ['--filter', pkg, 'list', '--prod', '--depth', 'Infinity', '--json'], {
    cwd: repoRoot,
  });
  const [tree] = JSON.parse(stdout) as PnpmListNode[];
  const names = new Set<string>();
  const walk = (deps: Record<string, PnpmListNode> | undefined): void => {
    for (const [name, node] of Object.entries(deps ?? {})) {
      if (names.has(name)) continue;
      names.add(name);
      walk(node.dependencies);
    }
  };
  walk(tree?.dependencies);
  return [...names];
}

const isSigstore = (name: string): boolean =>
  name === 'sigstore' || name.startsWith('@sigstore/') || name.includes('sigstore');

describe('@lading/ssh dependencies', () => {
  it('has no sigstore package in its production dependency tree', async () => {
    const names = await productionTree('@lading/ssh');
    // The tree is real: the declared runtime dependency and its own dependency are in it.
    expect(names).toEqual(expect.arrayContaining(['bcrypt-pbkdf', 'tweetnacl']));
    expect(names.filter(isSigstore)).toEqual([]);
  });

  it('imports nothing from sigstore in its built modules', async () => {
    const dist = path.join(repoRoot, 'packages/ssh/dist');
    const files = (await readdir(dist)).filter((f) => f.endsWith('.js'));
    expect(files).toEqual(expect.arrayContaining(['index.js', 'signer.js', 'verifier.js']));
    for (const f of files) {
      const text = await readFile(path.join(dist, f), 'utf8');
      const imported = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1] ?? '');
      expect(imported.filter(isSigstore), f).toEqual([]);
    }
  });

  it("keeps @lading/core's production tree free of sigstore and SSH packages", async () => {
    const names = await productionTree('@lading/core');
    expect(names).toEqual(expect.arrayContaining(['undici']));
    expect(names.filter((n) => isSigstore(n) || n === '@lading/ssh' || n === 'bcrypt-pbkdf')).toEqual([]);
  });
});
