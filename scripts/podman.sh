#!/usr/bin/env bash
# podman's Docker-compatible API on a private socket, for the tests that run
# the toolkit against podman as one more engine: Debian's podman (installed
# by test-deps.sh when missing), configured wholly under DIR (containers.conf
# named by CONTAINERS_CONF, storage.conf by CONTAINERS_STORAGE_CONF: storage,
# run root, network configs, locks, events), so that nothing of the
# machine's own podman set-up is read or changed.
#
#   podman.sh start DIR [netavark|cni]  starts `podman system service` on
#                                       unix://DIR/podman.sock; prints that
#   podman.sh load DIR IMAGE...         copies images from the engine
#                                       DOCKER_HOST names (docker save | podman load)
#   podman.sh stop DIR                  removes its containers, pods, networks
#                                       and volumes, stops the service by its
#                                       pid, unmounts what stays under DIR,
#                                       removes DIR
#   podman.sh run DIR PODMAN-ARGS...    runs the podman CLI on that store
#
# Containers start on these machines only with explicit ulimits
# (default_ulimits below); healthchecks need systemd, which is not here.
# The network backend is netavark unless given: with cni, an internal
# network's gateway reads "<nil>" in the Docker API. Needs root.
set -euo pipefail

die() { echo "podman.sh: $*" >&2; exit 1; }
usage() { echo "usage: podman.sh start DIR [netavark|cni] | load DIR IMAGE... | stop DIR | run DIR ARGS..." >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2

pm() {
	CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf" \
		CONTAINERS_REGISTRIES_CONF="$dir/registries.conf" podman "$@"
}

start() {
	local backend=${1:-netavark}
	case "$backend" in netavark | cni) ;; *) usage ;; esac
	command -v podman >/dev/null 2>&1 || "$(dirname "$0")/test-deps.sh" podman || die "podman is not installed and test-deps.sh could not install it"
	[ ! -e "$dir" ] || die "$dir exists; give a new directory"
	mkdir -p "$dir"/{storage,run,tmp,networks,volumes}
	dir=$(cd "$dir" && pwd)
	[ ${#dir} -le 60 ] || die "$dir is too long for the service's sockets; use a shorter one (e.g. mktemp -d /tmp/pm.XXXX)"
	cat >"$dir/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
		log_driver = "k8s-file"

		[network]
		network_backend = "$backend"
		network_config_dir = "$dir/networks"
		default_subnet = "10.88.0.0/16"
		default_subnet_pools = [{"base" = "10.89.0.0/16", "size" = 24}]

		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$dir/events.log"
		lock_type = "file"
		tmp_dir = "$dir/tmp"
		volume_path = "$dir/volumes"
		num_locks = 2048
	EOF
	cat >"$dir/storage.conf" <<-EOF
		[storage]
		driver = "vfs"
		runroot = "$dir/run"
		graphroot = "$dir/storage"
	EOF
	# No registry: short names resolve to local images only.
	echo 'unqualified-search-registries = []' >"$dir/registries.conf"
	env CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf" \
		CONTAINERS_REGISTRIES_CONF="$dir/registries.conf" \
		podman system service --time=0 "unix://$dir/podman.sock" >"$dir/service.log" 2>&1 </dev/null &
	echo $! >"$dir/service.pid"
	local i
	for i in $(seq 1 120); do
		if DOCKER_HOST="unix://$dir/podman.sock" timeout 5 docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; then
			echo "unix://$dir/podman.sock"
			return 0
		fi
		kill -0 "$(cat "$dir/service.pid")" 2>/dev/null || break
		sleep 0.25
	done
	echo "podman.sh: podman did not answer on unix://$dir/podman.sock; its log:" >&2
	tail -n 20 "$dir/service.log" >&2 || true
	stop
	exit 1
}

load() {
	[ $# -gt 0 ] || usage
	[ -S "$dir/podman.sock" ] || die "no podman at unix://$dir/podman.sock; start it first"
	docker save "$@" | pm load -q >/dev/null
}

stop() {
	[ -d "$dir" ] || return 0
	# Containers run under conmon, apart from the service: remove them (and
	# the networks' bridges and firewall rules with the networks) first.
	if [ -s "$dir/containers.conf" ]; then
		pm pod rm -af -t 0 >/dev/null 2>&1 || true
		pm rm -af -t 0 >/dev/null 2>&1 || true
		pm network prune -f >/dev/null 2>&1 || true
		pm volume rm -af >/dev/null 2>&1 || true
	fi
	if [ -s "$dir/service.pid" ]; then
		local pid i
		pid=$(cat "$dir/service.pid")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" || true
			for i in $(seq 1 40); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.25
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	local m
	awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	if awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
		die "left $dir in place: something is still mounted under it"
	fi
	rm -rf --one-file-system "$dir"
}

case "$cmd" in
start) start "$@" ;;
load) load "$@" ;;
stop) stop ;;
run) pm "$@" ;;
*) usage ;;
esac
