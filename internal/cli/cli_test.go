package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/exitcode"
)

type bufEnv struct {
	out, err bytes.Buffer
	vars     map[string]string
}

func newEnv(tty bool, vars map[string]string) (*bufEnv, Env) {
	b := &bufEnv{vars: vars}
	return b, Env{
		Stdin:     strings.NewReader(""),
		Stdout:    &b.out,
		Stderr:    &b.err,
		Getenv:    func(k string) string { return b.vars[k] },
		StdoutTTY: tty,
		Now:       func() time.Time { return time.Unix(1e9, 0) },
	}
}

type testOpts struct {
	Common
	Scope
	Output
	Age Duration `long:"age"`
}

func TestParseHelp(t *testing.T) {
	b, env := newEnv(false, nil)
	tool := &Tool{Name: "bottle-x", Env: env}
	var o testOpts
	_, done, err := tool.Parse(&o, []string{"--help"}, "[OPTIONS]\n\nDoes x.")
	if !done || err != nil {
		t.Fatalf("--help: done=%v err=%v, want done and no error (exit 0)", done, err)
	}
	if !strings.HasPrefix(b.out.String(), "Usage:\n  bottle-x [OPTIONS]") || !strings.Contains(b.out.String(), "--jq=EXPR") {
		t.Fatalf("--help printed %q on stdout", b.out.String())
	}
	if b.err.Len() != 0 {
		t.Fatalf("--help wrote on stderr: %q", b.err.String())
	}
	if code := tool.Exit(err); code != exitcode.OK {
		t.Fatalf("exit %d", code)
	}
}

func TestParseVersion(t *testing.T) {
	old := Version
	Version = "v9.9.9"
	defer func() { Version = old }()
	b, env := newEnv(false, nil)
	tool := &Tool{Name: "bottle-x", Env: env}
	var o testOpts
	_, done, err := tool.Parse(&o, []string{"--version"}, "")
	if !done || err != nil || b.out.String() != "bottle-x v9.9.9\n" || b.err.Len() != 0 {
		t.Fatalf("--version: done=%v err=%v stdout=%q stderr=%q", done, err, b.out.String(), b.err.String())
	}
}

func TestParseArgs(t *testing.T) {
	_, env := newEnv(false, nil)
	tool := &Tool{Name: "bottle-x", Env: env}
	var o testOpts
	rest, done, err := tool.Parse(&o, []string{"--prefix", "abc-", "--age", "1d12h", "--json", "--", "--x"}, "")
	if done || err != nil {
		t.Fatalf("done=%v err=%v", done, err)
	}
	if o.Prefix != "abc-" || time.Duration(o.Age) != 36*time.Hour || !o.JSON || len(rest) != 1 || rest[0] != "--x" {
		t.Fatalf("parsed %+v rest %q", o, rest)
	}
}

// A value that starts with a double quote is the user's, byte for byte:
// go-flags would otherwise unquote it, breaking jq string literals such as
// the README's --jq '"\(.size_bytes)\t\(.path)"'.
func TestParseKeepsQuotedValues(t *testing.T) {
	for _, args := range [][]string{
		{"--jq", `"\(.size_bytes)\t\(.path)"`, "--state-dir", `"q"`},
		{`--jq="\(.size_bytes)\t\(.path)"`, `--state-dir="q"`},
	} {
		_, env := newEnv(false, nil)
		tool := &Tool{Name: "bottle-x", Env: env}
		var o testOpts
		if _, done, err := tool.Parse(&o, args, ""); done || err != nil {
			t.Fatalf("%q: done=%v err=%v", args, done, err)
		}
		if o.JQ != `"\(.size_bytes)\t\(.path)"` || o.StateDir != `"q"` {
			t.Fatalf("%q: parsed --jq %q --state-dir %q, want them as given", args, o.JQ, o.StateDir)
		}
		if _, err := NewPrinter(env, o.Output); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
	}
}

func TestParseUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "bottle-x: unknown flag --nope (see bottle-x --help)\n"},
		{[]string{"-z"}, "bottle-x: unknown flag -z (see bottle-x --help)\n"},
		{[]string{"--age"}, "bottle-x: expected argument for flag --age (see bottle-x --help)\n"},
		{[]string{"--age", "soon"}, "bottle-x: --age: bad duration \"soon\": use a number and a unit, e.g. 90m, 36h, 7d, 2w (see bottle-x --help)\n"},
		{[]string{"--json=yes"}, "bottle-x: bool flag --json cannot have an argument (see bottle-x --help)\n"},
	} {
		b, env := newEnv(false, nil)
		tool := &Tool{Name: "bottle-x", Env: env}
		var o testOpts
		_, done, err := tool.Parse(&o, tc.args, "")
		if !done || err == nil {
			t.Fatalf("%q: done=%v err=%v, want a usage error", tc.args, done, err)
		}
		if code := tool.Exit(err); code != exitcode.Usage {
			t.Errorf("%q: exit %d, want %d", tc.args, code, exitcode.Usage)
		}
		if b.err.String() != tc.want || b.out.Len() != 0 {
			t.Errorf("%q: stderr %q, want %q (stdout %q)", tc.args, b.err.String(), tc.want, b.out.String())
		}
	}
}

func TestExitPrintsOnce(t *testing.T) {
	b, env := newEnv(false, nil)
	tool := &Tool{Name: "bottle-x", Env: env}
	if code := tool.Exit(errors.New("it broke\n  badly\n")); code != exitcode.Failure {
		t.Fatalf("exit %d", code)
	}
	if b.err.String() != "bottle-x: it broke badly\n" {
		t.Fatalf("stderr %q", b.err.String())
	}
	b.err.Reset()
	if code := tool.Exit(exitcode.Silent{Code: 3}); code != 3 || b.err.Len() != 0 {
		t.Fatalf("silent: exit %d, stderr %q", code, b.err.String())
	}
}

func TestScopeResolve(t *testing.T) {
	_, env := newEnv(false, map[string]string{"HOME": "/home/u"})
	var s Scope
	if err := s.Resolve(env); err != nil || s.Prefix != "claude-bottle-" || s.StateDir != "/home/u/.claude-bottle/state" {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	_, env = newEnv(false, map[string]string{"HOME": "/home/u", "BOTTLE_PREFIX": "bt-x-", "BOTTLE_STATE_DIR": "/tmp/s/"})
	s = Scope{}
	if err := s.Resolve(env); err != nil || s.Prefix != "bt-x-" || s.StateDir != "/tmp/s" {
		t.Fatalf("from env: %+v %v", s, err)
	}
	s = Scope{Prefix: "flag-", StateDir: "/tmp/f"}
	if err := s.Resolve(env); err != nil || s.Prefix != "flag-" || s.StateDir != "/tmp/f" {
		t.Fatalf("flags beat env: %+v %v", s, err)
	}
	for _, bad := range []Scope{{Prefix: "ab"}, {Prefix: "-abc"}, {Prefix: "a*c"}, {Prefix: "a/b"}, {StateDir: "/"}} {
		_, env := newEnv(false, map[string]string{"HOME": "/home/u"})
		if err := bad.Resolve(env); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("%+v: err %v, want a usage error", bad, err)
		}
	}
	_, env = newEnv(false, nil)
	s = Scope{}
	if err := s.Resolve(env); exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "HOME is not set") {
		t.Fatalf("no HOME: %v", err)
	}
}

// Red team: a state root that is the home dir, one of its ancestors, or /
// reached through a symlink would make every dir there (~/src, /home, ...)
// an orphan state dir to bottle-cleanup --yes.
func TestScopeResolveRefusesHomeAndSlash(t *testing.T) {
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home", "u")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	slash := filepath.Join(tmp, "slash")
	homeLink := filepath.Join(tmp, "homelink")
	for link, target := range map[string]string{slash: "/", homeLink: home} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{home, home + "/", filepath.Join(tmp, "home"), tmp, slash, homeLink, filepath.Join(home, "sub", "..")} {
		_, env := newEnv(false, map[string]string{"HOME": home})
		s := Scope{StateDir: dir}
		if err := s.Resolve(env); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("state root %s with HOME %s: err %v, want a usage error", dir, home, err)
		}
	}
	// A dir inside home is fine, and so is one that does not exist yet.
	for _, dir := range []string{filepath.Join(home, ".claude-bottle", "state"), filepath.Join(home, "x")} {
		_, env := newEnv(false, map[string]string{"HOME": home})
		s := Scope{StateDir: dir}
		if err := s.Resolve(env); err != nil {
			t.Errorf("state root %s: %v", dir, err)
		}
	}
}

// A state root that is a file (--state-dir /etc/passwd) is a usage error
// named once, not a plan that "lists no state dir" and then says why.
func TestScopeResolveRefusesAFile(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "passwd")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, env := newEnv(false, map[string]string{"HOME": filepath.Join(tmp, "home")})
	s := Scope{StateDir: file}
	err := s.Resolve(env)
	if exitcode.Of(err) != exitcode.Usage || err.Error() != "state root "+file+" is not a directory; pass --state-dir a directory of its own such as ~/.claude-bottle/state (made when missing)" {
		t.Fatalf("state root a file: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0":        0,
		"90m":      90 * time.Minute,
		"36h":      36 * time.Hour,
		"7d":       7 * 24 * time.Hour,
		"2w":       14 * 24 * time.Hour,
		"1.5d":     36 * time.Hour,
		"1d12h":    36 * time.Hour,
		"2w3d":     17 * 24 * time.Hour,
		"1w1d1h1m": 8*24*time.Hour + time.Hour + time.Minute,
		"0d":       0,
		"1h30m":    90 * time.Minute,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "7", "d", "w", "-1d", "-5m", "3d2w", "1h2d", "1d1d", "1w1w", "7 d", " 7d", "7d ", "NaNd", "infd", "+Infw", "1e300d", "100000w", "16000w", "2562047h1d"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		} else if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "bad duration") {
			t.Errorf("ParseDuration(%q): %v, want a usage error", in, err)
		}
	}
}

// --version comes from the build info when nothing was linked in: the
// module version (go install ...@v1.2.3, or go's git pseudo-version), else
// the revision, marked dirty when the tree had changes.
func TestVersionFromBuildInfo(t *testing.T) {
	rev := "bf71a072e7360777b729ed0323c9dfd786e2ad11"
	for _, c := range []struct {
		main     string
		settings map[string]string
		want     string
	}{
		{"v1.2.3", nil, "v1.2.3"},
		{"v0.0.0-20261202001249-bf71a072e736+dirty", map[string]string{"vcs.revision": rev, "vcs.modified": "true"}, "v0.0.0-20261202001249-bf71a072e736+dirty"},
		{"(devel)", map[string]string{"vcs.revision": rev, "vcs.modified": "false"}, "devel-bf71a072e736"},
		{"(devel)", map[string]string{"vcs.revision": rev, "vcs.modified": "true"}, "devel-bf71a072e736-dirty"},
		{"(devel)", nil, "devel"},
		{"", nil, "devel"},
	} {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/claude-bottle/bottle", Version: c.main}}
		for k, v := range c.settings {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: k, Value: v})
		}
		if got := versionFrom(bi); got != c.want {
			t.Errorf("main %q, settings %v: %q, want %q", c.main, c.settings, got, c.want)
		}
	}
	if got := versionFrom(nil); got != "devel" {
		t.Errorf("no build info: %q", got)
	}
}
