#!/usr/bin/env bash
# The machine-wide engine-test lock (internal/enginetest holds it in Go): one
# suite at a time uses the engine, whose address pools hold ~30 networks.
# Its holder writes "pid N since TIME: COMMAND" into the lock file, so a
# waiter can say whom it waits for.
#
#   engine-lock.sh note     says on stderr who holds the lock, if anyone
#                           (make test runs it before the tests, which then wait)
#   engine-lock.sh run CMD  runs CMD holding the lock, saying first whom it
#                           waits for (make bench)
set -u
lock="${TMPDIR:-/tmp}/bottle-engine-tests.lock"
holder() { local h; h=$(cat "$lock" 2>/dev/null); echo "${h:-a process that does not say who it is}"; }
held() { [ -e "$lock" ] && ! flock -n "$lock" true 2>/dev/null; }

case "${1:-}" in
note)
	if held; then
		echo "engine tests will wait for the engine-test lock $lock, held by $(holder)" >&2
	fi
	;;
run)
	shift
	[ $# -gt 0 ] || { echo "usage: engine-lock.sh run COMMAND [ARGS...]" >&2; exit 2; }
	if held; then
		echo "$(basename "$1"): waiting for the engine-test lock $lock, held by $(holder)" >&2
	fi
	exec 9>>"$lock"
	flock 9
	printf 'pid %d since %s: %s\n' $$ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >"$lock"
	"$@"
	rc=$?
	: >"$lock"
	exit $rc
	;;
*)
	echo "usage: engine-lock.sh note | run COMMAND [ARGS...]" >&2
	exit 2
	;;
esac
