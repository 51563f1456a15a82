#!/usr/bin/env bash
# Installs the real registries and peer tools the test bed runs, without touching the system's apt sources:
#   - from the machine's Debian release (apt-get install, needs root): docker-registry (CNCF distribution), skopeo,
#     ssh-keygen, openssl, htpasswd, zsh and fish;
#   - from Debian sid, downloaded and unpacked into .tools/deb (git-ignored): cosign, oras, crane, notation and a newer
#     docker-registry. Their Go binaries need only libc.
# Idempotent: a complete cache is reused. Fails loudly naming what is missing; nothing is skipped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deb="$root/.tools/deb"
say() { printf 'peer-tools: %s\n' "$*" >&2; }

# 1. Packages from the machine's own release.
need_apt=()
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need_apt+=(skopeo)
command -v ssh-keygen >/dev/null 2>&1 || need_apt+=(openssh-client)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v htpasswd >/dev/null 2>&1 || need_apt+=(apache2-utils)
# The shells whose completion scripts the tests load (`lading completion zsh|fish`).
command -v zsh >/dev/null 2>&1 || need_apt+=(zsh)
command -v fish >/dev/null 2>&1 || need_apt+=(fish)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing ${need_apt[*]}; run as root or install them: sudo apt-get install -y ${need_apt[*]}"
    exit 1
  fi
  say "installing ${need_apt[*]} with apt-get"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# 2. Newer peers from Debian sid into a private cache.
sid_pkgs=(cosign oras crane notation docker-registry)
have_all=1
for b in cosign oras crane notation docker-registry; do
  [ -x "$deb/root/usr/bin/$b" ] || have_all=0
done
if [ "$have_all" = 0 ]; then
  src=/etc/apt/sources.list.d/debian.sources
  uri=$(awk '/^URIs:/{print $2; exit}' "$src" 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  if [ -z "$uri" ]; then say "cannot find the machine's Debian mirror in $src or /etc/apt/sources.list"; exit 1; fi
  say "fetching ${sid_pkgs[*]} from Debian sid ($uri) into .tools/deb"
  rm -rf "$deb"
  mkdir -p "$deb/lists/partial" "$deb/pkgs" "$deb/root" "$deb/cache/archives/partial"
  printf 'Types: deb\nURIs: %s\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" > "$deb/sid.sources"
  o=(-o "Dir::Etc::sourcelist=$deb/sid.sources" -o Dir::Etc::sourceparts=/dev/null
     -o "Dir::State::Lists=$deb/lists" -o "Dir::Cache=$deb/cache" -o Debug::NoLocking=1
     -o APT::Sandbox::User=root)
  apt-get "${o[@]}" update -qq >/dev/null
  (cd "$deb/pkgs" && apt-get "${o[@]}" download "${sid_pkgs[@]}" >/dev/null)
  for d in "$deb"/pkgs/*.deb; do dpkg-deb -x "$d" "$deb/root"; done
  rm -rf "$deb/lists" "$deb/cache"
fi

# 3. Every tool must answer; report versions.
export PATH="$deb/root/usr/bin:$PATH"
fail=0
check() { # name, command...
  local name=$1; shift
  # Capture everything first: cutting the output with head under pipefail would kill the tool with SIGPIPE.
  if out=$("$@" 2>&1); then say "$name: $(printf '%s' "$out" | head -n 3 | tr '\n' ' ')"; else say "$name is missing or broken: $out"; fail=1; fi
}
check oras oras version
check cosign sh -c 'cosign version 2>&1 | grep GitVersion'
check crane sh -c 'crane version >/dev/null && ls "$0"/pkgs | grep crane' "$deb"
check notation notation version
check docker-registry docker-registry --version
check skopeo skopeo --version
check ssh-keygen sh -c 'ssh -V'
check openssl openssl version
check htpasswd sh -c 'command -v htpasswd'
check zsh zsh --version
check fish fish --version
[ "$fail" = 0 ] || { say "some peer tools are missing: rerun scripts/peer-tools.sh (as root) and read its errors"; exit 1; }
