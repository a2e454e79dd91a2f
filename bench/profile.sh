#!/usr/bin/env bash
# Where time goes: runs toolregistry under valgrind's callgrind (instruction counts, stable
# on a noisy machine) and drives a fixed number of requests of scenario (a) and (c) through
# it, one keep-alive connection (curl), then writes the top functions per scenario.
#
# Usage: bench/profile.sh            (BENCH_PROFILE_REQUESTS=2000 by default; BENCH_BIN: the
#                                     binary, default build/toolregistry)
# Also dumps the start-up (exec to the listening line) separately.
# Writes bench/results/profile-a.txt, profile-c.txt, profile-startup.txt (callgrind_annotate,
# self and inclusive) and bench/results/profile.md (instructions per request, top functions).
# Needs a built server (make build); installs valgrind if missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=${BENCH_BIN:-$ROOT/build/toolregistry}   # bench/run.sh passes its copy
REQUESTS=${BENCH_PROFILE_REQUESTS:-2000}
RESULTS_DIR=$ROOT/bench/results
export TOOLREGISTRY_MASTER_KEY=YmVuY2gtbWFzdGVyLWtleS0wMTIzNDU2Nzg5YWJjZGU=

log() { printf '[profile %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

missing=()
for pkg in valgrind curl; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q "${missing[@]}"
fi
[ -x "$BIN" ] || die "no server binary at $BIN (make build)"

TMP=$(mktemp -d /tmp/toolregistry-profile.XXXXXX)
# A private copy of the binary: a rebuild meanwhile must not change what is profiled.
cp -p "$BIN" "$TMP/toolregistry"
BIN_BUILT=$(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ)
BIN=$TMP/toolregistry
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_listening() {  # out-file -> echoes the port
  local i line
  for i in $(seq 1 3000); do
    line=$(grep -m1 '^listening on http://' "$1" || true)
    if [ -n "$line" ]; then echo "${line##*:}"; return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(tail -3 "$TMP"/*.err)"
    sleep 0.02
  done
  die "server did not print its listening line"
}

# The same data as bench/run.sh: ten integrations, the OAuth2 one (github) gets the users.
DB=$TMP/profile.db
"$BIN" serve --database "sqlite:$DB" --listen 127.0.0.1:0 --no-access-log >"$TMP/setup.out" 2>"$TMP/setup.err" &
SERVER_PID=$!
wait_listening "$TMP/setup.out" >/dev/null
WS=$(sed -n 's/^bootstrap workspace default: //p' "$TMP/setup.out")
KEY=$(sed -n 's/^bootstrap api key: //p' "$TMP/setup.out")
enable() {
  "$BIN" integration enable --workspace "$WS" --database "sqlite:$DB" --json "$@" \
    | sed -n 's/.*"customerIntegrationId":"\([^"]*\)".*/\1/p'
}
CID=$(enable --integration github --client-id bench-client --client-secret bench-secret)
for id in open-meteo hacker-news stripe openai anthropic groq mistral elevenlabs huggingface; do
  [ -n "$(enable --integration "$id")" ] || die "could not enable $id"
done
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""
bench/seed-users.sh "$DB" "$CID" 1000 >&2

# As in bench/run.sh: the per-key rate limit (if any) out of reach, so that no request is a 429.
TR_FLAGS=(--no-access-log)
if "$BIN" serve --help 2>/dev/null | grep -q -- '--rate-limit'; then
  TR_FLAGS+=(--rate-limit 1000000000 --rate-burst 1000000000)
fi
log "starting the server under callgrind"
"$(command -v valgrind)" --tool=callgrind --callgrind-out-file="$TMP/callgrind.out.%p" \
  "$BIN" serve --database "sqlite:$DB" --listen 127.0.0.1:0 "${TR_FLAGS[@]}" \
  >"$TMP/cg.out" 2>"$TMP/cg.err" &
SERVER_PID=$!
PORT=$(wait_listening "$TMP/cg.out")
# Part 1: start-up, from exec to the listening line (plus the time to notice it).
callgrind_control --dump=startup "$SERVER_PID" >/dev/null
BASE=http://127.0.0.1:$PORT/v1/integrations

# curl configs: REQUESTS URLs each, sent one after another on one keep-alive connection.
for i in $(seq 1 "$REQUESTS"); do echo "url = \"$BASE\""; echo "output = /dev/null"; done >"$TMP/a.curl"
for i in $(seq 1 "$REQUESTS"); do
  echo "url = \"$BASE/$CID/users/p-$i/auth-url\""; echo "output = /dev/null"
done >"$TMP/c.curl"
for i in $(seq 1 50); do echo "url = \"$BASE\""; echo "output = /dev/null"; done >"$TMP/warm.curl"

codes() { sort | uniq -c | tr '\n' ' '; }
log "warm-up: 50 GET /v1/integrations"
curl -s -K "$TMP/warm.curl" -H "x-api-key: $KEY" -w '%{http_code}\n' | codes >&2; echo >&2
callgrind_control -z "$SERVER_PID" >/dev/null

log "(a) $REQUESTS x GET /v1/integrations"
A_START=$EPOCHREALTIME
A_CODES=$(curl -s -K "$TMP/a.curl" -H "x-api-key: $KEY" -w '%{http_code}\n' | codes)
A_END=$EPOCHREALTIME
callgrind_control --dump=scenario-a "$SERVER_PID" >/dev/null
log "(a) status codes: $A_CODES"

log "(c) $REQUESTS x POST .../auth-url, a new user each"
C_START=$EPOCHREALTIME
C_CODES=$(curl -s -K "$TMP/c.curl" -X POST -H "x-api-key: $KEY" -H 'content-type: application/json' \
  -d '{}' -w '%{http_code}\n' | codes)
C_END=$EPOCHREALTIME
callgrind_control --dump=scenario-c "$SERVER_PID" >/dev/null
log "(c) status codes: $C_CODES"

kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""

# Dumps (each zeroes the counters): .1 start-up, .2 (a), .3 (c).
S_FILE=$(ls "$TMP"/callgrind.out.*.1) A_FILE=$(ls "$TMP"/callgrind.out.*.2) C_FILE=$(ls "$TMP"/callgrind.out.*.3)
mkdir -p "$RESULTS_DIR"
annotate() {  # file title out [what was run]
  {
    echo "# $2: callgrind, ${4:-$REQUESTS requests on one keep-alive connection}, binary built $BIN_BUILT"
    echo "## self (exclusive) instructions"
    callgrind_annotate --inclusive=no --threshold=99.5 "$1" 2>/dev/null | sed -n 1,120p
    echo
    echo "## inclusive instructions"
    callgrind_annotate --inclusive=yes --threshold=99.5 "$1" 2>/dev/null | sed -n 1,200p
  } >"$3"
}
annotate "$A_FILE" "(a) GET /v1/integrations" "$RESULTS_DIR/profile-a.txt"
annotate "$C_FILE" "(c) POST .../auth-url" "$RESULTS_DIR/profile-c.txt"
annotate "$S_FILE" "start-up (exec to listening)" "$RESULTS_DIR/profile-startup.txt" "1,000 users"

total_ir() { awk '/^summary:|^totals:/ { print $2; exit }' "$1"; }
# One markdown table per scenario: share of instructions and instructions per request for the
# top functions (self), names shortened to something readable.
top_table() {  # file mode(self|inclusive) count [divisor, default: REQUESTS]
  local flag=(--inclusive=no) div=${4:-$REQUESTS}
  [ "$2" = inclusive ] && flag=(--inclusive=yes)
  callgrind_annotate "${flag[@]}" --threshold=100 "$1" 2>/dev/null \
    | awk -v n="$3" -v req="$div" -v mode="$2" '
        /^-+$/ { dash++; next }
        dash >= 3 && NF >= 2 && $1 ~ /^[0-9,]+$/ {
          line = $0
          ir = $1; gsub(",", "", ir)
          if (!match(line, /\( *[0-9.]+%\)/)) next
          pct = substr(line, RSTART + 1, RLENGTH - 2); gsub(/ /, "", pct)
          name = substr(line, RSTART + RLENGTH); sub(/^ +/, "", name)
          obj = ""
          if (match(name, / \[[^]]*\]$/)) { obj = substr(name, RSTART + 2, RLENGTH - 3); name = substr(name, 1, RSTART - 1) }
          sub(/^.*\//, "", obj)
          sub(/^[^:]*:/, "", name)   # drop the source file name ("???" when unknown)
          # Frames that stay on a thread stack across a dump (thread entry points, main, the
          # event loops) show their inclusive count in the self listing: a callgrind
          # artifact, not where instructions go.
          if (mode == "self" && (name ~ /^\(below main\)$|^main$|^__libc_start_main|^clone$|^start_thread$|_M_run\(\)$|^tr::cli::|^tr::http::Server::(Impl::)?Run\(|^std::_Function_handler|^boost_asio_detail_posix_thread_function$|posix_thread::func<.*>::run\(\)$/ || (obj ~ /^(ld-linux|libstdc|libc\.)/ && name ~ /^0x/))) next
          # Inclusive: only our own functions (the self listing covers the libraries).
          if (mode == "inclusive" && name !~ /(^|[ (<])tr::/) next
          # Shorten C++ names: template arguments and parameter lists collapsed.
          do { before = name; gsub(/<[^<>]*>/, "<>", name) } while (name != before)
          do { before = name; gsub(/\([^()]*\)/, "()", name) } while (name != before)
          gsub(/ \[clone [^]]*\]/, "", name)
          if (obj != "" && obj != "toolregistry") name = name " (" obj ")"
          # The same function from several source files (inlining) is listed once: its
          # largest entry.
          if (name in seen) next
          seen[name] = 1
          gsub(/\|/, "\\|", name)
          if (length(name) > 140) name = substr(name, 1, 137) "..."
          if (++shown <= n) printf "| %s | %.0f | `%s` |\n", pct, ir / req, name
        }'
}
{
  echo "# Profile (callgrind): where the instructions go"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); valgrind $(valgrind --version | sed 's/valgrind-//'); $REQUESTS requests per scenario, sequential on one keep-alive connection (curl), after 50 warm-up requests; 1,000 users, 10 integrations"
  echo "- counts per part: start-up (exec to the listening line), then each scenario's requests only (callgrind_control -z after the warm-up, --dump after each scenario); all threads of the server"
  echo "- (a) status codes: $A_CODES; wall time under callgrind $(awk -v a="$A_START" -v b="$A_END" 'BEGIN { printf "%.1f", b - a }') s"
  echo "- (c) status codes: $C_CODES; wall time under callgrind $(awk -v a="$C_START" -v b="$C_END" 'BEGIN { printf "%.1f", b - a }') s"
  echo
  for s in a c startup; do
    f=$A_FILE; title="(a) GET /v1/integrations"
    [ $s = c ] && { f=$C_FILE; title="(c) POST .../auth-url (new user + connect session, durable)"; }
    [ $s = startup ] && { f=$S_FILE; title="Start-up: exec to the listening line (1,000 users)"; }
    tot=$(total_ir "$f" | tr -d ,)
    echo "## $title"
    echo
    div=$REQUESTS col="Ir/request"
    if [ $s = startup ]; then
      div=1 col="Ir"
      echo "Total: $tot instructions."
    else
      echo "Total: $(awk -v t="$tot" -v r="$REQUESTS" 'BEGIN { printf "%.0f", t / r }') instructions per request."
    fi
    echo
    echo "Self (exclusive) instructions, top 25:"
    echo
    echo "| % | $col | function |"
    echo "|---|---|---|"
    top_table "$f" self 25 "$div"
    echo
    echo "Inclusive, toolregistry's own functions (namespace tr), top 30:"
    echo
    echo "| % | $col | function |"
    echo "|---|---|---|"
    top_table "$f" inclusive 30 "$div"
    echo
  done
} >"$RESULTS_DIR/profile.md"
cat "$RESULTS_DIR/profile.md"
