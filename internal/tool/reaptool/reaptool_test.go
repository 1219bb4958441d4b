package reaptool

import (
	"encoding/json"
	"fmt"
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

// bottle-reap answers every line, in input order: an invalid line is
// invalid, a resource that no longer exists is gone, one that does is
// removed; a line was invalid, so it exits 1. A dry run removes nothing.
func TestReapAnswers(t *testing.T) {
	x := tooltest.New(t, Run)
	w := enginefake.NewWorld()
	w.Wire(x.Engine)
	made := tooltest.Now.Add(-time.Hour)
	c := engine.Container{ID: enginefake.ID(1), Name: p + "stray-c", State: "exited", Created: made}
	w.Add(c)
	plan := "not json\n" +
		fmt.Sprintf(`{"backend":"docker","kind":"network","name":%q,"id":%q}`+"\n", p+"gone-n", enginefake.ID(2)) +
		fmt.Sprintf(`{"backend":"docker","kind":"container","name":%q,"id":%q,"state":"exited"}`+"\n", c.Name, c.ID)

	x.Env.Stdin = strings.NewReader(plan)
	if code := x.Exec("--dry-run"); code != exitcode.Failure {
		t.Errorf("dry run: exit %d, want 1 (a line was invalid)", code)
	}
	if got := statuses(t, x.Stdout.String()); strings.Join(got, " ") != "invalid gone would-remove" {
		t.Errorf("dry run: %v\n%s", got, x.Stdout)
	}
	if len(x.Engine.Calls("rm-container")) != 0 {
		t.Errorf("dry run removed %v", x.Engine.Calls("rm-container"))
	}

	x.Env.Stdin = strings.NewReader(plan)
	if code := x.Exec(); code != exitcode.Failure {
		t.Errorf("exit %d, want 1 (a line was invalid)", code)
	}
	if got := statuses(t, x.Stdout.String()); strings.Join(got, " ") != "invalid gone removed" {
		t.Errorf("statuses %v\n%s", got, x.Stdout)
	}
	if got := x.Engine.Calls("rm-container"); len(got) != 1 || got[0] != c.ID {
		t.Errorf("removed %v", got)
	}
	if _, ok := w.Containers[c.ID]; ok {
		t.Error("the container is still there")
	}
	if !strings.Contains(x.Stderr.String(), "removed 1, gone 1, skipped 0, failed 0, invalid 1") {
		t.Errorf("summary: %q", x.Stderr)
	}
}

func statuses(t *testing.T, out string) []string {
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r struct{ Result bottle.Result }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		got = append(got, r.Result.Status)
	}
	return got
}

// Bad input is refused before the engine is asked: a plan file that is
// not there, a plan on a terminal, a bad --jobs.
func TestReapUsage(t *testing.T) {
	x := tooltest.New(t, Run) // nothing set up: any engine call fails the test
	dir := t.TempDir()
	if code := x.Exec(filepath.Join(dir, "nope.jsonl")); code != exitcode.Usage || !strings.Contains(x.Stderr.String(), "cannot read plan file") {
		t.Errorf("missing file: exit %d, %q", code, x.Stderr)
	}
	if code := x.Exec(dir); code != exitcode.Usage || !strings.Contains(x.Stderr.String(), "is a directory") {
		t.Errorf("a directory: exit %d, %q", code, x.Stderr)
	}
	if code := x.Exec("--jobs", "0", os.DevNull); code != exitcode.Usage || !strings.Contains(x.Stderr.String(), "--jobs 0") {
		t.Errorf("--jobs 0: exit %d, %q", code, x.Stderr)
	}
	x.Env.StdinTTY = true
	if code := x.Exec(); code != exitcode.Usage || !strings.Contains(x.Stderr.String(), "stdin is a terminal") {
		t.Errorf("terminal: exit %d, %q", code, x.Stderr)
	}
}

// Several plan files: each line's result names its file and its own line
// number there; a file that is no plan gets one line on stderr saying what
// a plan is and how to make one, naming the file and the line.
func TestReapNamesFileAndLine(t *testing.T) {
	x := tooltest.New(t, Run)
	enginefake.NewWorld().Wire(x.Engine)
	dir := t.TempDir()
	gone := func(n int) string {
		return fmt.Sprintf(`{"backend":"docker","kind":"network","name":%q,"id":%q}`+"\n", p+"gone-n", enginefake.ID(n))
	}
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "notes.txt")
	os.WriteFile(a, []byte(gone(1)+gone(2)), 0o600)
	os.WriteFile(b, []byte("\nnetworks to remove:\n"+gone(3)), 0o600)
	x.Env.Stdin = strings.NewReader(gone(4))
	if code := x.Exec(a, b, "-"); code != exitcode.Failure {
		t.Errorf("exit %d, want 1", code)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(x.Stdout.String()), "\n") {
		var r struct{ Result bottle.Result }
		json.Unmarshal([]byte(l), &r)
		got = append(got, fmt.Sprintf("%s:%d %s", r.Result.File, r.Result.Line, r.Result.Status))
	}
	want := []string{a + ":1 gone", a + ":2 gone", b + ":2 invalid", b + ":3 gone", "-:1 gone"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("results %q, want %q", got, want)
	}
	hint := "bottle-reap: " + b + " line 2 is no plan item (not a JSON object): a plan is the JSON lines bottle-plan-cleanup prints, one item a line; make one with bottle-plan-cleanup > plan.jsonl\n"
	if !strings.HasPrefix(x.Stderr.String(), hint) || strings.Count(x.Stderr.String(), "\n") != 2 {
		t.Errorf("stderr %q, want %q and the summary", x.Stderr, hint)
	}

	// A plan on stdin alone: no file in the results, "stdin" in the hint.
	x.Env.Stdin = strings.NewReader(gone(1) + "{\"name\":\"x\"}\n")
	x.Exec()
	if !strings.Contains(x.Stdout.String(), `"result":{"status":"gone","line":1,`) || !strings.HasPrefix(x.Stderr.String(), "bottle-reap: stdin line 2 is no plan item (missing field kind): ") {
		t.Errorf("stdin: stdout %q, stderr %q", x.Stdout, x.Stderr)
	}
	// An item that is one, but refused (another prefix), is no cause for
	// the hint.
	x.Env.Stdin = strings.NewReader(`{"backend":"docker","kind":"network","name":"other-n","id":"x"}` + "\n")
	x.Exec()
	if strings.Contains(x.Stderr.String(), "plan item") || !strings.Contains(x.Stdout.String(), `does not start with the prefix`) {
		t.Errorf("refused item: stdout %q, stderr %q", x.Stdout, x.Stderr)
	}
}
