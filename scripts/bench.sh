#!/usr/bin/env bash
# `make bench`: runs every scripts/bench-*.sh in turn, holding the machine-wide
# engine-test lock so no test suite shares the engine's address pools with it.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
for b in scripts/bench-*.sh; do
	[ -e "$b" ] || continue
	echo "=== $b" >&2
	scripts/engine-lock.sh run "$b" || status=1
done
exit $status
