#!/usr/bin/env bash
# What bottle-launch's isolation check costs: a detached launch (process
# start to the launcher's exit, the agent running) timed with two builds of
# the tools, alternated round by round on this machine's engine, each bottle
# removed (untimed) before the next. Prints each build's median.
#
#   bench-isolation.sh BEFORE_BIN AFTER_BIN [ROUNDS]   (default 9 rounds)
#
# BEFORE_BIN and AFTER_BIN are directories holding bottle-launch and
# bottle-cleanup (go build -o DIR/ ./cmd/...). Needs the test images
# (scripts/test-images.sh); run it under the engine lock:
#   scripts/engine-lock.sh run scripts/bench-isolation.sh /tmp/before /tmp/after
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bench-isolation.sh BEFORE_BIN AFTER_BIN [ROUNDS]" >&2; exit 2; }
before=$1 after=$2 rounds=${3:-9}
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
export BOTTLE_STATE_DIR=$state

once() { # BIN: prints the launch's milliseconds
	local bin=$1 t0 t1
	export BOTTLE_PREFIX="bt$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')-"
	t0=$(date +%s%N)
	"$bin/bottle-launch" --agent bench --image bottle-test/agent --sidecar-image bottle-test/pipelock --detach >/dev/null
	t1=$(date +%s%N)
	"$bin/bottle-cleanup" --yes --include-detached --include-transcripts >/dev/null 2>&1
	echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

b=() a=()
for i in $(seq 1 "$rounds"); do
	b+=("$(once "$before")")
	a+=("$(once "$after")")
done
echo "before: median $(printf '%s\n' "${b[@]}" | median) ms of ${b[*]}"
echo "after:  median $(printf '%s\n' "${a[@]}" | median) ms of ${a[*]}"
