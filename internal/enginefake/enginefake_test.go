package enginefake

import (
	"context"
	"errors"
	"testing"

	"github.com/claude-bottle/bottle/internal/engine"
)

// errorCounter is a testing.TB that counts Errorf calls instead of failing.
type errorCounter struct {
	testing.TB
	errors int
}

func (e *errorCounter) Errorf(string, ...any) { e.errors++ }

// Every call the fake was not set up for fails the test and answers an
// error (as the README promises of every fake).
func TestStrict(t *testing.T) {
	rec := &errorCounter{TB: t}
	f := New(rec)
	ctx := context.Background()
	var errs []error
	add := func(_ any, err error) { errs = append(errs, err) }
	add(f.Containers(ctx))
	add(f.Networks(ctx))
	add(f.Volumes(ctx))
	add(f.InspectContainer(ctx, "x"))
	add(f.InspectNetwork(ctx, "x"))
	add(f.InspectVolume(ctx, "x"))
	add(f.CreateContainer(ctx, engine.ContainerSpec{Name: "x"}))
	add(f.CopyFrom(ctx, "x", "/"))
	errs = append(errs, f.RemoveContainer(ctx, "x"), f.RemoveContainerOnly(ctx, "x"), f.RemoveNetwork(ctx, "x"), f.RemoveVolume(ctx, "x"))
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d: no error from an unset call", i)
		}
	}
	if rec.errors != len(errs) {
		t.Errorf("%d of %d unset calls failed the test", rec.errors, len(errs))
	}
}

// A wired world answers like the engine: by ID or name, not found when
// absent, gone once removed.
func TestWorld(t *testing.T) {
	f, w := New(t), NewWorld()
	w.Wire(f)
	c := engine.Container{ID: ID(1), Name: "c"}
	w.Add(c, engine.Network{ID: ID(2), Name: "n"}, engine.Volume{Name: "v"})
	ctx := context.Background()
	if got, err := f.InspectContainer(ctx, "c"); err != nil || got.ID != c.ID {
		t.Fatalf("inspect by name: %+v %v", got, err)
	}
	if err := f.RemoveContainerOnly(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.InspectContainer(ctx, c.ID); !engine.IsNotFound(err) {
		t.Errorf("removed container: %v", err)
	}
	if err := f.RemoveVolume(ctx, "nope"); !engine.IsNotFound(err) || errors.Is(err, context.Canceled) {
		t.Errorf("absent volume: %v", err)
	}
	if cs, _ := f.Containers(ctx); len(cs) != 0 {
		t.Errorf("listed %v", cs)
	}
	if got := f.Calls("rm-container"); len(got) != 1 || got[0] != c.ID {
		t.Errorf("calls %v", got)
	}
}
