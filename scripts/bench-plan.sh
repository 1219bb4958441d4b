#!/usr/bin/env bash
# Benchmark of bottle-plan-cleanup (issue 2), run by `make bench` through
# scripts/bench.sh, which already holds the engine-test lock.
#
# Builds a world with a random prefix and a temporary state root: 20
# compose-labelled bottles (2 containers, 1 network, 1 volume each), 8 stray
# containers, 4 stray networks and 200 state dirs (20 preserved); then, in
# the same run, compares the median wall time of bottle-plan-cleanup with
# the docker CLI doing the same discovery (docker ps -a, docker network ls,
# docker volume ls filtered to the prefix, plus a shell scan of the state
# root), and measures bottle-plan-cleanup's peak RSS and the start-up of
# `bottle-ls --help`. Targets: ratio <= 1/8, RSS <= 30 MB, start-up <= 10 ms.
# The world is always removed (trap), and only what carries this run's token.
#
# Environment: ROUNDS (default 15), STARTS (default 50), BIN (default bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
ROUNDS=${ROUNDS:-15}
STARTS=${STARTS:-50}
IMAGE=bottle-test/sleeper:latest

for b in bottle-plan-cleanup bottle-ls; do
	[ -x "$BIN/$b" ] || { echo "bench-plan.sh: $BIN/$b is missing; run make build" >&2; exit 1; }
done
docker image inspect "$IMAGE" >/dev/null 2>&1 || scripts/test-images.sh

token=$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'a-z0-9' | cut -c1-8)
P="bb${token}-"
state=$(mktemp -d "${TMPDIR:-/tmp}/bottle-bench-state.XXXXXX")
touch "$state/.bottle-state-root" # a state root bottle-launch made (docs/safety.md)

cleanup() {
	set +e
	ids=$(docker ps -aq --filter "name=$token")
	[ -n "$ids" ] && docker rm -f $ids >/dev/null
	ids=$(docker network ls -q --filter "name=$token")
	[ -n "$ids" ] && docker network rm $ids >/dev/null
	ids=$(docker volume ls -q --filter "name=$token")
	[ -n "$ids" ] && docker volume rm $ids >/dev/null
	rm -rf "$state"
	left=$( (docker ps -aq --filter "name=$token"; docker network ls -q --filter "name=$token"; docker volume ls -q --filter "name=$token") | wc -l)
	[ "$left" -eq 0 ] || echo "bench-plan.sh: $left resources of $P are left" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench-plan.sh: building the world with prefix $P (state root $state)" >&2
# Networks get explicit small subnets so the benchmark never eats the
# engine's default address pools (about 30 networks).
subnet=$(( (RANDOM % 200) + 20 ))
for i in $(seq 1 20); do
	proj="${P}b${i}-x${token:0:4}"
	docker network create --subnet "10.213.${subnet}.$(( (i - 1) * 8 ))/29" \
		--label com.docker.compose.project="$proj" --label com.docker.compose.network=default "${proj}_default" >/dev/null
	docker volume create --label com.docker.compose.project="$proj" --label com.docker.compose.volume=home "${proj}_home" >/dev/null
	for svc in agent sidecar; do
		docker create --name "${proj}-${svc}-1" --network "${proj}_default" \
			--label com.docker.compose.project="$proj" --label com.docker.compose.service="$svc" \
			--label com.docker.compose.oneoff=False --label com.docker.compose.container-number=1 \
			--label com.docker.compose.config-hash="h$i$svc" "$IMAGE" >/dev/null
	done
done
for i in $(seq 1 8); do docker create --name "${P}stray${i}-y${token:0:4}" "$IMAGE" >/dev/null; done
for i in $(seq 1 4); do docker network create --subnet "10.213.${subnet}.$(( 160 + (i - 1) * 8 ))/29" "${P}net${i}" >/dev/null; done
for i in $(seq 1 200); do
	d="$state/s${i}-z${token:0:4}"
	[ "$i" -le 20 ] && d="$state/b${i}-x${token:0:4}" # the bottles' own dirs
	mkdir -p "$d"
	printf '{"role":"user","content":"run %d"}\n' "$i" >"$d/transcript.jsonl"
	[ $((i % 3)) -eq 0 ] && echo 'FROM scratch' >"$d/Dockerfile"
	[ "$i" -gt 180 ] && : >"$d/.preserve"
done

plan() { "$BIN/bottle-plan-cleanup" --prefix "$P" --state-dir "$state" --include-transcripts >/dev/null; }
# The same discovery with the docker CLI and the shell: every container,
# network and volume whose name carries the prefix, with what bottle-plan-
# cleanup reports of them, and each state dir's size and flags.
cli() {
	docker ps -a --filter "name=$P" --format '{{.ID}} {{.Names}} {{.State}} {{.CreatedAt}} {{.Labels}}' >/dev/null
	docker network ls --filter "name=$P" --format '{{.ID}} {{.Name}} {{.CreatedAt}} {{.Labels}}' >/dev/null
	docker volume ls --filter "name=$P" --format '{{.Name}} {{.Labels}}' >/dev/null
	du -sb "$state"/*/ >/dev/null
	find "$state" -mindepth 2 -maxdepth 2 \( -name .preserve -o -name 'transcript*' -o -name 'Dockerfile*' \) >/dev/null
}

plan # check it works, warm the page cache
items=$("$BIN/bottle-plan-cleanup" --prefix "$P" --state-dir "$state" --include-transcripts | wc -l)
echo "bench-plan.sh: the plan holds $items items (want 20 projects + 8 containers + 4 networks + 180 state dirs = 212)" >&2

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) printf "%d\n", a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }
times_plan=() times_cli=()
for _ in $(seq 1 "$ROUNDS"); do
	t=$(now); plan; times_plan+=($(( $(now) - t )))
	t=$(now); cli; times_cli+=($(( $(now) - t )))
done
mp=$(printf '%s\n' "${times_plan[@]}" | median)
mc=$(printf '%s\n' "${times_cli[@]}" | median)

rss="unavailable (install GNU time: apt-get install time)"
if [ -x /usr/bin/time ]; then
	rss=$( { /usr/bin/time -f '%M' "$BIN/bottle-plan-cleanup" --prefix "$P" --state-dir "$state" --include-transcripts >/dev/null; } 2>&1 | tail -n1)
	rss="$(awk -v k="$rss" 'BEGIN {printf "%.1f", k/1024}') MB"
elif command -v python3 >/dev/null; then
	rss=$(python3 -c 'import resource,subprocess,sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); print("%.1f MB" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024))' \
		"$BIN/bottle-plan-cleanup" --prefix "$P" --state-dir "$state" --include-transcripts)
fi

starts=()
for _ in $(seq 1 "$STARTS"); do
	t=$(now); "$BIN/bottle-ls" --help >/dev/null; starts+=($(( $(now) - t )))
done
ms=$(printf '%s\n' "${starts[@]}" | median)
# What starting any process costs here, to tell the tool's start-up from
# the machine's fork+exec.
spawns=()
for _ in $(seq 1 "$STARTS"); do
	t=$(now); /bin/true; spawns+=($(( $(now) - t )))
done
mt=$(printf '%s\n' "${spawns[@]}" | median)

ms_of() { awk -v n="$1" 'BEGIN {printf "%.1f", n/1e6}'; }
echo "bench-plan: world: 20 bottles x (2 containers, 1 network, 1 volume), 8 stray containers, 4 stray networks, 200 state dirs (20 preserved); $ROUNDS rounds"
echo "bench-plan: bottle-plan-cleanup median $(ms_of "$mp") ms"
echo "bench-plan: docker CLI + shell scan median $(ms_of "$mc") ms"
echo "bench-plan: ratio $(awk -v a="$mp" -v b="$mc" 'BEGIN {printf "%.3f (1/%.1f)", a/b, b/a}') (target <= 0.125)"
echo "bench-plan: bottle-plan-cleanup peak RSS $rss (target <= 30 MB)"
echo "bench-plan: bottle-ls --help start-up median $(ms_of "$ms") ms over $STARTS runs (target <= 10 ms); /bin/true $(ms_of "$mt") ms, so $(ms_of $((ms - mt))) ms above a bare fork+exec"
echo "bench-plan: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
