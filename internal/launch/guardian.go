package launch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// A foreground launcher starts a guardian: a process in a session of its
// own (so neither a SIGKILL of the launcher or of its process group nor a
// closed terminal reaches it) that holds the read end of a pipe whose
// write end only the launcher holds, and a copy of the state dir's lock.
// A launcher that ends its bottle writes guardianDone and the guardian
// exits. End of file without it means the launcher died: the guardian
// ends the bottle as a signal would, holding the lock meanwhile.

// GuardianCmd is how to start the guardian: the program and its arguments;
// the state dir is appended. The guardian gets the pipe as fd 3 and the
// lock file as fd 4 (see Guard).
type GuardianCmd struct {
	Path string
	Args []string // Args[0] is the program's name
}

const guardianDone = "done\n"

// guardian is the launcher's side.
type guardian struct {
	cmd *exec.Cmd
	w   *os.File
}

func (b *Launched) startGuardian(gc *GuardianCmd) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        gc.Path,
		Args:        append(append([]string(nil), gc.Args...), b.Project.StateDir),
		ExtraFiles:  []*os.File{r, b.lock.File()},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
		// stdio: /dev/null. Holding the launcher's stdout or stderr would
		// keep whoever reads them waiting for the guardian.
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		return err
	}
	b.guard = &guardian{cmd: cmd, w: w}
	return nil
}

// release tells the guardian the launcher ended the bottle itself and
// waits (briefly) until it has exited, so its copy of the lock is closed.
func (g *guardian) release() {
	if g == nil {
		return
	}
	_, _ = io.WriteString(g.w, guardianDone)
	g.w.Close()
	done := make(chan struct{})
	go func() {
		_ = g.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-done
	}
}

// Guard is the guardian's side: it waits on the launcher's pipe; when that
// ends without the launcher's word, it ends the bottle in dir as a signal
// would (agent SIGTERM, SIGKILL after opt.StopGrace, transcript snapshot,
// everything removed — also what a create cut off by the launcher's death
// made —, state dir kept, no .preserve). It holds lock until it is done.
func Guard(ctx context.Context, eng engine.Launcher, dir string, pipe io.Reader, lock *statedir.Lock, opt Options) error {
	msg, _ := io.ReadAll(io.LimitReader(pipe, 64))
	if string(msg) == guardianDone {
		lock.Release()
		return nil
	}
	died := time.Now()
	b, err := fromStateDir(eng, dir, opt)
	if err != nil {
		lock.Release()
		return err
	}
	b.lock = lock
	return b.endOrphan(ctx, died)
}

// fromStateDir is the bottle of a state dir, as its bottle.json records it:
// what the guardian ends. (Starting a bottle again from its dir is
// OpenSaved and Saved.Start.)
func fromStateDir(eng engine.Launcher, dir string, opt Options) (*Launched, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	// The one reader: size-capped, never through a symlink, never a FIFO.
	m, ok, err := statedir.ReadMeta(dir)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("%s has no %s", dir, bottle.MetaFile)
	}
	var spec Spec
	if err := json.Unmarshal(m.Spec, &spec); len(m.Spec) > 0 && err != nil {
		return nil, fmt.Errorf("%s: %w", bottle.MetaFile, err)
	}
	if m.Name == "" || m.Slug == "" {
		return nil, fmt.Errorf("%s names no bottle", bottle.MetaFile)
	}
	opt.Prefix = m.Prefix
	b := &Launched{
		eng: eng, opt: opt, spec: spec, Created: m.Created, ids: map[string]string{},
		Project:    Project{Name: m.Name, Slug: m.Slug, Agent: m.Agent, StateDir: dir, Version: opt.Version, EngineID: m.EngineID},
		engineID:   m.EngineID,
		containers: m.Containers, networks: m.Networks, volumes: m.Volumes,
	}
	if m.Ended != nil {
		b.ended = &recordedEnd{transcript: m.Transcript}
	}
	for _, c := range m.Containers {
		if c.Service != "" {
			b.ids[c.Service] = c.ID
		}
	}
	if m.Backend == bottle.Smolmachines {
		b.spec.Backend = bottle.Smolmachines
		if err := b.setBackend(); err != nil {
			return nil, err
		}
		// A create may have made the machine: removing one that is not
		// there is no error.
		b.smol.machine, b.smol.made = m.Name, true
	}
	return b, nil
}

// endOrphan ends a bottle whose launcher died at died.
func (b *Launched) endOrphan(ctx context.Context, died time.Time) error {
	if b.smol != nil {
		return b.smolEndOrphan(ctx, died)
	}
	var errs []error
	if _, err := b.sweep(ctx); err != nil {
		errs = append(errs, fmt.Errorf("listing the bottle's resources: %w", err))
	}
	if b.ended != nil {
		// The launcher ended it and died before it said so: make sure,
		// keeping what its ending kept (a home volume whose transcript
		// could not be saved).
		defer b.lock.Release()
		var keep []string
		if b.ended.transcript == statedir.TranscriptInVolume {
			_, holder := b.transcriptHolder()
			keep = append(keep, holder)
		}
		if err := b.removeAll(ctx, keep...); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	code := 0
	agent := b.AgentID()
	running := false
	if agent != "" {
		c, err := b.eng.InspectContainer(ctx, agent)
		running = err == nil && bottle.Active(c.State)
	}
	if !running {
		// The launcher may have died mid-start, with creates in flight
		// that the engine finishes on its own: give them time to show.
		time.Sleep(time.Until(died.Add(1500 * time.Millisecond)))
	}
	if agent != "" {
		exited := make(chan exitResult, 1)
		go func() {
			c, err := b.eng.Wait(ctx, agent)
			exited <- exitResult{c, err}
		}()
		res := b.stop(ctx, agent, exited)
		code = res.code
	}
	if _, err := b.End(ctx, code, false); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// WriteGuardianLog appends a guardian's failure to its log in dir.
func WriteGuardianLog(dir string, now time.Time, err error) {
	f, ferr := os.OpenFile(filepath.Join(dir, bottle.GuardianLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if ferr != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s the launcher died; ending its bottle failed: %s\n", now.UTC().Format(time.RFC3339), strings.ReplaceAll(err.Error(), "\n", "; "))
}
