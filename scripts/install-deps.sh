#!/usr/bin/env bash
# Installs the Debian packages toolregistry needs to build, run, test and measure.
# Idempotent: runs `apt-get update` and `apt-get install` only when something is missing.
# Usage: scripts/install-deps.sh [build|test|bench]   (default: build; each includes build)
#
# Every external command that a script, a Makefile target or a test calls comes from a package
# listed here:
#   build: g++ cmake make ccache pkg-config, the -dev libraries
#   test:  node/npm (test peers), sqlite3, psql/pg_dump/initdb (postgresql), chromium, promtool
#          (prometheus), cpack's dpkg-shlibdeps (dpkg-dev) and `file` (file), nginx, the openssl
#          CLI (outbound_pool and mcp_https_rule make a CA), `ip` (iproute2) and `nsenter`
#          (util-linux) for mcp_https_rule's network namespace,
#          GNU time (openapi_import.test.mjs measures peak RSS), stress-ng (make pg-stress-test),
#          clang-14 + libclang-rt-14-dev (make fuzz: libFuzzer), clang-16 + libclang-rt-16-dev
#          (the second compiler's build and its sanitizers), getent/runuser (base system)
#   bench: wrk, curl, nginx, sqlite3, postgresql, valgrind (BENCH_PROFILE=1)
set -euo pipefail

build_packages=(
  g++ cmake make ccache pkg-config
  libboost-json1.81-dev libboost-url1.81-dev   # bring the 1.81 Beast/Asio headers; never libboost-dev (1.74)
  libssl-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
  libspdlog-dev libfmt-dev libcli11-dev libgtest-dev
  libvalijson-dev libyaml-cpp-dev   # tool arguments' JSON Schema checks; YAML OpenAPI documents
)
test_packages=(nodejs npm sqlite3 ca-certificates openssl chromium prometheus dpkg-dev file postgresql nginx time stress-ng
  iproute2 util-linux
  clang-14 libclang-rt-14-dev   # make fuzz: libFuzzer
  clang-16 libclang-rt-16-dev)  # make clang-test: the second compiler
bench_packages=(wrk curl nginx sqlite3 postgresql valgrind)

wanted=("${build_packages[@]}")
case "${1:-build}" in
  build) ;;
  test) wanted+=("${test_packages[@]}") ;;
  bench) wanted+=("${bench_packages[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

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
