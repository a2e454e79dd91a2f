#!/usr/bin/env bash
# Installs the npm test peers pinned in tests/package-lock.json (a Node 22 binary among them),
# only when tests/node_modules is missing or older than the lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests"
stamp=node_modules/.install-stamp
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
touch "$stamp"
