#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages the tests' extra engines and
# transports need, when missing:
#   sshd    openssh-server   (scripts/sshd.sh: the ssh:// transport)
#   podman  podman, netavark, aardvark-dns, containernetworking-plugins
#           (scripts/podman.sh: podman's Docker-compatible API; both of its
#           network backends)
#   zsh     zsh              (completion.txtar: the zsh completion script)
# dockerd (scripts/engine2.sh) is the machine's own. With no argument it
# installs everything. Nothing is started: the package scripts start no
# service where /usr/sbin/policy-rc.d forbids it (it does on these
# machines); sshd.sh and podman.sh start private instances.
#
#   test-deps.sh [sshd] [podman] [zsh]
set -euo pipefail
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(sshd podman zsh)
pkgs=()
for w in "${want[@]}"; do
	case "$w" in
	sshd) [ -x /usr/sbin/sshd ] || pkgs+=(openssh-server) ;;
	podman)
		command -v podman >/dev/null 2>&1 || pkgs+=(podman)
		[ -x /usr/lib/podman/netavark ] || pkgs+=(netavark aardvark-dns)
		[ -x /usr/lib/cni/bridge ] || pkgs+=(containernetworking-plugins)
		;;
	zsh) command -v zsh >/dev/null 2>&1 || pkgs+=(zsh) ;;
	*) echo "usage: test-deps.sh [sshd] [podman] [zsh]" >&2; exit 2 ;;
	esac
done
[ ${#pkgs[@]} -gt 0 ] || exit 0
sudo=
[ "$(id -u)" = 0 ] || sudo="sudo -n"
echo "test-deps.sh: installing ${pkgs[*]}" >&2
# Another apt-get (another checkout's test-deps.sh) may hold dpkg's lock:
# wait for it rather than fail.
$sudo apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 || true
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${pkgs[@]}" >&2
