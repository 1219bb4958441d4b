#!/usr/bin/env bash
# Builds the real pipelock sidecar image from a pipelock source checkout you
# have, on a machine with no container registry:
#
#   git clone https://github.com/luckyPipewrench/pipelock   (wherever you can)
#   scripts/pipelock-image.sh ~/src/pipelock [IMAGE]          (default pipelock:local)
#   export BOTTLE_SIDECAR_IMAGE=pipelock:local                (or --sidecar-image)
#
# pipelock's own Dockerfile needs a registry for its base image, so this does
# what the tests do instead: `CGO_ENABLED=0 go build ./cmd/pipelock` in the
# checkout (its dependencies come from the Go module proxy; pipelock itself is
# not served by it, hence the checkout), then `docker import` of the binary at
# /pipelock (where bottle-launch runs it, as in pipelock's image) with this
# machine's CA bundle at /etc/ssl/certs/ca-certificates.crt (pipelock checks
# the certificates of the hosts it forwards to) and ENTRYPOINT ["/pipelock"].
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 PIPELOCK-SOURCE-DIR [IMAGE]   (IMAGE defaults to pipelock:local)" >&2
	exit 2
fi
src=$1 image=${2:-pipelock:local}
if [ ! -f "$src/go.mod" ] || [ ! -d "$src/cmd/pipelock" ]; then
	echo "pipelock-image.sh: $src is not a pipelock source checkout (no go.mod and cmd/pipelock there); clone github.com/luckyPipewrench/pipelock and name its directory" >&2
	exit 2
fi
bundle=
for b in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
	if [ -s "$b" ]; then
		bundle=$b
		break
	fi
done
if [ -z "$bundle" ]; then
	echo "pipelock-image.sh: no CA bundle on this machine (looked for /etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem); install ca-certificates" >&2
	exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$out/root/etc/ssl/certs"
cp "$bundle" "$out/root/etc/ssl/certs/ca-certificates.crt"
version=$(git -C "$src" describe --tags --always --dirty 2>/dev/null || echo unknown)
(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$out/root/pipelock" ./cmd/pipelock)
tar -C "$out/root" --owner=0 --group=0 --numeric-owner -cf "$out/pipelock.tar" .
docker import --change 'ENTRYPOINT ["/pipelock"]' --change "LABEL org.opencontainers.image.version=$version" \
	--change 'LABEL org.opencontainers.image.source=https://github.com/luckyPipewrench/pipelock' \
	"$out/pipelock.tar" "$image" >/dev/null
echo "pipelock-image.sh: built $image from $src ($version); use it with --sidecar-image $image or BOTTLE_SIDECAR_IMAGE=$image" >&2
