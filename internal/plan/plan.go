// Package plan decides what is left over: every backend's prefix-named
// resources, and the state dirs no live bottle owns. It is shared by
// bottle-plan-cleanup and bottle-cleanup, so both print the same plan.
package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// Options select what the plan holds.
type Options struct {
	StateRoot string
	// DefaultRoot: StateRoot is the default root, taken without
	// bottle-launch's marker (statedir.CheckRoot).
	DefaultRoot bool
	// Prefix leaves out state dirs whose bottle.json names a bottle of
	// another prefix (bottles of several prefixes may share a state root).
	Prefix string
	// Engines are the engines this run asks: a state dir whose
	// bottle.json names another engine is left alone.
	Engines statedir.Engines
	// EngineNames are the names (docker contexts') of the engines at
	// Engines.Endpoints, in that order: a planned state dir carries the
	// name of the engine its bottle was made on. Nil: names are not known
	// (a state dir then carries none, and Default is not needed).
	EngineNames []string
	// Default is the name of the engine the environment names when this
	// run asked it, else "": a state dir whose bottle.json names no engine
	// (or that has none) was made there, and is left alone when this run
	// did not ask it (EngineNames set, Default "").
	Default string
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
	// AllRoots takes bottles another state root's launcher made too (their
	// labels name a state dir there that still exists), under that root's
	// lock and detached flag; without it they are left out and named.
	AllRoots bool
	// IncludeDetached takes running bottles launched with --detach too;
	// without it (or a name) they are live and left out.
	IncludeDetached bool
	// IncludeTranscripts takes conversations too: state dirs that hold a
	// transcript, and the dirs of planned bottles whose home volume may
	// hold one (the reaper saves it there first). Without it they stay.
	IncludeTranscripts bool
	// DiscardTranscript marks the named bottles' items: their home volumes
	// (machines) go without their transcripts being saved. Only with Names.
	DiscardTranscript bool
	// Transcript, when set, tells whether a planned compose project's home
	// volume (a machine) holds a transcript, from what can be read without
	// creating anything (its agent container; a running machine's tree);
	// known is false when it cannot tell.
	// It is asked for the projects of bottles bottle-launch made (their
	// state dir holds bottle.json); what the launcher recorded in
	// bottle.json answers when it cannot tell.
	Transcript func(ctx context.Context, it bottle.Item) (has, known bool, err error)
	// Now is the plan's time, taken before anything is listed.
	Now time.Time
	// Skew, when set, says how far the clock of the engine named is from
	// this host's, never more: exact false as its answers said (asking
	// nothing), true as its clock reads (asked once); ok false: it cannot
	// say. The plan's second for an engine's volumes is on its clock
	// (fresh.go).
	Skew func(engine string, exact bool) (skew time.Duration, ok bool)
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
	// Unknown is set when a --name matches no bottle and no state dir:
	// the tool says so and exits non-zero.
	Unknown error
	// fresh counts the volumes and machines left out as made in the plan's
	// second (leaveFresh); freshUntil is when (on this host's clock) the
	// last of those seconds is over.
	fresh      int
	freshUntil time.Time
}

// Make asks every backend and scans the state root, concurrently, asks
// whether the planned projects hold transcripts, and returns the plan.
// When that left out a volume or machine made in the plan's second
// (leaveFresh; on its engine's clock), it waits for that second to end
// and plans once more, as made in the next second: a plan made right
// after a bottle is whole, and only what is made during that wait is left
// to the next run.
func Make(ctx context.Context, backends []backend.Backend, opt Options) *Plan {
	p := makeOnce(ctx, backends, opt)
	if p.fresh == 0 {
		return p
	}
	next := p.freshUntil
	t := time.NewTimer(next.Sub(opt.Now))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return p
	case <-t.C:
	}
	// Now was taken before the first listing, so the real time is past
	// next now: next is a time before the second listing, as Now must be.
	opt.Now = next
	return makeOnce(ctx, backends, opt)
}

func makeOnce(ctx context.Context, backends []backend.Backend, opt Options) *Plan {
	var survey *backend.Survey
	var entries []statedir.Entry
	var scanErr error
	var wg sync.WaitGroup
	wg.Go(func() { survey = backend.Ask(ctx, backends) })
	wg.Go(func() {
		entries, scanErr = statedir.Scan(opt.StateRoot)
		if scanErr == nil {
			// a root bottle-launch did not make: none of it is listed
			scanErr = statedir.RefuseUnmarked(opt.StateRoot, opt.DefaultRoot, entries)
		}
	})
	wg.Wait()
	return makeFrom(ctx, survey, entries, scanErr, opt)
}

// makeFrom is Make on the answers of the survey and the scan.
func makeFrom(ctx context.Context, survey *backend.Survey, entries []statedir.Entry, scanErr error, opt Options) *Plan {
	var notes []string
	if opt.Transcript != nil {
		notes = probeTranscripts(ctx, survey, entries, opt)
	}
	p := Build(survey, entries, scanErr, opt)
	p.Notes = append(p.Notes, notes...)
	return p
}

// probeTranscripts asks, a few at a time, whether the compose project of
// each bottle bottle-launch made (its state dir holds bottle.json) holds a
// transcript in its home volume, and records the answers it gets in the
// survey's items. It returns notes for the ones it could not ask.
func probeTranscripts(ctx context.Context, survey *backend.Survey, entries []statedir.Entry, opt Options) []string {
	// Only what may be planned: a launcher's bottle or a running detached
	// one that is not taken is not even read.
	made := map[string]bool{}
	for _, e := range entries {
		if e.Type == statedir.Dir && e.Meta && !e.Locked && (!statedir.LiveDetached(e.Path) || opt.takesDetached(e.Slug)) {
			made[e.Slug] = true
		}
	}
	var notes []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, inv := range survey.ByBackend {
		for i := range inv.Items {
			it := &inv.Items[i]
			if !made[it.Slug] || (it.Kind != bottle.KindComposeProject && it.Kind != bottle.KindMachine) || !opt.keep(*it) {
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				has, known, err := opt.Transcript(ctx, *it)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					where := "its home volume"
					if it.Kind == bottle.KindMachine {
						where = "the machine"
					}
					notes = append(notes, fmt.Sprintf("%s: cannot tell whether %s holds a transcript: %v", it.Name, where, err))
				case known:
					it.Transcript = &has
				}
			})
		}
	}
	wg.Wait()
	sort.Strings(notes)
	return notes
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
	// Whose each slug's bottle is, by its resources' labels: one another
	// state root's launcher made is that root's.
	owners := map[string]statedir.Owner{}
	for _, it := range all {
		if o, seen := owners[it.Slug]; it.Slug != "" && it.OwnerDir != "" && (!seen || !o.Other) {
			owners[it.Slug] = statedir.Whose(opt.StateRoot, it.OwnerDir)
		}
	}
	running := func(slug string) bool {
		return slices.ContainsFunc(bySlug[slug], func(o bottle.Item) bool { return o.Running() })
	}
	liveDetached := func(slug string) bool {
		return slug != "" && detached[slug] && slices.ContainsFunc(bySlug[slug], func(o bottle.Item) bool { return o.Running() })
	}
	// What the launcher or its guardian last recorded in bottle.json says
	// whether a project's home volume holds a transcript, when the agent
	// container could not tell.
	byDir := map[string]statedir.Entry{}
	for _, e := range entries {
		if e.Type == statedir.Dir {
			byDir[e.Slug] = e
		}
	}
	exists := map[string]bool{} // slugs with anything in any backend or a state dir
	for _, it := range all {
		exists[it.Slug] = true
	}
	for slug := range byDir {
		exists[slug] = true
	}
	named := map[string]bool{}
	noted := map[string]bool{}
	inPlan := map[string]bool{} // backend/kind/name of planned items
	// volumeHolds: the slugs of planned projects whose home volume holds,
	// or may hold, a transcript the reaper will save into their state dir.
	volumeHolds := map[string]bool{}
	for _, it := range all {
		if inUse[it.Slug] && it.Slug != "" {
			p.Notes = append(p.Notes, fmt.Sprintf("left out %s %s: its bottle-launch is still running", it.Kind, it.Name))
			continue
		}
		if !opt.keep(it) {
			continue
		}
		if why := owners[it.Slug].Why(opt.AllRoots, running(it.Slug), opt.takesDetached(it.Slug)); why != "" {
			if !noted[it.Slug] {
				noted[it.Slug] = true
				p.Notes = append(p.Notes, fmt.Sprintf("leaving %s: %s", bottle.ProjectName(opt.Prefix, it.Slug), why))
			}
			continue
		}
		if o := owners[it.Slug]; o.Other {
			// Its transcript would be saved into that root's dir; a
			// machine's rescue knows only this root's: it stays.
			if slices.ContainsFunc(bySlug[it.Slug], func(o bottle.Item) bool { return o.Kind == bottle.KindMachine }) {
				if !noted[it.Slug] {
					noted[it.Slug] = true
					p.Notes = append(p.Notes, fmt.Sprintf("leaving %s: a smolmachines bottle of state root %s: clean it up with that state root", bottle.ProjectName(opt.Prefix, it.Slug), o.Root))
				}
				continue
			}
			it.AllRoots = true
		}
		if liveDetached(it.Slug) && !opt.takesDetached(it.Slug) {
			if !noted[it.Slug] {
				noted[it.Slug] = true
				p.Notes = append(p.Notes, fmt.Sprintf("left out %s%s: it was launched with --detach and is running; end it with bottle-cleanup --name %s (or pass --include-detached)", opt.Prefix, it.Slug, it.Slug))
			}
			continue
		}
		it, ok, fresh, c := opt.leaveFreshOn(it)
		p.Notes = append(p.Notes, fresh...)
		if len(fresh) > 0 && (p.fresh == 0 || c.next().After(p.freshUntil)) {
			p.freshUntil = c.next()
		}
		p.fresh += len(fresh)
		if !ok {
			continue
		}
		it.NotRunning = opt.NotRunning
		it.IncludeDetached = opt.IncludeDetached || len(opt.Names) > 0
		// A bottle's transcript is in its home volume (docker) or its
		// machine's disk (smolmachines): one conversation rule for both.
		if it.Kind == bottle.KindComposeProject || it.Kind == bottle.KindMachine {
			if e, ok := byDir[it.Slug]; ok && e.Meta {
				if it.Transcript == nil {
					it.Transcript = recorded(e.Bottle.Transcript)
				}
				_, home := transcript.HomeOf(it)
				if (home || it.Kind == bottle.KindMachine) && (it.Transcript == nil || *it.Transcript) {
					volumeHolds[it.Slug] = true
				}
			}
			it.DiscardTranscript = opt.DiscardTranscript && slices.Contains(opt.Names, it.Slug)
		}
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
		if p.Err == nil { // every backend answered, one only in part
			p.Err = backend.ErrPartial
		}
	default:
		live := survey.Live()
		elsewhere := survey.Elsewhere()
		kept := 0
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
				if e.Preserved && slices.Contains(opt.Names, e.Slug) && !noted[e.Slug] {
					noted[e.Slug] = true
					p.Notes = append(p.Notes, fmt.Sprintf("--name %s: its state dir %s has %s, which keeps it (remove that file to let it go)", e.Slug, e.Path, bottle.PreserveFile))
				}
				continue
			}
			if why := leftAlone(e, opt); why != "" {
				p.Notes = append(p.Notes, fmt.Sprintf("state root: %s left alone: %s", e.Path, why))
				continue
			}
			if name, ok := elsewhere[e.Slug]; ok {
				// The state root is shared across prefixes: a bottle of
				// this slug under another one owns the dir.
				p.Notes = append(p.Notes, fmt.Sprintf("state root: %s left alone: %s exists, which may be a bottle of its slug under another prefix", e.Path, name))
				continue
			}
			// A conversation stays unless asked for: a dir that holds a
			// transcript, or will once its bottle's is saved into it.
			if !opt.IncludeTranscripts && (e.Transcript || live[e.Slug] && volumeHolds[e.Slug]) && opt.keepDir(e) {
				switch {
				case slices.Contains(opt.Names, e.Slug):
					if !noted[e.Slug] {
						noted[e.Slug] = true
						holds := "holds the conversation (its transcript)"
						if !e.Transcript {
							holds = "will hold the conversation (its transcript, saved there before the bottle goes)"
						}
						p.Notes = append(p.Notes, fmt.Sprintf("--name %s: its state dir %s %s and stays; add --include-transcripts to remove it too", e.Slug, e.Path, holds))
					}
				default:
					kept++
				}
				continue
			}
			it := e.Item(e.Resumable(opt.Prefix, opt.Engines, live[e.Slug]))
			it.Engine = opt.engineOf(e)
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
			it.IncludeTranscripts = opt.IncludeTranscripts
			p.Items = append(p.Items, it)
			named[it.Slug] = true
		}
		if kept > 0 {
			dirs := "state dirs that hold"
			if kept == 1 {
				dirs = "state dir that holds"
			}
			p.Notes = append(p.Notes, fmt.Sprintf("kept %d %s a conversation (an agent's transcript; a planned bottle's is saved there before it goes): bottle-ls --state lists them; --include-transcripts plans them too", kept, dirs))
		}
	}
	var unknown []error
	for _, n := range opt.Names {
		switch {
		case named[n] || noted[n]:
		case !exists[n] && p.Err == nil:
			unknown = append(unknown, fmt.Errorf("--name %s: no bottle and no state dir of that name (bottle-ls lists the bottles, bottle-ls --state the state dirs)", n))
		default:
			noted[n] = true
			p.Notes = append(p.Notes, fmt.Sprintf("--name %s: nothing of that bottle is left to clean up", n))
		}
	}
	p.Unknown = errors.Join(unknown...)
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

func key(it bottle.Item) string { return it.Engine + "/" + it.Backend + "/" + it.Kind + "/" + it.Name }

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

// Order orders items by backend, then engine items before state dirs, then
// engine, kind and name: byte-for-byte stable for
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
		// State dirs last (the reaper's one survey then covers them all),
		// the engine items grouped by engine before them.
		if sa, sb := a.Kind == bottle.KindStateDir, b.Kind == bottle.KindStateDir; sa != sb {
			return sb
		}
		if a.Engine != b.Engine {
			return a.Engine < b.Engine
		}
		if ra, rb := rank(bottle.Kinds, a.Kind), rank(bottle.Kinds, b.Kind); ra != rb {
			return ra < rb
		}
		return a.Name < b.Name
	})
}
