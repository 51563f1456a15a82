// Prints the suite's closing line "N passed, N failed[, N skipped]" from vitest's JSON report.
// A test file that failed to load (its tests never ran) counts as one failure, so a broken file cannot hide.
// Exit status 1 when the report is missing or anything failed.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`test summary: no vitest report at ${file} (${e.message}); the run did not finish`);
  console.log('0 passed, 0 failed');
  process.exit(1);
}
const brokenFiles = report.testResults.filter((r) => r.status === 'failed' && r.assertionResults.length === 0).length;
const passed = report.numPassedTests;
const failed = report.numFailedTests + brokenFiles;
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || report.success === false ? 1 : 0);
