#!/usr/bin/env bash
# Builds the two images of the README's first bottle from this repository's
# Go sources, on a machine with no registry (each is imported with
# `docker import`; nothing is pulled):
#
#   bottle-demo/agent:latest    the demo agent (scripts/demo/agent): a user
#                               `agent` (uid 1000) with its home /home/agent,
#                               the agent command as ENTRYPOINT. It is a demo,
#                               not Claude Code: it calls no model (see
#                               docs/images.md for a real agent image).
#   bottle-demo/sidecar:latest  the repository's stand-in for pipelock
#                               (testdata/cmd/pipelock, at /pipelock): an
#                               allowlisting forward proxy that refuses what
#                               pipelock refuses, but does not intercept TLS
#                               and scans nothing. For the real pipelock, see
#                               scripts/pipelock-image.sh.
#
# Run it from anywhere; it needs go and docker. An image is rebuilt only when
# what goes into it changed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# import DIR IMAGE CHANGE...: a tar of DIR (owned by root, but for what
# owned.txt lists as "uid:gid path") imported as IMAGE, unless the image
# holds the same already.
import() {
	local dir=$1 image=$2
	shift 2
	local sum have
	sum=$( (cd "$dir" && find . -type f | sort | xargs sha256sum; printf '%s\n' "$@") | sha256sum | cut -c1-16)
	have=$(docker image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image" 2>/dev/null | sed -n 's/^BOTTLE_DEMO_SUM=//p' || true)
	if [ "$have" = "$sum" ]; then
		echo "demo-images.sh: $image is up to date" >&2
		return 0
	fi
	local changes=()
	for c in "$@"; do changes+=(--change "$c"); done
	tar -C "$dir" --owner=0 --group=0 --numeric-owner --exclude=./home -cf "$out/image.tar" .
	if [ -d "$dir/home" ]; then
		tar -C "$dir" --owner=1000 --group=1000 --numeric-owner -rf "$out/image.tar" ./home
	fi
	docker import "${changes[@]}" --change "ENV BOTTLE_DEMO_SUM=$sum" "$out/image.tar" "$image" >/dev/null
	echo "demo-images.sh: built $image" >&2
}

# The agent image: what any agent image must hold — a user that is not root
# (Claude Code refuses --dangerously-skip-permissions as root), its home at
# /home/agent, and the agent's command.
a="$out/agent"
mkdir -p "$a/etc" "$a/home/agent" "$a/usr/local/bin" "$a/tmp"
chmod 1777 "$a/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nagent:x:1000:1000:agent:/home/agent:/sbin/nologin\n' >"$a/etc/passwd"
printf 'root:x:0:\nagent:x:1000:\n' >"$a/etc/group"
CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$a/usr/local/bin/demo-agent" ./scripts/demo/agent
import "$a" bottle-demo/agent:latest 'USER agent' 'WORKDIR /home/agent' 'ENV HOME=/home/agent' 'ENTRYPOINT ["/usr/local/bin/demo-agent"]'

# The sidecar: pipelock's stand-in at /pipelock, where pipelock's own image
# has it (bottle-launch runs /pipelock run and /pipelock healthcheck).
s="$out/sidecar"
mkdir -p "$s"
CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$s/pipelock" ./testdata/cmd/pipelock
import "$s" bottle-demo/sidecar:latest 'ENTRYPOINT ["/pipelock"]'
