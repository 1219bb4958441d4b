package statedir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// Outcome is what Remove did: a bottle result status and its reason or error.
type Outcome struct {
	Status string // bottle.Removed, Gone, Skipped, Invalid, Failed, WouldRemove
	Reason string
	Err    error
}

// Reclaimer removes state dirs under one root, re-checking every rule at the
// moment it acts.
type Reclaimer struct {
	Root string
	// Live reports whether a bottle of the slug exists in any backend right
	// now; a nil Live, or one that cannot tell, means nothing is removed.
	Live func(slug string) (bool, error)
	// DryRun checks everything and removes nothing.
	DryRun bool
	// Prefix, when set, keeps a dir whose bottle.json names a bottle of
	// another prefix (see Foreign).
	Prefix string
	// Engines are the engines this run asked: a dir whose bottle.json
	// names another is kept (see OtherEngine).
	Engines Engines
	// WithoutDefault says the run did not ask the engine the environment
	// names: a dir whose bottle.json names no engine, or that has none, is
	// kept (see DefaultUnasked).
	WithoutDefault bool
	// Now is the clock for the --older-than check; nil is time.Now.
	Now func() time.Time
}

// Planned is a state dir as the plan recorded it.
type Planned struct {
	Slug string
	Path string
	// ID and Changed are the dir's identity and newest change when it was
	// planned: a dir that is another one now, or changed since, is kept.
	ID      Identity
	Changed time.Time
	// OlderThan, when set, is the plan's --older-than: a dir modified
	// more recently than that is kept.
	OlderThan time.Duration
	// IncludeTranscripts lets a dir that holds a transcript (a
	// conversation) go; without it such a dir is kept.
	IncludeTranscripts bool
	// Wrote, when set, is what this run itself wrote into the dir since
	// the plan (its bottle's transcript, saved before the bottle went).
	Wrote *Wrote
}

// Wrote is a write of this run's own into a state dir: the dir's tree
// right before it and right after. A dir unchanged since the plan up to
// that write counts as unchanged by it, and as old as it was.
type Wrote struct {
	Before, After Tree
}

// accept is p with its own write taken in: the plan's view moved past it,
// when nothing else had changed the dir before it. It returns the newest
// modification to count the dir's age from.
func (p Planned) accept(t Tree) (Planned, time.Time) {
	w := p.Wrote
	if w == nil || w.Before.ID != p.ID || w.After.ID != p.ID || w.Before.Changed.After(p.Changed) || t.Changed.After(w.After.Changed) {
		return p, t.Modified
	}
	p.Changed = w.After.Changed
	return p, w.Before.Modified
}

// ReasonConversation is why a dir that holds a transcript stays.
const ReasonConversation = "it holds a conversation (a transcript): kept; plan with --include-transcripts to remove it too"

// FromItem is the Planned of a state-dir plan item; an item without its
// identity has a zero ID (Remove answers it invalid).
func FromItem(it bottle.Item, slug string, olderThan time.Duration) Planned {
	p := Planned{Slug: slug, Path: it.Path, OlderThan: olderThan, IncludeTranscripts: it.IncludeTranscripts}
	if it.Device != nil && it.Inode != nil {
		p.ID = Identity{Device: *it.Device, Inode: *it.Inode}
	}
	if it.Changed != nil {
		p.Changed = *it.Changed
	}
	return p
}

// Remove removes the state dir a plan named, if and only if it is a real
// directory directly under the root named by the slug, is the very dir the
// plan saw and unchanged since, still looks like a bottle's state dir,
// holds no transcript (unless the plan included conversations), no
// .preserve anywhere, no mount, a bottle.json that can be read
// whole and names this prefix and an engine this run asked, is not locked
// by a launcher, and has no live bottle. It moves the dir aside, checks
// again, and removes it without crossing into another file system.
func (r *Reclaimer) Remove(p Planned) Outcome {
	slug, path := p.Slug, p.Path
	if !bottle.ValidSlug(slug) {
		return Outcome{Status: bottle.Invalid, Reason: fmt.Sprintf("%q is not a slug", slug)}
	}
	root, err := filepath.EvalSymlinks(r.Root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Outcome{Status: bottle.Gone, Reason: "the state root does not exist"}
		}
		return Outcome{Status: bottle.Failed, Err: fmt.Errorf("state root: %w", err)}
	}
	if root == string(filepath.Separator) {
		return Outcome{Status: bottle.Invalid, Reason: fmt.Sprintf("the state root %s is / (through a symlink): nothing there is a state dir", r.Root)}
	}
	want := filepath.Join(r.Root, slug)
	if path != want && path != filepath.Join(root, slug) {
		return Outcome{Status: bottle.Invalid, Reason: fmt.Sprintf("path %q is not %s, the state dir of slug %q", path, want, slug)}
	}
	dir := filepath.Join(root, slug)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Outcome{Status: bottle.Gone}
	case err != nil:
		return Outcome{Status: bottle.Failed, Err: err}
	case fi.Mode()&fs.ModeSymlink != 0:
		return Outcome{Status: bottle.Skipped, Reason: "not a real directory: it is a symlink (its target is never touched)"}
	case !fi.IsDir():
		return Outcome{Status: bottle.Skipped, Reason: "not a directory"}
	}
	if p.ID == (Identity{}) || p.Changed.IsZero() {
		return Outcome{Status: bottle.Invalid, Reason: "the item records no identity (device, inode, changed): make the plan again with bottle-plan-cleanup"}
	}
	if why := Looks(dir); why != "" {
		return Outcome{Status: bottle.Skipped, Reason: "not a bottle's state dir: " + why}
	}
	if !p.IncludeTranscripts && HoldsTranscript(dir) {
		return Outcome{Status: bottle.Skipped, Reason: ReasonConversation}
	}
	t := Walk(dir)
	p, modified := p.accept(t)
	if o, stop := r.checkTree(p, t, ""); stop {
		return o
	}
	if why := r.keep(slug, dir, modified, p.OlderThan); why != "" {
		return Outcome{Status: bottle.Skipped, Reason: why}
	}
	if r.DryRun {
		return Outcome{Status: bottle.WouldRemove}
	}

	// Move the dir aside first: from here on nobody can swap a symlink in
	// under our feet, a launcher's path no longer reaches it, and a
	// half-removed dir never looks like a state dir.
	aside := filepath.Join(root, asidePrefix+slug+"-"+randomHex())
	if err := os.Rename(dir, aside); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Outcome{Status: bottle.Gone}
		}
		return Outcome{Status: bottle.Failed, Err: err}
	}
	putBack := func(o Outcome) Outcome {
		if err := os.Rename(aside, dir); err != nil {
			o.Reason += fmt.Sprintf("; it could not be put back (%v): it is %s now", err, aside)
		}
		return o
	}
	if fi, err := os.Lstat(aside); err != nil || !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
		return putBack(Outcome{Status: bottle.Skipped, Reason: "changed since plan: no longer a real directory"})
	}
	// Everything that could have changed between the checks and the
	// rename is checked again on what was moved.
	if o, stop := r.checkTree(p, Walk(aside), " while removing"); stop {
		return putBack(o)
	}
	if !p.IncludeTranscripts && HoldsTranscript(aside) {
		return putBack(Outcome{Status: bottle.Skipped, Reason: ReasonConversation})
	}
	if Locked(aside) {
		// A bottle-launch took the lock after the check above; it holds the
		// lock file open, so moving the dir back gives it its dir again.
		return putBack(Outcome{Status: bottle.Skipped, Reason: "in use: a bottle-launch took its lock while removing"})
	}
	mount, err := removeTree(aside, t.ID)
	switch {
	case errors.Is(err, errPreserve):
		return putBack(Outcome{Status: bottle.Skipped, Reason: "preserved (.preserve appeared while removing; what was removed before it is gone)"})
	case mount != "":
		return putBack(Outcome{Status: bottle.Failed, Reason: fmt.Sprintf("%s is on another file system (a mount point): it and what is on it were left, with the dirs above it; unmount it, then remove %s", filepath.Join(dir, mount), dir)})
	case err != nil:
		return putBack(Outcome{Status: bottle.Failed, Err: err})
	}
	if err := os.Remove(aside); err != nil {
		return putBack(Outcome{Status: bottle.Failed, Err: err})
	}
	return Outcome{Status: bottle.Removed}
}

// checkTree answers a dir whose walk shows it must stay: another dir than
// planned, changed since, preserved, holding a mount, or not wholly read.
func (r *Reclaimer) checkTree(p Planned, t Tree, when string) (Outcome, bool) {
	switch {
	case t.Err != nil:
		return Outcome{Status: bottle.Skipped, Reason: "it cannot be read whole" + when + ": " + t.Err.Error()}, true
	case t.ID != p.ID:
		return Outcome{Status: bottle.Skipped, Reason: fmt.Sprintf("changed since plan: it is another directory now (%s; the plan saw %s)", t.ID, p.ID)}, true
	case t.Preserve != "":
		return Outcome{Status: bottle.Skipped, Reason: fmt.Sprintf("preserved (%s%s)", t.Preserve, when)}, true
	case t.Mount != "":
		return Outcome{Status: bottle.Failed, Reason: fmt.Sprintf("%s is on another file system (a mount point)%s: nothing was removed; unmount it first", filepath.Join(p.Path, t.Mount), when)}, true
	case when == "" && t.Changed.After(p.Changed), when != "" && t.Inner.After(p.Changed):
		// After the rename the dir's own status change is the rename's:
		// what is inside it counts then.
		return Outcome{Status: bottle.Skipped, Reason: fmt.Sprintf("changed since plan%s: modified after the plan saw it (%s)", when, p.Changed.UTC().Format(time.RFC3339Nano))}, true
	}
	return Outcome{}, false
}

// keep returns why the dir must stay, or "".
func (r *Reclaimer) keep(slug, dir string, modified time.Time, olderThan time.Duration) string {
	m, ok, err := ReadMeta(dir)
	if err != nil {
		return "its " + err.Error() + ": it may belong to any bottle"
	}
	if !ok {
		if why := DefaultUnasked(nil, r.WithoutDefault); why != "" {
			return why
		}
	}
	if ok {
		if why := Foreign(m, r.Prefix, slug); why != "" {
			return why
		}
		if why := DefaultUnasked(&m, r.WithoutDefault); why != "" {
			return why
		}
		if why := OtherEngine(m, r.Engines); why != "" {
			return why
		}
	}
	if olderThan > 0 {
		now := time.Now
		if r.Now != nil {
			now = r.Now
		}
		if age := now().Sub(modified); age < olderThan {
			return fmt.Sprintf("changed since plan: modified %s ago, not older than --older-than %s any more", age.Round(time.Second), olderThan)
		}
	}
	if Locked(dir) {
		return "in use: a bottle-launch holds its lock"
	}
	if r.Live == nil {
		return "no backend could be asked whether its bottle exists"
	}
	live, err := r.Live(slug)
	if err != nil {
		return "a backend could not be asked whether its bottle exists: " + err.Error()
	}
	if live {
		return "its bottle exists"
	}
	return ""
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
