#!/usr/bin/env bash
# Builds the tests' images from Go sources in testdata/cmd (no registry is
# reachable): each image is one static binary imported with `docker import`.
# Idempotent; an image is rebuilt only when its binary changed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for src in testdata/cmd/*/; do
	name=$(basename "$src")
	image="bottle-test/$name:latest"
	mkdir -p "$out/$name"
	CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$out/$name/$name" "./$src"
	sum=$(sha256sum "$out/$name/$name" | cut -c1-16)
	have=$(docker image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$image" 2>/dev/null | sed -n 's/^BOTTLE_TEST_SUM=//p' || true)
	[ "$have" = "$sum" ] && continue
	tar -C "$out/$name" -cf "$out/$name.tar" "$name"
	docker import --change "ENTRYPOINT [\"/$name\"]" --change "ENV BOTTLE_TEST_SUM=$sum" "$out/$name.tar" "$image" >/dev/null
	echo "test-images.sh: built $image" >&2
done
