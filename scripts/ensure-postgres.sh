#!/usr/bin/env bash
# Makes sure the PostgreSQL the tests use answers at $PGHOST:$PGPORT (default 127.0.0.1:5432).
# On these machines the server is installed but may be stopped; start it with the cluster tools.
set -euo pipefail
host=${PGHOST:-127.0.0.1}
port=${PGPORT:-5432}
ready() { pg_isready -h "$host" -p "$port" -q 2>/dev/null; }
if ready; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
fi
for _ in $(seq 1 30); do
  if ready; then exit 0; fi
  sleep 1
done
echo "PostgreSQL does not answer at $host:$port. Start it, or point DATABASE_URL at one (user with CREATEDB)." >&2
exit 1
