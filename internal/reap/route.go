package reap

import (
	"errors"
	"fmt"
	"slices"

	"github.com/claude-bottle/bottle/internal/backend"
)

// Router opens the engines plan items name: an item is acted on in the
// engine its "engine" names, one that names none in the default engine
// (the one the environment names), so plans made before items named
// their engine keep working. Each engine is opened once, when an item
// first names it.
type Router interface {
	// Engine returns the endpoint and backends of the engine named name
	// ("" is the default), opening it at the first call. An error means
	// the name cannot be resolved: the item naming it is invalid.
	Engine(name string) (host string, backends []backend.Backend, err error)
	// Name is name, or the default engine's name for "".
	Name(name string) string
}

// fixed is the router of a run given one engine's backends (Options.Backends
// and Engines): the default engine, and no other.
type fixed struct {
	host     string
	backends []backend.Backend
}

func (f fixed) Engine(name string) (string, []backend.Backend, error) {
	if name != "" {
		return "", nil, errors.New("this run asks only the default engine")
	}
	return f.host, f.backends, nil
}

func (f fixed) Name(name string) string { return name }

// router is the run's Router: Options.Router, else the fixed one.
func (o Options) router() Router {
	if o.Router != nil {
		return o.Router
	}
	var host string
	if len(o.Engines) > 0 {
		host = o.Engines[0]
	}
	return fixed{host: host, backends: o.Backends}
}

// route resolves the engine t's item names and records it as opened; it
// returns why the item is invalid, or "".
func (r *runner) route(t *task) string {
	host, backends, err := r.route1.Engine(t.item.Engine)
	if err != nil {
		return fmt.Sprintf("engine %q cannot be resolved: %v", t.item.Engine, err)
	}
	t.engine, t.backends = r.route1.Name(t.item.Engine), backends
	r.mu.Lock()
	if !slices.Contains(r.opened, t.engine) {
		r.opened = append(r.opened, t.engine)
		r.hosts = append(r.hosts, host)
	}
	r.mu.Unlock()
	return ""
}

// openedEngines are the engines opened so far, by name, and their
// endpoints.
func (r *runner) openedEngines() (names, hosts []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.opened), slices.Clone(r.hosts)
}
