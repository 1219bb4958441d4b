package engines

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Two docker contexts may name one engine (a context made for the default
// socket; the machine's engine reached over ssh as well). Asked under both
// names, its items would be listed twice, and the second removal of each
// would answer "gone". Distinct asks it once.

// Distinct returns names without those of an engine another name already
// names, in names' order, and one note for each engine named more than
// once. Names are one engine when their endpoints are (the host, a socket
// path with its symlinks followed, and the TLS settings and files), or,
// when two or more endpoints are left, when the engines at them give one ID
// (GET /info, asked of each endpoint once, all at once; the run asks it
// anyway for the state dirs' rules). The name an engine keeps is the
// current engine's (Current) when it is one of them, else the first in
// names: the order of --context, or `docker context ls` for
// --all-contexts. An engine whose ID cannot be asked because it cannot be
// reached is not asked again: its backends answer that error (Backends).
// A name that cannot be opened is kept, to fail as it does alone.
func (p *Pool) Distinct(ctx context.Context, names []string) ([]string, []string) {
	type group struct {
		names []string // in names' order
		ep    engine.Endpoint
		id    string
	}
	names = slices.Clone(names)
	for i, n := range names {
		names[i] = p.Name(n)
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, n := range names {
		set, err := p.Open(n)
		if err != nil {
			continue
		}
		ep := set.Engine.Endpoint()
		key := endpointKey(ep)
		if g := byKey[key]; g != nil {
			g.names = append(g.names, n)
			continue
		}
		g := &group{names: []string{n}, ep: ep}
		byKey[key] = g
		groups = append(groups, g)
	}
	if len(groups) > 1 {
		var wg sync.WaitGroup
		errs := make([]error, len(groups))
		for i, g := range groups {
			wg.Go(func() {
				// the one kept if any is: its ID is the state dirs' too
				n := g.names[0]
				if slices.Contains(g.names, p.current) {
					n = p.current
				}
				set, _ := p.Open(n)
				g.id, errs[i] = set.Engine.ID(ctx)
			})
		}
		wg.Wait()
		p.mu.Lock()
		for i, g := range groups {
			if errs[i] != nil && engine.IsUnreachable(errs[i]) {
				for _, n := range g.names {
					p.failed[n] = errs[i]
				}
			}
		}
		p.mu.Unlock()
	}

	// Groups with one ID are one engine.
	type same struct {
		groups []*group
		names  []string
	}
	var engines []*same
	byID := map[string]*same{}
	for _, g := range groups {
		if s := byID[g.id]; g.id != "" && s != nil {
			s.groups = append(s.groups, g)
			s.names = append(s.names, g.names...)
			continue
		}
		s := &same{groups: []*group{g}, names: slices.Clone(g.names)}
		engines = append(engines, s)
		if g.id != "" {
			byID[g.id] = s
		}
	}

	alias := map[string]string{}
	var notes []string
	for _, s := range engines {
		if len(s.names) < 2 {
			continue
		}
		slices.SortStableFunc(s.names, func(a, b string) int { return slices.Index(names, a) - slices.Index(names, b) })
		keep := s.names[0]
		if slices.Contains(s.names, p.current) {
			keep = p.current
		}
		for _, n := range s.names {
			if n != keep {
				alias[n] = keep
			}
		}
		var at []string
		for _, g := range s.groups {
			at = append(at, g.ep.Host)
		}
		how := fmt.Sprintf("all at %s", at[0])
		if len(at) > 1 {
			how = fmt.Sprintf("engine ID %s, at %s", s.groups[0].id, and(at))
		}
		notes = append(notes, fmt.Sprintf("docker contexts %s are one engine (%s): asked once, as %s", and(s.names), how, keep))
	}
	p.mu.Lock()
	for n, k := range alias {
		p.alias[n] = k
	}
	p.mu.Unlock()
	var out []string
	for _, n := range names {
		if _, ok := alias[n]; !ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, notes
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
