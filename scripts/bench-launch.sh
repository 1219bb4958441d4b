#!/usr/bin/env bash
# bottle-launch's speed: launch-to-agent-running and teardown through the
# Engine API against the docker CLI doing the same steps (compose v2, the
# fairer yardstick, is not installed here). Medians of BENCH_ROUNDS rounds
# (default 7); prints the ratios (targets: launch <= 1, teardown <= 0.67).
# Run by `make bench`, which holds the engine-test lock: do not run it
# while engine tests run (or run it as: scripts/engine-lock.sh run scripts/bench-launch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-images.sh
BOTTLE_BENCH_ENGINE=1 go test -count=1 -run '^$' -bench '^BenchmarkLaunchVsCLI$' -benchtime 1x ./internal/launch/
