#!/usr/bin/env bash
# Checks bottle-launch --backend smolmachines against a REAL smolvm: what the
# test suite can only check against its stand-in (internal/smolvmfake). Run it
# on a Mac (Apple Silicon) or a Linux host with KVM, with smolvm 1.9.0 or
# later and a Docker engine:
#
#   scripts/smolvm-check.sh
#
# It builds the tools and the test images, then launches bottles under a
# prefix and state root of its own (removed at the end, also on failure):
# a foreground bottle whose agent checks its home, prompt, credential and CA
# (owned by the image's user), reaches an allowed host through the proxy,
# is refused another, and cannot connect out directly or resolve names; an
# ending by SIGTERM; a detached bottle ended by bottle-cleanup; kill -9 of a
# launcher (its guardian ends the bottle). It stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*" >&2; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

command -v smolvm >/dev/null || fail "no smolvm on PATH"
docker version >/dev/null || fail "no Docker engine"
say "$(smolvm --version)"

make build >/dev/null
scripts/test-images.sh
export PATH="$PWD/bin:$PATH"

work=$(mktemp -d)
export BOTTLE_PREFIX="bcheck$RANDOM-" BOTTLE_STATE_DIR="$work/state"
cleanup() {
	bottle-cleanup --yes --include-detached >/dev/null 2>&1 || true
	docker rm -f "web-$BOTTLE_PREFIX" >/dev/null 2>&1 || true
	docker network rm "hosts-$BOTTLE_PREFIX" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# a web server under two names, on a network the sidecar joins
docker network create "hosts-$BOTTLE_PREFIX" >/dev/null
docker run -d --name "web-$BOTTLE_PREFIX" --network "hosts-$BOTTLE_PREFIX" \
	--network-alias allowed.test --network-alias denied.test bottle-test/web >/dev/null
mkdir -p "$work/skills/sub"
echo "hello from the prompt" >"$work/prompt.md"
echo "skill a" >"$work/skills/a.md"
echo "skill b" >"$work/skills/sub/b.md"
echo "https://ada:token@git.example.test" >"$work/cred"
spec() { # spec AGENT IMAGE COMMAND-JSON
	cat >"$work/$1.json" <<EOF
{"backend": "smolmachines", "agent": "$1", "image": "$2", "command": $3,
 "env": {"ALLOWED_URL": "http://allowed.test/", "DENIED_URL": "http://denied.test/",
         "DIRECT_ADDRS": "1.1.1.1:443 8.8.8.8:53", "RESOLVE_DENIED": "example.com"},
 "prompt": "prompt.md", "skills": "skills",
 "git": {"user": "Ada", "email": "ada@example.com", "credential": "cred"},
 "sidecar": {"image": "bottle-test/pipelock", "trusted": ["allowed.test"], "networks": ["hosts-$BOTTLE_PREFIX"]}}
EOF
	echo "$work/$1.json"
}
gone() { # gone AGENT: nothing of AGENT's bottle is left (60 s)
	for _ in $(seq 120); do
		if [ -z "$(docker ps -aq --filter "name=${BOTTLE_PREFIX}sidecars-$1-")$(docker network ls -q --filter "name=${BOTTLE_PREFIX}bundle-$1-")" ] &&
			! smolvm machine ls --json | grep -q "\"${BOTTLE_PREFIX}$1-"; then
			return 0
		fi
		sleep 0.5
	done
	return 1
}

say "foreground: the agent checks what it got, the proxy, and that nothing else is reachable"
out=$(bottle-launch --spec "$(spec check bottle-test/agent '["check"]')" </dev/null) || { echo "$out"; fail "the check agent failed"; }
echo "$out"
grep -q '^allowed http://allowed.test/: 200$' <<<"$out" || fail "the allowed host was not reached through the proxy"
grep -q '^denied http://denied.test/: 403$' <<<"$out" || fail "the denied host was not refused"
grep -q '^direct 1.1.1.1:443: blocked$' <<<"$out" || fail "a direct connection out was not blocked"
grep -q '^resolve example.com: refused$' <<<"$out" || fail "a name other than the gateway's resolved (DNS is a way out)"
out=$(bottle-launch --spec "$(spec node bottle-test/agent-node '["home"]')" </dev/null) || { echo "$out"; fail "the home check failed"; }
echo "$out"
grep -q '^user 1000:1000$' <<<"$out" || fail "the agent does not run as the image's user"
gone check && gone node || fail "a foreground bottle left something"
ls "$BOTTLE_STATE_DIR"/node-*/transcript/x >/dev/null || fail "no transcript saved"

say "SIGTERM: the agent is stopped inside the machine; exit 130"
s=$(spec term bottle-test/agent '["sleep"]')
bottle-launch --spec "$s" </dev/null >"$work/term.out" 2>&1 &
pid=$!
for _ in $(seq 240); do grep -q '^agent: sleeping$' "$work/term.out" && break; sleep 0.5; done
kill -TERM $pid
code=0
wait $pid || code=$?
[ $code = 130 ] || fail "SIGTERM: exit $code, want 130"
grep -q '^agent: stopped$' "$work/term.out" || fail "the agent did not get SIGTERM"
gone term || fail "the stopped bottle left something"

say "detached, then bottle-cleanup --name"
bottle-launch --spec "$(spec det bottle-test/agent '["sleep"]')" --detach >/dev/null
bottle-ls --jq 'select(.slug|test("^det-"))|[.backend,.status,.machine.state]|join(" ")' | grep -q '^smolmachines running running$' ||
	fail "bottle-ls does not show the detached bottle running"
bottle-cleanup --yes --name "$(bottle-ls --jq 'select(.slug|test("^det-"))|.slug')" >/dev/null
gone det || fail "bottle-cleanup left something of the detached bottle"

say "kill -9 of the launcher: its guardian ends the bottle"
s=$(spec sk bottle-test/agent '["sleep"]')
bottle-launch --spec "$s" </dev/null >"$work/sk.out" 2>&1 &
pid=$!
for _ in $(seq 240); do grep -q '^agent: sleeping$' "$work/sk.out" && break; sleep 0.5; done
kill -KILL $pid
wait $pid 2>/dev/null || true
gone sk || fail "the guardian did not end the bottle"

say "all checks passed ($(smolvm --version))"
