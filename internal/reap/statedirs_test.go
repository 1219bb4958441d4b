package reap

// State dirs in a run: after their bottles, re-checked when acted on.

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
)

func TestStateDirsAfterBottles(t *testing.T) {
	e := newEnv(t)
	proj := e.w.bottle("a-aaaa1", "running")
	live := e.w.bottle("l-aaaa1", "running") // not in the plan: its dir stays
	_ = live
	dir := e.statedir("a-aaaa1", false)
	dir.Bottle = proj.Name
	e.add(proj, dir, e.statedir("l-aaaa1", false), e.statedir("o-aaaa1", false))
	res, sum := e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	status(t, res[1], bottle.Removed, "")
	status(t, res[2], bottle.Skipped, "its bottle exists")
	status(t, res[3], bottle.Removed, "")
	if _, err := os.Stat(filepath.Join(e.root, "l-aaaa1")); err != nil {
		t.Error(err)
	}
	if !sum.Ok() {
		t.Error(sum)
	}
}

// The reaper streams: a state dir waits for the engine items read before
// it, not for the ones after it. A dir listed before its own bottle (not
// what bottle-plan-cleanup writes) goes only if the bottle is already gone
// when the backends are asked (the two run concurrently); otherwise it is
// kept, and the next run takes it.
func TestStateDirBeforeItsBottle(t *testing.T) {
	e := newEnv(t)
	proj := e.w.bottle("a-aaaa1", "running")
	dir := e.statedir("a-aaaa1", false)
	dir.Bottle = proj.Name
	e.add(dir, proj)
	res, _ := e.run(context.Background())
	if res[0].Status != bottle.Removed {
		status(t, res[0], bottle.Skipped, "its bottle exists")
	}
	status(t, res[1], bottle.Removed, "")
	e.input = nil
	e.add(dir)
	res, _ = e.run(context.Background())
	if res[0].Status != bottle.Gone {
		status(t, res[0], bottle.Removed, "")
	}
	if _, err := os.Stat(dir.Path); !os.IsNotExist(err) {
		t.Errorf("the dir is still there after two runs: %v", err)
	}
}

// Red team, hole 1 (reaper side): a state root that became mostly not
// bottle state between plan and reap (the wrong root given to the reaper)
// removes no state dir: each is skipped, naming the count.
func TestStateRootRefusedAtReap(t *testing.T) {
	e := newEnv(t)
	dir := e.statedir("o-aaaa1", false)
	for _, d := range []string{"thesis", "webapp"} {
		if err := os.MkdirAll(filepath.Join(e.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.add(dir)
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Skipped, "2 of its 3 entries do not look like bottle state")
	if _, err := os.Stat(dir.Path); err != nil {
		t.Error(err)
	}
}

// Red team, hole 4: an item planned with --older-than is checked against
// its age when the reaper acts.
func TestStateDirOlderThanRechecked(t *testing.T) {
	e := newEnv(t)
	dir := e.statedir("o-aaaa1", false)
	dir.OlderThan = "1h0m0s"
	e.add(dir)
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Skipped, "not older than --older-than 1h0m0s")
}
