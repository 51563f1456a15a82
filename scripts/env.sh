# Source this (". scripts/env.sh") to put lading's own Node, pnpm and peer tools first on PATH.
_lading_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
for _d in "$_lading_root/.tools/node/bin" "$_lading_root/.tools/pnpm/node_modules/.bin" "$_lading_root/.tools/deb/root/usr/bin"; do
  [ -d "$_d" ] && PATH="$_d:$PATH"
done
export PATH
unset _d _lading_root
