#!/usr/bin/env bash
# How long after `kill -9` of a foreground bottle-launch until nothing of its
# bottle is left on the engine (its guardian ends it): median of
# BENCH_ROUNDS rounds (default 5); target <= 5 s. The agent is the test
# agent in `sleep` mode (it exits on SIGTERM). Polls the engine every
# ~0.1 s with the docker CLI (the figure includes up to one poll's delay).
# Run by `make bench`, which holds the engine-test lock and builds bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/test-images.sh
[ -x bin/bottle-launch ] || make -s build
rounds=${BENCH_ROUNDS:-5}
token=$(printf '%04x%04x' $RANDOM $RANDOM)
export BOTTLE_PREFIX="bt${token}-"
work=$(mktemp -d)
export BOTTLE_STATE_DIR="$work/state"
cleanup() {
	bin/bottle-cleanup --yes >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/spec.json" <<'JSON'
{"agent": "guard", "image": "bottle-test/agent", "command": ["sleep"], "sidecar": {"image": "bottle-test/pipelock"}}
JSON

left() { # left PROJECT: prints what the engine holds of it
	docker ps -aq --filter "label=com.docker.compose.project=$1"
	docker network ls -q --filter "label=com.docker.compose.project=$1"
	docker volume ls -q --filter "label=com.docker.compose.project=$1"
}

times=()
for i in $(seq "$rounds"); do
	bin/bottle-launch --spec "$work/spec.json" </dev/null >/dev/null 2>&1 &
	pid=$!
	name=""
	for _ in $(seq 300); do
		name=$(bin/bottle-ls --jq 'select(.status=="running" and .launcher)|.name' 2>/dev/null | head -1)
		[ -n "$name" ] && break
		sleep 0.1
	done
	[ -n "$name" ] || { kill -KILL $pid; echo "bench-guardian: the bottle never ran" >&2; exit 1; }
	t0=$(date +%s%N)
	kill -KILL $pid
	wait $pid 2>/dev/null || true
	for _ in $(seq 600); do
		[ -z "$(left "$name")" ] && break
		sleep 0.1
	done
	t1=$(date +%s%N)
	[ -z "$(left "$name")" ] || { echo "bench-guardian: $name still on the engine after 60 s" >&2; exit 1; }
	ms=$(((t1 - t0) / 1000000))
	times+=("$ms")
	echo "  round $i: $ms ms" >&2
	bin/bottle-cleanup --yes >/dev/null 2>&1 || true
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "bench-guardian: kill -9 of the launcher to nothing of the bottle left on the engine: median of $rounds ${median} ms (target <= 5000 ms)"
