package engines

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Two docker contexts may name one engine (a context made for the default
// socket; the machine's engine reached over ssh as well). Asked under both
// names, its items would be listed twice, and the second removal of each
// would answer "gone". Distinct and Backends ask it once.
//
// The name an engine keeps is the current engine's (Current) when it is
// one of them, else the first given: the order of --context, or `docker
// context ls` for --all-contexts.

// Distinct returns names without those whose endpoint another name has
// (the host, a socket's path with its symlinks followed, and the TLS
// settings and files), in names' order, and a note for each such engine;
// it asks no engine. When two or more endpoints are left, Backends finds
// the ones that are still one engine by its ID (see sameID). A name that
// cannot be opened is kept, to fail as it does alone.
func (p *Pool) Distinct(names []string) ([]string, []string) {
	names = slices.Clone(names)
	for i, n := range names {
		names[i] = p.Name(n)
	}
	var groups [][]string
	byKey := map[string]int{}
	var at []string
	for _, n := range names {
		set, err := p.Open(n)
		if err != nil {
			continue
		}
		key := endpointKey(set.Engine.Endpoint())
		if i, ok := byKey[key]; ok {
			groups[i] = append(groups[i], n)
			continue
		}
		byKey[key] = len(groups)
		groups = append(groups, []string{n})
		at = append(at, set.Engine.Endpoint().Host)
	}
	var notes []string
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, g := range groups {
		keep := p.keep(g, names)
		for _, n := range g {
			if n != keep {
				p.alias[n] = keep
			}
		}
		if len(g) > 1 {
			notes = append(notes, fmt.Sprintf("docker contexts %s are one engine (all at %s): asked once, as %s", and(g), at[i], keep))
		}
	}
	var out []string
	for _, n := range names {
		if _, ok := p.alias[n]; !ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(groups) > 1 {
		p.byID = &sameID{names: out}
	}
	return out, notes
}

// keep is the name an engine named by names (of all) keeps.
func (p *Pool) keep(names, all []string) string {
	if slices.Contains(names, p.current) {
		return p.current
	}
	return slices.MinFunc(names, func(a, b string) int { return slices.Index(all, a) - slices.Index(all, b) })
}

// sameID finds the names Distinct left that are one engine at two
// endpoints (its socket, and ssh to its host): the engines that give one
// ID (GET /info). Asking every engine's ID before its lists would add a
// GET /info to every run of many engines (5–10 ms on Docker 20.10, longer
// than the lists), so the lists come first, as for any engine, and only
// engines whose listings share a network ID — random, 256 bits, made by
// the engine: every Docker engine has its own bridge, host and none — are
// asked their IDs; of those that give one ID, the lists of all but the
// name kept are dropped. (The one engine's lists were so asked at each
// endpoint, at once.) A name whose ID cannot be asked is an engine of its
// own: it answers as it does alone.
type sameID struct {
	names []string

	once  sync.Once
	done  chan struct{}
	alias map[string]string // a name → the name its engine keeps
	notes []string
}

// resolve lists every name's engine through l (the survey's own listings:
// no engine is listed twice) and asks the IDs where listings overlap, the
// first time it is called, and returns when that is done.
func (p *Pool) resolve(ctx context.Context, l *backend.Listings) {
	s := p.byID
	s.once.Do(func() {
		s.done = make(chan struct{})
		go func() {
			defer close(s.done)
			s.find(ctx, p, l)
		}()
	})
	select {
	case <-s.done:
	case <-ctx.Done():
	}
}

func (s *sameID) find(ctx context.Context, p *Pool, l *backend.Listings) {
	n := len(s.names)
	sets := make([]*backend.Set, n)
	nets := make([]map[string]bool, n)
	var wg sync.WaitGroup
	for i, name := range s.names {
		set, err := p.Open(name)
		if err != nil {
			continue
		}
		sets[i] = set
		wg.Go(func() {
			w, err := l.Engine(ctx, set.Engine)
			if err != nil {
				return
			}
			nets[i] = map[string]bool{}
			for _, nw := range w.Networks {
				nets[i][nw.ID] = true
			}
		})
	}
	wg.Wait()
	overlap := make([]bool, n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			for id := range nets[i] {
				if id != "" && nets[j][id] {
					overlap[i], overlap[j] = true, true
					break
				}
			}
		}
	}
	ids := make([]string, n)
	for i := range n {
		if overlap[i] {
			wg.Go(func() {
				if id, err := sets[i].Engine.ID(ctx); err == nil {
					ids[i] = id
				}
			})
		}
	}
	wg.Wait()
	alias := map[string]string{}
	for i, id := range ids {
		if id == "" || slices.Index(ids, id) != i {
			continue
		}
		var same, at []string
		for j := range ids {
			if ids[j] == id {
				same, at = append(same, s.names[j]), append(at, sets[j].Engine.Endpoint().Host)
			}
		}
		if len(same) < 2 {
			continue
		}
		keep := p.keep(same, s.names)
		for _, n := range same {
			if n != keep {
				alias[n] = keep
			}
		}
		s.notes = append(s.notes, fmt.Sprintf("docker contexts %s are one engine (engine ID %s, at %s): asked once, as %s", and(same), id, and(at), keep))
	}
	s.alias = alias
	p.mu.Lock()
	for n, k := range alias {
		p.alias[n] = k
	}
	p.mu.Unlock()
}

// Notes says, once the engines were asked (Backends), which names were
// found to be one engine by its ID.
func (p *Pool) Notes() []string {
	if p.byID == nil || p.byID.done == nil {
		return nil
	}
	<-p.byID.done
	return p.byID.notes
}

// once is a backend of the engine named name whose inventory is dropped
// when another name turns out to be the same engine (sameID).
type once struct {
	b    backend.Backend
	name string
	p    *Pool
}

func (o *once) Name() string { return o.b.Name() }

func (o *once) Inventory(ctx context.Context) (backend.Inventory, error) {
	return o.InventoryFrom(ctx, nil)
}

func (o *once) InventoryFrom(ctx context.Context, l *backend.Listings) (backend.Inventory, error) {
	if l == nil {
		l = &backend.Listings{} // one for this backend and the IDs' check
	}
	var inv backend.Inventory
	var err error
	if sb, ok := o.b.(backend.Sharing); ok {
		inv, err = sb.InventoryFrom(ctx, l)
	} else {
		inv, err = o.b.Inventory(ctx)
	}
	o.p.resolve(ctx, l)
	select {
	case <-o.p.byID.done:
		if _, ok := o.p.byID.alias[o.name]; ok {
			return backend.Inventory{}, nil // the engine answers as another name
		}
	default: // interrupted: no ID is known
	}
	return inv, err
}

// endpointKey is what makes two endpoints one: the host (a socket's path
// with its symlinks followed) and how TLS is spoken, with which files.
func endpointKey(ep engine.Endpoint) string {
	return strings.Join([]string{statedir.SameEngine(ep.Host), fmt.Sprint(ep.TLS, ep.Verify), ep.CA, ep.Cert, ep.Key}, "\x00")
}

// and is "a", "a and b", "a, b and c".
func and(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
