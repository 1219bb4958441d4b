// Package backend is what every bottle backend provides, and the few things
// done across all of them: asking each what exists, and the live set of
// slugs that protects state dirs.
package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
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
	// Elsewhere are the slugs of bottles that may exist under another
	// prefix (the state root is shared across prefixes): every slug the
	// name of a resource of this backend not of the prefix ends with
	// (bottle.SlugsEnding), and the slug its bottle.LabelSlug label names;
	// by slug, the name it was read from (a compose project's, else the
	// resource's). They protect state dirs like live bottles do.
	Elsewhere map[string]string
	// Embeds are the slugs of names not of the prefix that end with the
	// prefix and the slug ("x-<prefix><slug>"): most likely something made
	// for our own bottle of that slug (a smolmachines guest's), so they
	// protect the dir only while no bottle of ours of that slug exists
	// (Survey.Elsewhere). By slug, the name.
	Embeds map[string]string
	// Warnings are said on stderr; they do not make the inventory unusable.
	Warnings []string
	// Partial says that some resource could only be read in part (a field
	// the engine gave in a form that could not be read; named in
	// Warnings): what was read is listed, but a slug could hide in what
	// was not, so no state dir may be treated as orphan (Complete).
	Partial bool
	// LeftAlone names, for the person reading a plan (stderr), resources
	// that look like a bottle's but that no plan item removes, and why.
	LeftAlone []string
}

// RemoveOptions tune a removal.
type RemoveOptions struct {
	// DryRun validates everything and removes nothing (status would-remove).
	DryRun bool
	// Acquire takes one slot of the reaper's concurrency limit for a step
	// that acts (a removal, the rescue before one) and returns its release;
	// nil means no limit. Such slots are given in the order asked, before
	// any for a re-check: the wait between a resource's re-checks and its
	// removal is never longer than the removals asked before it.
	Acquire func(ctx context.Context) (release func(), err error)
	// AcquireCheck takes a slot for a re-check (an inspect, a listing):
	// those of the items read first get one first, so they finish first;
	// nil means Acquire.
	AcquireCheck func(ctx context.Context) (release func(), err error)
	// Removing, if set, reports whether the plan being reaped removes the
	// container with this ID. Under DryRun nothing is removed, so such a
	// container's use of a network or volume does not keep it.
	Removing func(containerID string) bool
	// Rescue, if set, is the step a bottle's removal takes once its
	// re-checks passed and before it removes anything, holding a slot of
	// Acquire: it saves what must not go with the bottle (the agent's
	// transcript, out of its home volume). An error wrapping ErrInterrupted
	// keeps all of the item; any other keeps its home volume, answered
	// failed with the error, and the rest goes. Not called under DryRun.
	Rescue func(ctx context.Context, item bottle.Item) error
	// Owner, if set, is asked of every container, network and volume the
	// removal inspects, with the labels the engine gives now and (a
	// container's) state: a reason to keep it, as whose bottle it is says
	// (another state root's, whose launcher runs, ...), or "". A kept
	// container keeps its project's networks and volumes.
	Owner func(item bottle.Item, labels map[string]string, state string) string
}

// ErrInterrupted is a step's answer when the run is stopping: nothing of
// the item is removed.
var ErrInterrupted = errors.New("interrupted")

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
	// ByBackend and Errors are keyed by the backend's name, with "@" and
	// its engine for a backend asking one of several engines (Tag).
	ByBackend map[string]Inventory
	// Errors holds the backends that could not be asked.
	Errors map[string]error
	order  []string
	names  map[string]string
}

// Key is b's key in a Survey: its name, and its engine's when Tagged.
func Key(b Backend) string {
	if t, ok := b.(*tagged); ok {
		return t.Name() + "@" + t.engine
	}
	return b.Name()
}

// Ask asks every backend at once.
func Ask(ctx context.Context, backends []Backend) *Survey {
	s := &Survey{ByBackend: map[string]Inventory{}, Errors: map[string]error{}, names: map[string]string{}}
	listings := &Listings{} // this survey's, and only this survey's
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, b := range backends {
		key := Key(b)
		s.order = append(s.order, key)
		s.names[key] = b.Name()
		wg.Go(func() {
			var inv Inventory
			var err error
			if sb, ok := b.(Sharing); ok {
				inv, err = sb.InventoryFrom(ctx, listings)
			} else {
				inv, err = b.Inventory(ctx)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.Errors[key] = err
				return
			}
			s.ByBackend[key] = inv
		})
	}
	wg.Wait()
	return s
}

// Complete reports whether every backend answered, each with a listing
// it could read whole (none is Partial).
func (s *Survey) Complete() bool {
	for _, inv := range s.ByBackend {
		if inv.Partial {
			return false
		}
	}
	return len(s.Errors) == 0
}

// ErrPartial is why a survey whose backends all answered is not Complete.
var ErrPartial = errors.New("the engine gave fields that could not be read (see the warnings), so a bottle could hide in them: no state dir is treated as orphan")

// Err joins the backends' errors, in backend order, or nil. An error that
// wraps one an earlier backend already reported (both backends asked the one
// engine through a shared listing) is not said twice.
func (s *Survey) Err() error {
	var errs, said []error
	for _, key := range s.order {
		err := s.Errors[key]
		if err == nil || slices.ContainsFunc(said, func(e error) bool { return errors.Is(err, e) }) {
			continue
		}
		said = append(said, err)
		errs = append(errs, fmt.Errorf("%s backend: %w", s.names[key], err))
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

// Live returns the slugs that have a bottle (or a claim) in any backend,
// under the prefix or any other (Elsewhere). It is only meaningful when
// Complete.
func (s *Survey) Live() map[string]bool {
	live := s.own()
	for slug := range s.Elsewhere() {
		live[slug] = true
	}
	return live
}

// own is the slugs of the prefix's bottles and claims, in any backend.
func (s *Survey) own() map[string]bool {
	own := map[string]bool{}
	for _, inv := range s.ByBackend {
		for _, b := range inv.Bottles {
			own[b.Slug] = true
		}
		for _, slug := range inv.Claimed {
			own[slug] = true
		}
	}
	return own
}

// Elsewhere returns every backend's Elsewhere, and its Embeds of the slugs
// no bottle of the prefix has: by slug, a resource of another prefix whose
// bottle may be that slug's.
func (s *Survey) Elsewhere() map[string]string {
	out := map[string]string{}
	own := s.own()
	for _, name := range s.order {
		inv := s.ByBackend[name]
		for slug, n := range inv.Elsewhere {
			if _, ok := out[slug]; !ok {
				out[slug] = n
			}
		}
		for slug, n := range inv.Embeds {
			if _, ok := out[slug]; !ok && !own[slug] {
				out[slug] = n
			}
		}
	}
	return out
}

// AddElsewhere records in inv the slugs a resource named name (with
// labels; nil for a machine) may be a bottle of under a prefix other than
// prefix: the slugs name and its compose project label end with, and the
// slug its bottle.LabelSlug label names. A name of the prefix adds only
// the slugs it may be of under a longer prefix: never its own slug (own
// names one: the prefix's slug or the bundle slug it is named with).
func (inv *Inventory) AddElsewhere(name string, labels map[string]string, prefix string, own func(name string) []string) {
	add := func(slug, from string) {
		m := &inv.Elsewhere
		if strings.HasSuffix(from, prefix+slug) {
			m = &inv.Embeds
		}
		if *m == nil {
			*m = map[string]string{}
		}
		if _, ok := (*m)[slug]; !ok {
			(*m)[slug] = from
		}
	}
	ownProject := false
	for _, n := range []string{labels[compose.LabelProject], name} {
		if n == "" {
			continue
		}
		var mine []string
		if bottle.HasPrefix(n, prefix) {
			ownProject = true
			mine = own(n)
		}
		for _, s := range bottle.SlugsEnding(n) {
			if !slices.Contains(mine, s) {
				add(s, n)
			}
		}
	}
	if s := labels[bottle.LabelSlug]; s != "" && !ownProject && bottle.ValidSlug(s) {
		add(s, name)
	}
}

// Sharing is a backend whose inventory reads a source that other backends
// read too: the docker and smolmachines backends both list the one engine.
// Ask gives every Sharing backend of one survey the same Listings, so the
// engine is listed once per survey; a later survey (the reaper's check at
// the moment it acts) makes new Listings and lists afresh.
type Sharing interface {
	Backend
	// InventoryFrom is Inventory reading shared sources through l; a nil l
	// reads them afresh, as Inventory does.
	InventoryFrom(ctx context.Context, l *Listings) (Inventory, error)
}

// Listings are the shared sources of one survey, each read at most once:
// today each engine's listing. Ask makes one per survey; nothing else keeps
// them.
type Listings struct {
	mu     sync.Mutex
	engine map[engine.Lister]func() (engine.World, error) // sync.OnceValues, made at each engine's first call
}

// Engine returns the survey's listing of the engine api, listing it at the
// first call for api (with that call's ctx); every later call of the survey
// for api gets the same answer. A nil Listings lists afresh.
func (l *Listings) Engine(ctx context.Context, api engine.Lister) (engine.World, error) {
	if l == nil {
		return engine.ListAll(ctx, api)
	}
	l.mu.Lock()
	if l.engine == nil {
		l.engine = map[engine.Lister]func() (engine.World, error){}
	}
	list := l.engine[api]
	if list == nil {
		list = sync.OnceValues(func() (engine.World, error) { return engine.ListAll(ctx, api) })
		l.engine[api] = list
	}
	l.mu.Unlock()
	return list()
}

// Tag is b asking the engine named name, one of several a run asks: every
// bottle and item it reports carries the name, and a Survey keys it by its
// name and the engine's.
func Tag(b Backend, name string) Backend { return &tagged{b: b, engine: name} }

// Failing is a backend of the engine named name that could not be opened:
// asking it answers err.
func Failing(backendName, name string, err error) Backend {
	return &tagged{b: failing{backendName, err}, engine: name}
}

type tagged struct {
	b      Backend
	engine string
}

func (t *tagged) Name() string { return t.b.Name() }

func (t *tagged) Inventory(ctx context.Context) (Inventory, error) { return t.InventoryFrom(ctx, nil) }

func (t *tagged) InventoryFrom(ctx context.Context, l *Listings) (Inventory, error) {
	var inv Inventory
	var err error
	if sb, ok := t.b.(Sharing); ok {
		inv, err = sb.InventoryFrom(ctx, l)
	} else {
		inv, err = t.b.Inventory(ctx)
	}
	if err != nil {
		return inv, err
	}
	inv.Bottles = slices.Clone(inv.Bottles)
	for i := range inv.Bottles {
		inv.Bottles[i].Engine = t.engine
	}
	inv.Items = slices.Clone(inv.Items)
	for i := range inv.Items {
		inv.Items[i].Engine = t.engine
	}
	return inv, nil
}

type failing struct {
	name string
	err  error
}

func (f failing) Name() string                                 { return f.name }
func (f failing) Inventory(context.Context) (Inventory, error) { return Inventory{}, f.err }
