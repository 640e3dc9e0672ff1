#!/usr/bin/env bash
# Runs every check and test of the project, as CI does (.ci/run calls this script).
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
scripts/ensure-postgres.sh
echo "== format"; cargo fmt --all -- --check
echo "== lints";  cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests";  cargo test --workspace --all-targets --locked
