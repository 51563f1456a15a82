// The README's first command, scripts/demo.sh, after its setup step: scripts/demo-steps.sh runs the built binary
// offline (key generate, push --sign to an OCI layout, ls, cat, pull --verify-key, and a pull trusting another key
// refused with exit 5 and nothing written). The script checks each outcome itself; this test runs it as a user
// would and checks what it printed.

import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { makeToolHome, repoRoot, run, testbed } from './testbed/index.js';

let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ({ env } = await makeToolHome(testbed().dir));
});

describe('scripts/demo-steps.sh', () => {
  it('shows the main job offline and checks the refused pull', async () => {
    const result = await run('bash', [path.join(repoRoot, 'scripts/demo-steps.sh')], {
      env: { ...env, NODE: process.execPath },
      cwd: repoRoot,
      check: false,
    });
    expect(result.code, result.stderr).toBe(0);
    const steps = result.stdout.split('\n').filter((line) => line.startsWith('== lading '));
    expect(steps.map((line) => line.split(' ')[2])).toEqual(['key', 'key', 'push', 'ls', 'cat', 'pull', 'pull']);
    expect(result.stdout).toContain('name: demo\nreplicas: 3\n');
    expect(result.stdout).toMatch(/^demo: the pulled tree is identical to the pushed one/m);
    expect(result.stdout).toMatch(
      /^demo: a pull trusting only other\.pub was refused with exit 5, and nothing was written$/m,
    );
    expect(result.stderr).toMatch(/^Verified signature by key /m);
    expect(result.stderr).toMatch(/^Error: verify .*the signature verifies with none of the 1 trusted keys/m);
  });
});
