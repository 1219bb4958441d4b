package reap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// routes is a Router over fake engines by name; "one" is the default.
type routes struct {
	backends map[string][]backend.Backend
}

func (r routes) Name(name string) string {
	if name == "" {
		return "one"
	}
	return name
}

func (r routes) Open(name string) (*backend.Set, error) {
	bs, ok := r.backends[r.Name(name)]
	if !ok {
		return nil, fmt.Errorf("no docker context %q", name)
	}
	return &backend.Set{Backends: bs}, nil
}

func (r routes) Engines(_ context.Context, names []string) (statedir.Engines, []string) {
	var e statedir.Engines
	var opened []string
	for _, n := range names {
		if _, ok := r.backends[r.Name(n)]; ok {
			e.Endpoints = append(e.Endpoints, "fake://"+r.Name(n))
			opened = append(opened, r.Name(n))
		}
	}
	return e, opened
}

// twoEngines is e (its engine is "one", the default) plus a second fake
// engine "two" with a world of its own, and the router over both.
func twoEngines(t *testing.T) (e *env, f2 *enginefake.Engine, w2 *world) {
	e = newEnv(t)
	f2 = enginefake.New(t)
	w2 = &world{enginefake.NewWorld()}
	w2.Wire(f2)
	e.opt.Router = routes{backends: map[string][]backend.Backend{
		"one": e.opt.Backends,
		"two": {&docker.Backend{API: f2, Prefix: prefix, Retry: fast}},
	}}
	e.opt.Backends = nil
	return e, f2, w2
}

func on(it bottle.Item, engine string) bottle.Item {
	it.Engine = engine
	return it
}

// Each item is removed in the engine it names, an item naming none in the
// default engine; no engine is asked about another's items.
func TestRouteByEngine(t *testing.T) {
	e, f2, w2 := twoEngines(t)
	p1 := e.w.bottle("a-aaaa1", "exited")
	n1 := e.w.strayNetwork("n-aaaa1")
	p2 := w2.bottle("b-bbbb2", "running")
	n2 := w2.strayNetwork("m-bbbb2")
	e.add(on(p1, "one"), n1, on(p2, "two"), on(n2, "two"))
	res, sum := e.run(context.Background())
	for _, r := range res {
		status(t, r, bottle.Removed, "")
	}
	if !sum.Ok() {
		t.Error(sum)
	}
	if len(e.w.Containers)+len(e.w.Networks)+len(e.w.Volumes) != 0 || len(w2.Containers)+len(w2.Networks)+len(w2.Volumes) != 0 {
		t.Errorf("left: one %v %v %v; two %v %v %v", e.w.Containers, e.w.Networks, e.w.Volumes, w2.Containers, w2.Networks, w2.Volumes)
	}
	for _, id := range e.f.Calls("rm-network") {
		if id == n2.ID || id == p2.Networks[0].ID {
			t.Errorf("engine one was asked to remove engine two's network %s", id)
		}
	}
	for _, id := range f2.Calls("rm-network") {
		if id == n1.ID || id == p1.Networks[0].ID {
			t.Errorf("engine two was asked to remove engine one's network %s", id)
		}
	}
}

// An item naming an engine that cannot be resolved is invalid, and no
// engine is asked anything about it; the others are answered.
func TestRouteUnknownEngine(t *testing.T) {
	e, f2, _ := twoEngines(t)
	n1 := e.w.strayNetwork("n-aaaa1")
	e.add(on(n1, "three"), on(e.statedir("o-aaaa1", false), "three"), on(e.w.strayNetwork("k-aaaa1"), "one"))
	res, sum := e.run(context.Background())
	status(t, res[0], bottle.Invalid, `engine "three" cannot be resolved: no docker context "three"`)
	status(t, res[1], bottle.Invalid, `engine "three" cannot be resolved`)
	status(t, res[2], bottle.Removed, "")
	if sum.Ok() {
		t.Error("a run with invalid lines is not ok")
	}
	if calls := append(e.f.Calls("inspect-network"), f2.Calls("inspect-network")...); len(calls) != 1 {
		t.Errorf("network inspections: %v, want only the routed one's", calls)
	}
	if _, ok := e.w.Networks[n1.ID]; !ok {
		t.Error("the network of the invalid line was removed")
	}
	if _, err := os.Stat(filepath.Join(e.root, "o-aaaa1")); err != nil {
		t.Error(err)
	}
}

// A plan line moved to the other engine's name is never applied to the
// wrong engine: where that engine holds a network of the same name (its own
// ID) it is skipped; the planned one, in its own engine, stays.
func TestRouteMovedLine(t *testing.T) {
	e, f2, w2 := twoEngines(t)
	n1 := e.w.strayNetwork("n-aaaa1")
	other := engine.Network{ID: newID(), Name: n1.Name}
	w2.Networks[other.ID] = other
	e.add(on(n1, "two"))
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Skipped, "changed since plan")
	if len(e.f.Calls("inspect-network")) != 0 {
		t.Errorf("engine one was asked: %v", e.f.Log())
	}
	if _, ok := e.w.Networks[n1.ID]; !ok {
		t.Error("engine one's network is gone")
	}
	if _, ok := w2.Networks[other.ID]; !ok || len(f2.Calls("rm-network")) != 0 {
		t.Errorf("engine two's network of the same name was removed: %v", f2.Log())
	}
}

// A state dir waits for no engine but those asked: a bottle of its slug on
// any engine opened keeps it, and a dir whose bottle.json names no engine
// (the default's) is kept when the default engine is not asked.
func TestRouteStateDirs(t *testing.T) {
	e, _, w2 := twoEngines(t)
	w2.bottle("l-aaaa1", "running") // a bottle of the slug on engine two only
	n2 := w2.strayNetwork("m-bbbb2")
	e.add(on(n2, "two"), on(e.statedir("l-aaaa1", false), "two"))
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	// the dir names no engine, and the default one is not asked
	status(t, res[1], bottle.Skipped, "this run did not ask that engine")

	// The same dir with the default engine opened too: now its bottle on
	// engine two keeps it.
	e.input = nil
	e.add(on(e.w.strayNetwork("k-aaaa1"), "one"), on(w2.strayNetwork("j-bbbb2"), "two"), e.statedir("l-aaaa1", false))
	res, _ = e.run(context.Background())
	status(t, res[2], bottle.Skipped, "its bottle exists")
	// And without any bottle of its slug, it goes.
	e.input = nil
	e.add(on(e.w.strayNetwork("i-aaaa1"), "one"), on(w2.strayNetwork("h-bbbb2"), "two"), e.statedir("o-aaaa1", false))
	res, _ = e.run(context.Background())
	status(t, res[2], bottle.Removed, "")
}
