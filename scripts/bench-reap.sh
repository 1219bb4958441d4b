#!/usr/bin/env bash
# Benchmark: `bottle-plan-cleanup | bottle-reap` against the docker CLI
# removing the same world the way the original tool did (per project:
# `docker rm -f` its containers, then `docker network rm`, then
# `docker volume rm`; then the strays; then `rm -rf` of the state dirs).
# Each measurement runs on a freshly built world: 20 compose-labelled
# bottles (2 containers, 1 network, 1 volume each), 8 stray containers, 4
# stray networks, 200 state dirs (20 preserved), under a random prefix.
# Prints each round, the medians and the ratio (target: reap <= CLI / 1.5).
#
# BASE=DIR (optional): the bottle binaries of another build (say the
# commit before a change, `make build BIN=/tmp/old`) also reap a world
# of their own in every round, beside the CLI and BIN, for a paired
# before/after under the same load.
#
# Run by `make bench` (scripts/bench.sh holds the engine-test lock: do not
# take it here). The world has 24 networks: it is removed before the next
# one is built, and everything made is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-4}
IMAGE=bottle-test/sleeper:latest
BASE=${BASE:-}
[ -x "$BIN/bottle-reap" ] && [ -x "$BIN/bottle-plan-cleanup" ] || { echo "bench-reap: build first (make build)" >&2; exit 1; }
[ -z "$BASE" ] || { [ -x "$BASE/bottle-reap" ] && [ -x "$BASE/bottle-plan-cleanup" ]; } || { echo "bench-reap: BASE=$BASE holds no bottle-reap and bottle-plan-cleanup" >&2; exit 1; }
scripts/test-images.sh

work=$(mktemp -d)
prefixes=()
purge() {
	for p in "${prefixes[@]}"; do
		docker ps -aq --filter "name=$p" | xargs -r docker rm -f >/dev/null 2>&1 || true
		docker network ls -q --filter "name=$p" | xargs -r docker network rm >/dev/null 2>&1 || true
		docker volume ls -q --filter "name=$p" | xargs -r docker volume rm >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap purge EXIT

now() { date +%s.%N; }

# world PREFIX STATE: builds the world, 4 engine calls at a time.
world() {
	local P=$1 S=$2
	mkdir -p "$S" && touch "$S/.bottle-state-root" # a state root bottle-launch made (docs/safety.md)
	export P S IMAGE
	seq 1 20 | xargs -P 4 -I{} bash -c '
		n=${P}b{}-x
		docker network create --label com.docker.compose.project=$n --label com.docker.compose.network=default ${n}_default >/dev/null
		docker volume create --label com.docker.compose.project=$n --label com.docker.compose.volume=home ${n}_home >/dev/null
		docker run -d --name $n-agent-1 --network ${n}_default -v ${n}_home:/home --label com.docker.compose.project=$n --label com.docker.compose.service=agent --label com.docker.compose.config-hash=a $IMAGE >/dev/null
		docker create --name $n-sidecar-1 --network ${n}_default --label com.docker.compose.project=$n --label com.docker.compose.service=sidecar --label com.docker.compose.config-hash=b $IMAGE >/dev/null'
	seq 1 8 | xargs -P 4 -I{} docker create --name "${P}stray-{}" "$IMAGE" >/dev/null
	seq 1 4 | xargs -P 4 -I{} docker network create "${P}strnet-{}" >/dev/null
	mkdir -p "$S"
	for i in $(seq 1 200); do
		d="$S/s$i-$(printf 'x%04d' "$i")" # a slug: <agent>-<5 letters or digits>
		mkdir "$d"
		echo '{"role":"user","content":"hello"}' >"$d/transcript.jsonl"
		[ "$i" -le 20 ] && touch "$d/.preserve"
	done
	return 0
}

# left PREFIX: how many engine resources of PREFIX remain.
left() {
	echo $(( $(docker ps -aq --filter "name=$1" | wc -l) + $(docker network ls -q --filter "name=$1" | wc -l) + $(docker volume ls -q --filter "name=$1" | wc -l) ))
}


cli_way() {
	local P=$1 S=$2
	for i in $(seq 1 20); do
		n=${P}b$i-x
		docker rm -f "$n-agent-1" "$n-sidecar-1" >/dev/null
		docker network rm "${n}_default" >/dev/null
		docker volume rm "${n}_home" >/dev/null
	done
	docker rm -f $(for i in $(seq 1 8); do echo "${P}stray-$i"; done) >/dev/null
	docker network rm $(for i in $(seq 1 4); do echo "${P}strnet-$i"; done) >/dev/null
	rm -rf $(for i in $(seq 21 200); do echo "$S/s$i-$(printf 'x%04d' "$i")"; done)
}

reap_with() {
	local B=$1 P=$2 S=$3
	"$B/bottle-plan-cleanup" --prefix "$P" --state-dir "$S" --include-transcripts |
		"$B/bottle-reap" --prefix "$P" --state-dir "$S" --jobs "$JOBS" >"$work/result.jsonl" 2>"$work/summary.txt"
}
reap_way() { reap_with "$BIN" "$@"; }
base_way() { reap_with "$BASE" "$@"; }

declare -a tcli treap tbase
for r in $(seq 1 "$ROUNDS"); do
	for way in cli reap ${BASE:+base}; do
		P="bb$(head -c 256 /dev/urandom | tr -dc 'a-z0-9' | head -c 8)-"
		prefixes+=("$P")
		S="$work/$P/state"
		world "$P" "$S"
		t0=$(now)
		"${way}_way" "$P" "$S"
		t1=$(now)
		n=$(left "$P")
		dirs=$(find "$S" -mindepth 1 -maxdepth 1 -type d | wc -l)
		if [ "$n" != 0 ] || [ "$dirs" != 20 ]; then
			echo "bench-reap: $way left $n engine resources and $dirs state dirs (want 0 and the 20 preserved)" >&2
			[ "$way" != cli ] && cat "$work/summary.txt" >&2
			exit 1
		fi
		dt=$(echo "$t1 - $t0" | bc -l)
		printf 'round %d  %-4s %6.2fs\n' "$r" "$way" "$dt"
		case $way in cli) tcli+=("$dt") ;; reap) treap+=("$dt") ;; base) tbase+=("$dt") ;; esac
	done
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mc=$(median "${tcli[@]}")
mr=$(median "${treap[@]}")
printf 'bench-reap: %d rounds, --jobs %d: docker CLI median %.2fs, plan|reap median %.2fs, ratio reap/CLI %.2f (target <= %.2f)\n' \
	"$ROUNDS" "$JOBS" "$mc" "$mr" "$(echo "$mr / $mc" | bc -l)" "$(echo "1 / 1.5" | bc -l)"
if [ -n "$BASE" ]; then
	mb=$(median "${tbase[@]}")
	printf 'bench-reap: BASE=%s: plan|reap median %.2fs, ratio base/CLI %.2f, reap/base %.2f\n' \
		"$BASE" "$mb" "$(echo "$mb / $mc" | bc -l)" "$(echo "$mr / $mb" | bc -l)"
fi
