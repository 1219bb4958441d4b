package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginetest"
)

// The plan's second for an engine's volumes is on the engine's clock
// (plan/fresh.go): as its answers' Date says, then as GET /info's
// SystemTime reads. The machine's engine keeps this host's clock: the
// skew either gives is never ahead of this host (that would let a plan
// take a volume made in the engine's own second), the Date's short by
// less than a second and the answer's time, SystemTime's by the answer's
// time only.
func TestEngineClock(t *testing.T) {
	enginetest.Need(t)
	eng, err := engine.Dial(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	if _, ok := eng.ClockSeen(); ok {
		t.Errorf("a clock seen before any answer")
	}
	// a list call's answer says the engine's time in whole seconds
	if _, err := eng.Containers(ctx); err != nil {
		t.Fatal(err)
	}
	seen, ok := eng.ClockSeen()
	if !ok || seen > 0 || seen < -2*time.Second {
		t.Errorf("seen %v, %v: the engine on this host should be behind by less than a second and the answer's time", seen, ok)
	}
	skew, err := eng.Clock(ctx)
	if err != nil {
		t.Fatalf("the engine's clock: %v", err)
	}
	if skew > 0 || skew < seen || skew < -time.Second {
		t.Errorf("skew %v (seen %v): the engine on this host should be behind by the answer's time only", skew, seen)
	}
	// asked once: the ID came with it
	if id, err := eng.ID(context.Background()); err != nil || id == "" {
		t.Errorf("ID %q, %v", id, err)
	}
}
