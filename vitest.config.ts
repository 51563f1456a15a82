import { defineConfig } from 'vitest/config';

// Two projects: unit tests beside the code in packages/*/src, and integration/interop tests in test/ that run
// against the real test bed (registries, token server, peer tools) started by the global setup.
// The timeouts below are hang guards for tests that drive external processes, never performance assertions.
export default defineConfig({
  test: {
    // Test files run side by side, one per core: integration files mostly wait on child processes and servers; more
    // than the cores starve the timing of the concurrent-writer tests (the default ran one file at a time here).
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          // A hang guard, not a speed limit: key derivations (scrypt, bcrypt-pbkdf) and large packs take seconds on
          // a loaded 2-core machine, past vitest's 5 s default.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/src/**/*.test.ts', 'examples/**/*.test.ts'],
          globalSetup: ['test/src/testbed/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
