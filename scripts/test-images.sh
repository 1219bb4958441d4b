#!/usr/bin/env bash
# Builds the tests' images from Go sources in testdata/cmd (no registry is
# reachable): each image is one static binary imported with `docker import`.
# Idempotent; an image is rebuilt only when its binary changed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The agent's image has sleep, tar and kill too (the agent binary, called by
# those names: testdata/cmd/agent/tools.go), as a smolmachines bottle needs.
tools() { # tools DIR
	mkdir -p "$1/bin"
	for t in sleep tar kill; do ln -sf /agent "$1/bin/$t"; done
}
for src in testdata/cmd/*/; do
	name=$(basename "$src")
	image="bottle-test/$name:latest"
	mkdir -p "$out/$name"
	CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$out/$name/$name" "./$src"
	members=$name
	if [ "$name" = agent ]; then
		tools "$out/$name"
		members="$name bin"
	fi
	sum=$(sha256sum "$out/$name/$name" | cut -c1-16)
	if [ "$members" != "$name" ]; then
		sum=$( (echo "$sum"; echo "$members") | sha256sum | cut -c1-16)
	fi
	have=$(docker image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image" 2>/dev/null | sed -n 's/^BOTTLE_TEST_SUM=//p' || true)
	[ "$have" = "$sum" ] && continue
	tar -C "$out/$name" -cf "$out/$name.tar" $members
	docker import --change "ENTRYPOINT [\"/$name\"]" --change "ENV BOTTLE_TEST_SUM=$sum" "$out/$name.tar" "$image" >/dev/null
	echo "test-images.sh: built $image" >&2
done

# Variants of the agent image, as real agent images are built: a non-root
# USER that exists only in the image's own /etc/passwd (bottle-test/agent-node,
# uid 1000; the host has no such user), and a numeric USER that is in no
# passwd at all (bottle-test/agent-uid, 1234:1234). Neither has /home/agent.
variant() { # variant NAME USER [PASSWD-LINE GROUP-LINE]
	local name=$1 user=$2 dir="$out/variant-$1"
	mkdir -p "$dir/etc"
	cp "$out/agent/agent" "$dir/agent"
	tools "$dir"
	if [ $# -gt 2 ]; then
		printf 'root:x:0:0:root:/root:/sbin/nologin\n%s\n' "$3" >"$dir/etc/passwd"
		printf 'root:x:0:\n%s\n' "$4" >"$dir/etc/group"
	fi
	local image="bottle-test/$name:latest"
	local sum
	sum=$( (cd "$dir" && find . -type f | sort | xargs sha256sum; find . -type l | sort; echo "$user") | sha256sum | cut -c1-16)
	local have
	have=$(docker image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image" 2>/dev/null | sed -n 's/^BOTTLE_TEST_SUM=//p' || true)
	[ "$have" = "$sum" ] && return 0
	tar -C "$dir" -cf "$dir.tar" .
	docker import --change 'ENTRYPOINT ["/agent"]' --change "USER $user" --change "ENV BOTTLE_TEST_SUM=$sum" "$dir.tar" "$image" >/dev/null
	echo "test-images.sh: built $image" >&2
}
variant agent-node node 'node:x:1000:1000::/home/node:/bin/sh' 'node:x:1000:'
variant agent-uid 1234:1234
