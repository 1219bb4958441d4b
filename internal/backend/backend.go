// Package backend is what every bottle backend provides, and the few things
// done across all of them: asking each what exists, and the live set of
// slugs that protects state dirs.
package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// Inventory is what one backend holds right now.
type Inventory struct {
	// Bottles are the bottles that exist.
	Bottles []bottle.Bottle
	// Items are what a cleanup would remove, state dirs excepted (those
	// belong to no backend; package plan adds them).
	Items []bottle.Item
	// Claimed are slugs that other prefix-named resources of this backend
	// suggest are in use although they make no bottle (a stray container
	// named <prefix><slug>). They protect state dirs like live bottles do.
	Claimed []string
	// Warnings are said on stderr; they do not make the inventory unusable.
	Warnings []string
	// LeftAlone names, for the person reading a plan (stderr), resources
	// that look like a bottle's but that no plan item removes, and why.
	LeftAlone []string
}

// RemoveOptions tune a removal.
type RemoveOptions struct {
	// DryRun validates everything and removes nothing (status would-remove).
	DryRun bool
	// Acquire takes one slot of the reaper's concurrency limit and returns
	// its release; nil means no limit.
	Acquire func(ctx context.Context) (release func(), err error)
	// Removing, if set, reports whether the plan being reaped removes the
	// container with this ID. Under DryRun nothing is removed, so such a
	// container's use of a network or volume does not keep it.
	Removing func(containerID string) bool
}

// Backend is one way of making bottles (docker compose projects, smolvm
// machines). Tools only use this interface, so a backend plugs in without
// touching them.
type Backend interface {
	// Name is the backend's name in JSON ("docker", "smolmachines").
	Name() string
	// Inventory asks what exists. An error means the backend could not be
	// asked: callers must then treat every slug as possibly alive.
	Inventory(ctx context.Context) (Inventory, error)
}

// Remover is a backend that can remove its plan items.
type Remover interface {
	Backend
	// Handles reports whether item is one of this backend's kinds.
	Handles(item bottle.Item) bool
	// Remove re-validates one item at the moment it acts, removes it, and
	// says what happened. It never trusts the item: names are checked
	// against the prefix, IDs against the engine.
	Remove(ctx context.Context, item bottle.Item, opt RemoveOptions) bottle.Result
}

// Survey is every backend's inventory, asked concurrently.
type Survey struct {
	ByBackend map[string]Inventory
	// Errors holds the backends that could not be asked, by name.
	Errors map[string]error
	order  []string
}

// Ask asks every backend at once.
func Ask(ctx context.Context, backends []Backend) *Survey {
	s := &Survey{ByBackend: map[string]Inventory{}, Errors: map[string]error{}}
	ctx = withShared(ctx)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, b := range backends {
		s.order = append(s.order, b.Name())
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv, err := b.Inventory(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.Errors[b.Name()] = err
				return
			}
			s.ByBackend[b.Name()] = inv
		}()
	}
	wg.Wait()
	return s
}

// Complete reports whether every backend answered.
func (s *Survey) Complete() bool { return len(s.Errors) == 0 }

// Err joins the backends' errors, in backend order, or nil. An error that
// wraps one an earlier backend already reported (both backends asked the one
// engine through a shared listing) is not said twice.
func (s *Survey) Err() error {
	var errs, said []error
	for _, name := range s.order {
		err := s.Errors[name]
		if err == nil || slices.ContainsFunc(said, func(e error) bool { return errors.Is(err, e) }) {
			continue
		}
		said = append(said, err)
		errs = append(errs, fmt.Errorf("%s backend: %w", name, err))
	}
	return errors.Join(errs...)
}

// Bottles returns every backend's bottles, in backend order.
func (s *Survey) Bottles() []bottle.Bottle {
	var out []bottle.Bottle
	for _, name := range s.order {
		out = append(out, s.ByBackend[name].Bottles...)
	}
	return out
}

// Items returns every backend's plan items, in backend order.
func (s *Survey) Items() []bottle.Item {
	var out []bottle.Item
	for _, name := range s.order {
		out = append(out, s.ByBackend[name].Items...)
	}
	return out
}

// Warnings returns every backend's warnings.
func (s *Survey) Warnings() []string {
	var out []string
	for _, name := range s.order {
		out = append(out, s.ByBackend[name].Warnings...)
	}
	return out
}

// LeftAlone returns every backend's left-alone notes.
func (s *Survey) LeftAlone() []string {
	var out []string
	for _, name := range s.order {
		out = append(out, s.ByBackend[name].LeftAlone...)
	}
	return out
}

// Live returns the slugs that have a bottle (or a claim) in any backend.
// It is only meaningful when Complete.
func (s *Survey) Live() map[string]bool {
	live := map[string]bool{}
	for _, inv := range s.ByBackend {
		for _, b := range inv.Bottles {
			live[b.Slug] = true
		}
		for _, slug := range inv.Claimed {
			live[slug] = true
		}
	}
	return live
}

type sharedKey struct{}

type sharedCell struct {
	once sync.Once
	v    any
	err  error
}

type sharedStore struct {
	mu    sync.Mutex
	cells map[string]*sharedCell
}

func withShared(ctx context.Context) context.Context {
	return context.WithValue(ctx, sharedKey{}, &sharedStore{cells: map[string]*sharedCell{}})
}

// Shared runs f once per Survey for key and gives every backend of that
// Survey the same answer, so backends that read the same source (the docker
// and smolmachines backends both list the one engine) cost one listing per
// run. Outside a Survey it simply calls f: a later Survey (the reaper's
// check at the moment it acts) always asks afresh.
func Shared[T any](ctx context.Context, key string, f func(context.Context) (T, error)) (T, error) {
	st, _ := ctx.Value(sharedKey{}).(*sharedStore)
	if st == nil {
		return f(ctx)
	}
	st.mu.Lock()
	c := st.cells[key]
	if c == nil {
		c = &sharedCell{}
		st.cells[key] = c
	}
	st.mu.Unlock()
	c.once.Do(func() { c.v, c.err = f(ctx) })
	v, _ := c.v.(T)
	return v, c.err
}
