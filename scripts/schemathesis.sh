#!/usr/bin/env bash
# Fuzzes the dashboard API against its own OpenAPI document with schemathesis (`--checks all`):
# every schema-valid request must be accepted, every invalid one refused with a 4xx, every
# answer must match the document (status, content type, body), never a 5xx. scripts/test.sh
# calls it after the Rust tests.
#
# It makes a virtual environment in target/schemathesis-venv (kept while
# scripts/schemathesis-requirements.txt is unchanged), builds `tasklens` and `tasklens-bench`,
# fills a new PostgreSQL database with realistic runs (`tasklens-bench generate`, through the
# store), then runs schemathesis twice, each against a `tasklens api` of its own on a free port:
# without a token, and with `--api-token` (schemathesis sends the header; `ignored_auth` checks
# that a request without it is refused). The APIs are stopped and the database dropped whatever
# happens. Settings: scripts/schemathesis.toml and scripts/schemathesis_hooks.py. Logs and JUnit
# reports: target/schemathesis/.
#
# Environment: DATABASE_URL (the server and a user allowed to create databases; default
# postgres://postgres@127.0.0.1:5432/postgres), SCHEMATHESIS_MAX_EXAMPLES (test cases per
# operation and phase, default 100), SCHEMATHESIS_SEED (replays a run; its seed is printed),
# SCHEMATHESIS_TIME_LIMIT (seconds one schemathesis run may take, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."

server_url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-100}
token_max_examples=${SCHEMATHESIS_TOKEN_MAX_EXAMPLES:-25}
time_limit=${SCHEMATHESIS_TIME_LIMIT:-600}
started=$SECONDS
# Cargo's target directory (CARGO_TARGET_DIR or the build configuration may move it).
target=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
venv=$target/schemathesis-venv
requirements=scripts/schemathesis-requirements.txt
work=$target/schemathesis

echo "== schemathesis: environment"
if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s "$requirements" "$venv/installed-requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/installed-requirements.txt"
fi
"$venv/bin/schemathesis" --version

echo "== schemathesis: build"
cargo build --locked -p tasklens --bin tasklens -p tasklens-bench --bin tasklens-bench
tasklens=$target/debug/tasklens
bench=$target/debug/tasklens-bench

rm -rf "$work"
mkdir -p "$work"
database=tasklens_schemathesis_$$_$RANDOM
# The same server and credentials, another database (any query string such as sslmode kept).
database_url=$(python3 - "$server_url" "$database" <<'EOF'
import sys
from urllib.parse import urlsplit, urlunsplit
url = urlsplit(sys.argv[1])
print(urlunsplit(url._replace(path="/" + sys.argv[2])))
EOF
)

api_pid=
seeded=
stop_api() {
  [ -n "$api_pid" ] || return 0
  kill -TERM "$api_pid" 2>/dev/null || true
  # Graceful stop closes WebSockets first; give it 15 s, then kill.
  local deadline=$((SECONDS + 15))
  while kill -0 "$api_pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  kill -KILL "$api_pid" 2>/dev/null || true
  { wait "$api_pid"; } 2>/dev/null || true
  api_pid=
}
cleanup() {
  local status=$?
  stop_api
  if [ -n "$seeded" ]; then
    "$bench" --database-url "$database_url" drop-database >/dev/null 2>&1 ||
      echo "schemathesis: could not drop database $database" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== schemathesis: seed $database"
# Three days of runs ending now: every status, retries, tracebacks, several task types.
seeded=1
"$bench" --database-url "$database_url" generate --fresh --days 3 --rows-per-day 3000 --seed 18 \
  2>"$work/seed.log" ||
  { cat "$work/seed.log" >&2; exit 1; }
tail -n 2 "$work/seed.log"

# Starts `tasklens api` on a free port with the given extra flags; sets api_pid and api_url.
start_api() {
  local log=$1
  shift
  : >"$log"
  "$tasklens" api --database-url "$database_url" --http-addr 127.0.0.1:0 --read-cache-ms 0 \
    "$@" >"$log" 2>&1 &
  api_pid=$!
  local deadline=$((SECONDS + 60)) addr=
  while [ -z "$addr" ]; do
    addr=$(sed -n 's|^dashboard API ready on http://\([^ ]*\) .*|\1|p' "$log")
    if [ -n "$addr" ]; then break; fi
    if ! kill -0 "$api_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "schemathesis: the API did not start:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  api_url=http://$addr
  until curl -fsS "$api_url/readyz" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "schemathesis: the API at $api_url is not ready:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
}

failed=0
# Runs schemathesis against the running API; extra arguments go to schemathesis.
fuzz() {
  local name=$1 examples=$2
  shift 2
  local seed=()
  if [ -n "${SCHEMATHESIS_SEED:-}" ]; then seed=(--seed "$SCHEMATHESIS_SEED"); fi
  echo "== schemathesis: $name ($api_url, $examples examples per operation and phase)"
  if ! SCHEMATHESIS_HOOKS=scripts/schemathesis_hooks.py \
    timeout --kill-after=10 "$time_limit" "$venv/bin/schemathesis" \
    --config-file scripts/schemathesis.toml run \
    "$api_url/api/openapi.json" \
    --checks all \
    --max-examples "$examples" \
    --request-timeout 20 \
    --generation-database none \
    --no-color \
    --report junit --report-junit-path "$work/$name.junit.xml" \
    "${seed[@]}" "$@"; then
    echo "schemathesis: $name FAILED; the API's log ($work/$name.api.log) ends with:" >&2
    tail -n 40 "$work/$name.api.log" >&2
    failed=1
  fi
}

start_api "$work/no-token.api.log"
fuzz no-token "$max_examples"
stop_api

token=schemathesis-$RANDOM$RANDOM
start_api "$work/token.api.log" --api-token "$token"
fuzz token "$token_max_examples" --header "Authorization: Bearer $token"
stop_api

echo "== schemathesis: done in $((SECONDS - started)) s"
exit "$failed"
