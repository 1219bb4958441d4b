#!/bin/sh
# Prints the version `make build` links into the binaries: the one `go build`
# stamps from a git clone (which it cannot in a git worktree, nor with
# -buildvcs=false), so every build says it the same way:
#   v1.2.0                                   HEAD is tagged v1.2.0
#   v1.2.1-0.20260301120000-0123456789ab      a commit after v1.2.0
#   v1.3.0-rc.1.0.20260301120000-0123456789ab a commit after v1.3.0-rc.1
#   v0.0.0-20260301120000-0123456789ab        no tag yet
# with +dirty when the tree has changes (untracked files too, as go sees it),
# and "devel" outside a git checkout. Tags are semver tags v0.x or v1.x (the
# module path has no /vN suffix); the highest one HEAD contains is the base.
set -eu
# (of the git checkout the current directory is in)
rev=$(git rev-parse --verify -q HEAD 2>/dev/null) || { echo devel; exit 0; }
dirty=
[ -z "$(git status --porcelain 2>/dev/null)" ] || dirty=+dirty
semver='^v[01]\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
# highest first: a pre-release sorts below its release (sort -V reads ~ so)
highest() { grep -E "$semver" | sed 's/-/~/' | sort -rV | sed 's/~/-/' | head -n 1; }
exact=$(git tag --points-at HEAD | highest)
if [ -n "$exact" ]; then
	echo "$exact$dirty"
	exit 0
fi
time=$(TZ=UTC git log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S HEAD)
short=$(echo "$rev" | cut -c1-12)
base=$(git tag --merged HEAD | highest)
case "$base" in
"") echo "v0.0.0-$time-$short$dirty" ;;
*-*) echo "$base.0.$time-$short$dirty" ;;
*)
	patch=${base##*.}
	echo "${base%.*}.$((patch + 1))-0.$time-$short$dirty"
	;;
esac
