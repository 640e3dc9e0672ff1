#!/usr/bin/env bash
# Runs every check and test of the project, as CI does (.ci/run calls this script): Rust format,
# lints, tests against a real PostgreSQL and the doc examples, schemathesis against the API's
# OpenAPI document, then the page's type check, unit tests, generated API types, build, size
# budget and its end-to-end test in Debian's Chromium on the real stack.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
scripts/ensure-postgres.sh
scripts/ensure-chromium.sh
echo "== format"; cargo fmt --all -- --check
echo "== lints";  cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== tests";  cargo test --workspace --all-targets --locked
echo "== doc examples"; cargo test --workspace --doc --locked
echo "== API contract"; scripts/schemathesis.sh
echo "== page"
cd ui
# `npm install` installs exactly what package-lock.json pins (the lock is in sync with
# package.json); `npm ci` refuses it because Vite lists a Windows-only optional package that
# this registry does not serve, so the lock cannot name it.
npm install --no-audit --no-fund
npm run typecheck
npm test
npm run check:api-types
npm run build
npm run check:size
echo "== page end to end"
npm run e2e
