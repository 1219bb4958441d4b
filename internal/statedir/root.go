package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/exitcode"
)

// A state root is one bottle-launch made: it writes bottle.RootMarker at
// its top when it makes the root, and takes an existing dir as a root only
// when it is empty, the default root, or every entry in it looks like a
// bottle's (RootLooks). The cleanup tools act on no root but one with the
// marker or the default one (CheckRoot).

// markerText is what the marker file says to a person who finds it.
const markerText = "This directory is a bottle state root: bottle-launch keeps one state dir per bottle here,\n" +
	"and bottle-plan-cleanup, bottle-reap and bottle-cleanup remove the ones no bottle owns.\n" +
	"Remove this file only with the directory.\n"

// Marked reports whether root holds the marker as a regular file (a
// symlink is never followed).
func Marked(root string) bool {
	fi, err := os.Lstat(filepath.Join(root, bottle.RootMarker))
	return err == nil && fi.Mode().IsRegular()
}

// Mark writes the marker into root (an existing dir).
func Mark(root string) error {
	f, err := os.OpenFile(filepath.Join(root, bottle.RootMarker), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(markerText)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// PrepareRoot is bottle-launch's look at the state root before it writes
// a state dir there: a missing root is made (0700) and marked; a marked
// one is used; the default root (isDefault), an empty dir and a dir whose
// every entry looks like a bottle's (the original tool's roots) are marked
// and used. Any other dir is refused with one line and exit 2, and nothing
// is written to it: a dir of source checkouts never becomes a state root.
func PrepareRoot(root string, isDefault bool) error {
	fi, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(root, 0o700); err != nil {
			return err
		}
		return Mark(root)
	case err != nil:
		return err
	case !fi.IsDir():
		return exitcode.Usagef("state root %s is not a directory; pass --state-dir a directory of its own such as ~/%s (made when missing)", root, bottle.DefaultStateRoot)
	}
	if Marked(root) {
		return nil
	}
	if !isDefault {
		why, err := RootLooks(root)
		if err != nil {
			return err
		}
		if why != "" {
			return exitcode.Usagef("state root %s is no state root: it has no %s and %s; bottle-launch writes state dirs only into a state root: pass --state-dir (or set BOTTLE_STATE_DIR to) a new or empty directory, or the state root you meant", root, bottle.RootMarker, why)
		}
	}
	return Mark(root)
}

// RootLooks says why the dir root does not look like a state root, or ""
// when it does: every entry is a dir that looks like a bottle's state dir
// (Looks), a dir a killed reaper left aside, or the marker. An empty dir
// looks like one.
func RootLooks(root string) (string, error) {
	des, err := os.ReadDir(root)
	if err != nil {
		return "", fmt.Errorf("reading state root: %w", err)
	}
	var bad []string
	for _, de := range des {
		n := de.Name()
		switch {
		case n == bottle.RootMarker:
		case de.Type().IsRegular() && rootLitter(n):
		case strings.HasPrefix(n, asidePrefix) && de.IsDir():
		case de.Type().IsDir() && !strings.HasPrefix(n, "."):
			if why := Looks(filepath.Join(root, n)); why != "" {
				bad = append(bad, fmt.Sprintf("%s (%s)", n, why))
			}
		default:
			bad = append(bad, n)
		}
	}
	switch len(bad) {
	case 0:
		return "", nil
	case 1:
		return fmt.Sprintf("its entry %s is no bottle's state dir", bad[0]), nil
	}
	return fmt.Sprintf("%d of its %d entries are no bottle's state dir, e.g. %s", len(bad), len(des), bad[0]), nil
}

// rootLitter reports whether name, a regular file at the top of a state
// root, is a file manager's litter (Litter) or the AppleDouble file of
// the marker, of litter or of a state dir (a slug's name).
func rootLitter(n string) bool {
	if of, ok := strings.CutPrefix(n, bottle.AppleDouble); ok {
		return of == bottle.RootMarker || Litter(of) || SlugShape(of)
	}
	return Litter(n)
}

// CheckRoot is the cleanup tools' look at the state root before they plan
// or remove anything in it. It refuses (exit 2, one line) a root that
// holds anything but has neither the marker nor is the default root
// (isDefault): bottle-launch did not make it, so it is the wrong directory
// (a dir of source checkouts, /home) or one a person made. It refuses,
// too, a root where most entries do not look like a bottle's state dir
// (Refuse). A missing root and a root with nothing in it are fine (there
// is nothing to act on); a root that cannot be read is not refused here
// (Scan says why).
func CheckRoot(root string, isDefault bool) error {
	entries, err := list(root)
	if err != nil {
		return nil
	}
	if err := RefuseUnmarked(root, isDefault, entries); err != nil {
		return err
	}
	return Refuse(root, entries)
}

// CheckMarked is CheckRoot's first half, for a listing (bottle-ls
// --state): a root that holds anything has the marker or is the default
// one.
func CheckMarked(root string, isDefault bool) error {
	entries, err := list(root)
	if err != nil {
		return nil
	}
	return RefuseUnmarked(root, isDefault, entries)
}

// RefuseUnmarked refuses root when the entries listed in it (Scan) hold
// anything but dirs a killed reaper left aside, and it has neither the
// marker nor is the default root.
func RefuseUnmarked(root string, isDefault bool, entries []Entry) error {
	// Dirs a killed reaper left aside are named and never removed: they
	// do not count.
	holds := slices.ContainsFunc(entries, func(e Entry) bool { return e.Type != Aside })
	if holds && !isDefault && !Marked(root) {
		return exitcode.Usagef("state root %s has no %s and is not the default ~/%s: bottle-launch did not make it, so nothing in it is listed, planned or removed; pass --state-dir (or set BOTTLE_STATE_DIR to) the state root your bottles use (if this is one, made by the original tool: touch %s)", root, bottle.RootMarker, bottle.DefaultStateRoot, filepath.Join(root, bottle.RootMarker))
	}
	return nil
}

// Refuse refuses (with a usage error) a state root where most of the
// entries listed do not look like a bottle's state dir: it is the wrong
// directory (one level too high, a dir of source checkouts, /home), and
// nothing under it may be planned or removed. Dirs a killed reaper left
// aside do not count.
func Refuse(root string, entries []Entry) error {
	total, bad := 0, 0
	for _, e := range entries {
		if e.Type == Aside {
			continue
		}
		total++
		if e.Type != Dir || e.NotState != "" {
			bad++
		}
	}
	if bad == 0 || 2*bad <= total {
		return nil
	}
	return exitcode.Usagef("state root %s: %d of its %d entries do not look like bottle state (dirs named <agent>-<5 letters or digits> holding only what a bottle writes: bottle.json, a transcript, a Dockerfile): is it the right directory? pass --state-dir or set BOTTLE_STATE_DIR to the state root, e.g. ~/%s", root, bad, total, bottle.DefaultStateRoot)
}
