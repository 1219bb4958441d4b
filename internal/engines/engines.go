// Package engines is many engines in one run: the engines a tool asks, by
// the docker CLI's context names ("default" is DOCKER_HOST or the default
// socket), each opened once, when first needed, with its backends. Its
// Pool maps a name to its opened engine; the tools survey the engines
// through it and the reaper routes each plan item to the engine it names.
package engines

import (
	"context"
	"errors"
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
	// alias maps a name left out (Distinct, sameID) to the name its engine
	// is asked by; byID finds the names that are one engine by its ID.
	alias map[string]string
	byID  *sameID
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
		alias: map[string]string{}}
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
// engine's name, for one backend.Ask: an engine that cannot be opened is
// one backend that answers why. After Distinct, an engine found under a
// second name by its ID answers under one only (sameID).
func (p *Pool) Backends(names []string) []backend.Backend {
	var out []backend.Backend
	for _, n := range names {
		set, err := p.Open(n)
		if err != nil {
			out = append(out, backend.Failing(bottle.Docker, p.Name(n), err))
			continue
		}
		for _, b := range set.Backends {
			if p.byID != nil && slices.Contains(p.byID.names, p.Name(n)) {
				b = &once{b: b, name: p.Name(n), p: p}
			}
			out = append(out, backend.Tag(b, p.Name(n)))
		}
	}
	return out
}

// Engines are the engines named that could be opened, as a state dir's
// rules see them (their endpoints, and their IDs asked once, all at once,
// at the first need), with their names in the same order: the current
// engine's first, so that of names that turn out to be one engine
// (sameID) a bottle.json's engine ID finds the name it is asked by.
func (p *Pool) Engines(ctx context.Context, names []string) (statedir.Engines, []string) {
	var sets []*backend.Set
	var eps, opened []string
	ordered := slices.Clone(names)
	if i := slices.Index(ordered, p.current); i > 0 {
		ordered = slices.Insert(slices.Delete(ordered, i, i+1), 0, p.current)
	}
	for _, n := range ordered {
		if set, err := p.Open(n); err == nil && !slices.Contains(opened, p.Name(n)) {
			sets = append(sets, set)
			eps = append(eps, set.Engine.Endpoint().Host)
			opened = append(opened, p.Name(n))
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
