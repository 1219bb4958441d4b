package statedir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// Outcome is what Remove did: a bottle result status and its reason or error.
type Outcome struct {
	Status string // bottle.Removed, Gone, Skipped, Invalid, Failed, WouldRemove
	Reason string
	Err    error
}

// Remover removes state dirs under one root, re-checking every rule at the
// moment it acts.
type Remover struct {
	Root string
	// Live reports whether a bottle of the slug exists in any backend right
	// now; a nil Live, or one that cannot tell, means nothing is removed.
	Live func(slug string) (bool, error)
	// DryRun checks everything and removes nothing.
	DryRun bool
	// Prefix, when set, keeps a dir whose bottle.json names a bottle of
	// another prefix (see Foreign).
	Prefix string
}

// Remove removes the state dir of slug that a plan named as path, if and
// only if it is a real directory directly under the root named by the slug,
// holds no .preserve, is not locked by a launcher, and has no live bottle.
func (r *Remover) Remove(slug, path string) Outcome {
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
	if why := r.keep(slug, dir); why != "" {
		return Outcome{Status: bottle.Skipped, Reason: why}
	}
	if r.DryRun {
		return Outcome{Status: bottle.WouldRemove}
	}

	// Move the dir aside first: from here on nobody can swap a symlink in
	// under our feet, and a half-removed dir never looks like a state dir.
	aside := filepath.Join(root, asidePrefix+slug+"-"+randomHex())
	if err := os.Rename(dir, aside); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Outcome{Status: bottle.Gone}
		}
		return Outcome{Status: bottle.Failed, Err: err}
	}
	if fi, err := os.Lstat(aside); err != nil || !fi.IsDir() || fi.Mode()&fs.ModeSymlink != 0 {
		_ = os.Rename(aside, dir)
		return Outcome{Status: bottle.Skipped, Reason: "changed since plan: no longer a real directory"}
	}
	if _, err := os.Lstat(filepath.Join(aside, PreserveFile)); err == nil {
		_ = os.Rename(aside, dir)
		return Outcome{Status: bottle.Skipped, Reason: "preserved (.preserve appeared while removing)"}
	}
	if Locked(aside) {
		// A bottle-launch took the lock after the check above; it holds the
		// lock file open, so moving the dir back gives it its dir again.
		_ = os.Rename(aside, dir)
		return Outcome{Status: bottle.Skipped, Reason: "in use: a bottle-launch took its lock while removing"}
	}
	if err := os.RemoveAll(aside); err != nil {
		if _, statErr := os.Lstat(dir); errors.Is(statErr, fs.ErrNotExist) {
			_ = os.Rename(aside, dir)
		}
		return Outcome{Status: bottle.Failed, Err: err}
	}
	return Outcome{Status: bottle.Removed}
}

// keep returns why the dir must stay, or "".
func (r *Remover) keep(slug, dir string) string {
	if _, err := os.Lstat(filepath.Join(dir, PreserveFile)); err == nil {
		return "preserved (.preserve)"
	}
	if r.Prefix != "" {
		if why := Foreign(dir, r.Prefix, slug); why != "" {
			return why
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
