package lstool

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/tool/tooltest"
)

// twoEngines is bottle-ls on two fake engines: the default one (the
// tool's own) and the engine of a docker context "two" in the tool's
// DOCKER_CONFIG, each with a bottle.
func twoEngines(t *testing.T) *tooltest.Tool {
	x := tooltest.New(t, Run)
	x.Engine.Host, x.Engine.EngineID = "unix:///one.sock", "ONE"
	w := enginefake.NewWorld()
	w.Wire(x.Engine)
	w.Project(p+"one-1111", "running", tooltest.Now.Add(-time.Hour))
	two := enginefake.New(t)
	two.Host, two.EngineID = "unix:///two.sock", "TWO"
	w2 := enginefake.NewWorld()
	w2.Wire(two)
	w2.Project(p+"two-2222", "exited", tooltest.Now.Add(-time.Hour))

	cfg := t.TempDir()
	sum := sha256.Sum256([]byte("two"))
	dir := filepath.Join(cfg, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte(`{"Name":"two","Endpoints":{"docker":{"Host":"unix:///two.sock"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	x.Vars["DOCKER_CONFIG"] = cfg
	one := x.Env.Open
	other := func(getenv func(string) string, prefix string) (*backend.Set, error) {
		return all.On(two, getenv, prefix), nil
	}
	x.Env.Open = func(getenv func(string) string, prefix string) (*backend.Set, error) {
		if getenv("DOCKER_CONTEXT") == "two" {
			return other(getenv, prefix)
		}
		return one(getenv, prefix)
	}
	return x
}

// --all-contexts lists every engine's bottles, each with its engine; one
// engine is the default one alone, as without flags.
func TestListEngines(t *testing.T) {
	x := twoEngines(t)
	if code := x.Exec("--all-contexts", "--jq", `.engine+" "+.name`); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	if want := "default " + p + "one-1111\ntwo " + p + "two-2222\n"; x.Stdout.String() != want {
		t.Errorf("--all-contexts:\n%s\nwant\n%s", x.Stdout, want)
	}
	if code := x.Exec("--jq", `.engine+" "+.name`); code != exitcode.OK || x.Stdout.String() != "default "+p+"one-1111\n" {
		t.Errorf("no flag: exit %d, %q", code, x.Stdout)
	}
	if code := x.Exec("--context", "two", "--jq", `.engine+" "+.name`); code != exitcode.OK || x.Stdout.String() != "two "+p+"two-2222\n" {
		t.Errorf("--context two: exit %d, %q", code, x.Stdout)
	}
	if code := x.Exec("--context", "three"); code != exitcode.Usage || !strings.Contains(x.Stderr.String(), "--context three: no docker context of that name") {
		t.Errorf("--context three: exit %d, %q", code, x.Stderr)
	}
	if code := x.Exec("--context", "two", "--all-contexts"); code != exitcode.Usage {
		t.Errorf("--context and --all-contexts: exit %d, %q", code, x.Stderr)
	}
}

// At a terminal an ENGINE column shows when more than one engine is asked,
// and only then.
func TestListEnginesTable(t *testing.T) {
	x := twoEngines(t)
	x.Env.StdoutTTY = true
	if code := x.Exec("--all-contexts"); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	lines := strings.Split(x.Stdout.String(), "\n")
	if f := strings.Fields(lines[0]); len(f) < 3 || f[2] != "ENGINE" {
		t.Errorf("header %q", lines[0])
	}
	for _, want := range []string{p + "one-1111 docker default ", p + "two-2222 docker two "} {
		if !strings.Contains(strings.Join(strings.Fields(x.Stdout.String()), " "), strings.TrimSpace(want)) {
			t.Errorf("table lacks %q:\n%s", want, x.Stdout)
		}
	}
	if code := x.Exec(); code != exitcode.OK || strings.Contains(x.Stdout.String(), "ENGINE") {
		t.Errorf("one engine: exit %d, a column ENGINE:\n%s", code, x.Stdout)
	}
}

// Two contexts of one engine list its bottles once, by the current
// engine's name (given first or not), and say so once.
func TestListEnginesOnce(t *testing.T) {
	x := twoEngines(t)
	one := x.Env.Open
	x.Env.Open = func(getenv func(string) string, prefix string) (*backend.Set, error) {
		getenv2 := func(k string) string {
			if k == "DOCKER_CONTEXT" {
				return "default" // "two" is the default engine under another name
			}
			return getenv(k)
		}
		return one(getenv2, prefix)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--all-contexts"}, "default"},
		{[]string{"--context", "two", "--context", "default"}, "default"},
	} {
		code := x.Exec(append(tc.args, "--jq", `.engine+" "+.name`)...)
		if code != exitcode.OK || x.Stdout.String() != tc.want+" "+p+"one-1111\n" {
			t.Errorf("%v: exit %d, %q", tc.args, code, x.Stdout)
		}
		if want := "bottle-ls: docker contexts "; strings.Count(x.Stderr.String(), want) != 1 || !strings.Contains(x.Stderr.String(), "(all at unix:///one.sock): asked once, as default\n") {
			t.Errorf("%v: stderr %q", tc.args, x.Stderr)
		}
	}
}
