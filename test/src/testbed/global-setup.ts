import type { TestProject } from 'vitest/node';

/** Starts the shared test bed once for the integration project. Filled in by the test-bed work. */
export function setup(_project: TestProject): void {
  // placeholder until the test bed lands in this commit series
}
