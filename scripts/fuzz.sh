#!/usr/bin/env bash
# Runs every libFuzzer target (fuzz/*_fuzzer.cpp) for FUZZ_SECONDS each, on a copy of its seed
# corpus (fuzz/corpus/<name>/) in a temporary folder, so the repository's corpus stays as
# committed. Fails when a target finds a crash, a leak, a timeout or an out-of-memory; the
# input is kept in <build dir>/artifacts/. FUZZ_SEED, when set, fixes libFuzzer's seed, so the
# same inputs are tried in the same order on every run (up to how many fit in the time).
# Usage: scripts/fuzz.sh <build dir> [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:?usage: scripts/fuzz.sh <build dir> [target...]}
shift
seconds=${FUZZ_SECONDS:-60}
seed=()
if [ -n "${FUZZ_SEED:-}" ]; then seed=(-seed="$FUZZ_SEED"); fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(router connection request_body url integration oauth_token sts_xml)
fi

artifacts="$build_dir/artifacts"
mkdir -p "$artifacts"
# In memory when possible: the router target's store commits with an fsync per write.
work=$(mktemp -d -p "$([ -d /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")" fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

failed=()
for name in "${targets[@]}"; do
  mkdir -p "$work/$name"
  cp -r "fuzz/corpus/$name/." "$work/$name/"
  dict=()
  # The longest input libFuzzer makes: 16 KiB; 32 KiB for the connection target, whose inputs
  # must get past the server's 16 KiB head limit (its longest seed is 21 KB).
  max_len=16384
  case "$name" in
    router) dict=(-dict=fuzz/router.dict) ;;
    connection) dict=(-dict=fuzz/connection.dict) max_len=32768 ;;
    request_body | integration | oauth_token) dict=(-dict=fuzz/json.dict) ;;
    sts_xml) dict=(-dict=fuzz/sts_xml.dict) ;;
  esac
  echo "fuzz: $name for ${seconds}s${FUZZ_SEED:+ from seed $FUZZ_SEED}"
  # -timeout: one input taking this long is a bug (a hang); -rss_limit_mb: so is this much memory.
  mkdir -p "$work/$name.tmp"
  if TMPDIR="$work/$name.tmp" ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$build_dir/${name}_fuzzer" "$work/$name" "${dict[@]}" "${seed[@]}" -max_total_time="$seconds" \
      -rss_limit_mb=2048 -timeout=10 -max_len="$max_len" -print_final_stats=1 \
      -artifact_prefix="$artifacts/${name}-" >"$work/$name.log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$work/$name.log" || true
  else
    failed+=("$name")
    tail -n 60 "$work/$name.log"
    echo "fuzz: $name FAILED; the input is in $artifacts/"
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  # Again at the very end, where a CI log's tail shows it: what each failure was, its stack's
  # first frames and where its input was written.
  for name in "${failed[@]}"; do
    echo "fuzz: $name failed with:"
    grep -E -A12 "^==[0-9]+== ?ERROR|^fuzz check failed|ALARM: working on the last Unit|out-of-memory|deadly signal" \
      "$work/$name.log" | head -n 40 || true
    grep -E "^SUMMARY|Test unit written to" "$work/$name.log" | tail -n 2 || true
  done
  echo "fuzz: failures in ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
