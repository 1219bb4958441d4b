// Package transcript reads an agent's transcript out of its bottle's home
// volume through the Engine API, so that reaping a bottle whose launcher is
// gone (detached, killed) does not lose it: from the agent container while
// it exists, else from a created, never-started container of the bottle's
// own image that mounts the volume (the archive API reads a created
// container's volumes; nothing runs).
package transcript

import (
	"archive/tar"
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

// Engine is what reading a transcript needs of the engine.
type Engine interface {
	CreateContainer(ctx context.Context, spec engine.ContainerSpec) (string, error)
	CopyFrom(ctx context.Context, containerID, path string) (io.ReadCloser, error)
	RemoveContainer(ctx context.Context, id string) error
}

var _ Engine = (*engine.Client)(nil)

// HomeVolume returns the item's home volume (<project>_home, what
// bottle-launch makes) and whether it has one: only a docker compose
// project's.
func HomeVolume(it bottle.Item) (string, bool) {
	if it.Backend != bottle.Docker || it.Kind != bottle.KindComposeProject {
		return "", false
	}
	for _, v := range it.Volumes {
		if v.Name == bottle.VolumeName(it.Name, bottle.VolHome) {
			return v.Name, true
		}
	}
	return "", false
}

// source is where to read the volume from: the agent container when the
// item lists one, else a helper made from the bottle's image (bottle.json).
type source struct {
	eng       Engine
	agent     string
	image     string
	volume    string
	helperFor string // the helper's name prefix: <project>-transcript-
}

func newSource(eng Engine, it bottle.Item, stateDir string) (*source, error) {
	vol, ok := HomeVolume(it)
	if !ok {
		return nil, nil
	}
	s := &source{eng: eng, volume: vol, helperFor: it.Name + "-transcript-"}
	for _, c := range it.Containers {
		if c.Service == bottle.ServiceAgent || c.Name == bottle.ContainerName(it.Name, bottle.ServiceAgent) {
			s.agent = c.ID
		}
	}
	if m, ok, _ := statedir.ReadMeta(stateDir); ok {
		s.image = m.Image()
	}
	return s, nil
}

// open returns a tar of the transcript tree, and a function that removes
// the helper container when one was made. A missing tree is (nil, nil).
func (s *source) open(ctx context.Context) (io.ReadCloser, func(), error) {
	if s.agent != "" {
		rc, err := s.eng.CopyFrom(ctx, s.agent, bottle.AgentTranscript)
		switch {
		case err == nil:
			return rc, func() {}, nil
		case !engine.IsNotFound(err):
			return nil, nil, err
		}
		// 404: the container is gone, or the tree does not exist in it;
		// a helper tells the two apart.
	}
	if s.image == "" {
		return nil, nil, errors.New("its agent container is gone and its bottle.json names no image to read the home volume with")
	}
	var b [3]byte
	rand.Read(b[:])
	id, err := s.eng.CreateContainer(ctx, engine.ContainerSpec{
		Name: s.helperFor + hex.EncodeToString(b[:]), Image: s.image, Cmd: []string{"true"},
		Network: "none", Volumes: map[string]string{s.volume: bottle.AgentHome},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("creating a container of %s to read %s: %w", s.image, s.volume, err)
	}
	remove := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = s.eng.RemoveContainer(ctx, id)
	}
	rc, err := s.eng.CopyFrom(ctx, id, bottle.AgentTranscript)
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

// Has reports whether the item's home volume holds a transcript (a regular
// file under the agent's transcript tree). Items without a home volume
// hold none.
func Has(ctx context.Context, eng Engine, it bottle.Item, stateDir string) (bool, error) {
	s, err := newSource(eng, it, stateDir)
	if s == nil || err != nil {
		return false, err
	}
	rc, done, err := s.open(ctx)
	if rc == nil || err != nil {
		return false, err
	}
	defer done()
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if h.Typeflag == tar.TypeReg {
			return true, nil
		}
	}
}

// Save copies the item's transcript into <stateDir>/transcript/ and
// reports whether a file was written. The state dir must be a real
// directory (never followed through a symlink).
func Save(ctx context.Context, eng Engine, it bottle.Item, stateDir string) (bool, error) {
	if fi, err := os.Lstat(stateDir); err != nil || !fi.IsDir() {
		return false, fmt.Errorf("%s is not a directory", stateDir)
	}
	s, err := newSource(eng, it, stateDir)
	if s == nil || err != nil {
		return false, err
	}
	rc, done, err := s.open(ctx)
	if rc == nil || err != nil {
		return false, err
	}
	defer done()
	defer rc.Close()
	return Extract(rc, filepath.Join(stateDir, bottle.TranscriptDir))
}
