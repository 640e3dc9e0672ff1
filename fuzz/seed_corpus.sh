#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ (generated, not committed) with every recorded fixture request of
# collector/tests/fixtures, each as protobuf (.pb) and as OTLP/JSON (.json), plus the hand-written
# seeds (seeds/<target>/: sources no fixture covers) and the regression inputs
# (regressions/<target>/). Log exports (`*-logs-*`) seed otlp_logs, trace exports otlp_traces.
# Adds to a corpus that is already there (libFuzzer's finds are kept); `rm -rf corpus` first for
# a fresh one.
set -euo pipefail
cd "$(dirname "$0")"

fixtures=../collector/tests/fixtures
targets=(otlp_traces otlp_logs)
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
done

copied=0
for system in celery celery-worker taskiq taskiq-worker bullmq; do
    for file in "$fixtures/$system"/*.pb "$fixtures/$system"/*.json; do
        case "$(basename "$file")" in
            *-logs-*) target=otlp_logs ;;
            *) target=otlp_traces ;;
        esac
        # The system in the name: scenario names repeat across systems.
        cp "$file" "corpus/$target/fixture-$system-$(basename "$file")"
        copied=$((copied + 1))
    done
done

for target in "${targets[@]}"; do
    for folder in seeds regressions; do
        for file in "$folder/$target"/*; do
            [ -f "$file" ] || continue
            [ "$(basename "$file")" = README.md ] && continue
            cp "$file" "corpus/$target/$folder-$(basename "$file")"
            copied=$((copied + 1))
        done
    done
done

echo "copied $copied seed files:"
for target in "${targets[@]}"; do
    echo "  corpus/$target: $(find "corpus/$target" -type f | wc -l) files"
done
