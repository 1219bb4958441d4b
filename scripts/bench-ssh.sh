#!/usr/bin/env bash
# Benchmark of an ssh:// engine, run by `make bench` through
# scripts/bench.sh, which already holds the engine-test lock.
#
# Starts a private sshd on 127.0.0.1 (scripts/sshd.sh) through which the
# machine's engine is ssh://root@127.0.0.1:PORT, builds a small world with a
# random prefix (5 compose-labelled bottles: 1 created container, 1 network,
# 1 volume each), and then, in the same run, rounds alternated, measures the
# median wall time of `bottle-ls` and of `docker ps -a` over that same ssh
# endpoint, and of one bare `ssh … true` (a login and nothing else). Every
# ssh the tools run goes through a wrapper on PATH that counts it: the logins
# per run are printed beside the times. Target: bottle-ls logs in once per
# engine, as the docker CLI does, and takes about what `docker ps -a` takes.
# The world and the sshd are always removed (trap).
#
# Environment: ROUNDS (default 10), BIN (default bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
BIN=$(cd "$BIN" && pwd)
ROUNDS=${ROUNDS:-10}
IMAGE=bottle-test/sleeper:latest

for b in bottle-ls bottle-plan-cleanup; do
	[ -x "$BIN/$b" ] || { echo "bench-ssh.sh: $BIN/$b is missing; run make build" >&2; exit 1; }
done
docker image inspect "$IMAGE" >/dev/null 2>&1 || scripts/test-images.sh

token=$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'a-z0-9' | cut -c1-8)
P="bb${token}-"
work=$(mktemp -d "${TMPDIR:-/tmp}/bottle-bench-ssh.XXXXXX")
sshdir="$work/sshd"
state="$work/state"
mkdir -p "$state" "$work/bin"
touch "$state/.bottle-state-root" # a state root bottle-launch made (docs/safety.md)

cleanup() {
	set +e
	local ids
	ids=$(docker ps -aq --filter "name=$token") && [ -n "$ids" ] && docker rm -f $ids >/dev/null
	ids=$(docker network ls -q --filter "name=$token") && [ -n "$ids" ] && docker network rm $ids >/dev/null
	ids=$(docker volume ls -q --filter "name=$token") && [ -n "$ids" ] && docker volume rm $ids >/dev/null
	scripts/sshd.sh stop "$sshdir"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(scripts/sshd.sh start "$sshdir")
host="ssh://root@127.0.0.1:$port"
# The counting ssh: one line per login, then the test server's client.
logins="$work/logins"
printf '#!/bin/sh\necho x >>%s\nexec %s "$@"\n' "$logins" "$sshdir/bin/ssh" >"$work/bin/ssh"
chmod +x "$work/bin/ssh"

sub="10.215.$(( (RANDOM % 200) + 20 ))"
for i in $(seq 1 5); do
	proj="${P}b${i}-x${token:0:4}"
	docker network create --subnet "$sub.$(( (i - 1) * 8 ))/29" --label com.docker.compose.project="$proj" "${proj}_default" >/dev/null
	docker volume create --label com.docker.compose.project="$proj" "${proj}_home" >/dev/null
	docker create --name "${proj}-agent-1" --network "${proj}_default" \
		--label com.docker.compose.project="$proj" --label com.docker.compose.service=agent "$IMAGE" >/dev/null
done

export PATH="$work/bin:$PATH" DOCKER_HOST="$host"
unset DOCKER_CONTEXT
n=$("$BIN/bottle-ls" --prefix "$P" --json | wc -l)
[ "$n" -eq 5 ] || { echo "bench-ssh.sh: bottle-ls over ssh lists $n bottles, want 5" >&2; exit 1; }

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) printf "%d\n", a[(NR+1)/2]; else printf "%d\n", (a[NR/2]+a[NR/2+1])/2}'; }
# run NAME CMD...: times one run of CMD into t_NAME, its logins into l_NAME
declare -A t l
run() {
	local name=$1 s
	shift
	: >"$logins"
	s=$(now)
	"$@" >/dev/null
	t[$name]+="$(( $(now) - s )) "
	l[$name]+="$(wc -l <"$logins") "
}
for _ in $(seq 1 "$ROUNDS"); do
	run ls "$BIN/bottle-ls" --prefix "$P" --json
	run ps docker ps -a
	run plan "$BIN/bottle-plan-cleanup" --prefix "$P" --state-dir "$state"
	run ssh ssh -p "$port" root@127.0.0.1 true
done

ms() { printf '%s\n' ${t[$1]} | median | awk '{printf "%.0f", $1/1e6}'; }
lg() { printf '%s\n' ${l[$1]} | sort -n | uniq -c | awk '{printf "%s%s (x%s)", sep, $2, $1; sep=", "}'; }
echo "bench-ssh: the machine's engine over ssh ($host, a private sshd on 127.0.0.1); world: 5 bottles x (1 container, 1 network, 1 volume); $ROUNDS rounds, alternated"
echo "bench-ssh: bottle-ls median $(ms ls) ms, logins per run $(lg ls)"
echo "bench-ssh: docker ps -a median $(ms ps) ms, logins per run $(lg ps)"
echo "bench-ssh: bottle-plan-cleanup median $(ms plan) ms, logins per run $(lg plan)"
echo "bench-ssh: ssh … true (one login, nothing else) median $(ms ssh) ms"
echo "bench-ssh: ratio bottle-ls / docker ps -a $(awk -v a="$(ms ls)" -v b="$(ms ps)" 'BEGIN {printf "%.2f", a/b}')"
echo "bench-ssh: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
