#!/usr/bin/env bash
# Seeds N users (user-1 .. user-N) for one customer integration, writing directly into a
# toolregistry SQLite database with Debian's sqlite3 CLI: one INSERT ... SELECT over a
# recursive CTE, in one transaction (one fsync).
#
# Usage: bench/seed-users.sh DB_PATH CUSTOMER_INTEGRATION_ID N
#
# Preconditions: the server has created the schema in DB_PATH once (any `toolregistry serve`
# or admin command against it), the customer integration exists, and NO toolregistry process
# uses the database while this runs (stop the server first).
#
# The rows look like users created by POST .../auth-url for an OAuth2 integration that have
# not connected yet: active = 0, no credentials, created_at = updated_at = now (Unix ms).
# Existing (customer_integration_id, user_id) pairs are left alone (INSERT OR IGNORE).
# Prints one line: "seeded N users in S s".
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 DB_PATH CUSTOMER_INTEGRATION_ID N" >&2
  exit 2
fi
db=$1 cid=$2 n=$3
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then echo "seed-users: N must be a positive number" >&2; exit 2; fi
if ! [[ $cid =~ ^[0-9a-f-]{36}$ ]]; then echo "seed-users: bad customer integration id" >&2; exit 2; fi
if [ ! -f "$db" ]; then echo "seed-users: no database at $db" >&2; exit 1; fi
command -v sqlite3 >/dev/null || { echo "seed-users: sqlite3 CLI missing (apt-get install sqlite3)" >&2; exit 1; }

exists=$(sqlite3 "$db" "SELECT count(*) FROM customer_integrations WHERE customer_integration_id = '$cid'")
if [ "$exists" != 1 ]; then echo "seed-users: customer integration $cid not in $db" >&2; exit 1; fi

start=$EPOCHREALTIME
# The big page cache keeps the B-tree of the WITHOUT ROWID table in memory while it grows.
sqlite3 "$db" >/dev/null <<SQL
PRAGMA busy_timeout = 5000;
PRAGMA cache_size = -262144;
BEGIN IMMEDIATE;
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $n)
INSERT OR IGNORE INTO integration_users
  (customer_integration_id, user_id, active, created_at, updated_at)
SELECT '$cid', 'user-' || n, 0, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
FROM seq;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
end=$EPOCHREALTIME
elapsed_us=$(( ${end/./} - ${start/./} ))
printf 'seeded %d users in %d.%03d s\n' "$n" $((elapsed_us / 1000000)) $(((elapsed_us / 1000) % 1000))
