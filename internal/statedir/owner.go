package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// Owner is whose a bottle is, as its resources' labels say (the state dir
// bottle-launch keeps for it, bottle.LabelStateDir), seen from a run with
// one state root. A state root is one person's (or one cron's): a bottle
// another root's launcher made, whose state dir is still there, holds that
// root's lock, detached flag and conversation, not this one's.
type Owner struct {
	// Dir is the state dir the labels name; Root is its state root.
	Dir, Root string
	// Other is set when Dir is not under this run's state root and still
	// exists (or cannot be told not to): the bottle is another root's.
	Other bool
	// Err says why Dir, or its lock or bottle.json, could not be read:
	// whether its launcher runs is unknown, so the bottle is live.
	Err error
	// Locked: a bottle-launch holds Dir's lock (read as this root's own
	// locks are read). Detached: its bottle.json says it was launched with
	// --detach and has not ended.
	Locked, Detached bool
}

// Whose says whose the bottle is whose labels name dir as its state dir,
// seen from state root root. A dir that is "" (a bottle the original tool
// or compose made), in root, or gone (its root removed, or on another
// machine) is not Other: today's rules hold for it.
func Whose(root, dir string) Owner {
	if dir == "" {
		return Owner{}
	}
	o := Owner{Dir: dir, Root: filepath.Dir(dir)}
	if !filepath.IsAbs(dir) {
		o.Other, o.Err = true, fmt.Errorf("the state dir its labels name, %q, is not an absolute path", dir)
		return o
	}
	if sameDir(o.Root, root) {
		return o
	}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return o
	case err != nil:
		o.Other, o.Err = true, err
		return o
	case !fi.IsDir():
		return o // not a state dir: nothing there holds a lock or a flag
	}
	o.Other = true
	if o.Locked, err = held(dir); err != nil {
		o.Err = err
		return o
	}
	m, ok, err := ReadMeta(dir)
	if err != nil {
		o.Err = fmt.Errorf("%s: %w", dir, err)
		return o
	}
	o.Detached = ok && m.Detached && m.Ended == nil
	return o
}

// sameDir reports whether a and b are one directory: the same path, or the
// same file when both can be looked at (symlinks resolved).
func sameDir(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	if a == b {
		return true
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// held is Locked that says when it cannot tell: a lock file that is there
// but cannot be opened (another user's) is an error, not "unlocked".
func held(dir string) (bool, error) {
	p := filepath.Join(dir, bottle.LockFile)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("its lock cannot be read: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("its lock cannot be read: %w", err)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}

// Why is the reason a plan leaves out, or a reaper skips, a bottle of
// another root's, or "" when it may go: without allRoots every such
// bottle stays; with it, one whose launcher runs, whose state dir cannot
// be read, or (running, launched with --detach, not taken: takesDetached
// false) that nobody but a person ends.
func (o Owner) Why(allRoots, running, takesDetached bool) string {
	switch {
	case !o.Other:
		return ""
	case !allRoots:
		return fmt.Sprintf("made from state root %s (--all-roots to include)", o.Root)
	case o.Err != nil:
		return fmt.Sprintf("made from state root %s, and whether its launcher runs cannot be told: %v", o.Root, o.Err)
	case o.Locked:
		return fmt.Sprintf("its bottle-launch is still running (state root %s)", o.Root)
	case o.Detached && running && !takesDetached:
		return fmt.Sprintf("it was launched with --detach and is running (state root %s)", o.Root)
	}
	return ""
}
