#!/usr/bin/env bash
# Builds what tasklens needs (the page, when npm is there, and the release binary) and runs it.
# With no arguments it runs `tasklens up --demo`: collector, API and page in one process on an
# embedded database in .tasklens-data/, with demo traffic, so the page is alive at once.
# Any arguments go to the tasklens command instead: `scripts/run.sh up` (no demo),
# `scripts/run.sh collector --help`, `scripts/run.sh up --database-url postgres://...`.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v npm >/dev/null 2>&1; then
  if [ ! -d ui/node_modules ]; then
    # Installs what package-lock.json pins (see scripts/test.sh for why not `npm ci`).
    (cd ui && npm install --no-audit --no-fund)
  fi
  # Rebuild the page when a source is newer than the last build.
  if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/src ui/index.html ui/package.json -newer ui/dist/index.html -print -quit)" ]; then
    (cd ui && npm run build)
  fi
else
  echo "npm not found: running without the page (the API and collector still work)" >&2
fi
cargo build --release --locked -p tasklens
if [ $# -eq 0 ]; then set -- up --demo; fi
exec target/release/tasklens "$@"
