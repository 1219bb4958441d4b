// Package engines is many engines in one run: the engines a tool asks, by
// the docker CLI's context names ("default" is DOCKER_HOST or the default
// socket), each opened once, when first needed, with its backends. Its
// Pool maps a name to its opened engine; the tools survey the engines
// through it and the reaper routes each plan item to the engine it names.
package engines

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Default is the name of the engine DOCKER_HOST names, else the default
// socket: the docker CLI's "default" context.
const Default = engine.DefaultContext

// Pool opens engines by name, each once, and closes them all.
type Pool struct {
	getenv func(string) string
	prefix string
	open   backend.Opener
	// current is the engine the environment names: an item or a state dir
	// that names no engine is its, and the smolmachines backend (machines
	// of this host, their sidecars in that engine) is asked with it only.
	current string

	mu    sync.Mutex
	slots map[string]*slot
	order []string
	// alias maps a name Distinct left out to the name its engine is asked
	// by; failed holds the engines Distinct found unreachable.
	alias  map[string]string
	failed map[string]error
}

type slot struct {
	once sync.Once
	set  *backend.Set
	err  error
}

// NewPool is a pool opening engines with open (all.Open for real), the
// backends for prefix. current is the name of the engine the environment
// names (Current).
func NewPool(getenv func(string) string, prefix string, open backend.Opener, current string) *Pool {
	if open == nil {
		open = func(func(string) string, string) (*backend.Set, error) {
			return nil, errors.New("no way to open the backends: the tool's environment has no Open (a bug)")
		}
	}
	return &Pool{getenv: getenv, prefix: prefix, open: open, current: current, slots: map[string]*slot{},
		alias: map[string]string{}, failed: map[string]error{}}
}

// Current is the name of the engine the environment names.
func (p *Pool) Current() string { return p.current }

// Name is name, or the current engine's for "".
func (p *Pool) Name(name string) string {
	if name == "" {
		return p.current
	}
	return name
}

// Open returns the engine named name ("" is the current one) with its
// backends, opening it at the first call; every later call gets the same
// answer. Opening resolves the name and makes a client: it does not
// contact the engine.
func (p *Pool) Open(name string) (*backend.Set, error) {
	name = p.Name(name)
	p.mu.Lock()
	s := p.slots[name]
	if s == nil {
		s = &slot{}
		p.slots[name] = s
		p.order = append(p.order, name)
	}
	p.mu.Unlock()
	s.once.Do(func() {
		s.set, s.err = p.open(Getenv(p.getenv, name), p.prefix)
		if s.err == nil && name != p.current {
			// Only the current engine goes with this host's machines.
			s.set.Backends = slices.DeleteFunc(slices.Clone(s.set.Backends), func(b backend.Backend) bool { return b.Name() != bottle.Docker })
		}
	})
	return s.set, s.err
}

// Backends are the backends of the engines named, each Tagged with its
// engine's name, for one backend.Ask: an engine that cannot be opened, or
// that Distinct found unreachable, is one backend that answers why.
func (p *Pool) Backends(names []string) []backend.Backend {
	var out []backend.Backend
	for _, n := range names {
		set, err := p.Open(n)
		if err == nil {
			p.mu.Lock()
			err = p.failed[p.Name(n)]
			p.mu.Unlock()
		}
		if err != nil {
			out = append(out, backend.Failing(bottle.Docker, p.Name(n), err))
			continue
		}
		for _, b := range set.Backends {
			out = append(out, backend.Tag(b, p.Name(n)))
		}
	}
	return out
}

// Engines are the engines named that could be opened, as a state dir's
// rules see them (their endpoints, and their IDs asked once, all at once,
// at the first need), with their names in the same order. An engine that
// Distinct found under several endpoints is there at each (a bottle.json
// may name any), each time by the name it is asked by.
func (p *Pool) Engines(ctx context.Context, names []string) (statedir.Engines, []string) {
	var sets []*backend.Set
	var eps, opened []string
	add := func(n, as string) {
		set, err := p.Open(n)
		if err != nil {
			return
		}
		ep := set.Engine.Endpoint().Host
		if n != as && slices.ContainsFunc(eps, func(e string) bool { return statedir.SameEngine(e) == statedir.SameEngine(ep) }) {
			return
		}
		sets = append(sets, set)
		eps = append(eps, ep)
		opened = append(opened, as)
	}
	p.mu.Lock()
	alias, order := maps.Clone(p.alias), slices.Clone(p.order)
	p.mu.Unlock()
	for _, n := range names {
		n = p.Name(n)
		if slices.Contains(opened, n) {
			continue
		}
		add(n, n)
		for _, a := range order {
			if alias[a] == n {
				add(a, n)
			}
		}
	}
	return statedir.Engines{Endpoints: eps, IDs: sync.OnceValue(func() []string {
		ids := make([]string, len(sets))
		var wg sync.WaitGroup
		for i, set := range sets {
			wg.Go(func() {
				if id, err := set.Engine.ID(ctx); err == nil {
					ids[i] = id
				}
			})
		}
		wg.Wait()
		return ids
	})}, opened
}

// Clock says how far the clock of the engine named is from this host's,
// never more (engine.Clocker): exact false is what its answers so far
// said (asking nothing; up to a second short), true its clock read (GET
// /info, asked once). ok is false when it cannot say (an engine that
// cannot be opened or asked, or gives no time): this host's clock then
// stands for its.
func (p *Pool) Clock(ctx context.Context) func(name string, exact bool) (time.Duration, bool) {
	return func(name string, exact bool) (time.Duration, bool) {
		set, err := p.Open(name)
		if err != nil {
			return 0, false
		}
		c, ok := set.Engine.(engine.Clocker)
		if !ok {
			return 0, false
		}
		if !exact {
			return c.ClockSeen()
		}
		skew, err := c.Clock(ctx)
		return skew, err == nil
	}
}

// Close closes every engine opened.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, n := range p.order {
		if s := p.slots[n]; s.set != nil {
			errs = append(errs, s.set.Close())
		}
	}
	return errors.Join(errs...)
}
