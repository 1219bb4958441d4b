package lstool

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/tool/tooltest"
)

const p = tooltest.Prefix

func world(t *testing.T) *tooltest.Tool {
	x := tooltest.New(t, Run)
	w := enginefake.NewWorld()
	w.Wire(x.Engine)
	w.Project(p+"one-1111", "running", tooltest.Now.Add(-3*time.Hour))
	w.Project(p+"two-2222", "exited", tooltest.Now.Add(-50*time.Hour))
	w.Project("other-three", "running", tooltest.Now) // not ours
	return x
}

// bottle-ls lists a fake world as JSON lines when stdout is not a
// terminal: ours only, in name order, with their containers.
func TestListJSON(t *testing.T) {
	x := world(t)
	if code := x.Exec(); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	lines := strings.Split(strings.TrimSuffix(x.Stdout.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", x.Stdout)
	}
	want := []struct{ name, status string }{{p + "one-1111", bottle.StatusRunning}, {p + "two-2222", bottle.StatusStopped}}
	for i, l := range lines {
		var b bottle.Bottle
		if err := json.Unmarshal([]byte(l), &b); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, l)
		}
		if b.Name != want[i].name || b.Status != want[i].status || b.Backend != bottle.Docker || len(b.Containers) != 2 {
			t.Errorf("line %d: %+v, want %s %s", i, b, want[i].name, want[i].status)
		}
	}
	if x.Stderr.Len() != 0 {
		t.Errorf("stderr: %q", x.Stderr)
	}
}

// At a terminal it is a table, with ages; --json keeps JSON there.
func TestListTable(t *testing.T) {
	x := world(t)
	x.Env.StdoutTTY = true
	if code := x.Exec(); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	out := x.Stdout.String()
	for _, s := range []string{"NAME", "STATUS", p + "one-1111", "running", "3h", p + "two-2222", "stopped", "2d"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "other-three") || strings.Contains(out, "\x1b[") {
		t.Errorf("table:\n%q", out)
	}
	if code := x.Exec("--json"); code != exitcode.OK || !strings.HasPrefix(x.Stdout.String(), "{") {
		t.Errorf("--json at a terminal: exit %d, %q", code, x.Stdout)
	}
}

// An engine that cannot be asked: exit 1, one line saying so, no output.
func TestListEngineFails(t *testing.T) {
	x := world(t)
	x.Engine.OnContainers = func() ([]engine.Container, error) { return nil, errors.New("engine exploded") }
	if code := x.Exec(); code != exitcode.Failure {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(x.Stderr.String(), "engine exploded") {
		t.Errorf("stderr: %q", x.Stderr)
	}
}

// A bottle launched with --detach that has not ended is marked: in the
// table's STATUS and as "detached" in its JSON; one that ended, or a
// foreground one, is not.
func TestListDetached(t *testing.T) {
	x := tooltest.New(t, Run)
	w := enginefake.NewWorld()
	w.Wire(x.Engine)
	w.Project(p+"det-aaaa1", "running", tooltest.Now.Add(-time.Hour))
	w.Project(p+"fg-aaaa1", "running", tooltest.Now.Add(-time.Hour))
	w.Project(p+"ended-aaaa1", "running", tooltest.Now.Add(-time.Hour))
	for slug, meta := range map[string]string{
		"det-aaaa1":   `{"backend":"docker","name":"` + p + `det-aaaa1","slug":"det-aaaa1","detached":true}`,
		"fg-aaaa1":    `{"backend":"docker","name":"` + p + `fg-aaaa1","slug":"fg-aaaa1"}`,
		"ended-aaaa1": `{"backend":"docker","name":"` + p + `ended-aaaa1","slug":"ended-aaaa1","detached":true,"ended":"2026-03-04T00:00:00Z"}`,
	} {
		dir := filepath.Join(x.StateDir, slug)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "bottle.json"), []byte(meta), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code := x.Exec("--jq", `select(.detached) | .name`); code != exitcode.OK || x.Stdout.String() != p+"det-aaaa1\n" {
		t.Errorf("detached in JSON: exit %d, %q (stderr %q)", code, x.Stdout, x.Stderr)
	}
	x.Env.StdoutTTY = true
	if code := x.Exec(); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(x.Stdout.String(), "\n") {
		if f := strings.Fields(l); len(f) > 3 {
			rows[f[0]] = l
		}
	}
	if !strings.Contains(rows[p+"det-aaaa1"], " running (detached) ") {
		t.Errorf("the detached bottle's row: %q", rows[p+"det-aaaa1"])
	}
	for _, n := range []string{p + "fg-aaaa1", p + "ended-aaaa1"} {
		if strings.Contains(rows[n], "detached") || rows[n] == "" {
			t.Errorf("row %q", rows[n])
		}
	}
}
