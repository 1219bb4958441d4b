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
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// File names inside a state dir.
const (
	PreserveFile = ".preserve"
	LockFile     = ".lock"
	MetaFile     = "bottle.json"
	// A transcript is any entry whose name starts with "transcript"
	// (transcript.jsonl, transcript/); a rebuilt Dockerfile is "Dockerfile"
	// or "Dockerfile.*".
	transcriptPrefix = "transcript"
	dockerfileName   = "Dockerfile"
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
	Slug       string
	Path       string
	Type       Type
	Preserved  bool
	Locked     bool
	SizeBytes  int64
	Modified   time.Time // newest modification time in the tree
	Transcript bool
	Dockerfile bool
	// Meta is set when the dir holds bottle.json.
	Meta bool
}

// Resumable reports whether the dir holds what a resume needs.
func (e Entry) Resumable() bool { return e.Transcript && e.Dockerfile }

// Scan lists the entries directly under root, sorted by name. A missing
// root is an empty list. Dot-entries are not slugs and are left out, except
// the dirs an interrupted reaper left aside (Type Aside).
func Scan(root string) ([]Entry, error) {
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
		if strings.HasPrefix(name, ".") {
			continue
		}
		e := Entry{Slug: name, Path: filepath.Join(root, name)}
		switch t := de.Type(); {
		case t&fs.ModeSymlink != 0:
			e.Type = Symlink
		case t.IsDir():
			e.Type = Dir
		case t.IsRegular():
			e.Type = File
		default:
			e.Type = Other
		}
		out = append(out, e)
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
		if out[i].Type == Dir {
			next <- &out[i]
		}
	}
	close(next)
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Slug < out[j].Slug })
	return out, nil
}

// inspect fills in what a person would lose: size, newest change, flags.
// Each directory of the tree is read once; the lock is only tried when the
// dir has a lock file.
func inspect(e *Entry) {
	if fi, err := os.Lstat(e.Path); err == nil {
		e.Modified = fi.ModTime()
	}
	top, _ := os.ReadDir(e.Path)
	hasLock := false
	for _, de := range top {
		switch n := de.Name(); {
		case n == PreserveFile:
			e.Preserved = true
		case n == LockFile:
			hasLock = true
		case n == MetaFile:
			e.Meta = true
		case strings.HasPrefix(n, transcriptPrefix):
			e.Transcript = true
		case n == dockerfileName || strings.HasPrefix(n, dockerfileName+"."):
			e.Dockerfile = true
		}
	}
	measure(e, e.Path, top)
	e.Locked = hasLock && Locked(e.Path)
}

// measure adds the sizes and newest modification times of des (the entries
// of dir) and everything below them; symlinks are counted, never followed.
func measure(e *Entry, dir string, des []fs.DirEntry) {
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			continue
		}
		if fi.Mode().IsRegular() {
			e.SizeBytes += fi.Size()
		}
		if fi.ModTime().After(e.Modified) {
			e.Modified = fi.ModTime()
		}
		if de.IsDir() {
			p := filepath.Join(dir, de.Name())
			sub, _ := os.ReadDir(p)
			measure(e, p, sub)
		}
	}
}

// Item turns a state dir entry into a plan item.
func (e Entry) Item() bottle.Item {
	size, mod := e.SizeBytes, e.Modified.UTC().Truncate(time.Second)
	tr, df, res := e.Transcript, e.Dockerfile, e.Resumable()
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
	}
}
