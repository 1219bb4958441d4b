package enginefake

import (
	"context"
	"errors"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

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
	// the launcher's calls
	add(f.CreateNetwork(ctx, engine.NetworkSpec{Name: "x"}))
	add(f.ContainerUser(ctx, "x"))
	add(f.ImageUser(ctx, "x"))
	add(f.ImageID(ctx, "x"))
	add(f.ContainerStatus(ctx, "x"))
	add(f.Logs(ctx, "x", 1))
	add(f.Attach(ctx, "x", false, false))
	add(f.Wait(ctx, "x"))
	_, _, err := f.Exec(ctx, "x", []string{"true"})
	errs = append(errs, err, f.CreateVolume(ctx, "x", nil), f.Connect(ctx, "n", "x", nil), f.CopyTo(ctx, "x", "/", strings.NewReader("")),
		f.StartContainer(ctx, "x"), f.Kill(ctx, "x", "KILL"), f.Resize(ctx, "x", 1, 1))
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

// Before sees each call's verb and id first: it holds a call back or fails
// it, and the failed call is still logged, its On* not asked.
func TestBefore(t *testing.T) {
	f := New(t)
	asked := false
	f.OnStartContainer = func(string) error { asked = true; return nil }
	f.Before = func(verb, id string) error {
		if verb == "start" && id == "x" {
			return errors.New("boom")
		}
		return nil
	}
	if err := f.StartContainer(context.Background(), "x"); err == nil || err.Error() != "boom" || asked {
		t.Errorf("StartContainer = %v, asked %v", err, asked)
	}
	if err := f.StartContainer(context.Background(), "y"); err != nil || !asked {
		t.Errorf("StartContainer = %v, asked %v", err, asked)
	}
	if got := f.Calls("start"); len(got) != 2 {
		t.Errorf("calls %v", got)
	}
}

// A launcher's world: what is created is listed, started, probed, killed
// and removed as the engine does it; a name taken is a conflict; a call
// about a container it does not hold is not found; what a launch does not
// call on its own stays strict.
func TestWireLauncher(t *testing.T) {
	rec := &errorCounter{TB: t}
	f, w := New(rec), NewWorld()
	w.WireLauncher(f)
	w.ImageUser = "node"
	ctx := context.Background()
	nid, err := f.CreateNetwork(ctx, engine.NetworkSpec{Name: "p_internal", Internal: true, NoHostAddress: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := f.InspectNetwork(ctx, nid); err != nil || !n.Internal || n.Options[engine.InhibitIPv4] != "true" || n.Subnets[0].Gateway != FakeGateway {
		t.Errorf("InspectNetwork = %+v, %v", n, err)
	}
	id, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "p-agent-1", Network: "p_internal", Aliases: []string{"agent"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateContainer(ctx, engine.ContainerSpec{Name: "p-agent-1"}); !errors.Is(err, cerrdefs.ErrConflict) {
		t.Errorf("a second create of the name: %v", err)
	}
	if _, _, err := f.Exec(ctx, id, []string{"true"}); err == nil {
		t.Error("Exec in a created container")
	}
	if err := f.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if st, err := f.ContainerStatus(ctx, id); err != nil || st.State != "running" {
		t.Errorf("ContainerStatus = %+v, %v", st, err)
	}
	if code, _, err := f.Exec(ctx, id, []string{"true"}); code != 0 || err != nil {
		t.Errorf("Exec = %d, %v", code, err)
	}
	if u, err := f.ContainerUser(ctx, id); u != "node" || err != nil {
		t.Errorf("ContainerUser = %q, %v", u, err)
	}
	if a := w.Aliases[id+"@p_internal"]; len(a) != 1 || a[0] != "agent" {
		t.Errorf("aliases %v", w.Aliases)
	}
	if err := f.Kill(ctx, id, "KILL"); err != nil {
		t.Fatal(err)
	}
	if err := f.Kill(ctx, id, "KILL"); !engine.IsNotRunning(err) {
		t.Errorf("a second kill: %v", err)
	}
	if err := f.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := f.StartContainer(ctx, id); !engine.IsNotFound(err) {
		t.Errorf("start of a removed container: %v", err)
	}
	if rec.errors != 0 {
		t.Fatalf("%d unexpected calls", rec.errors)
	}
	f.Logs(ctx, id, 1)
	f.InspectContainer(ctx, id)
	if rec.errors != 2 {
		t.Errorf("Logs and InspectContainer answered unset: %d failures", rec.errors)
	}
}

// A late resource is missing from the next listings of its kind, and
// from inspect and remove, until it shows.
func TestLate(t *testing.T) {
	f, w := New(t), NewWorld()
	w.WireLauncher(f)
	ctx := context.Background()
	id, _ := f.CreateNetwork(ctx, engine.NetworkSpec{Name: "n"})
	w.Late(id, 1)
	f.Volumes(ctx) // another kind's listing brings it no nearer
	if ns, _ := f.Networks(ctx); len(ns) != 0 || w.Pending() != 1 {
		t.Fatalf("first listing %v", ns)
	}
	if err := f.RemoveNetwork(ctx, id); !engine.IsNotFound(err) {
		t.Errorf("remove before it shows: %v", err)
	}
	if ns, _ := f.Networks(ctx); len(ns) != 1 || ns[0].ID != id || w.Pending() != 0 {
		t.Fatalf("second listing %v", ns)
	}
	if err := f.RemoveNetwork(ctx, id); err != nil || len(w.Held()) != 0 {
		t.Errorf("remove once shown: %v, %v", err, w.Held())
	}
}
