#!/usr/bin/env bash
# Sets lading's workspace up on a machine that has only Node and npm:
#   1. Node >= 22.22.2 / >= 24.15.0: when the machine's Node is older, installs Node 24 from the npm registry
#      (package node-<os>-<arch>) into .tools/node (git-ignored);
#   2. the exact pnpm that package.json's packageManager names, into .tools/pnpm;
#   3. pnpm install --frozen-lockfile and pnpm build.
# Idempotent. Prints where things came from on stderr. Source scripts/env.sh afterwards to use the same tools.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
node_version=24.21.0
say() { printf 'setup: %s\n' "$*" >&2; }
export npm_config_loglevel=error npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

node_ok() { # node binary → 0 when it satisfies engines ^22.22.2 || >=24.15.0
  "$1" -e 'const [a,b,c]=process.versions.node.split(".").map(Number);
    process.exit((a===22&&(b>22||(b===22&&c>=2)))||(a===24&&b>=15)||a>24?0:1)' 2>/dev/null
}

mkdir -p "$tools"
if [ -x "$tools/node/bin/node" ] && node_ok "$tools/node/bin/node"; then
  :
elif command -v node >/dev/null 2>&1 && node_ok node; then
  say "using the machine's Node $(node --version)"
else
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) say "unsupported OS $(uname -s)"; exit 1 ;; esac
  case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) say "unsupported CPU $(uname -m)"; exit 1 ;; esac
  command -v npm >/dev/null 2>&1 || { say "npm is needed to fetch Node $node_version; install Node and npm first"; exit 1; }
  say "machine Node is $(node --version 2>/dev/null || echo absent); installing Node $node_version (node-$os-$arch) into .tools/node"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-$os-$arch@$node_version" >/dev/null)
  rm -rf "$tools/node" && mkdir -p "$tools/node"
  tar -xzf "$tmp"/node-*.tgz -C "$tools/node" --strip-components=1
  rm -rf "$tmp"
  chmod +x "$tools/node/bin/node"
  node_ok "$tools/node/bin/node" || { say "the installed Node does not run"; exit 1; }
fi
[ -x "$tools/node/bin/node" ] && export PATH="$tools/node/bin:$PATH"

pnpm_version=$(node -p 'require(process.argv[1]).packageManager.split("@")[1]' "$root/package.json")
if [ "$("$tools/pnpm/node_modules/.bin/pnpm" --version 2>/dev/null || true)" != "$pnpm_version" ]; then
  say "installing pnpm $pnpm_version into .tools/pnpm"
  rm -rf "$tools/pnpm"
  npm install --silent --no-save --prefix "$tools/pnpm" "pnpm@$pnpm_version" >/dev/null
fi
export PATH="$tools/pnpm/node_modules/.bin:$PATH"
say "node $(node --version), pnpm $(pnpm --version)"

cd "$root"
frozen=--frozen-lockfile
[ -f pnpm-lock.yaml ] || frozen=
pnpm install $frozen --reporter=append-only >&2
pnpm run --silent build >&2
