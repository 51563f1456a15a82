#!/usr/bin/env bash
# The whole test suite on a fresh machine that has only Node and npm (the README's second command; .ci/run runs it):
# sets up Node/pnpm and builds (scripts/setup.sh), installs the registries and peer tools (scripts/peer-tools.sh),
# runs vitest (unit + integration against the real test bed), lint and the format check, and ends with one line
# "N passed, N failed" counted from vitest's JSON report. Exit status is non-zero when anything failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh || { echo "setup failed: see the lines above" >&2; echo "0 passed, 0 failed"; exit 1; }
bash scripts/peer-tools.sh || { echo "peer tools missing: see the lines above" >&2; echo "0 passed, 0 failed"; exit 1; }
. scripts/env.sh

status=0
mkdir -p .test-results
rm -f .test-results/vitest.json
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@" || status=1
pnpm run --silent lint || { echo "lint failed" >&2; status=1; }
pnpm run --silent format:check || { echo "format check failed: run pnpm format" >&2; status=1; }
node scripts/test-summary.mjs .test-results/vitest.json || status=1
exit "$status"
