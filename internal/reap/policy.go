package reap

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// The bottle policy the streaming reaper calls: which slugs an item
// belongs to, whether a bottle is still being launched, whether a detached
// bottle is kept, the transcript rescue, and which bottles keep their state
// dirs.

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

// launching reports whether a bottle-launch holds the lock of the state dir
// of any slug the item names: a bottle still starting is never reaped.
func launching(it bottle.Item, opt Options) bool {
	for _, s := range slugsOf(it, opt.Prefix) {
		if bottle.ValidSlug(s) && statedir.Locked(filepath.Join(opt.StateRoot, s)) {
			return true
		}
	}
	return false
}

// liveSlugs is the survey's live slugs. Under --dry-run nothing was removed,
// so a bottle this run would have removed (would: "backend/name" of the
// engine items answered would-remove) does not keep its state dir: the dry
// run answers what the real run would.
func liveSlugs(survey *backend.Survey, would map[string]bool, opt Options) map[string]bool {
	if !opt.DryRun {
		return survey.Live()
	}
	live := map[string]bool{}
	for name, inv := range survey.ByBackend {
		for _, b := range inv.Bottles {
			if !would[name+"/"+b.Name] {
				live[b.Slug] = true
			}
		}
		for _, slug := range inv.Claimed {
			if !would[name+"/"+opt.Prefix+slug] {
				live[slug] = true
			}
		}
	}
	return live
}

// dirSurvey is one survey of every backend and the state dir remover built
// on it; it is good for the state dirs whose engine items before them were
// all answered when it was taken.
type dirSurvey struct {
	covers int
	sr     *statedir.Reclaimer
	// rootErr: the state root does not look like one (most of it is not
	// bottle state: the wrong directory), refused at the moment of acting.
	rootErr error
}

// stateRemover returns a remover whose survey was taken after the first n
// engine items were answered: one survey per run for a plan whose state
// dirs come last, as bottle-plan-cleanup writes it.
func (r *runner) stateRemover(n int) (*statedir.Reclaimer, error) {
	r.surveyMu.Lock()
	defer r.surveyMu.Unlock()
	if r.dirs != nil && r.dirs.covers >= n {
		return r.dirs.sr, r.dirs.rootErr
	}
	if err := statedir.CheckRoot(r.opt.StateRoot); err != nil {
		r.dirs = &dirSurvey{covers: n, rootErr: err}
		return nil, err
	}
	survey := backend.Ask(r.work, r.opt.Backends)
	r.mu.Lock()
	live := liveSlugs(survey, r.would, r.opt)
	r.mu.Unlock()
	askErr := survey.Err()
	sr := &statedir.Reclaimer{
		Root:    r.opt.StateRoot,
		DryRun:  r.opt.DryRun,
		Prefix:  r.opt.Prefix,
		Engines: r.opt.Engines,
		Live: func(slug string) (bool, error) {
			if askErr != nil {
				return false, askErr
			}
			return live[slug], nil
		},
	}
	r.dirs = &dirSurvey{covers: n, sr: sr}
	return sr, nil
}

// saveTranscript copies a compose project's transcript from its home
// volume into its state dir before the project goes, unless this run
// removes that dir too, there is none, or it is a dry run. It returns why
// the item must not be removed ("" when it may).
func saveTranscript(ctx context.Context, it bottle.Item, opt Options, dirGoes bool) string {
	slug := slugOf(it, opt.Prefix)
	if opt.SaveTranscript == nil || opt.DryRun || it.Kind != bottle.KindComposeProject || dirGoes || !bottle.ValidSlug(slug) {
		return ""
	}
	// Only a bottle bottle-launch made (its state dir holds bottle.json)
	// keeps its transcript in a home volume this knows how to read.
	dir := filepath.Join(opt.StateRoot, slug)
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	if _, ok, _ := statedir.ReadMeta(dir); !ok {
		return ""
	}
	if _, err := opt.SaveTranscript(ctx, it, dir); err != nil {
		return fmt.Sprintf("saving its transcript into %s first: %v; nothing of it was removed (to let it go with its state dir: bottle-cleanup --name %s)", dir, err, slug)
	}
	return ""
}

// ReasonDetached is why an item of a running bottle launched with --detach
// is kept when the plan did not take detached bottles.
const ReasonDetached = "its bottle was launched with --detach and is running (plan it with --name or --include-detached to end it)"

// guardDetached returns the item to act on: an item of a bottle launched
// with --detach (and not ended), planned without --include-detached or
// --name, is acted on as if planned with --not-running, so its remover
// skips it when anything of it runs at this moment. guard reports whether
// that was done.
func guardDetached(it bottle.Item, opt Options) (bottle.Item, bool) {
	if it.IncludeDetached || it.NotRunning {
		return it, false
	}
	for _, s := range slugsOf(it, opt.Prefix) {
		if bottle.ValidSlug(s) && statedir.LiveDetached(filepath.Join(opt.StateRoot, s)) {
			it.NotRunning = true
			return it, true
		}
	}
	return it, false
}

// detachedResult says why a guarded item was skipped: its bottle runs, not
// a --not-running the plan never had.
func detachedResult(res bottle.Result, opt Options) bottle.Result {
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
