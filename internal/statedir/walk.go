package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"golang.org/x/sys/unix"
)

// Identity is what a directory is, whatever its name: its device and inode.
// A dir removed and made again under the same name is another identity.
type Identity struct {
	Device uint64
	Inode  uint64
}

func (id Identity) String() string { return fmt.Sprintf("device %d inode %d", id.Device, id.Inode) }

// Tree is what a walk of a state dir found. The walk never follows a
// symlink, never opens anything but a directory (a FIFO or device is never
// opened, so nothing can block it), and never crosses into another file
// system (another device or mount: a bind mount inside a state dir is not
// the bottle's).
type Tree struct {
	ID        Identity
	SizeBytes int64     // regular files
	Modified  time.Time // newest modification time, the dir's own included
	// Changed is the newest modification or status change (ctime) in the
	// tree: a file written and its time set back still changes it.
	Changed time.Time
	// Inner is Changed without the dir's own status change (which moving
	// the dir aside makes): what was written inside it.
	Inner time.Time
	// Preserve is the first .preserve found anywhere in the tree (a path
	// relative to the dir), or "".
	Preserve string
	// Mount is the first directory found on another file system (a mount
	// point; relative path), or "". Nothing below it was looked at.
	Mount string
	// Err is the first error met: what it hid was not looked at.
	Err error
}

// openDir opens a directory without following a symlink and without
// blocking: O_DIRECTORY refuses a FIFO or device before it is opened.
func openDir(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// Walk walks the directory at path (not followed if a symlink).
func Walk(path string) Tree {
	var t Tree
	fd, err := openDir(unix.AT_FDCWD, path)
	if err != nil {
		t.Err = err
		return t
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		t.Err = err
		return t
	}
	t.ID = Identity{Device: uint64(st.Dev), Inode: st.Ino}
	t.Modified = time.Unix(st.Mtim.Unix())
	t.Inner = t.Modified
	w := walker{t: &t, fs: fsOf(fd, &st)}
	w.dir(fd, "")
	t.Changed = t.Inner
	if c := time.Unix(st.Ctim.Unix()); c.After(t.Changed) {
		t.Changed = c
	}
	return t
}

func (t *Tree) note(st *unix.Stat_t) {
	m := time.Unix(st.Mtim.Unix())
	c := time.Unix(st.Ctim.Unix())
	if m.After(t.Modified) {
		t.Modified = m
	}
	if m.After(t.Inner) {
		t.Inner = m
	}
	if c.After(t.Inner) {
		t.Inner = c
	}
}

func (t *Tree) fail(rel string, err error) {
	if t.Err == nil {
		t.Err = fmt.Errorf("%s: %w", rel, err)
	}
}

type walker struct {
	t  *Tree
	fs fsID
}

// dir walks the directory open at fd (rel is its path relative to the top)
// and closes fd.
func (w *walker) dir(fd int, rel string) {
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		w.t.fail(relOr(rel), err)
	}
	for _, n := range names {
		p := filepath.Join(rel, n)
		if n == bottle.PreserveFile && w.t.Preserve == "" {
			w.t.Preserve = p
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if !errors.Is(err, unix.ENOENT) {
				w.t.fail(p, err)
			}
			continue
		}
		w.t.note(&st)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			w.t.SizeBytes += st.Size
		case unix.S_IFDIR:
			cfd, err := openDir(fd, n)
			if err != nil {
				if !errors.Is(err, unix.ENOENT) {
					w.t.fail(p, err)
				}
				continue
			}
			if fsOf(cfd, &st) != w.fs {
				unix.Close(cfd)
				if w.t.Mount == "" {
					w.t.Mount = p
				}
				continue
			}
			w.dir(cfd, p)
		}
	}
}

func relOr(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// RemoveTree removes the directory at path (not followed if a symlink)
// and everything in it that is on its file system, as rm -r
// --one-file-system does, whatever it holds (a .preserve too): for dirs the
// toolkit moved aside itself. A directory on another file system inside it
// is left, with the dirs above it, and named in the error.
func RemoveTree(path string) error {
	fd, err := openDir(unix.AT_FDCWD, path)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return err
	}
	r := unlinker{fs: fsOf(fd, &st), anyPreserve: true}
	r.dir(fd, "")
	switch {
	case r.mount != "":
		return fmt.Errorf("%s is on another file system (a mount point): it was left", filepath.Join(path, r.mount))
	case r.err != nil:
		return r.err
	}
	return os.Remove(path)
}

// errPreserve stops a removal that meets a .preserve.
var errPreserve = errors.New("a .preserve appeared while removing")

// removeTree removes everything inside the directory at path that is on
// its file system, as rm --one-file-system does: it never opens or enters
// a directory on another device or mount, and leaves it (mount names the
// first one). A directory holding a .preserve is met before anything in it
// is removed, and stops the removal (errPreserve). Only directories are
// opened, through the directory above them, never through a symlink.
func removeTree(path string, want Identity) (mount string, err error) {
	fd, err := openDir(unix.AT_FDCWD, path)
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return "", err
	}
	if got := (Identity{Device: uint64(st.Dev), Inode: st.Ino}); got != want {
		unix.Close(fd)
		return "", fmt.Errorf("%s is %s now, not %s", path, got, want)
	}
	r := unlinker{fs: fsOf(fd, &st)}
	r.dir(fd, "")
	return r.mount, r.err
}

type unlinker struct {
	fs    fsID
	mount string
	err   error
	// anyPreserve removes a .preserve like any file.
	anyPreserve bool
}

func (r *unlinker) fail(rel string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", relOr(rel), err)
	}
}

// dir empties the directory open at fd and closes fd.
func (r *unlinker) dir(fd int, rel string) {
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		r.fail(rel, err)
		return
	}
	for _, n := range names {
		if n == bottle.PreserveFile && !r.anyPreserve {
			r.err = errPreserve
			return
		}
	}
	for _, n := range names {
		if errors.Is(r.err, errPreserve) {
			return
		}
		p := filepath.Join(rel, n)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if !errors.Is(err, unix.ENOENT) {
				r.fail(p, err)
			}
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if err := unix.Unlinkat(fd, n, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				r.fail(p, err)
			}
			continue
		}
		cfd, err := openDir(fd, n)
		if err != nil {
			if !errors.Is(err, unix.ENOENT) {
				r.fail(p, err)
			}
			continue
		}
		if fsOf(cfd, &st) != r.fs {
			unix.Close(cfd)
			if r.mount == "" {
				r.mount = p
			}
			continue
		}
		r.dir(cfd, p)
		if errors.Is(r.err, errPreserve) {
			return
		}
		if err := unix.Unlinkat(fd, n, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) && r.mount == "" {
			r.fail(p, err)
		}
	}
}
