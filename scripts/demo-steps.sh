#!/usr/bin/env bash
# The body of scripts/demo.sh, after setup: runs the built lading (packages/cli/bin/run.js) with `node` from PATH,
# or $NODE, in a temporary folder it removes at the end. Offline: everything goes to a local OCI image layout.
# Exits non-zero, saying why, when any step does not behave as shown.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lading() { "${NODE:-node}" "$root/packages/cli/bin/run.js" "$@"; }
step() { printf '\n== lading %s\n' "$*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sample/config/conf.d"
printf 'name: demo\nreplicas: 3\n' > "$work/sample/config/app.yaml"
printf 'log_level: info\n' > "$work/sample/config/conf.d/logging.yaml"
printf '#!/bin/sh\necho "deployed"\n' > "$work/sample/deploy.sh"
chmod +x "$work/sample/deploy.sh"
cd "$work"

# A demo password for the private key; in real use, leave COSIGN_PASSWORD unset to be asked for one.
export COSIGN_PASSWORD=demo
step key generate
lading key generate
step key generate --output-key-prefix other
lading key generate --output-key-prefix other

layout="oci:$work/layout:v1"
cd "$work/sample"
step push --sign --key ../cosign.key "$layout" config deploy.sh
lading push --sign --key ../cosign.key "$layout" config deploy.sh
cd "$work"
step ls -l "$layout"
lading ls -l "$layout"
step cat "$layout" config/app.yaml
lading cat "$layout" config/app.yaml

step pull --verify-key cosign.pub "$layout" pulled
lading pull --verify-key cosign.pub "$layout" pulled
diff -r "$work/sample" "$work/pulled" && [ -x "$work/pulled/deploy.sh" ]
echo "demo: the pulled tree is identical to the pushed one (exec bit included), signed by cosign.pub"

step pull --verify-key other.pub "$layout" refused
code=0
lading pull --verify-key other.pub "$layout" refused || code=$?
if [ "$code" -ne 5 ]; then
  echo "demo: FAILED: a pull trusting other.pub should exit 5 (verification failed), it exited $code" >&2
  exit 1
fi
if [ -e "$work/refused" ]; then
  echo "demo: FAILED: the refused pull left $work/refused behind" >&2
  exit 1
fi
echo "demo: a pull trusting only other.pub was refused with exit 5, and nothing was written"
