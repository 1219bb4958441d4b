#!/usr/bin/env bash
# Makes sure a Docker engine answers: if it does not and dockerd is
# installed, starts one in the background and waits for it. Exits non-zero
# when no engine can be had (the tests then fail under CI=true).
set -u
answers() { timeout 5 docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; }
answers && exit 0
if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix:///var/run/docker.sock}" = "$DOCKER_HOST" ]; then
	echo "engine.sh: the engine at DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local dockerd" >&2
	exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
	echo "engine.sh: no Docker engine answers and dockerd is not installed" >&2
	exit 1
fi
echo "engine.sh: starting dockerd (log: /tmp/bottle-dockerd.log)" >&2
if [ "$(id -u)" = 0 ]; then
	nohup dockerd >/tmp/bottle-dockerd.log 2>&1 &
else
	nohup sudo -n dockerd >/tmp/bottle-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
	answers && exit 0
	sleep 0.5
done
echo "engine.sh: dockerd did not answer within 30s; see /tmp/bottle-dockerd.log" >&2
tail -n 20 /tmp/bottle-dockerd.log >&2 || true
exit 1
