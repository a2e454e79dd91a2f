#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: its own folder, a free port on 127.0.0.1 only,
# its socket inside the folder, trust authentication for loopback. Tuned for tests, not for
# data (fsync off: a stopped server loses nothing, a crashed machine would).
#
#   scripts/pg-cluster.sh start DIR   creates and starts it; prints its admin URL (also in DIR/url)
#   scripts/pg-cluster.sh stop DIR    stops it (immediately) and removes DIR
#   scripts/pg-cluster.sh kill DIR    stops it at once (pg_ctl stop -m immediate), keeping DIR
#   scripts/pg-cluster.sh resume DIR  starts a killed cluster again on the same port
#   scripts/pg-cluster.sh run CMD…    starts one in a temp folder, runs CMD with
#                                     TOOLREGISTRY_TEST_PG_URL set, then stops and removes it
#                                     (also when CMD fails or is interrupted); CMD's exit status
#
# initdb refuses to run as root: as root, the cluster runs as the unprivileged user
# $PG_CLUSTER_USER (default nobody).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ "$cmd" = run ] && [ $# -ge 2 ]; then
  shift
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  trap '"$0" stop "$tmp/cluster"; rm -rf "$tmp"' EXIT
  trap 'exit 130' INT TERM
  url=$("$0" start "$tmp/cluster")
  status=0
  TOOLREGISTRY_TEST_PG_URL=$url "$@" || status=$?
  exit $status
fi
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop|kill|resume DIR | run CMD…" >&2
  exit 2
fi

pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ ! -x "$pg_bin/initdb" ]; then
  echo "pg-cluster: no PostgreSQL server found (apt-get install postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "${PG_CLUSTER_USER:-nobody}" -- "$@"
  else
    "$@"
  fi
}

pg_start() {  # port
  as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
    -o "-p $1 -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
      chown "${PG_CLUSTER_USER:-nobody}" "$dir"
      if ! as_owner test -w "$dir"; then
        echo "pg-cluster: ${PG_CLUSTER_USER:-nobody} cannot reach $dir (a parent folder is private)" >&2
        exit 1
      fi
    fi
    as_owner "$pg_bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
max_connections = 400
fsync = off
full_page_writes = off
synchronous_commit = on
shared_buffers = 64MB
CONF
    # A free port: a random one, tried again if it turns out to be taken.
    for _ in 1 2 3 4 5 6 7 8; do
      port=$((20000 + RANDOM % 30000))
      if pg_start "$port" 2>/dev/null; then
        echo "$port" >"$dir/port"
        echo "postgresql://postgres@127.0.0.1:$port/postgres" | tee "$dir/url"
        exit 0
      fi
    done
    echo "pg-cluster: could not start PostgreSQL; see $dir/log" >&2
    exit 1
    ;;
  kill)
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null
    ;;
  resume)
    pg_start "$(cat "$dir/port")"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop|kill|resume DIR" >&2
    exit 2
    ;;
esac
