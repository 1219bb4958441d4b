package launch

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Saved is a bottle's state dir opened to start its bottle again
// (bottle-launch --resume): checked, locked, its bottle.json read.
type Saved struct {
	Dir  string
	Meta statedir.Meta
	// Spec is the spec bottle.json recorded (env values redacted).
	Spec Spec
	// Transcript: the dir holds a transcript snapshot with at least one
	// file in it.
	Transcript bool

	lock *statedir.Lock
	kept map[string][]byte // bottle.json and compose.json as they were
}

// OpenSaved opens root's state dir of slug to start its bottle again and
// takes its lock. It refuses, with one line and exit 2: a slug that has
// no slug's shape, no such dir, a symlink or anything but a directory, a
// dir that does not look like a bottle's state dir, one without
// bottle.json (the original tool's dirs: bottle-launch resumes its own
// only), one whose bottle.json names a bottle of another prefix, and a
// locked one (a launcher or its guardian still runs the bottle). A
// bottle.json that cannot be read whole is exit 3. Whether a bottle of the
// slug still exists is the caller's to ask (every backend, not only this
// engine).
func OpenSaved(root, prefix, slug string) (*Saved, error) {
	refuse := func(format string, args ...any) error {
		return exitcode.Usagef("--resume %s: "+format, append([]any{slug}, args...)...)
	}
	if !statedir.SlugShape(slug) {
		return nil, refuse("not a bottle's name or slug: give the %s<agent>-<5 letters or digits> or the slug alone, as bottle-ls --state shows them", prefix)
	}
	dir := filepath.Join(root, slug)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, refuse("no state dir %s: nothing to resume (bottle-ls --state lists the state dirs)", dir)
	case err != nil:
		return nil, fmt.Errorf("--resume %s: %w", slug, err)
	case !fi.IsDir():
		return nil, refuse("%s is not a directory (%s; a symlink is never followed)", dir, fi.Mode().Type())
	}
	if why := statedir.Looks(dir); why != "" {
		return nil, refuse("%s does not look like a bottle's state dir: %s", dir, why)
	}
	lock, err := statedir.Acquire(dir)
	if err != nil {
		if statedir.Locked(dir) {
			return nil, refuse("its state dir %s is locked: a bottle-launch (or its guardian) still runs this bottle", dir)
		}
		return nil, fmt.Errorf("--resume %s: %w", slug, err)
	}
	sv := &Saved{Dir: dir, lock: lock, kept: map[string][]byte{}}
	if err := sv.read(prefix, slug, refuse); err != nil {
		lock.Release()
		return nil, err
	}
	return sv, nil
}

func (sv *Saved) read(prefix, slug string, refuse func(string, ...any) error) error {
	// Read once, by the cleanup tools' reader: no symlink, no FIFO, a
	// bounded size.
	m, data, ok, err := statedir.ReadMetaBytes(sv.Dir)
	if err != nil {
		return exitcode.BadInputf("--resume %s: %v", slug, err)
	} else if !ok {
		return refuse("%s has no %s: only bottles made by bottle-launch can be resumed", sv.Dir, bottle.MetaFile)
	}
	sv.Meta, sv.kept[bottle.MetaFile] = m, data
	switch data, err := readRegular(filepath.Join(sv.Dir, bottle.ComposeFile)); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("--resume %s: %w", slug, err)
	default:
		sv.kept[bottle.ComposeFile] = data
	}
	if err := json.Unmarshal(sv.Meta.Spec, &sv.Spec); len(sv.Meta.Spec) > 0 && err != nil {
		return exitcode.BadInputf("--resume %s: %s: its spec: %v", slug, bottle.MetaFile, err)
	}
	switch {
	case !m.NamesBottle(slug):
		return exitcode.BadInputf("--resume %s: its %s names no bottle of slug %s (slug %q, backend %q, agent %q)", slug, bottle.MetaFile, slug, m.Slug, m.Backend, m.Agent)
	case m.Name != prefix+slug:
		return refuse("its %s names %s, not %s%s: a bottle of another prefix (pass --prefix %s)", bottle.MetaFile, m.Name, prefix, slug, m.Prefix)
	}
	sv.Transcript = holdsFile(filepath.Join(sv.Dir, bottle.TranscriptDir))
	return nil
}

// readRegular reads a regular file, never through a symlink and never
// blocking on a FIFO, at most statedir.MaxMeta bytes.
func readRegular(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, statedir.MaxMeta+1))
	if err == nil && len(data) > statedir.MaxMeta {
		err = fmt.Errorf("%s is larger than %d bytes", p, statedir.MaxMeta)
	}
	return data, err
}

// holdsFile reports whether dir is a real directory with a regular file
// somewhere in it.
func holdsFile(dir string) bool {
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return false
	}
	found := errors.New("found")
	err := filepath.WalkDir(dir, func(_ string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			return found
		}
		return nil
	})
	return err == found
}

// Release drops the lock of a Saved that was not started.
func (sv *Saved) Release() {
	sv.lock.Release()
}

// Start starts the bottle again from its state dir with spec (bottle.json's,
// or one the person gave; its agent is the dir's): the same slug, project
// name and state dir. The saved transcript is copied into the new home
// volume's ~/.claude/projects, owned by the image's user, and then (only
// then) the agent's command gets the spec's continue args appended. The
// dir's lock passes to the bottle. A failed start removes what it made
// (as Start does), keeps the dir, and puts bottle.json and compose.json
// back as they were; a .preserve stays as it is.
func (sv *Saved) Start(ctx context.Context, eng engine.Launcher, spec Spec, opt Options) (*Launched, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	m := sv.Meta
	opt.Prefix = m.Prefix
	if spec.Agent != m.Agent {
		sv.Release()
		return nil, exitcode.Usagef("--resume %s: the spec's agent %q is not the bottle's %q", m.Slug, spec.Agent, m.Agent)
	}
	b := &Launched{
		eng: eng, opt: opt, spec: spec, ids: map[string]string{}, Created: opt.Now().UTC(),
		Project: Project{Name: m.Name, Slug: m.Slug, Agent: m.Agent, StateDir: sv.Dir, Version: opt.Version},
		lock:    sv.lock, resumed: &earlierLife{files: sv.kept},
	}
	if err := b.checkImages(ctx); err != nil {
		sv.Release()
		return nil, err
	}
	if err := b.identify(ctx); err != nil {
		sv.Release()
		return nil, err
	}
	sv.lock = nil
	if sv.Transcript {
		b.resumed.transcript = filepath.Join(sv.Dir, bottle.TranscriptDir)
	}
	if err := b.setBackend(); err != nil {
		b.putBack()
		b.lock.Release()
		return nil, err
	}
	if err := b.writeMeta(nil); err != nil {
		b.putBack()
		b.lock.Release()
		return nil, &StepError{"writing bottle.json", err}
	}
	return b.start(ctx)
}

// putBack writes the state dir's files as they were before the resume.
func (b *Launched) putBack() error {
	var errs []error
	for name, data := range b.resumed.files {
		if err := writeFileAtomic(filepath.Join(b.Project.StateDir, name), data, 0o600); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// command is the agent's command: the spec's, with its continue args when
// a transcript is restored (continuing nothing would fail Claude Code).
func (b *Launched) command() []string {
	if b.restore() == "" || len(b.spec.Continue) == 0 {
		return b.spec.Command
	}
	return append(slices.Clone(b.spec.Command), b.spec.Continue...)
}

// restoreTranscript copies the saved transcript tree into the agent's
// bottle.AgentTranscript, every entry owned by u. It streams: a transcript may be
// large.
func (b *Launched) restoreTranscript(ctx context.Context, id string, u User) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := TranscriptArchive(pw, b.restore(), u, b.Created)
		pw.CloseWithError(err)
		done <- err
	}()
	err := b.eng.CopyTo(ctx, id, "/", pr)
	pr.Close()
	if werr := <-done; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return fmt.Errorf("reading the saved transcript: %w", werr)
	}
	return err
}

// TranscriptArchive writes a tar of the host tree dir as bottle.AgentTranscript's
// contents (entries relative to "/"), each owned by u: directories and
// regular files only, never followed through a symlink (symlinks and
// special files are left out).
func TranscriptArchive(w io.Writer, dir string, u User, now time.Time) error {
	return writeTranscriptTar(w, dir, path.Clean(bottle.AgentTranscript)[1:], u, now)
}

// writeTranscriptTar writes a tar of the host tree dir with entries under base
// ("" for relative ones), each owned by u.
func writeTranscriptTar(w io.Writer, dir, base string, u User, now time.Time) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		name := path.Join(base, filepath.ToSlash(rel))
		switch {
		case de.IsDir():
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o700, Uid: u.UID, Gid: u.GID, ModTime: now})
		case de.Type().IsRegular():
			return addFile(tw, p, name, u)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, p, name string, u User) error {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil // replaced meanwhile
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: fi.Size(), Uid: u.UID, Gid: u.GID, ModTime: fi.ModTime()}); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, fi.Size())
	return err
}
