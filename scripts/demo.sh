#!/usr/bin/env bash
# The main job end to end on a fresh machine (the README's first command): sets lading up, then runs
# scripts/demo-steps.sh: generate a signing key, push a sample folder and file signed to a local OCI image layout,
# list them, read one file, pull everything back verified with the key, and show that a pull trusting another key
# is refused (exit 5) with nothing written. No registry or network service is needed after setup.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
. "$root/scripts/env.sh"
exec bash "$root/scripts/demo-steps.sh"
