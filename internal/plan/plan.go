// Package plan decides what is left over: every backend's prefix-named
// resources, and the state dirs no live bottle owns. It is shared by
// bottle-plan-cleanup and bottle-cleanup, so both print the same plan.
package plan

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Options select what the plan holds.
type Options struct {
	StateRoot string
	// Prefix leaves out state dirs whose bottle.json names a bottle of
	// another prefix (bottles of several prefixes may share a state root).
	Prefix string
	// Engines are the engine endpoints this run asks: a state dir whose
	// bottle.json names another engine is left alone.
	Engines []string
	// OlderThan keeps only items created (state dirs: modified) before
	// Now minus OlderThan; 0 keeps everything.
	OlderThan time.Duration
	// NotRunning leaves out items with a running container or machine.
	NotRunning bool
	// Kinds keeps only these kinds; empty keeps all.
	Kinds []string
	Now   time.Time
}

// Plan is what a cleanup would remove.
type Plan struct {
	Items []bottle.Item
	// Notes are for the person (stderr): entries that are not state dirs,
	// bottles left alone because a launcher runs them, and why no state dir
	// is listed when a backend could not be asked.
	Notes []string
	// Err is set when a backend could not be asked: the plan is incomplete
	// (it lists no state dir) and the tool must exit non-zero.
	Err error
}

// Make asks every backend and scans the state root, concurrently, and
// returns the plan.
func Make(ctx context.Context, backends []backend.Backend, opt Options) *Plan {
	var survey *backend.Survey
	var entries []statedir.Entry
	var scanErr error
	var wg sync.WaitGroup
	wg.Go(func() { survey = backend.Ask(ctx, backends) })
	wg.Go(func() { entries, scanErr = statedir.Scan(opt.StateRoot) })
	wg.Wait()
	return Build(survey, entries, scanErr, opt)
}

// Build makes the plan from answers already in hand.
func Build(survey *backend.Survey, entries []statedir.Entry, scanErr error, opt Options) *Plan {
	p := &Plan{Err: survey.Err()}
	p.Notes = append(p.Notes, survey.Warnings()...)

	// A bottle whose launcher still runs (its state dir is locked) is in
	// use: nothing of it is planned.
	inUse := map[string]bool{}
	for _, e := range entries {
		if e.Type == statedir.Dir && e.Locked {
			inUse[e.Slug] = true
		}
	}

	all := survey.Items()
	bySlug := map[string][]bottle.Item{}
	for _, it := range all {
		if it.Slug != "" {
			bySlug[it.Slug] = append(bySlug[it.Slug], it)
		}
	}
	inPlan := map[string]bool{} // backend/kind/name of planned items
	for _, it := range all {
		if inUse[it.Slug] && it.Slug != "" {
			p.Notes = append(p.Notes, fmt.Sprintf("left out %s %s: its bottle-launch is still running", it.Kind, it.Name))
			continue
		}
		if !opt.keep(it) {
			continue
		}
		it.NotRunning = opt.NotRunning
		p.Items = append(p.Items, it)
		inPlan[key(it)] = true
	}
	p.Notes = append(p.Notes, survey.LeftAlone()...)
	p.Items = p.dropInUse(p.Items, inPlan)

	refused := statedir.Refuse(opt.StateRoot, entries)
	switch {
	case refused != nil:
		p.Notes = append(p.Notes, fmt.Sprintf("no state dir is listed: %v", refused))
		if p.Err == nil {
			p.Err = refused
		}
	case scanErr != nil:
		p.Notes = append(p.Notes, fmt.Sprintf("no state dir is listed: %v", scanErr))
		if p.Err == nil {
			p.Err = scanErr
		}
	case !survey.Complete():
		if len(entries) > 0 {
			p.Notes = append(p.Notes, "no state dir is listed: not every backend could be asked which bottles exist")
		}
	default:
		live := survey.Live()
		for _, e := range entries {
			if e.Type == statedir.Aside {
				p.Notes = append(p.Notes, fmt.Sprintf("state root: %s is a state dir an interrupted bottle-reap was removing; nothing here removes it: check it and rm -rf it", e.Path))
				continue
			}
			if e.Type != statedir.Dir {
				p.Notes = append(p.Notes, fmt.Sprintf("state root: %s is a %s, not a bottle's state dir; left alone", e.Path, e.Type))
				continue
			}
			if e.NotState != "" {
				p.Notes = append(p.Notes, fmt.Sprintf("state root: %s is not a bottle's state dir (%s); left alone", e.Path, e.NotState))
				continue
			}
			if e.Preserved || e.Locked || !bottle.ValidSlug(e.Slug) {
				continue
			}
			if why := leftAlone(e, opt); why != "" {
				p.Notes = append(p.Notes, fmt.Sprintf("state root: %s left alone: %s", e.Path, why))
				continue
			}
			it := e.Item()
			it.Backend = bottle.Docker
			if e.Meta && slices.Contains(bottle.BackendOrder, e.Bottle.Backend) {
				it.Backend = e.Bottle.Backend
			}
			if live[e.Slug] {
				// The dir goes with its bottle only when the plan removes
				// every resource of that bottle; the reaper removes it only
				// once the bottle is gone.
				own := bySlug[e.Slug]
				if len(own) == 0 || slices.ContainsFunc(own, func(o bottle.Item) bool { return !inPlan[key(o)] }) {
					continue
				}
				it.Bottle, it.Backend = own[0].Name, own[0].Backend
			}
			if !opt.keep(it) {
				continue
			}
			it.NotRunning = opt.NotRunning
			if opt.OlderThan > 0 {
				it.OlderThan = opt.OlderThan.String()
			}
			p.Items = append(p.Items, it)
		}
	}
	Sort(p.Items)
	return p
}

// dropInUse leaves out a stray network or volume that a container this plan
// does not remove uses (the reaper would skip it, night after night), and
// names it.
func (p *Plan) dropInUse(items []bottle.Item, inPlan map[string]bool) []bottle.Item {
	removed := map[string]bool{}
	for _, it := range items {
		if it.Kind == bottle.KindContainer {
			removed[it.ID] = true
		}
		for _, c := range it.Containers {
			removed[c.ID] = true
		}
	}
	return slices.DeleteFunc(items, func(it bottle.Item) bool {
		for _, c := range it.Users {
			if !removed[c.ID] {
				verb := "mounts"
				if it.Kind == bottle.KindNetwork {
					verb = "is attached to"
				}
				p.Notes = append(p.Notes, fmt.Sprintf("left alone: %s %s: container %s, which this plan does not remove, %s it", it.Kind, it.Name, c.Name, verb))
				delete(inPlan, key(it))
				return true
			}
		}
		return false
	})
}

func key(it bottle.Item) string { return it.Backend + "/" + it.Kind + "/" + it.Name }

func (o Options) keep(it bottle.Item) bool {
	if len(o.Kinds) > 0 && !slices.Contains(o.Kinds, it.Kind) {
		return false
	}
	if o.NotRunning && it.Running() {
		return false
	}
	if o.OlderThan > 0 {
		t := it.Created
		if it.Kind == bottle.KindStateDir {
			t = it.Modified
		}
		if t == nil || !t.Before(o.Now.Add(-o.OlderThan)) {
			return false
		}
	}
	return true
}

// leftAlone says why a state dir that looks like one is still never an
// orphan, or "": what is in it could not all be read, it holds a mount, its
// bottle.json cannot be read whole, or names a bottle of another prefix or
// an engine this run does not ask.
func leftAlone(e statedir.Entry, opt Options) string {
	switch {
	case e.WalkErr != nil:
		return "it cannot be read whole: " + e.WalkErr.Error()
	case e.Mount != "":
		return fmt.Sprintf("%s inside it is on another file system (a mount point)", e.Mount)
	case e.MetaErr != nil:
		return "its " + e.MetaErr.Error() + ": it may belong to any bottle"
	case !e.Meta:
		return ""
	}
	if why := statedir.Foreign(e.Bottle, opt.Prefix, e.Slug); why != "" {
		return why
	}
	return statedir.OtherEngine(e.Bottle, opt.Engines)
}

// Sort orders items by backend, kind, then name: byte-for-byte stable for
// the same world.
func Sort(items []bottle.Item) {
	rank := func(list []string, s string) int {
		if i := slices.Index(list, s); i >= 0 {
			return i
		}
		return len(list)
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if ra, rb := rank(bottle.BackendOrder, a.Backend), rank(bottle.BackendOrder, b.Backend); ra != rb {
			return ra < rb
		}
		if ra, rb := rank(bottle.Kinds, a.Kind), rank(bottle.Kinds, b.Kind); ra != rb {
			return ra < rb
		}
		return a.Name < b.Name
	})
}
