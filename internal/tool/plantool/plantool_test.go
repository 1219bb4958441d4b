package plantool

import (
	"context"
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

func world(t *testing.T) (*tooltest.Tool, *enginefake.World) {
	x := tooltest.New(t, Run)
	w := enginefake.NewWorld()
	w.Wire(x.Engine)
	w.Project(p+"old-1111", "exited", tooltest.Now.Add(-50*time.Hour))
	w.Add(engine.Network{ID: enginefake.ID(999), Name: p + "stray", Created: tooltest.Now.Add(-time.Hour)})
	return x, w
}

func items(t *testing.T, out string) []bottle.Item {
	var its []bottle.Item
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var it bottle.Item
		if err := json.Unmarshal([]byte(l), &it); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
		its = append(its, it)
	}
	return its
}

// bottle-plan-cleanup prints one plan item per line: the project and the
// stray network, in plan order.
func TestPlanItems(t *testing.T) {
	x, _ := world(t)
	if code := x.Exec(); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	its := items(t, x.Stdout.String())
	if len(its) != 2 || its[0].Kind != bottle.KindComposeProject || its[0].Name != p+"old-1111" ||
		its[1].Kind != bottle.KindNetwork || its[1].Name != p+"stray" || its[1].ID != enginefake.ID(999) {
		t.Fatalf("items %+v", its)
	}
	if len(its[0].Containers) != 2 || len(its[0].Networks) != 1 || len(its[0].Volumes) != 1 {
		t.Errorf("project item %+v", its[0])
	}
	// --kind selects; a bad one is a usage error.
	if code := x.Exec("--kind", "network"); code != exitcode.OK || len(items(t, x.Stdout.String())) != 1 {
		t.Errorf("--kind network: exit %d, %q", code, x.Stdout)
	}
	if code := x.Exec("--kind", "boat"); code != exitcode.Usage || !strings.Contains(x.Stderr.String(), `unknown --kind "boat"`) {
		t.Errorf("--kind boat: exit %d, %q", code, x.Stderr)
	}
}

// At a terminal the plan is grouped for a person, with a total.
func TestPlanRendered(t *testing.T) {
	x, _ := world(t)
	x.Env.StdoutTTY = true
	if code := x.Exec(); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	out := x.Stdout.String()
	for _, s := range []string{"--- docker backend ---", "compose projects", p + "old-1111", "networks", p + "stray", "total: 1 compose project, 1 network"} {
		if !strings.Contains(out, s) {
			t.Errorf("plan lacks %q:\n%s", s, out)
		}
	}
}

// A backend that cannot be asked: exit 1, saying the plan is incomplete.
func TestPlanBackendFails(t *testing.T) {
	x, _ := world(t)
	x.Engine.OnNetworks = func() ([]engine.Network, error) { return nil, errors.New("engine exploded") }
	if code := x.Exec(); code != exitcode.Failure {
		t.Errorf("exit %d, want 1", code)
	}
	if s := x.Stderr.String(); !strings.Contains(s, "engine exploded") || !strings.Contains(s, "the plan is incomplete") {
		t.Errorf("stderr: %q", s)
	}
}

// Planning writes nothing: for a bottle bottle-launch made whose agent
// container is gone, the plan reads what exists (nothing to read: the
// strict fake fails any create or copy) and says "transcript": null; a
// project's transcript is always in the item.
func TestPlanWritesNothing(t *testing.T) {
	x, w := world(t)
	agent, _ := w.Project(p+"gone-aaaa1", "exited", tooltest.Now.Add(-time.Hour))
	delete(w.Containers, agent)
	dir := filepath.Join(x.StateDir, "gone-aaaa1")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, bottle.MetaFile), []byte(`{"backend":"docker","name":"`+p+`gone-aaaa1","slug":"gone-aaaa1","image":"i","spec":{"image":"i"}}`), 0o600)
	if code := x.Exec(); code != exitcode.OK {
		t.Fatalf("exit %d: %s", code, x.Stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(x.Stdout.String()), "\n") {
		if strings.Contains(l, `"kind":"compose-project"`) && !strings.Contains(l, `"transcript":null`) {
			t.Errorf("a project's transcript is not null: %s", l)
		}
	}
	if calls := x.Engine.Calls("create-container"); len(calls) != 0 {
		t.Errorf("the plan made containers: %v", calls)
	}
	if strings.Contains(x.Stdout.String(), `"kind":"state-dir"`) {
		t.Errorf("the dir of a bottle whose volume may hold a transcript was planned: %s", x.Stdout)
	}
}

// --name that matches nothing: exit 1, one line that says how to list
// names; --discard-transcript needs --name.
func TestPlanNameOfNothing(t *testing.T) {
	x, _ := world(t)
	if code := x.Exec("--name", "nope-zzzzz"); code != exitcode.Failure {
		t.Errorf("exit %d, want 1", code)
	}
	if s := x.Stderr.String(); s != "bottle-plan-cleanup: --name nope-zzzzz: no bottle and no state dir of that name (bottle-ls lists the bottles, bottle-ls --state the state dirs)\n" {
		t.Errorf("stderr %q", s)
	}
	if code := x.Exec("--discard-transcript"); code != exitcode.Usage || !strings.Contains(x.Stderr.String(), "--discard-transcript needs --name") {
		t.Errorf("--discard-transcript alone: exit %d, %q", code, x.Stderr)
	}
}

// Issue 15: a plan interrupted while it was being made (here: the signal
// came before the engine's answers were used) is no plan: nothing is
// printed but "interrupted", exit 130.
func TestPlanInterrupted(t *testing.T) {
	x, _ := world(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := x.Run(ctx, nil, x.Env); code != exitcode.Interrupted || x.Stdout.Len() != 0 || x.Stderr.String() != "bottle-plan-cleanup: interrupted\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, x.Stdout, x.Stderr)
	}
}
