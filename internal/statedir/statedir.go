// Package statedir reads and removes bottle state directories: one
// directory per slug directly under the state root
// (~/.claude-bottle/state/<slug>/), holding a transcript snapshot, a rebuilt
// Dockerfile, metadata and, when a person wants it kept, a .preserve marker.
// A running bottle-launch holds an exclusive lock on the dir's lock file.
package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// Type says what an entry under the root is.
type Type string

// Entry types. Only Dir entries are state dirs.
const (
	Dir     Type = "dir"
	Symlink Type = "symlink"
	File    Type = "file"
	Other   Type = "other"
	// Aside is a ".reaping-<slug>-<hex>" dir: a state dir a bottle-reap had
	// moved aside to remove when it was killed. It was checked for removal
	// then; nothing removes it now but a person.
	Aside Type = "aside"
)

// asidePrefix starts the name a state dir is moved aside to before removal.
const asidePrefix = ".reaping-"

// Entry is one entry directly under the state root.
type Entry struct {
	Slug string
	Path string
	Type Type
	// NotState says why a Dir does not look like a bottle's state dir (see
	// Looks), or "". Such a dir is never planned or removed.
	NotState string
	// Preserved: a .preserve is somewhere in the tree.
	Preserved  bool
	Locked     bool
	SizeBytes  int64
	Modified   time.Time // newest modification time in the tree
	Transcript bool
	Dockerfile bool
	// Meta is set when the dir holds bottle.json; MetaErr says why it could
	// not be read whole (then the dir is never an orphan), Bottle is what it
	// says when it could.
	Meta    bool
	MetaErr error
	Bottle  Meta
	// ID and Changed are the dir's identity and newest change (see Tree),
	// recorded in the plan and checked again by the reaper.
	ID      Identity
	Changed time.Time
	// Mount is a directory inside on another file system (relative), or "".
	Mount string
	// WalkErr is set when part of the tree could not be read: what it hid
	// (a .preserve?) is unknown, so the dir is never an orphan.
	WalkErr error
}

// Resumable reports whether bottle-launch --resume would start the dir's
// bottle again, as far as the dir tells: it looks like a state dir, holds
// a bottle.json that reads whole and names a bottle (docker or
// smolmachines) of its slug and of prefix, made on one of engines (or
// ended), and no launcher holds it.
// live is whether a bottle of its slug exists in any backend (then it is
// not resumable: the bottle must end first).
func (e Entry) Resumable(prefix string, engines Engines, live bool) bool {
	m := e.Bottle
	return e.Type == Dir && e.NotState == "" && e.Meta && e.MetaErr == nil && !e.Locked && !live &&
		m.NamesBottle(e.Slug) && m.Name == prefix+e.Slug && (m.Ended != nil || OtherEngine(m, engines) == "")
}

// HoldsTranscript reports whether the directory at dir holds a
// transcript (an entry named transcript*, as Entry.Transcript says): a
// conversation, which only a plan that asked for conversations removes.
func HoldsTranscript(dir string) bool {
	f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, bottle.TranscriptDir) })
}

// Scan lists the entries directly under root, sorted by name. A missing
// root is an empty list. Dot-entries are not slugs and are left out, except
// the dirs an interrupted reaper left aside (Type Aside).
func Scan(root string) ([]Entry, error) {
	out, err := list(root)
	if err != nil {
		return nil, err
	}
	// Inspecting is a few syscalls per file; do several dirs at once.
	var wg sync.WaitGroup
	next := make(chan *Entry)
	for range min(8, len(out)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				inspect(e)
			}
		}()
	}
	for i := range out {
		if out[i].Type == Dir && out[i].NotState == "" {
			next <- &out[i]
		}
	}
	close(next)
	wg.Wait()
	return out, nil
}

// list lists root's entries and, for dirs, whether they look like state
// dirs (one read of each dir's top level); sorted by name.
func list(root string) ([]Entry, error) {
	des, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state root: %w", err)
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, asidePrefix) && de.IsDir() {
			out = append(out, Entry{Slug: name, Path: filepath.Join(root, name), Type: Aside})
			continue
		}
		if strings.HasPrefix(name, ".") || Litter(name) && de.Type().IsRegular() {
			continue
		}
		e := Entry{Slug: name, Path: filepath.Join(root, name)}
		switch t := de.Type(); {
		case t&fs.ModeSymlink != 0:
			e.Type = Symlink
		case t.IsDir():
			e.Type = Dir
			e.NotState = Looks(e.Path)
		case t.IsRegular():
			e.Type = File
		default:
			e.Type = Other
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	return out, nil
}

// inspect fills in what a person would lose (size, newest change, flags)
// and what the plan records and the reaper checks again. Each directory
// of the tree is read once; the lock is only tried when the dir has a lock
// file; bottle.json is read once.
func inspect(e *Entry) {
	top, _ := os.ReadDir(e.Path)
	hasLock := false
	for _, de := range top {
		switch n := de.Name(); {
		case n == bottle.PreserveFile:
			e.Preserved = true
		case n == bottle.LockFile:
			hasLock = true
		case n == bottle.MetaFile:
			e.Meta = true
		case strings.HasPrefix(n, bottle.TranscriptDir):
			e.Transcript = true
		case n == bottle.Dockerfile || strings.HasPrefix(n, bottle.Dockerfile+"."):
			e.Dockerfile = true
		}
	}
	t := Walk(e.Path)
	e.SizeBytes, e.Modified, e.Changed, e.ID, e.Mount, e.WalkErr = t.SizeBytes, t.Modified, t.Changed, t.ID, t.Mount, t.Err
	if t.Preserve != "" {
		e.Preserved = true
	}
	if e.Meta {
		var ok bool
		e.Bottle, ok, e.MetaErr = ReadMeta(e.Path)
		if !ok && e.MetaErr == nil {
			e.Meta = false // gone meanwhile
		}
	}
	e.Locked = hasLock && Locked(e.Path)
}

// Looks says why the directory at path does not look like a bottle's
// state dir, or "" when it does: its name has a slug's shape (see
// SlugShape), and every entry at its top is something a bottle writes
// there (bottleLeaves: bottle.json, compose.json, a transcript, a
// Dockerfile, .lock, the .preserve a person puts in, a save's temp dir,
// a file manager's litter such as .DS_Store), or it is empty. A source checkout (.git, go.mod, source) is none,
// whatever its name. It reads the dir's top level only.
func Looks(path string) string {
	name := filepath.Base(path)
	if !SlugShape(name) {
		return fmt.Sprintf("its name %q is not a slug's <agent>-<5 letters or digits>", name)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Sprintf("it cannot be read: %v", err)
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return fmt.Sprintf("it cannot be read: %v", err)
	}
	var other []string
	for _, de := range des {
		if n := de.Name(); !bottleLeaves(n, de.Type().IsRegular()) {
			other = append(other, n)
		}
	}
	if len(other) == 0 {
		return ""
	}
	sort.Strings(other)
	more := ""
	if len(other) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(other)-1)
	}
	return fmt.Sprintf("it holds %q%s, which no bottle writes there", other[0], more)
}

// bottleLeaves reports whether name is something a bottle leaves at the
// top of its state dir: one of bottle.StateFiles, Dockerfile.*, or a
// transcript save's temp dir; or, when it is a regular file (file), the
// litter a file manager leaves (Litter) or the AppleDouble file of any
// of these.
func bottleLeaves(n string, file bool) bool {
	if slices.Contains(bottle.StateFiles, n) || strings.HasPrefix(n, bottle.Dockerfile+".") || strings.HasPrefix(n, bottle.TranscriptTemp) {
		return true
	}
	if !file {
		return false
	}
	if of, ok := strings.CutPrefix(n, bottle.AppleDouble); ok && of != "" {
		return bottleLeaves(of, true)
	}
	return Litter(n)
}

// Litter reports whether name is exactly one of the files a desktop's
// file manager leaves in a directory it shows (bottle.OSLitter).
func Litter(n string) bool { return slices.Contains(bottle.OSLitter, n) }

// SlugShape reports whether name has the shape of the slugs bottle-launch
// and the original tool make: an agent's name (1 to 40 of [a-z0-9_-],
// starting with a letter or digit), "-", and 5 of [a-z0-9].
func SlugShape(name string) bool { return bottle.SlugShape(name) }

// Item turns a state dir entry into a plan item; resumable is whether
// its bottle could be resumed (see Resumable).
func (e Entry) Item(resumable bool) bottle.Item {
	size, mod := e.SizeBytes, e.Modified.UTC().Truncate(time.Second)
	tr, df, res := e.Transcript, e.Dockerfile, resumable
	dev, ino, changed := e.ID.Device, e.ID.Inode, e.Changed.UTC()
	return bottle.Item{
		Backend:    "", // state dirs belong to no backend; the plan sets it
		Kind:       bottle.KindStateDir,
		Name:       e.Slug,
		Slug:       e.Slug,
		Path:       e.Path,
		SizeBytes:  &size,
		Modified:   &mod,
		Transcript: &tr,
		Dockerfile: &df,
		Resumable:  &res,
		Device:     &dev,
		Inode:      &ino,
		Changed:    &changed,
	}
}

// Slugs lists the slugs of the state dirs under root, sorted, reading no
// more than each dir's top level: the dirs (never a symlink) that look like
// a bottle's state dir (Looks). With resumable, only those bottle-launch
// --resume could start again as far as the dir tells without asking an
// engine: a bottle.json that reads whole and names a bottle of prefix and
// the slug, and no launcher holding the dir. Completion offers them.
func Slugs(root, prefix string, resumable bool) ([]string, error) {
	entries, err := list(root)
	if err != nil {
		return nil, err
	}
	var slugs []string
	for _, e := range entries {
		if e.Type != Dir || e.NotState != "" {
			continue
		}
		if resumable {
			m, ok, err := ReadMeta(e.Path)
			if !ok || err != nil || !m.NamesBottle(e.Slug) || m.Name != prefix+e.Slug || Locked(e.Path) {
				continue
			}
		}
		slugs = append(slugs, e.Slug)
	}
	return slugs, nil
}
