package smolvmcli

// What bottle-launch asks of smolvm beyond what the backend lists, stops
// and deletes: its version, a machine's creation from an image archive,
// its start, file copies into it and commands run in it. Every rule here
// was read from smol-machines/smolvm at v1.9.3 (file references beside
// each; docs/bottle-launch.md); the stand-in internal/smolvmfake copies
// the same rules.

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Version is a smolvm release.
type Version struct{ Major, Minor, Patch int }

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Patch < o.Patch
}

// MinLaunchVersion is the oldest smolvm bottle-launch drives: the newest
// flags it uses are `machine cp --mode/--uid/--gid` (v1.9.0, #997). It also
// needs `machine create --label` (v1.8.0, #899), `host.smolvm.internal`
// answered by the gateway even under an allow-host filter (v1.8.3, #963),
// the gateway's relay to the host's 127.0.0.1 (v1.7.2, #784) and
// `--secret-env` on exec (v1.x, before all of these).
var MinLaunchVersion = Version{1, 9, 0}

var versionRE = regexp.MustCompile(`(?m)^smolvm v?(\d+)\.(\d+)\.(\d+)\b`)

// ParseVersion reads `smolvm --version`: clap prints "smolvm 1.9.3" (the
// binary's name, a space, its Cargo version; src/main.rs `#[command(version)]`).
func ParseVersion(out string) (Version, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		return Version{}, fmt.Errorf("smolvm --version printed %q, not \"smolvm X.Y.Z\"", strings.TrimSpace(oneLine(out)))
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	v.Patch, _ = strconv.Atoi(m[3])
	return v, nil
}

// Version asks `smolvm --version`.
func (c *CLI) Version(ctx context.Context) (Version, error) {
	out, err := c.RunWith(ctx, c.Timeout, nil, nil, "--version")
	if err != nil {
		return Version{}, err
	}
	return ParseVersion(string(out))
}

// CheckName says why smolvm would refuse name as a machine's, or "": at
// most 128 characters of [A-Za-z0-9_-], starting with a letter or digit,
// no trailing hyphen, no two hyphens in a row (src/data/mod.rs
// validate_vm_name). A dot is not allowed.
func CheckName(name string) string {
	switch {
	case name == "":
		return "a machine name cannot be empty"
	case len(name) > 128:
		return fmt.Sprintf("a machine name has at most 128 characters; %q has %d", name, len(name))
	case !alnum(name[0]):
		return fmt.Sprintf("a machine name starts with a letter or digit, not %q", name[:1])
	case strings.HasSuffix(name, "-"):
		return "a machine name cannot end with a hyphen"
	case strings.Contains(name, "--"):
		return "a machine name cannot contain two hyphens in a row"
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '-' && c != '_' {
			return fmt.Sprintf("a machine name holds only letters, digits, '-' and '_', not %q", string(c))
		}
	}
	return ""
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// proxyVars are the variables smolvm reads for an image pull from a
// registry (src/cli/proxy_opts.rs): a launch never pulls, and none of them
// may reach the machine by accident.
var proxyVars = []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"}

// LaunchEnv is the environment smolvm runs with for a launch: environ
// without the proxy variables, plus extra (KEY=VALUE: the secret values an
// exec's --secret-env names).
func LaunchEnv(environ []string, extra ...string) []string {
	out := make([]string, 0, len(environ)+len(extra))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, p := range proxyVars {
			drop = drop || k == p
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// Cmd is the smolvm command for args with env, for a caller that streams
// its stdio (an image on stdin, a tar either way, an agent attached to a
// terminal). Cancelling ctx sends SIGTERM (SIGKILL a few seconds later).
func (c *CLI) Cmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.Path, args...)
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Start starts a machine (`smolvm machine start --name X`): its first boot
// flattens the image and runs the workload, which takes a while.
func (c *CLI) Start(ctx context.Context, env []string, name string, timeout time.Duration) error {
	_, err := c.RunWith(ctx, timeout, env, nil, "machine", "start", "--name", name)
	return notFound(err, name)
}

// StopWithin and DeleteWithin are Stop and Delete with the launcher's
// own timeout (a stop waits for the guest: up to a few seconds).
func (c *CLI) StopWithin(ctx context.Context, name string, timeout time.Duration) error {
	_, err := c.RunWith(ctx, timeout, nil, nil, "machine", "stop", "--name", name)
	return notFound(err, name)
}

// DeleteWithin: see StopWithin.
func (c *CLI) DeleteWithin(ctx context.Context, name string, timeout time.Duration) error {
	_, err := c.RunWith(ctx, timeout, nil, nil, "machine", "delete", "--name", name, "-f")
	return notFound(err, name)
}

// CopyIn copies a host file into a running machine (`smolvm machine cp SRC
// NAME:DST --mode M --uid U --gid G`; v1.9.0+): written atomically, mode
// and owner set before it appears; missing parent directories are made
// root's. src must not contain ':' (smolvm would take it for a machine).
func (c *CLI) CopyIn(ctx context.Context, name, src, dst string, mode, uid, gid int, timeout time.Duration) error {
	if strings.Contains(src, ":") {
		return fmt.Errorf("smolvm machine cp: the host path %q holds ':', which smolvm reads as a machine name", src)
	}
	_, err := c.RunWith(ctx, timeout, nil, nil, "machine", "cp", src, name+":"+dst,
		"--mode", strconv.FormatInt(int64(mode), 8), "--uid", strconv.Itoa(uid), "--gid", strconv.Itoa(gid))
	return notFound(err, name)
}

// Machine returns the named machine as `machine ls --json` shows it, or
// nil when there is none.
func (c *CLI) Machine(ctx context.Context, name string) (*Machine, error) {
	ms, err := c.List(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ms {
		if ms[i].Name == name {
			return &ms[i], nil
		}
	}
	return nil, nil
}
