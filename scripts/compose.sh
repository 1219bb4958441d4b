#!/usr/bin/env bash
# Docker compose v5 for the tests and benches: the compose CLI plugin built
# from the Go module proxy at a pinned version, cached outside the repository
# and built only when the cache lacks it. Never installed in ~/.docker: the
# tests and benches put it in a DOCKER_CONFIG of their own.
#
#   compose.sh [build]          builds it unless cached; prints the binary's path
#   compose.sh path             prints the cached binary's path; exit 1 if not built
#   compose.sh install DIR      builds it unless cached and links it as the CLI
#                               plugin DIR/cli-plugins/docker-compose (DIR is a
#                               DOCKER_CONFIG)
#
# Environment: COMPOSE_VERSION (default v5.6.0; v5.7 needs a newer Go than
# 1.26), BOTTLE_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/bottle).
#
# `go install github.com/docker/compose/v5/cmd@VERSION` refuses the module
# (its go.mod has exclude directives), so this downloads the module's source
# through the proxy (`go mod download`), copies it and builds ./cmd in the
# copy, as compose's own Dockerfile does (CGO_ENABLED=0, the version in
# internal.Version).
set -euo pipefail
version=${COMPOSE_VERSION:-v5.6.0}
module=github.com/docker/compose/v5
cache=${BOTTLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bottle}/compose/$version-$(go env GOOS)-$(go env GOARCH)
bin=$cache/docker-compose

build() {
	[ -x "$bin" ] && return 0
	mkdir -p "$cache"
	# One build at a time on the machine; a second caller waits and then
	# finds it built.
	exec 8>"$cache/.lock"
	flock 8
	[ -x "$bin" ] && return 0
	local t0 json src work
	t0=$(date +%s)
	echo "compose.sh: building docker compose $version from the Go module proxy into $cache (once)" >&2
	json=$(go mod download -json "$module@$version") || {
		echo "compose.sh: go mod download $module@$version failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))" >&2
		return 1
	}
	src=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[ -d "$src" ] || { echo "compose.sh: go mod download printed no source dir for $module@$version" >&2; return 1; }
	work=$(mktemp -d "$cache/build.XXXXXX")
	# The module cache is read-only: build in a writable copy.
	cp -R "$src/." "$work/src"
	chmod -R u+w "$work/src"
	(cd "$work/src" && CGO_ENABLED=0 go build -trimpath \
		-ldflags "-s -w -X $module/internal.Version=$version" -o "$work/docker-compose" ./cmd) || {
		rm -rf "$work"
		echo "compose.sh: go build of $module@$version failed" >&2
		return 1
	}
	mv "$work/docker-compose" "$bin"
	rm -rf "$work"
	echo "compose.sh: built $bin in $(($(date +%s) - t0)) s" >&2
}

case "${1:-build}" in
build)
	[ $# -le 1 ] || { echo "usage: compose.sh [build] | path | install DIR" >&2; exit 2; }
	build
	echo "$bin"
	;;
path)
	[ -x "$bin" ] || exit 1
	echo "$bin"
	;;
install)
	[ $# -eq 2 ] || { echo "usage: compose.sh install DIR (a DOCKER_CONFIG dir)" >&2; exit 2; }
	build
	mkdir -p "$2/cli-plugins"
	ln -sfn "$bin" "$2/cli-plugins/docker-compose"
	;;
*)
	echo "usage: compose.sh [build] | path | install DIR" >&2
	exit 2
	;;
esac
