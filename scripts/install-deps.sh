#!/usr/bin/env bash
# Installs the Debian packages toolregistry needs to build, run and test.
# Idempotent: runs `apt-get update` and `apt-get install` only when something is missing.
# Usage: scripts/install-deps.sh [build|test]   (default: build)
set -euo pipefail

build_packages=(
  g++ cmake make ccache pkg-config
  libboost-json1.81-dev libboost-url1.81-dev   # bring the 1.81 Beast/Asio headers; never libboost-dev (1.74)
  libssl-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev
)
test_packages=(nodejs npm sqlite3 ca-certificates chromium prometheus dpkg-dev postgresql nginx
  clang-14 libclang-rt-14-dev)   # make fuzz: libFuzzer

wanted=("${build_packages[@]}")
if [ "${1:-build}" = "test" ]; then
  wanted+=("${test_packages[@]}")
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
# A Node.js from elsewhere (not Debian's package) also satisfies the test tooling's npm.
if command -v npm >/dev/null 2>&1; then
  filtered=()
  for pkg in "${missing[@]}"; do
    case "$pkg" in nodejs|npm) ;; *) filtered+=("$pkg") ;; esac
  done
  missing=("${filtered[@]}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
