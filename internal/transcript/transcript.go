// Package transcript saves an agent's transcript out of its bottle's home
// volume into the bottle's state dir, through the Engine API: from the
// agent container while it exists, else (only when saving, never when
// planning) from a created, never-started helper container of the
// bottle's own image that mounts the volume (the archive API reads a
// created container's volumes; nothing runs). Every bottle ending uses it:
// the launcher's, the guardian's and the reaper's.
//
// A save writes into a hidden temp dir of the state dir and renames it to
// transcript/ only when it is whole, so an interrupted save never leaves a
// half snapshot; the helper is removed on every path. The transcript comes
// from inside the sandbox, so extraction is bounded (Limits) and never
// writes outside the state dir.
package transcript

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Engine is what saving a transcript needs of the engine. Probe only
// copies out of an existing container.
type Engine interface {
	CopyFrom(ctx context.Context, containerID, path string) (io.ReadCloser, error)
	CreateContainer(ctx context.Context, spec engine.ContainerSpec) (string, error)
	RemoveContainer(ctx context.Context, id string) error
	InspectVolume(ctx context.Context, name string) (engine.Volume, error)
	RemoveVolume(ctx context.Context, name string) error
}

var _ Engine = (*engine.Client)(nil)

// Home is where a bottle's transcript is: its home volume, and its agent
// container while it exists.
type Home struct {
	// Project names the helper container: <project>-transcript-<hex>.
	Project string
	// Agent is the agent container's ID, "" when none is known.
	Agent string
	// Volume is the home volume's name.
	Volume string
	// Created is when the volume was made, as the plan or the launch saw
	// it: a helper never reads a volume made since. Nil checks nothing.
	Created *time.Time
	// Image is the agent's image, for a helper; "" when unknown.
	Image string
	// Engine names the engine the volume is in: the item's engine ("" is
	// the one the environment names).
	Engine string
}

// HomeOf is the home of a plan item: a docker compose project with a home
// volume (<project>_home, what bottle-launch makes). Its Image is the
// caller's to set (bottle.json's).
func HomeOf(it bottle.Item) (Home, bool) {
	if it.Backend != bottle.Docker || it.Kind != bottle.KindComposeProject {
		return Home{}, false
	}
	h := Home{Project: it.Name, Engine: it.Engine}
	for _, v := range it.Volumes {
		if v.Name == bottle.VolumeName(it.Name, bottle.VolHome) {
			h.Volume, h.Created = v.Name, v.Created
		}
	}
	if h.Volume == "" {
		return Home{}, false
	}
	for _, c := range it.Containers {
		if c.Service == bottle.ServiceAgent || c.Name == bottle.ContainerName(it.Name, bottle.ServiceAgent) {
			h.Agent = c.ID
		}
	}
	return h, true
}

// Probe tells whether the home holds a transcript (a regular file under the
// agent's transcript tree) from what can be read without creating
// anything: the agent container, while it exists. known is false when it
// cannot tell that way (no agent container, or it is gone).
func Probe(ctx context.Context, eng Engine, h Home) (has, known bool, err error) {
	if h.Agent == "" {
		return false, false, nil
	}
	rc, err := eng.CopyFrom(ctx, h.Agent, bottle.AgentTranscript)
	switch {
	case engine.IsNoSuchContainer(err):
		return false, false, nil
	case engine.IsNotFound(err):
		return false, true, nil // the container is there, the tree is not
	case err != nil:
		return false, false, err
	}
	defer rc.Close()
	has, err = holdsFile(rc)
	return has, err == nil, err
}

// Saved is what a Save did.
type Saved struct {
	// None: the home holds no transcript (its tree is absent or holds no
	// file, or the volume is gone): nothing was written, nothing is lost.
	None bool
	// Files and Bytes were written into <state dir>/transcript/.
	Files int
	Bytes int64
}

// Temp is how the names of a save's hidden working dirs in a state dir
// start.
const Temp = bottle.TranscriptTemp

// Save copies the home's transcript into <stateDir>/transcript/ (replacing
// an earlier snapshot, which the home holds too: a resume restored it).
// The state dir must be a real directory (never followed through a
// symlink). It reads the agent container while it exists; else a helper:
// only when the volume exists, made when Created says, mounted without
// copying the image into it, and removed again on every path (a create
// that made the volume anew, because it vanished meanwhile, removes it).
//
// When a bound of lim stops the extraction, what was written before it is
// kept in <stateDir>/transcript.partial/ (replacing an earlier one) and a
// *BoundError says so; an earlier snapshot stays as it was. Any other
// failure, ctx's end included, leaves nothing of this save.
func Save(ctx context.Context, eng Engine, h Home, stateDir string, lim Limits) (Saved, error) {
	if fi, err := os.Lstat(stateDir); err != nil || !fi.IsDir() {
		return Saved{}, fmt.Errorf("%s is not a directory", stateDir)
	}
	rc, done, err := open(ctx, eng, h)
	if err != nil || rc == nil {
		return Saved{None: rc == nil && err == nil}, err
	}
	defer done()
	return SaveFrom(ctx, rc, stateDir, lim)
}

// SaveFrom saves the transcript tree in the tar rc (entries under one top
// directory, as the archive API and `tar -C $(dirname T) $(basename T)`
// give it) into <stateDir>/transcript/, as Save does: bounded by lim,
// through a temp dir renamed once whole. It closes rc, at once when ctx
// ends (a read in flight ends with it).
func SaveFrom(ctx context.Context, rc io.ReadCloser, stateDir string, lim Limits) (Saved, error) {
	defer rc.Close()
	if fi, err := os.Lstat(stateDir); err != nil || !fi.IsDir() {
		return Saved{}, fmt.Errorf("%s is not a directory", stateDir)
	}
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()

	tmp := filepath.Join(stateDir, Temp+randomHex())
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return Saved{}, err
	}
	root, err := os.OpenRoot(tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return Saved{}, err
	}
	st, err := Extract(rc, root, lim)
	root.Close()
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	var be *BoundError
	switch {
	case errors.As(err, &be):
		partial := filepath.Join(stateDir, bottle.TranscriptPartial)
		if ierr := install(tmp, partial); ierr != nil {
			os.RemoveAll(tmp)
			return Saved{}, errors.Join(err, ierr)
		}
		be.Kept = partial
		return Saved{Files: st.Files, Bytes: st.Bytes}, be
	case err != nil:
		os.RemoveAll(tmp)
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (interrupted: nothing of it was kept)", context.Cause(ctx))
		}
		return Saved{}, err
	case st.Files == 0:
		os.RemoveAll(tmp)
		return Saved{None: true}, nil
	}
	if err := install(tmp, filepath.Join(stateDir, bottle.TranscriptDir)); err != nil {
		os.RemoveAll(tmp)
		return Saved{}, err
	}
	return Saved{Files: st.Files, Bytes: st.Bytes}, nil
}

// open returns a tar of the transcript tree and a function that removes
// the helper container when one was made; (nil, nil, nil) when the home
// holds no tree.
func open(ctx context.Context, eng Engine, h Home) (io.ReadCloser, func(), error) {
	if h.Agent != "" {
		rc, err := eng.CopyFrom(ctx, h.Agent, bottle.AgentTranscript)
		switch {
		case err == nil:
			return rc, func() {}, nil
		case engine.IsNoSuchContainer(err):
			// gone: a helper reads the volume
		case engine.IsNotFound(err):
			return nil, nil, nil // the agent mounts the volume; the tree is not there
		default:
			return nil, nil, err
		}
	}
	if h.Volume == "" {
		return nil, nil, errors.New("no home volume is known to read it from")
	}
	v, err := eng.InspectVolume(ctx, h.Volume)
	switch {
	case engine.IsNotFound(err):
		return nil, nil, nil // the volume is gone, and what it held with it
	case err != nil:
		return nil, nil, err
	case h.Created != nil && !sameSecond(v.Created, *h.Created):
		return nil, nil, fmt.Errorf("volume %s was made again since the plan (created %s, the plan says %s): not read", h.Volume, stamp(v.Created), stamp(*h.Created))
	}
	if h.Image == "" {
		return nil, nil, fmt.Errorf("its agent container is gone and its %s names no image to read volume %s with", bottle.MetaFile, h.Volume)
	}
	id, err := eng.CreateContainer(ctx, engine.ContainerSpec{
		Name: h.Project + "-transcript-" + randomHex()[:6], Image: h.Image, Cmd: []string{"true"},
		Network: "none", Volumes: map[string]string{h.Volume: bottle.AgentHome}, VolumeNoCopy: true,
	})
	if err != nil {
		if engine.IsNotFound(err) {
			return nil, nil, fmt.Errorf("its agent container is gone, and its image %s, which could read volume %s, is not on the engine: %w", h.Image, h.Volume, err)
		}
		return nil, nil, fmt.Errorf("creating a container of %s to read volume %s: %w", h.Image, h.Volume, err)
	}
	remove := func() {
		// Even when ctx ended: a helper is never left behind.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = eng.RemoveContainer(rctx, id)
	}
	// The create mounts the volume by name, and the engine makes one that
	// does not exist: if it vanished since the inspect above, this one is
	// new and empty, and goes again with the helper.
	again, err := eng.InspectVolume(ctx, h.Volume)
	if err != nil || !sameSecond(again.Created, v.Created) {
		remove()
		if err == nil && len(again.Labels) == 0 {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_ = eng.RemoveVolume(rctx, h.Volume)
			cancel()
			return nil, nil, nil
		}
		if err == nil {
			err = fmt.Errorf("volume %s was made again while it was being read", h.Volume)
		}
		return nil, nil, err
	}
	rc, err := eng.CopyFrom(ctx, id, bottle.AgentTranscript)
	if engine.IsNotFound(err) {
		remove()
		return nil, nil, nil
	}
	if err != nil {
		remove()
		return nil, nil, err
	}
	return rc, remove, nil
}

// install renames the dir tmp to final, replacing what is there: that is
// moved aside first and removed after, on its own file system only.
func install(tmp, final string) error {
	old := ""
	if _, err := os.Lstat(final); err == nil {
		old = filepath.Join(filepath.Dir(final), Temp+"old-"+randomHex())
		if err := os.Rename(final, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			_ = os.Rename(old, final)
		}
		return err
	}
	if old != "" {
		// What cannot go (a mount inside it) stays aside, hidden; the state
		// dir's removal says so.
		_ = statedir.RemoveTree(old)
	}
	return nil
}

func sameSecond(a, b time.Time) bool { return a.Truncate(time.Second).Equal(b.Truncate(time.Second)) }

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
