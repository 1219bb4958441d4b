// Package smolvmcli runs the smolvm command-line tool (smol-machines/smolvm):
// where it is ($BOTTLE_SMOLVM or PATH), its machines (`machine ls --json`,
// both shapes of created_at), stopping and deleting them for the
// smolmachines backend, and what bottle-launch asks besides (version,
// create, start, cp, exec). Every call has a timeout; a missing machine is
// a NotFoundError.
package smolvmcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds every smolvm call: a smolvm that hangs longer is
// answered as failing.
const DefaultTimeout = 10 * time.Second

// Env names.
const (
	// EnvBinary names the smolvm binary; otherwise `smolvm` on PATH.
	EnvBinary = "BOTTLE_SMOLVM"
	// EnvTimeout overrides DefaultTimeout (a Go duration: 500ms, 30s).
	EnvTimeout = "BOTTLE_SMOLVM_TIMEOUT"
)

// Machine is one machine as `smolvm machine ls --json` reports it: only the
// fields the toolkit uses; every other field is ignored.
type Machine struct {
	Name    string
	State   string
	PID     *int64
	Created time.Time // zero when the listing gave none
}

// CLI runs the smolvm command-line tool. A zero Path means there is no
// smolvm on this host.
type CLI struct {
	Path    string
	Timeout time.Duration
}

// Find resolves the smolvm binary the way a tool's environment says: $BOTTLE_SMOLVM
// when set (it must exist; a bare name is looked up on PATH), else `smolvm` on
// $PATH (absent is no error: the CLI then has no Path). Only absolute PATH
// elements are searched: an empty or relative one (".", a trailing ":") is
// skipped, as Go's os/exec refuses it (exec.ErrDot), so a `smolvm` in the
// current directory is never run. It reads the environment only through
// getenv; the Path it returns is absolute.
func Find(getenv func(string) string) (*CLI, error) {
	c := &CLI{Timeout: DefaultTimeout}
	if s := strings.TrimSpace(getenv(EnvTimeout)); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s=%q: not a positive duration; use e.g. 10s or 500ms", EnvTimeout, s)
		}
		c.Timeout = d
	}
	if p := getenv(EnvBinary); p != "" {
		found := ""
		if strings.ContainsRune(p, filepath.Separator) {
			if abs, err := filepath.Abs(p); err == nil && executable(abs) {
				found = abs
			}
		} else {
			found = lookPath(p, getenv("PATH"))
		}
		if found == "" {
			return nil, fmt.Errorf("%s=%s: no executable file there; fix or unset %s", EnvBinary, p, EnvBinary)
		}
		c.Path = found
		return c, nil
	}
	c.Path = lookPath("smolvm", getenv("PATH"))
	return c, nil
}

// Present reports whether there is a smolvm to ask.
func (c *CLI) Present() bool { return c != nil && c.Path != "" }

// lookPath finds name in the absolute directories of path; empty and
// relative elements are never searched.
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		if p := filepath.Join(dir, name); executable(p) {
			return p
		}
	}
	return ""
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// NotFoundError is smolvm's "vm not found" for a name.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string { return "vm not found: " + e.Name }

// IsNotFound reports whether err says the machine does not exist.
func IsNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

// ErrMissing is returned by calls that need a smolvm when there is none.
var ErrMissing = errors.New("no smolvm binary: set " + EnvBinary + " or put smolvm on PATH")

// run runs smolvm with args, stdin empty, and returns its stdout. A non-zero
// exit, a timeout or a failure to start is an error carrying smolvm's stderr.
func (c *CLI) run(ctx context.Context, args ...string) ([]byte, error) {
	return c.RunWith(ctx, c.Timeout, nil, nil, args...)
}

// RunWith runs smolvm with args within timeout (0: ctx's only), with env
// (nil: this process's) and stdin (nil: empty, so a prompt is answered
// "no" and never hangs), and returns its stdout. A non-zero exit, a
// timeout or a failure to start is an error carrying smolvm's stderr
// (its "Error: " prefix dropped).
func (c *CLI) RunWith(ctx context.Context, timeout time.Duration, env []string, stdin io.Reader, args ...string) ([]byte, error) {
	if !c.Present() {
		return nil, ErrMissing
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, c.Path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Env = env
	cmd.Stdin = stdin
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A child that keeps our pipes open must not keep us waiting.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	what := "smolvm " + strings.Join(args, " ")
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("%s: no answer within %s (%s)", what, timeout, c.Path)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if msg == "" {
				msg = strings.TrimSpace(stdout.String())
			}
			if msg == "" {
				return nil, &ExitError{What: what, Code: ee.ExitCode()}
			}
			return nil, &ExitError{What: what, Code: ee.ExitCode(), Msg: oneLine(msg)}
		}
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	return stdout.Bytes(), nil
}

// ExitError is a smolvm call that exited non-zero.
type ExitError struct {
	What string // "smolvm machine ..."
	Code int
	Msg  string // its stderr (or stdout), one line, without "Error: "
}

func (e *ExitError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("%s: exit %d", e.What, e.Code)
	}
	return fmt.Sprintf("%s: exit %d: %s", e.What, e.Code, e.Msg)
}

func oneLine(s string) string {
	s = strings.TrimPrefix(s, "Error: ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return strings.Join(strings.Fields(s), " ")
}

// List returns every machine (`smolvm machine ls --json`).
func (c *CLI) List(ctx context.Context) ([]Machine, error) {
	out, err := c.run(ctx, "machine", "ls", "--json")
	if err != nil {
		return nil, err
	}
	ms, err := ParseList(out)
	if err != nil {
		return nil, fmt.Errorf("smolvm machine ls --json (%s): %w", c.Path, err)
	}
	return ms, nil
}

// Stop stops a machine (`smolvm machine stop --name X`); a machine that is
// not running is no error, a missing one is a NotFoundError.
func (c *CLI) Stop(ctx context.Context, name string) error {
	_, err := c.run(ctx, "machine", "stop", "--name", name)
	return notFound(err, name)
}

// Delete deletes a machine without a prompt (`smolvm machine delete --name
// X -f`; smolvm stops it first); a missing one is a NotFoundError.
func (c *CLI) Delete(ctx context.Context, name string) error {
	_, err := c.run(ctx, "machine", "delete", "--name", name, "-f")
	return notFound(err, name)
}

func notFound(err error, name string) error {
	if err != nil && strings.Contains(err.Error(), "vm not found: "+name) {
		return &NotFoundError{Name: name}
	}
	return err
}

// ParseList reads `smolvm machine ls --json`: one JSON array (`[]` when
// empty) of objects in any order. created_at is Unix seconds, an integer
// since smolvm v0.8.0 and a string of digits before; pid may be null.
// Unknown fields are ignored; a machine without a name is an error, since
// the output is then not what this parser understands.
func ParseList(b []byte) ([]Machine, error) {
	var raw []struct {
		Name      *string         `json:"name"`
		State     string          `json:"state"`
		PID       *int64          `json:"pid"`
		CreatedAt json.RawMessage `json:"created_at"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("output is not a JSON array of machines: %v", err)
	}
	out := make([]Machine, 0, len(raw))
	for i, r := range raw {
		if r.Name == nil || *r.Name == "" {
			return nil, fmt.Errorf("machine %d of the JSON array has no name", i+1)
		}
		created, err := parseCreated(r.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("machine %q: created_at: %v", *r.Name, err)
		}
		out = append(out, Machine{Name: *r.Name, State: r.State, PID: r.PID, Created: created})
	}
	return out, nil
}

// parseCreated reads created_at: Unix seconds as a number or as a string
// (older releases); RFC 3339 text is accepted too; null or absent is zero.
func parseCreated(b json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(b))
	if s == "" || s == "null" {
		return time.Time{}, nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return time.Time{}, err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return time.Time{}, fmt.Errorf("%s is neither Unix seconds nor an RFC 3339 time", s)
		}
		n = int64(f)
	}
	if n <= 0 {
		return time.Time{}, nil
	}
	return time.Unix(n, 0).UTC(), nil
}
