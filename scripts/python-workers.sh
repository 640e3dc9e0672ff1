#!/usr/bin/env bash
# Makes (or reuses) the Python virtual environment of the real-worker test
# (tests/tests/python_start_signal.rs: Celery and TaskIQ workers with their OpenTelemetry
# instrumentations) and prints its python's path as the last line of standard output.
#
# Usage: scripts/python-workers.sh [VENV_DIR]. Default VENV_DIR: python-workers-venv in Cargo's
# target directory. The environment is kept while scripts/python-workers-requirements.txt is
# unchanged, and remade from scratch when it changes or an earlier install broke off. Concurrent
# calls wait for each other (flock). Progress goes to standard error.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

requirements=$PWD/scripts/python-workers-requirements.txt
python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 ||
  { echo "python-workers: $python not found: install Python 3.10 or newer with venv and pip" >&2; exit 1; }

if [ $# -ge 1 ]; then
  case $1 in /*) venv=$1 ;; *) venv=$caller/$1 ;; esac
else
  # Cargo's target directory (CARGO_TARGET_DIR or the build configuration may move it).
  target=$(${CARGO:-cargo} metadata --format-version 1 --no-deps --locked |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  venv=$target/python-workers-venv
fi
mkdir -p "$(dirname "$venv")"

exec 9>"$venv.lock"
flock 9

# The copy of the requirements is written last: it marks a complete install.
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/installed-requirements.txt"; then
  echo "python-workers: creating $venv" >&2
  started=$SECONDS
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2 ||
    { echo "python-workers: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2 ||
    { echo "python-workers: pip could not install $requirements" >&2; exit 1; }
  cp "$requirements" "$venv/installed-requirements.txt"
  echo "python-workers: created in $((SECONDS - started)) s" >&2
fi
echo "$venv/bin/python"
