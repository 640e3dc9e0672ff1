#!/usr/bin/env bash
# Builds tasklens and runs it. With no arguments it prepares the database
# (TASKLENS_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/tasklens): creates it if
# missing, applies the schema and creates the coming days' partitions. Any arguments are passed
# to the tasklens command instead, e.g. `scripts/run.sh retention --retention-days 7`.
set -euo pipefail
cd "$(dirname "$0")/.."
export TASKLENS_DATABASE_URL=${TASKLENS_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tasklens}}
cargo build --release --locked -p tasklens
if [ $# -eq 0 ]; then set -- migrate; fi
exec target/release/tasklens "$@"
