package reap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// Policy is the bottle policy the streaming engine (Run) calls: which
// items wait, how an item is acted on, what is saved before a bottle goes,
// and how state dirs are removed. Bottles is the one the tools use; the
// engine's own tests give simpler ones.
type Policy interface {
	// Prepare is asked before an item is acted on: a reason to skip it now
	// (a launcher still runs its bottle), else the item to hand to its
	// remover and how to word the remover's result.
	Prepare(it bottle.Item) (act bottle.Item, skip string, word func(bottle.Result) bottle.Result)
	// Rescue is the step a bottle's removal takes after its re-checks,
	// holding a --jobs slot (see backend.RemoveOptions.Rescue); ctx ends
	// when the run is interrupted.
	Rescue(ctx context.Context, it bottle.Item) error
	// Owner is asked of every engine resource a removal inspects (see
	// backend.RemoveOptions.Owner): a reason to keep it, or "".
	Owner(it bottle.Item, labels map[string]string, state string) string
	// StateDirs returns the remover of state dirs, on one survey of every
	// backend of the engines asked, taken now; would holds the engine items
	// ("engine/backend/name") a dry run answered would-remove. An error
	// (the state root is not one) keeps every state dir.
	StateDirs(ctx context.Context, would map[string]bool, asked Asked) (DirRemover, error)
}

// Asked are the engines a state dir survey asks: those the run opened so
// far (every state dir's own among them), by name.
type Asked struct {
	Names []string
	// Default is the name of the default engine (the one the environment
	// names): a dir whose bottle.json names no engine was made there, and
	// is kept when the survey does not ask it.
	Default string
}

// DirRemover removes state dirs, as planned, re-checking each at the moment
// it acts.
type DirRemover interface {
	Remove(it bottle.Item) bottle.Result
}

// Bottles is the bottle policy: slugs, the launcher's lock, detached
// bottles, the transcript rescue, state dirs.
type Bottles struct {
	Prefix    string
	StateRoot string
	// DefaultRoot: StateRoot is the default root (statedir.CheckRoot).
	DefaultRoot bool
	DryRun      bool
	Backends    []backend.Backend
	Engines     statedir.Engines
	// Router opens the engines the surveys ask; nil is Backends alone.
	Router Router
	// Save saves a bottle's transcript out of its home into its state
	// dir; nil saves nothing (and then nothing is kept for it either).
	Save func(ctx context.Context, h transcript.Home, stateDir string) (transcript.Saved, error)

	mu sync.Mutex
	// wrote is what the rescue wrote into a state dir in this run, by
	// slug: the dir's removal takes it as its own.
	wrote map[string]*statedir.Wrote
	// others are the state dirs of other roots that the labels of an
	// item's containers named at its removal (planned with --all-roots),
	// by item name: the rescue saves the transcript there.
	others map[string]string
}

// NewBottles is the policy of a run with opt.
func NewBottles(opt Options) *Bottles {
	return &Bottles{Prefix: opt.Prefix, StateRoot: opt.StateRoot, DefaultRoot: opt.DefaultRoot, DryRun: opt.DryRun, Backends: opt.Backends, Engines: opt.Engines, Router: opt.Router, Save: opt.Save}
}

// slugOf is the slug of the bottle an item is of: its slug field, else a
// state dir's name, else its name less the prefix ("" when it has none).
func slugOf(it bottle.Item, prefix string) string {
	switch {
	case it.Slug != "":
		return it.Slug
	case it.Kind == bottle.KindStateDir:
		return it.Name
	}
	return bottle.Slug(it.Name, prefix)
}

// slugsOf are every slug an item may belong to: slugOf's, its name's, a
// bundle part's bottle's. Some may be "" or not slugs at all.
func slugsOf(it bottle.Item, prefix string) []string {
	slugs := []string{slugOf(it, prefix), bottle.Slug(it.Name, prefix)}
	if s, ok := bottle.BundleSlug(it.Name, prefix); ok {
		slugs = append(slugs, s)
	}
	return slugs
}

// Prepare: a bottle whose launcher holds its state dir's lock waits; an
// item of a running detached bottle the plan did not take is acted on as
// if planned with --not-running (see guardDetached).
func (b *Bottles) Prepare(it bottle.Item) (bottle.Item, string, func(bottle.Result) bottle.Result) {
	if b.launching(it) {
		return it, ReasonLaunching, nil
	}
	if it.Kind == bottle.KindStateDir {
		return it, "", same
	}
	if it.Kind == bottle.KindMachine && it.AllRoots {
		return it, ReasonOtherRootMachine, nil
	}
	act, guarded := b.guardDetached(it)
	if !guarded {
		return act, "", same
	}
	return act, "", detachedResult
}

func same(r bottle.Result) bottle.Result { return r }

// launching reports whether a bottle-launch holds the lock of the state dir
// of any slug the item names: a bottle still starting is never reaped.
func (b *Bottles) launching(it bottle.Item) bool {
	for _, s := range slugsOf(it, b.Prefix) {
		if bottle.ValidSlug(s) && statedir.Locked(filepath.Join(b.StateRoot, s)) {
			return true
		}
	}
	return false
}

// ReasonOtherRootMachine is why a machine planned as another state root's
// bottle is kept: its rescue saves into this root's state dir only, so
// only that root's cleanup ends it.
const ReasonOtherRootMachine = "a smolmachines bottle of another state root: clean it up with that state root"

// ReasonDetached is why an item of a running bottle launched with --detach
// is kept when the plan did not take detached bottles.
const ReasonDetached = "its bottle was launched with --detach and is running (plan it with --name or --include-detached to end it)"

// guardDetached returns the item to act on: an item of a bottle launched
// with --detach (and not ended), planned without --include-detached or
// --name, is acted on as if planned with --not-running, so its remover
// skips it when anything of it runs at this moment. guard reports whether
// that was done.
func (b *Bottles) guardDetached(it bottle.Item) (bottle.Item, bool) {
	if it.IncludeDetached || it.NotRunning {
		return it, false
	}
	for _, s := range slugsOf(it, b.Prefix) {
		if bottle.ValidSlug(s) && statedir.LiveDetached(filepath.Join(b.StateRoot, s)) {
			it.NotRunning = true
			return it, true
		}
	}
	return it, false
}

// detachedResult says why a guarded item was skipped: its bottle runs, not
// a --not-running the plan never had.
func detachedResult(res bottle.Result) bottle.Result {
	mention := func(s string) bool { return strings.Contains(s, "not-running") }
	if res.Status == bottle.Skipped && mention(res.Reason) {
		res.Reason = ReasonDetached
	}
	for i := range res.Resources {
		if r := &res.Resources[i]; r.Status == bottle.Skipped && mention(r.Reason) {
			r.Reason = ReasonDetached
		}
	}
	return res
}

// Owner keeps a resource of a bottle another state root's launcher made
// (its labels, read now, name a state dir there that still exists) unless
// the plan took such bottles (--all-roots); then it reads that root's
// lock and detached flag as this root's are read: a bottle whose
// launcher runs stays, and so does a running detached one the plan did not
// take. Labels without a state dir keep today's rules.
func (b *Bottles) Owner(it bottle.Item, labels map[string]string, state string) string {
	dir := compose.StateDir(labels)
	o := statedir.Whose(b.StateRoot, dir)
	if why := o.Why(it.AllRoots, bottle.Active(state), it.IncludeDetached); why != "" {
		return why
	}
	if o.Other && state != "" {
		b.mu.Lock()
		if b.others == nil {
			b.others = map[string]string{}
		}
		b.others[it.Name] = dir
		b.mu.Unlock()
	}
	return ""
}

// stateDirOf is the state dir a bottle's transcript is saved into: its
// own root's dir of slug, or the other root's the labels of its
// containers named at this removal.
func (b *Bottles) stateDirOf(it bottle.Item, slug string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d, ok := b.others[it.Name]; ok && filepath.Base(d) == slug {
		return d
	}
	return filepath.Join(b.StateRoot, slug)
}

// Rescue saves a bottle's transcript into its state dir before the bottle
// goes, whatever the plan says of that dir (what happens to the dir is
// decided when it is reached: it may stay for many reasons): a compose
// project's out of its home volume, a smolmachines machine's out of the
// machine (its backend's TranscriptHolder). Only a bottle bottle-launch
// made has both (its state dir holds bottle.json naming it); a bottle
// planned with discard_transcript is not saved. It records the dir's tree
// before and after its write, so the dir's own removal takes the write as
// this run's. An error keeps the home volume (the machine); ctx's end (an
// interrupt) keeps the whole bottle, with nothing half-written left.
func (b *Bottles) Rescue(ctx context.Context, it bottle.Item) error {
	slug := slugOf(it, b.Prefix)
	if b.DryRun || it.DiscardTranscript || !bottle.ValidSlug(slug) {
		return nil
	}
	var save func(dir string, m statedir.Meta) (transcript.Saved, error)
	what := "the volume"
	if h, ok := transcript.HomeOf(it); ok && b.Save != nil {
		save = func(dir string, m statedir.Meta) (transcript.Saved, error) {
			h.Image = m.Image
			return b.Save(ctx, h, dir)
		}
	} else if holder := backend.HolderOf(b.backendsOf(it), it); holder != nil {
		what = "the machine"
		save = func(dir string, _ statedir.Meta) (transcript.Saved, error) {
			return holder.SaveTranscript(ctx, it, dir)
		}
	}
	if save == nil {
		return nil
	}
	dir := b.stateDirOf(it, slug)
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	m, ok, err := statedir.ReadMeta(dir)
	if !ok || err != nil || statedir.Foreign(m, b.Prefix, slug) != "" {
		return nil
	}
	before := statedir.Walk(dir)
	_, err = save(dir, m)
	after := statedir.Walk(dir)
	b.mu.Lock()
	if b.wrote == nil {
		b.wrote = map[string]*statedir.Wrote{}
	}
	b.wrote[slug] = &statedir.Wrote{Before: before, After: after}
	b.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %v", backend.ErrInterrupted, err)
	case err != nil:
		return fmt.Errorf("its transcript could not be saved into %s: %v; %s is kept (it holds the only copy): retry with bottle-cleanup --name %s, or let it go with bottle-cleanup --name %s --discard-transcript", dir, err, what, slug, slug)
	}
	return nil
}

// backendsOf are the backends of the engine it names: the Router's, else
// Backends.
func (b *Bottles) backendsOf(it bottle.Item) []backend.Backend {
	if b.Router == nil {
		return b.Backends
	}
	set, err := b.Router.Open(it.Engine)
	if err != nil {
		return nil
	}
	return set.Backends
}

// wrote is the rescue's write into the dir of slug, or nil.
func (b *Bottles) wroteInto(slug string) *statedir.Wrote {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wrote[slug]
}

// liveSlugs is the survey's live slugs. Under --dry-run nothing was removed,
// so a bottle this run would have removed (would: "engine/backend/name" of
// the engine items answered would-remove) does not keep its state dir: the
// dry run answers what the real run would.
func liveSlugs(survey *backend.Survey, engines map[string]string, would map[string]bool, dryRun bool, prefix string) map[string]bool {
	if !dryRun {
		return survey.Live()
	}
	live := map[string]bool{}
	for key, inv := range survey.ByBackend {
		name, eng := key, engines[key]
		if i := strings.LastIndex(key, "@"); i >= 0 {
			name = key[:i]
		}
		for _, b := range inv.Bottles {
			if !would[eng+"/"+name+"/"+b.Name] {
				live[b.Slug] = true
			}
		}
		for _, slug := range inv.Claimed {
			if !would[eng+"/"+name+"/"+prefix+slug] {
				live[slug] = true
			}
		}
	}
	// a bottle of another prefix: never this run's to remove
	for slug := range survey.Elsewhere() {
		live[slug] = true
	}
	return live
}

// StateDirs checks the state root and asks every backend which bottles
// exist now.
func (b *Bottles) StateDirs(ctx context.Context, would map[string]bool, which Asked) (DirRemover, error) {
	if err := statedir.CheckRoot(b.StateRoot, b.DefaultRoot); err != nil {
		return nil, err
	}
	var backends []backend.Backend
	engines := map[string]string{} // survey key → engine name
	asked := b.Engines
	withoutDefault := false
	if b.Router == nil {
		backends = b.Backends
		for _, bk := range backends {
			engines[backend.Key(bk)] = ""
		}
	} else {
		var names []string
		asked, names = b.Router.Engines(ctx, which.Names)
		for _, name := range names {
			set, err := b.Router.Open(name)
			if err != nil {
				continue // Engines names only those opened
			}
			for _, bk := range set.Backends {
				tb := backend.Tag(bk, name)
				backends = append(backends, tb)
				engines[backend.Key(tb)] = name
			}
		}
		withoutDefault = !slices.Contains(names, which.Default)
	}
	survey := backend.Ask(ctx, backends)
	live := liveSlugs(survey, engines, would, b.DryRun, b.Prefix)
	askErr := survey.Err()
	if askErr == nil && !survey.Complete() {
		askErr = backend.ErrPartial
	}
	return &dirs{b: b, sr: &statedir.Reclaimer{
		Root:           b.StateRoot,
		DryRun:         b.DryRun,
		Prefix:         b.Prefix,
		Engines:        asked,
		WithoutDefault: withoutDefault,
		Live: func(slug string) (bool, error) {
			if askErr != nil {
				return false, askErr
			}
			return live[slug], nil
		},
	}}, nil
}

// dirs removes state dirs through a Reclaimer, taking the rescue's own
// writes as its own.
type dirs struct {
	b  *Bottles
	sr *statedir.Reclaimer
}

func (d *dirs) Remove(it bottle.Item) bottle.Result {
	slug := slugOf(it, d.b.Prefix)
	olderThan, _ := time.ParseDuration(it.OlderThan) // parse checked it
	p := statedir.FromItem(it, slug, olderThan)
	p.Wrote = d.b.wroteInto(slug)
	o := d.sr.Remove(p)
	res := bottle.Result{Status: o.Status, Reason: o.Reason}
	if o.Err != nil {
		res.Error = o.Err.Error()
	}
	return res
}

var _ Policy = (*Bottles)(nil)
