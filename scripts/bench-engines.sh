#!/usr/bin/env bash
# Benchmark of many engines in one run (issue 18), run by `make bench`
# through scripts/bench.sh, which already holds the engine-test lock.
#
# Starts a second dockerd beside the machine's engine (scripts/engine2.sh),
# builds the same world on each with a random prefix — 10 compose-labelled
# bottles (1 created container, 1 network, 1 volume each) and 4 stray
# networks — and makes two docker contexts, "one" (the machine's engine) and
# "two", in a DOCKER_CONFIG of its own. Then, in the same run, rounds
# alternated, the median wall time of bottle-plan-cleanup asking one engine
# (--context one, --context two) and both at once (--context one --context
# two). Target: both at once takes about the slowest engine alone (ratio to
# the slower of the two <= 1.25), not their sum. The world, the second engine
# and the contexts are always removed (trap).
#
# Environment: ROUNDS (default 15), BIN (default bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
ROUNDS=${ROUNDS:-15}
IMAGE=bottle-test/sleeper:latest

[ -x "$BIN/bottle-plan-cleanup" ] || { echo "bench-engines.sh: $BIN/bottle-plan-cleanup is missing; run make build" >&2; exit 1; }
docker image inspect "$IMAGE" >/dev/null 2>&1 || scripts/test-images.sh

token=$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'a-z0-9' | cut -c1-8)
P="bb${token}-"
work=$(mktemp -d "${TMPDIR:-/tmp}/bottle-bench-engines.XXXXXX")
e2=$(mktemp -u /tmp/be2.XXXXXX)
state="$work/state"
mkdir -p "$state"
touch "$state/.bottle-state-root" # a state root bottle-launch made (docs/safety.md)
one=${DOCKER_HOST:-unix:///var/run/docker.sock}

purge() { # purge HOST: what carries this run's token on that engine
	local ids
	ids=$(DOCKER_HOST=$1 docker ps -aq --filter "name=$token") && [ -n "$ids" ] && DOCKER_HOST=$1 docker rm -f $ids >/dev/null
	ids=$(DOCKER_HOST=$1 docker network ls -q --filter "name=$token") && [ -n "$ids" ] && DOCKER_HOST=$1 docker network rm $ids >/dev/null
	ids=$(DOCKER_HOST=$1 docker volume ls -q --filter "name=$token") && [ -n "$ids" ] && DOCKER_HOST=$1 docker volume rm $ids >/dev/null
	return 0
}
cleanup() {
	set +e
	purge "$one"
	[ -e "$e2" ] && scripts/engine2.sh stop "$e2"
	rm -rf "$work"
	left=$( (DOCKER_HOST=$one docker ps -aq --filter "name=$token"; DOCKER_HOST=$one docker network ls -q --filter "name=$token"; DOCKER_HOST=$one docker volume ls -q --filter "name=$token") | wc -l)
	[ "$left" -eq 0 ] || echo "bench-engines.sh: $left resources of $P are left on the machine's engine" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench-engines.sh: starting a second engine in $e2" >&2
two=$(scripts/engine2.sh start "$e2")
DOCKER_HOST=$one scripts/engine2.sh load "$e2" "$IMAGE" >/dev/null

# world HOST SUBNET-PREFIX: 10 bottles and 4 stray networks (explicit small
# subnets on the machine's engine, so its default pools are never eaten)
world() {
	local host=$1 i proj sub=() 
	for i in $(seq 1 10); do
		proj="${P}b${i}-x${token:0:4}"
		[ -n "$2" ] && sub=(--subnet "$2.$(( (i - 1) * 8 ))/29")
		DOCKER_HOST=$host docker network create "${sub[@]}" --label com.docker.compose.project="$proj" "${proj}_default" >/dev/null
		DOCKER_HOST=$host docker volume create --label com.docker.compose.project="$proj" "${proj}_home" >/dev/null
		DOCKER_HOST=$host docker create --name "${proj}-agent-1" --network "${proj}_default" \
			--label com.docker.compose.project="$proj" --label com.docker.compose.service=agent "$IMAGE" >/dev/null
	done
	for i in $(seq 1 4); do
		[ -n "$2" ] && sub=(--subnet "$2.$(( 128 + (i - 1) * 8 ))/29")
		DOCKER_HOST=$host docker network create "${sub[@]}" "${P}net${i}" >/dev/null
	done
}
echo "bench-engines.sh: building the world with prefix $P on both engines" >&2
world "$one" "10.214.$(( (RANDOM % 200) + 20 ))"
world "$two" ""

export DOCKER_CONFIG="$work/docker"
unset DOCKER_HOST DOCKER_CONTEXT
docker context create one --docker "host=$one" >/dev/null
docker context create two --docker "host=$two" >/dev/null

plan() { "$BIN/bottle-plan-cleanup" --prefix "$P" --state-dir "$state" "$@" >/dev/null; }
for c in one two; do
	n=$("$BIN/bottle-plan-cleanup" --prefix "$P" --state-dir "$state" --context "$c" | wc -l)
	[ "$n" -eq 14 ] || { echo "bench-engines.sh: engine $c plans $n items, want 14" >&2; exit 1; }
done
n=$("$BIN/bottle-plan-cleanup" --prefix "$P" --state-dir "$state" --context one --context two | wc -l)
[ "$n" -eq 28 ] || { echo "bench-engines.sh: both engines plan $n items, want 28" >&2; exit 1; }

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) printf "%d\n", a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }
t1=() t2=() t12=()
for _ in $(seq 1 "$ROUNDS"); do
	t=$(now); plan --context one; t1+=($(( $(now) - t )))
	t=$(now); plan --context two; t2+=($(( $(now) - t )))
	t=$(now); plan --context one --context two; t12+=($(( $(now) - t )))
done
m1=$(printf '%s\n' "${t1[@]}" | median)
m2=$(printf '%s\n' "${t2[@]}" | median)
m12=$(printf '%s\n' "${t12[@]}" | median)
slow=$(( m1 > m2 ? m1 : m2 ))

ms_of() { awk -v n="$1" 'BEGIN {printf "%.1f", n/1e6}'; }
echo "bench-engines: world on each engine: 10 bottles x (1 container, 1 network, 1 volume), 4 stray networks; $ROUNDS rounds, alternated"
echo "bench-engines: bottle-plan-cleanup --context one (the machine's engine) median $(ms_of "$m1") ms"
echo "bench-engines: bottle-plan-cleanup --context two (a second dockerd, vfs) median $(ms_of "$m2") ms"
echo "bench-engines: bottle-plan-cleanup --context one --context two median $(ms_of "$m12") ms (the sum of the two alone: $(ms_of $((m1 + m2))) ms)"
echo "bench-engines: ratio to the slower engine alone $(awk -v a="$m12" -v b="$slow" 'BEGIN {printf "%.2f", a/b}') (target <= 1.25; the sum would be $(awk -v a="$((m1 + m2))" -v b="$slow" 'BEGIN {printf "%.2f", a/b}'))"
echo "bench-engines: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
