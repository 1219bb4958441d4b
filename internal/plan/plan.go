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
	// Names keeps only the items of these bottles (slugs); empty keeps
	// all. A named bottle is taken even when it was launched with
	// --detach and runs.
	Names []string
	// IncludeDetached takes running bottles launched with --detach too;
	// without it (or a name) they are live and left out.
	IncludeDetached bool
	// Transcript, when set, tells whether a planned compose project's home
	// volume holds a transcript (what would be lost with it); it is asked
	// for the projects of bottles bottle-launch made (their state dir holds
	// bottle.json), and the item then says "transcript": true.
	Transcript func(ctx context.Context, it bottle.Item, stateDir string) (bool, error)
	Now        time.Time
}

// NameSlug is the slug a --name value means: the name without the prefix
// when it carries it, else the value itself (a slug).
func NameSlug(name, prefix string) string {
	if s := bottle.Slug(name, prefix); s != "" {
		return s
	}
	return name
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
	return finish(ctx, Build(survey, entries, scanErr, opt), entries, opt)
}

// finish adds what needs the engine again: whether planned projects hold a
// transcript.
func finish(ctx context.Context, p *Plan, entries []statedir.Entry, opt Options) *Plan {
	if opt.Transcript != nil {
		markTranscripts(ctx, p, entries, opt)
	}
	return p
}

// markTranscripts asks, a few at a time, whether each planned compose
// project of a launcher-made bottle holds a transcript in its home volume.
func markTranscripts(ctx context.Context, p *Plan, entries []statedir.Entry, opt Options) {
	meta := map[string]string{}
	for _, e := range entries {
		if e.Type == statedir.Dir && e.Meta {
			meta[e.Slug] = e.Path
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range p.Items {
		it := &p.Items[i]
		dir, ok := meta[it.Slug]
		if !ok || it.Kind != bottle.KindComposeProject {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			has, err := opt.Transcript(ctx, *it, dir)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				p.Notes = append(p.Notes, fmt.Sprintf("%s: cannot tell whether its home volume holds a transcript: %v", it.Name, err))
				return
			}
			if has {
				t := true
				it.Transcript = &t
			}
		}()
	}
	wg.Wait()
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
	// A bottle launched with --detach that still runs is live: nobody but
	// a person ends it. It is left out (and named once) unless the plan
	// takes detached bottles or names it.
	detached := map[string]bool{}
	for _, e := range entries {
		if e.Type == statedir.Dir && e.Meta && !e.Locked && statedir.LiveDetached(e.Path) {
			detached[e.Slug] = true
		}
	}
	liveDetached := func(slug string) bool {
		return slug != "" && detached[slug] && slices.ContainsFunc(bySlug[slug], func(o bottle.Item) bool { return o.Running() })
	}
	named := map[string]bool{}
	noted := map[string]bool{}
	inPlan := map[string]bool{} // backend/kind/name of planned items
	for _, it := range all {
		if inUse[it.Slug] && it.Slug != "" {
			p.Notes = append(p.Notes, fmt.Sprintf("left out %s %s: its bottle-launch is still running", it.Kind, it.Name))
			continue
		}
		if !opt.keep(it) {
			continue
		}
		if liveDetached(it.Slug) && !opt.takesDetached(it.Slug) {
			if !noted[it.Slug] {
				noted[it.Slug] = true
				p.Notes = append(p.Notes, fmt.Sprintf("left out %s%s: it was launched with --detach and is running; end it with bottle-cleanup --name %s (or pass --include-detached)", opt.Prefix, it.Slug, it.Slug))
			}
			continue
		}
		it.NotRunning = opt.NotRunning
		it.IncludeDetached = opt.IncludeDetached || len(opt.Names) > 0
		p.Items = append(p.Items, it)
		inPlan[key(it)] = true
		named[it.Slug] = true
	}
	p.Notes = append(p.Notes, survey.LeftAlone()...)
	p.Items = p.dropInUse(p.Items, inPlan)

	refused := statedir.Refuse(opt.StateRoot, entries)
	// When the state root cannot be read or a backend cannot be asked, Err
	// says so and the tools add that no state dir is listed: said once,
	// the cause first.
	switch {
	case refused != nil:
		if p.Err == nil {
			p.Err = refused
		} else {
			p.Notes = append(p.Notes, refused.Error())
		}
	case scanErr != nil:
		if p.Err == nil {
			p.Err = scanErr
		} else {
			p.Notes = append(p.Notes, scanErr.Error())
		}
	case !survey.Complete():
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
			it.IncludeDetached = opt.IncludeDetached || len(opt.Names) > 0
			p.Items = append(p.Items, it)
			named[it.Slug] = true
		}
	}
	for _, n := range opt.Names {
		if !named[n] && !noted[n] {
			noted[n] = true
			p.Notes = append(p.Notes, fmt.Sprintf("--name %s: nothing of that bottle is left to clean up", n))
		}
	}
	Order(p.Items)
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

// takesDetached reports whether the plan takes a running detached bottle
// of slug: with --include-detached, or when it is named.
func (o Options) takesDetached(slug string) bool {
	return o.IncludeDetached || slices.Contains(o.Names, slug)
}

func key(it bottle.Item) string { return it.Backend + "/" + it.Kind + "/" + it.Name }

func (o Options) keep(it bottle.Item) bool {
	if len(o.Kinds) > 0 && !slices.Contains(o.Kinds, it.Kind) {
		return false
	}
	if len(o.Names) > 0 && !slices.Contains(o.Names, it.Slug) {
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

// Order orders items by backend, kind, then name: byte-for-byte stable for
// the same world.
func Order(items []bottle.Item) {
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
