package reap

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Router opens the engines plan items name: an item is acted on in the
// engine its "engine" names, one that names none in the default engine
// (the one the environment names), so plans made before items named
// their engine keep working. Each engine is opened once, when an item
// first names it.
type Router interface {
	// Open returns the engine named name ("" is the default) with its
	// backends, opening it at the first call. An error means the name
	// cannot be resolved: the item naming it is invalid.
	Open(name string) (*backend.Set, error)
	// Name is name, or the default engine's name for "".
	Name(name string) string
	// Engines are the engines named that could be opened, as a state
	// dir's rules see them, and their names in that order.
	Engines(ctx context.Context, names []string) (statedir.Engines, []string)
}

// fixed is the router of a run given one engine's backends (Options.Backends
// and Engines): the default engine, and no other.
type fixed struct {
	engines  statedir.Engines
	backends []backend.Backend
}

func (f fixed) Open(name string) (*backend.Set, error) {
	if name != "" {
		return nil, errors.New("this run asks only the default engine")
	}
	return &backend.Set{Backends: f.backends}, nil
}

func (f fixed) Name(name string) string { return name }

func (f fixed) Engines(context.Context, []string) (statedir.Engines, []string) {
	return f.engines, []string{""}
}

// router is the run's Router: Options.Router, else the fixed one.
func (o Options) router() Router {
	if o.Router != nil {
		return o.Router
	}
	return fixed{engines: o.Engines, backends: o.Backends}
}

// route resolves the engine t's item names and records it as opened; it
// returns why the item is invalid, or "".
func (r *runner) route(t *task) string {
	set, err := r.route1.Open(t.item.Engine)
	if err != nil {
		return fmt.Sprintf("engine %q cannot be resolved: %v", r.route1.Name(t.item.Engine), err)
	}
	t.engine, t.backends = r.route1.Name(t.item.Engine), set.Backends
	r.mu.Lock()
	if !slices.Contains(r.opened, t.engine) {
		r.opened = append(r.opened, t.engine)
	}
	r.mu.Unlock()
	return ""
}

// openedEngines are the names of the engines opened so far.
func (r *runner) openedEngines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.opened)
}
