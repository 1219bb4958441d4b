package cleanuptool

import (
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/tool/tooltest"
)

const p = tooltest.Prefix

func world(t *testing.T) (*tooltest.Tool, *enginefake.World) {
	x := tooltest.New(t, Run)
	w := enginefake.NewWorld()
	w.Wire(x.Engine)
	w.Project(p+"old-1111", "exited", tooltest.Now.Add(-50*time.Hour))
	return x, w
}

// Without a terminal on stdin there is nobody to ask: without --yes or
// --dry-run it refuses, before asking the engine anything.
func TestCleanupRefusesWithoutTerminal(t *testing.T) {
	x := tooltest.New(t, Run) // nothing set up: any engine call fails the test
	if code := x.Exec(); code != exitcode.Usage {
		t.Errorf("exit %d, want 2", code)
	}
	if s := x.Stderr.String(); !strings.Contains(s, "stdin is not a terminal") || !strings.Contains(s, "--yes") {
		t.Errorf("stderr: %q", s)
	}
	if x.Stdout.Len() != 0 || len(x.Engine.Log()) != 0 {
		t.Errorf("stdout %q, engine calls %v", x.Stdout, x.Engine.Log())
	}
}

// --dry-run shows the plan (on stderr, stdout being piped) and answers
// would-remove on stdout, removing nothing.
func TestCleanupDryRun(t *testing.T) {
	x, w := world(t)
	if code := x.Exec("--dry-run"); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	if s := x.Stderr.String(); !strings.Contains(s, p+"old-1111") || !strings.Contains(s, "total: 1 compose project") || strings.Contains(s, Prompt) {
		t.Errorf("stderr: %q", s)
	}
	if s := x.Stdout.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, `"status":"would-remove"`) {
		t.Errorf("stdout: %q", s)
	}
	for _, verb := range []string{"rm-container", "rm-network", "rm-volume"} {
		if got := x.Engine.Calls(verb); len(got) != 0 {
			t.Errorf("dry run: %s %v", verb, got)
		}
	}
	if len(w.Containers)+len(w.Networks)+len(w.Volumes) != 4 {
		t.Errorf("world changed: %+v", w)
	}
}

// At a terminal it asks once; anything but y or yes removes nothing.
func TestCleanupAsks(t *testing.T) {
	x, w := world(t)
	x.Env.StdinTTY = true
	x.Env.Stdin = strings.NewReader("n\n")
	if code := x.Exec(); code != exitcode.Failure || !strings.Contains(x.Stderr.String(), Prompt) || !strings.Contains(x.Stderr.String(), "aborted; nothing was removed") {
		t.Errorf("no: exit %d, %q", code, x.Stderr)
	}
	if len(w.Containers) != 2 {
		t.Errorf("no: containers %v", w.Containers)
	}
	x.Env.Stdin = strings.NewReader("yes\n")
	if code := x.Exec(); code != exitcode.OK {
		t.Errorf("yes: exit %d, %q", code, x.Stderr)
	}
	if len(w.Containers)+len(w.Networks)+len(w.Volumes) != 0 {
		t.Errorf("yes: left %+v", w)
	}
	if s := x.Stdout.String(); !strings.Contains(s, `"status":"removed"`) {
		t.Errorf("yes: stdout %q", s)
	}
}
