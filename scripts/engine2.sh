#!/usr/bin/env bash
# A second Docker engine on this machine, beside the machine's own, for
# multi-engine tests and benches (the recipe in the README's Tests section):
# its own bridge (made first, deleted after; never `--bridge none`, which
# deletes the host's docker0), its own config file, data root, exec root,
# pid file and unix socket under DIR, no iptables or masquerading, the vfs
# storage driver, and address pools that cannot overlap the machine
# engine's (172.17-31.x, 192.168.x), and an engine ID of its own.
#
#   engine2.sh start DIR          starts it; prints its DOCKER_HOST (unix://DIR/docker.sock)
#   engine2.sh load DIR IMAGE...  copies images from the engine DOCKER_HOST names
#                                 (docker save | docker load)
#   engine2.sh stop DIR           stops it by its pid, unmounts what stays under DIR,
#                                 deletes its bridge and DIR
#
# DIR must not exist yet (start makes it) and be short: containerd's socket
# goes under it, and a unix socket path holds at most 107 bytes. Each
# engine takes a free slot 0-31: bridge bottle-e2-N at 10.232.N.1/24, pools
# 10.(200+N).0.0/16 in /24s. Needs root (dockerd, ip link).
set -euo pipefail

die() { echo "engine2.sh: $*" >&2; exit 1; }
usage() { echo "usage: engine2.sh start DIR | load DIR IMAGE... | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
sudo=
[ "$(id -u)" = 0 ] || sudo="sudo -n"

start() {
	command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed"
	[ ! -e "$dir" ] || die "$dir exists; give a new directory"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ ${#dir} -le 60 ] || die "$dir is too long for the engine's sockets; use a shorter one (e.g. mktemp -d /tmp/e2.XXXX)"
	# A free slot: `ip link add` fails when another engine took the name.
	local n bridge=
	for n in $(seq 0 31); do
		if $sudo ip link add "bottle-e2-$n" type bridge 2>/dev/null; then
			bridge="bottle-e2-$n"
			break
		fi
	done
	[ -n "$bridge" ] || die "no free bridge name bottle-e2-0..31 (ip link show type bridge)"
	echo "$bridge" >"$dir/bridge"
	$sudo ip addr add "10.232.$n.1/24" dev "$bridge"
	$sudo ip link set "$bridge" up
	# An engine of its own has an ID of its own (GET /info's ID). Before
	# Docker 23 the ID comes from the key in /etc/docker/key.json, which the
	# machine's engine uses too: give this one its own key (the config
	# file's deprecated-key-path, which is no flag); from 23 on the ID lives
	# in the data root, and the key is unknown to the config file.
	local major
	major=$(dockerd --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p')
	if [ -n "$major" ] && [ "$major" -lt 23 ]; then
		printf '{"deprecated-key-path": "%s"}\n' "$dir/key.json" >"$dir/daemon.json"
	else
		echo '{}' >"$dir/daemon.json"
	fi
	$sudo dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/x" \
		--pidfile "$dir/dockerd.pid" -H "unix://$dir/docker.sock" --bridge "$bridge" \
		--iptables=false --ip-masq=false --storage-driver vfs \
		--default-address-pool "base=10.$((200 + n)).0.0/16,size=24" \
		>"$dir/dockerd.log" 2>&1 </dev/null &
	echo $! >"$dir/launcher.pid"
	local i
	for i in $(seq 1 120); do
		if DOCKER_HOST="unix://$dir/docker.sock" timeout 5 docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; then
			echo "unix://$dir/docker.sock"
			return 0
		fi
		kill -0 "$(cat "$dir/launcher.pid")" 2>/dev/null || break
		sleep 0.25
	done
	echo "engine2.sh: dockerd did not answer on unix://$dir/docker.sock; its log:" >&2
	tail -n 20 "$dir/dockerd.log" >&2 || true
	stop
	exit 1
}

load() {
	[ $# -gt 0 ] || usage
	[ -S "$dir/docker.sock" ] || die "no engine at unix://$dir/docker.sock; start it first"
	docker save "$@" | DOCKER_HOST="unix://$dir/docker.sock" docker load -q >/dev/null
}

stop() {
	[ -d "$dir" ] || return 0
	# A network's bridge outlives dockerd (networks persist across its
	# restarts): remove the engine's containers and networks while it
	# answers, and delete what is left of their bridges after.
	local host="unix://$dir/docker.sock" nets=
	if [ -S "$dir/docker.sock" ] && DOCKER_HOST=$host timeout 5 docker version >/dev/null 2>&1; then
		nets=$(DOCKER_HOST=$host docker network ls -q --no-trunc --filter driver=bridge)
		DOCKER_HOST=$host docker ps -aq | xargs -r env DOCKER_HOST=$host docker rm -f >/dev/null 2>&1 || true
		DOCKER_HOST=$host docker network prune -f >/dev/null 2>&1 || true
	fi
	local pid=
	[ -s "$dir/dockerd.pid" ] && pid=$(cat "$dir/dockerd.pid")
	[ -n "$pid" ] || { [ -s "$dir/launcher.pid" ] && pid=$(cat "$dir/launcher.pid"); }
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		$sudo kill -TERM "$pid" || true
		# dockerd stops its containers (up to 15 s each, in parallel) and its containerd.
		local i
		for i in $(seq 1 120); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "engine2.sh: dockerd $pid did not stop within 30s; killing it" >&2
			$sudo kill -KILL "$pid" || true
		fi
	fi
	# What dockerd leaves mounted under DIR (network namespaces, its
	# containerd's state), deepest first.
	local m
	awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		$sudo umount -l "$m" 2>/dev/null || true
	done
	local id
	for id in $nets; do
		if ip link show "br-${id:0:12}" >/dev/null 2>&1; then
			$sudo ip link del "br-${id:0:12}" 2>/dev/null || true
		fi
	done
	if [ -s "$dir/bridge" ]; then
		$sudo ip link del "$(cat "$dir/bridge")" 2>/dev/null || true
	fi
	if awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
		die "left $dir in place: something is still mounted under it"
	fi
	$sudo rm -rf --one-file-system "$dir"
}

case "$cmd" in
start) start ;;
load) load "$@" ;;
stop) stop ;;
*) usage ;;
esac
