#!/usr/bin/env bash
# Benchmark of bottle-reap's memory (issue 10, hole 15), run by `make bench`
# through scripts/bench.sh. The reaper streams the plan with a bounded
# window, so its peak RSS must not grow with the plan's length.
#
# Makes plans of N lines (default 1000 and 100000) of one kind of line each:
# state dirs of a temporary state root that do not exist (answered `gone`:
# no engine resource is needed at that scale; the engine is asked once, for
# the survey before state dirs go). Prints bottle-reap's peak RSS
# (/usr/bin/time -v) for each plan and the ratio; target: the 100k-line
# plan's peak RSS within 2x the 1k-line plan's and under 40 MB.
#
# Environment: LINES (default "1000 100000"), BIN (default bin).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
LINES=${LINES:-"1000 100000"}
[ -x "$BIN/bottle-reap" ] || { echo "bench-reap-memory.sh: $BIN/bottle-reap is missing; run make build" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-reap-memory.sh: needs GNU time at /usr/bin/time" >&2; exit 1; }

token=$(head -c 512 /dev/urandom | LC_ALL=C tr -dc 'a-z0-9' | cut -c1-8)
P="bb${token}-"
work=$(mktemp -d "${TMPDIR:-/tmp}/bottle-bench-reapmem.XXXXXX")
trap 'rm -rf "$work"' EXIT
state="$work/state"
mkdir -p "$state"
touch "$state/.bottle-state-root" # a state root bottle-launch made (docs/safety.md)

first=""
for n in $LINES; do
	plan="$work/plan-$n.jsonl"
	# every line a state dir that is not there: answered gone, no engine call
	awk -v n="$n" -v s="$state" 'BEGIN { for (i = 0; i < n; i++) printf "{\"backend\":\"docker\",\"kind\":\"state-dir\",\"name\":\"gone-%05d\",\"slug\":\"gone-%05d\",\"path\":\"%s/gone-%05d\",\"size_bytes\":4096,\"transcript\":true,\"modified\":\"2025-01-01T00:00:00Z\"}\n", i % 100000, i % 100000, s, i % 100000 }' >"$plan"
	/usr/bin/time -v "$BIN/bottle-reap" --prefix "$P" --state-dir "$state" "$plan" >"$work/out.jsonl" 2>"$work/time.txt" || {
		echo "bench-reap-memory.sh: bottle-reap failed on $n lines:" >&2; grep -v '^\s' "$work/time.txt" >&2; exit 1; }
	got=$(wc -l <"$work/out.jsonl")
	[ "$got" = "$n" ] || { echo "bench-reap-memory.sh: $got results for $n lines" >&2; exit 1; }
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
	secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
	printf 'bench-reap-memory: %7d lines: peak RSS %6.1f MB, wall %s\n' "$n" "$(echo "$rss / 1024" | bc -l)" "$secs"
	[ -z "$first" ] && first=$rss
	last=$rss
done
printf 'bench-reap-memory: peak RSS ratio last/first %.2f (target <= 2, and the largest plan under 40 MB)\n' "$(echo "$last / $first" | bc -l)"
if [ "$(echo "$last > 2 * $first || $last > 40 * 1024" | bc -l)" = 1 ]; then
	echo "bench-reap-memory.sh: bottle-reap's memory grows with the plan" >&2
	exit 1
fi
