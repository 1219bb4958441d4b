#!/usr/bin/env bash
# bottle-launch's speed: launch-to-agent-running and teardown through the
# Engine API against two peers doing the same, alternated round by round:
# the docker CLI doing the same steps, and docker compose v5 bringing the
# same bottle up (`up -d --wait`) and down (`down --volumes`) from an
# equivalent compose file. Medians of BENCH_ROUNDS rounds (default 7); prints
# the ratios (targets: launch <= 1 against both; teardown <= 0.67 against
# the CLI, <= 1 against compose).
# Run by `make bench`, which holds the engine-test lock: do not run it
# while engine tests run (or run it as: scripts/engine-lock.sh run scripts/bench-launch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-images.sh
# The compose plugin (built once, cached: scripts/compose.sh) in a
# DOCKER_CONFIG of the bench's own; the user's config.json and contexts are
# linked in, so the engine stays the one the user's context names.
outer=${DOCKER_CONFIG:-$HOME/.docker}
cfg=$(mktemp -d "${TMPDIR:-/tmp}/bottle-bench-docker.XXXXXX")
trap 'rm -rf "$cfg"' EXIT
scripts/compose.sh install "$cfg"
for f in config.json contexts; do
	if [ -e "$outer/$f" ]; then ln -s "$outer/$f" "$cfg/$f"; fi
done
export DOCKER_CONFIG=$cfg
BOTTLE_BENCH_ENGINE=1 go test -count=1 -run '^$' -bench '^BenchmarkLaunchVsPeers$' -benchtime 1x ./internal/launch/
