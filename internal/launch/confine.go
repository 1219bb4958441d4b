package launch

import (
	"context"
	"os"
	"strings"
	"syscall"
)

// What a bottle's containers may do (docs/safety.md): who the agent runs
// as, and the capabilities and security options of the agent and the
// sidecar.

// DefaultUser is who the agent runs as when its image runs as root (or
// names no user), the spec names nobody, and there is no workspace owned
// by a user other than root: uid and gid 1000, the first user of most
// Linux systems and the node user of Node images.
var DefaultUser = User{UID: 1000, GID: 1000}

// DropAll is every capability. Neither container gets one back: the
// agent's home, workspace and transcript are made its own by the engine
// while provisioning (tar headers applied by the engine, never by a
// process in the container), and the sidecar reads its own root-owned
// files and listens on an unprivileged port (Docker lets any container
// bind low ports too: net.ipv4.ip_unprivileged_port_start is 0 in its
// containers).
var DropAll = []string{"ALL"}

// NoNewPrivileges keeps a process from gaining privileges it did not
// start with: no setuid or setgid binary, no file capability raises them.
const NoNewPrivileges = "no-new-privileges:true"

// AgentSysctls turn IPv6 off in the agent's network namespace, every
// interface and any made later. The internal network's bridge gets no
// IPv4 address (inhibit_ipv4), but the kernel still gives it an IPv6
// link-local one, which Docker 20.10 offers no network option to remove;
// with IPv6 off in the container (Docker does it by itself on networks
// without IPv6; this makes it so on every engine and in compose.json) and
// no NET_RAW or NET_ADMIN (no packet or raw socket, no sysctl written:
// /proc/sys is read-only too), nothing in the agent can speak IPv6 to it.
var AgentSysctls = map[string]string{
	"net.ipv6.conf.all.disable_ipv6":     "1",
	"net.ipv6.conf.default.disable_ipv6": "1",
}

// securityOpts are the sidecar's engine security options.
func securityOpts() []string { return []string{NoNewPrivileges} }

// agentSecurityOpts are the agent's: no new privileges, and its seccomp
// profile (SeccompProfile), which the engine takes whole in the option;
// profile is how it is given ("seccomp=" and the JSON for the engine, the
// file's path for compose.json, whose seccomp= names a file).
func agentSecurityOpts(profile string) []string {
	return []string{NoNewPrivileges, "seccomp=" + profile}
}

// IsRootUser reports whether a user as an image's USER or the spec's user
// writes it names root by its name or uid (whatever the group).
func IsRootUser(u string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(u), ":")
	return name == "" || name == "root" || name == "0"
}

// ExplicitRoot reports whether the spec asks for the agent to run as
// root.
func (s *Spec) ExplicitRoot() bool { return s.User != "" && IsRootUser(s.User) }

// validUser reports whether u is a user as a container's User takes it:
// a name or a uid, optionally with ":" and a group name or a gid.
func validUser(u string) bool {
	name, grp, hasGroup := strings.Cut(u, ":")
	ok := func(s string) bool {
		if s == "" || len(s) > 32 || s[0] == '-' {
			return false
		}
		for _, r := range s {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
			default:
				return false
			}
		}
		return true
	}
	return ok(name) && (!hasGroup || ok(grp))
}

// defaultUser is who an agent whose image runs as root runs as: the owner
// of the workspace (so what it writes there is its owner's) when that is
// not root, else DefaultUser.
func defaultUser(workspace string) User {
	if workspace != "" {
		if fi, err := os.Stat(workspace); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
				return User{UID: int(st.Uid), GID: int(st.Gid)}
			}
		}
	}
	return DefaultUser
}

// createUser is the User the agent container is created with: the spec's
// (root spelt 0:0, which needs no passwd in the image), or, when the
// image runs as root or names no user, defaultUser; "" keeps the image's
// own non-root USER.
func (b *Launched) createUser(ctx context.Context) (string, error) {
	s := b.spec
	switch {
	case s.ExplicitRoot():
		return "0:0", nil
	case s.User != "":
		return s.User, nil
	}
	img, err := b.eng.ImageUser(ctx, s.Image)
	if err != nil {
		return "", err
	}
	if IsRootUser(img) {
		return defaultUser(s.Workspace).String(), nil
	}
	return "", nil
}
