#!/usr/bin/env bash
# A private OpenSSH server on 127.0.0.1, for the ssh:// transport's tests:
# Debian's sshd (installed by test-deps.sh when missing) with a throwaway
# host key, its own sshd_config and its own AuthorizedKeysFile, all under
# DIR; nothing in the real ~/.ssh is read or written. Logging in as root
# with DIR/client_key runs commands on this machine, so
# `ssh://root@127.0.0.1:PORT` reaches this machine's engine through
# `docker system dial-stdio`, as the docker CLI does it.
#
#   sshd.sh start DIR   starts it; prints its port
#   sshd.sh stop DIR    stops it by its pid and removes DIR
#
# The client side is in DIR too: DIR/ssh_config (the client key, the host
# key as the only known host, BatchMode) and DIR/bin/ssh, which runs the
# real ssh with `-F DIR/ssh_config`. OpenSSH reads ~/.ssh from the passwd
# entry, never from $HOME, and the docker CLI's connection helper runs
# plain `ssh` from PATH with no way to add flags: putting DIR/bin first on
# PATH is how a test gives the real ssh its configuration without touching
# the user's. Two more keys: DIR/nodocker_key logs in with PATH=/nonexistent
# (no docker on the far side), DIR/stranger_key is authorized for nobody.
# Needs root (sshd, and logging in as root).
set -euo pipefail

die() { echo "sshd.sh: $*" >&2; exit 1; }
usage() { echo "usage: sshd.sh start DIR | stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1 dir=$2

start() {
	[ -x /usr/sbin/sshd ] || "$(dirname "$0")/test-deps.sh" sshd || die "no /usr/sbin/sshd and test-deps.sh could not install openssh-server"
	[ ! -e "$dir" ] || die "$dir exists; give a new directory"
	mkdir -p "$dir/bin"
	chmod 700 "$dir"
	dir=$(cd "$dir" && pwd)
	local k
	for k in host client nodocker stranger; do
		ssh-keygen -q -t ed25519 -N '' -C "bottle-test-$k" -f "$dir/${k}_key"
	done
	{
		cat "$dir/client_key.pub"
		printf 'environment="PATH=/nonexistent" %s\n' "$(cat "$dir/nodocker_key.pub")"
	} >"$dir/authorized_keys"
	# sshd's privilege separation directory (Debian makes it at service start).
	mkdir -p /run/sshd
	local port i
	for i in $(seq 1 20); do
		port=$((20000 + RANDOM % 40000))
		cat >"$dir/sshd_config" <<-EOF
			Port $port
			ListenAddress 127.0.0.1
			HostKey $dir/host_key
			PidFile $dir/sshd.pid
			AuthorizedKeysFile $dir/authorized_keys
			AuthenticationMethods publickey
			PubkeyAuthentication yes
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			PermitRootLogin prohibit-password
			PermitUserEnvironment PATH
			UsePAM no
			StrictModes no
			PrintMotd no
			X11Forwarding no
			AllowTcpForwarding no
			LogLevel VERBOSE
		EOF
		rm -f "$dir/sshd.pid"
		/usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
		# sshd forks into the background once it listens; a taken port
		# makes it exit with an error in its log instead.
		local j
		for j in $(seq 1 40); do
			[ -s "$dir/sshd.pid" ] && break
			sleep 0.05
		done
		if [ -s "$dir/sshd.pid" ] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
			break
		fi
		port=
	done
	[ -n "$port" ] || { tail -n 5 "$dir/sshd.log" >&2; die "sshd did not start; see $dir/sshd.log"; }
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
	cat >"$dir/ssh_config" <<-EOF
		Host *
		  IdentityFile $dir/client_key
		  IdentitiesOnly yes
		  UserKnownHostsFile $dir/known_hosts
		  GlobalKnownHostsFile /dev/null
		  StrictHostKeyChecking yes
		  BatchMode yes
		  LogLevel ERROR
	EOF
	printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$dir/ssh_config" >"$dir/bin/ssh"
	chmod +x "$dir/bin/ssh"
	echo "$port" >"$dir/port"
	echo "$port"
}

stop() {
	[ -d "$dir" ] || return 0
	if [ -s "$dir/sshd.pid" ]; then
		local pid
		pid=$(cat "$dir/sshd.pid")
		# Only if it is still this sshd (the pid may have been reused).
		if grep -qF "$dir/sshd_config" "/proc/$pid/cmdline" 2>/dev/null; then
			kill -TERM "$pid" || true
		fi
	fi
	rm -rf "$dir"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) usage ;;
esac
