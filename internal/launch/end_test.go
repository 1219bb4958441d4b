package launch

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/statedir"
)

func endTar(body string) io.ReadCloser {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "projects/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "projects/p/session.jsonl", Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644})
	tw.Write([]byte(body))
	tw.Close()
	return io.NopCloser(&buf)
}

// liveKinds counts what the fake engine still holds, by kind.
func liveKinds(w *enginefake.World) map[string]int {
	n := map[string]int{}
	for _, r := range w.Held() {
		kind, _, _ := strings.Cut(r, " ")
		n[kind]++
	}
	return n
}

func endedMeta(t *testing.T, b *Launched) statedir.Meta {
	t.Helper()
	m, ok, err := statedir.ReadMeta(b.Project.StateDir)
	if !ok || err != nil || m.Ended == nil || m.ExitCode == nil {
		t.Fatalf("bottle.json: %+v, %v, %v", m, ok, err)
	}
	return m
}

// Every ending saves before it removes, and never removes the only copy: a
// snapshot that fails (a CopyFrom that fails once) keeps the home volume
// and says so, naming it and the ways out; the rest goes; bottle.json
// records the ending and that the transcript is in the volume.
func TestEndKeepsTheVolumeWhenTheSnapshotFails(t *testing.T) {
	f, w, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	var copies atomic.Int32
	f.OnCopyFrom = func(id, path string) (io.ReadCloser, error) {
		if copies.Add(1) == 1 {
			return nil, errors.New("read: connection reset by peer")
		}
		return endTar("hello"), nil
	}
	saved, err := b.End(context.Background(), 0, false)
	home := b.Project.VolumeName(bottle.VolHome)
	want := fmt.Sprintf("saving the transcript: read: connection reset by peer: volume %s is kept with the transcript in it; retry with bottle-cleanup --name %s, or let it go with bottle-cleanup --name %s --discard-transcript", home, b.Project.Slug, b.Project.Slug)
	if saved || err == nil || err.Error() != want {
		t.Fatalf("End = %v, %v; want %q", saved, err, want)
	}
	if n := liveKinds(w); n["volume"] != 1 || n["container"] != 0 || n["network"] != 0 {
		t.Errorf("left %v, want the home volume only", n)
	}
	if _, ok := w.Volumes[home]; !ok {
		t.Errorf("the home volume %s went", home)
	}
	if m := endedMeta(t, b); m.Transcript != statedir.TranscriptInVolume {
		t.Errorf("bottle.json transcript %q", m.Transcript)
	}
	if _, err := os.Stat(filepath.Join(b.Project.StateDir, bottle.TranscriptDir)); err == nil {
		t.Error("a transcript dir was left by the failed snapshot")
	}
}

// The agent container is gone (removed by hand, or never made): the
// snapshot reads the volume through a never-started container of the
// bottle's image, mounting it without a copy; with the image gone too, the
// volume is kept. A volume that holds no tree goes.
func TestEndWithoutTheAgentContainer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		create    func(verb, name string) error
		tree      bool
		saved     bool
		kept      bool
		state     string
		errSuffix string
	}{
		{name: "read through a helper", tree: true, saved: true, state: statedir.TranscriptSaved},
		{name: "nothing in the volume", state: statedir.TranscriptNone},
		{name: "image gone too", tree: true, kept: true, state: statedir.TranscriptInVolume,
			create: func(verb, name string) error {
				if verb == "create-container" && strings.Contains(name, "-transcript-") {
					return fmt.Errorf("No such image: img: %w", cerrdefs.ErrNotFound)
				}
				return nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, w, s, opt := setup(t)
			b, err := Start(context.Background(), f, s, opt)
			if err != nil {
				t.Fatal(err)
			}
			agent := b.AgentID()
			if err := f.RemoveContainer(context.Background(), agent); err != nil { // removed by hand
				t.Fatal(err)
			}
			made := time.Now()
			f.OnInspectVolume = func(name string) (engine.Volume, error) {
				return engine.Volume{Name: name, Created: made, Labels: map[string]string{"x": "y"}}, nil
			}
			f.OnCopyFrom = func(id, path string) (io.ReadCloser, error) {
				if id == agent {
					return nil, fmt.Errorf("No such container: %s: %w", id, cerrdefs.ErrNotFound)
				}
				if !tc.tree {
					return nil, fmt.Errorf("Could not find the file %s: %w", path, cerrdefs.ErrNotFound)
				}
				return endTar("from the volume"), nil
			}
			f.Before = tc.create
			saved, err := b.End(context.Background(), 0, false)
			if saved != tc.saved || (err != nil) != tc.kept {
				t.Fatalf("End = %v, %v", saved, err)
			}
			if tc.kept && !strings.Contains(err.Error(), "is not on the engine") {
				t.Errorf("error %q", err)
			}
			var helper *engine.ContainerSpec
			specs := f.Specs()
			for i := range specs {
				if strings.HasPrefix(specs[i].Name, b.Project.Name+"-transcript-") {
					helper = &specs[i]
				}
			}
			if helper == nil || !helper.VolumeNoCopy || helper.Image != "img" || helper.Network != "none" || helper.Volumes[b.Project.VolumeName(bottle.VolHome)] != bottle.AgentHome {
				t.Errorf("helper %+v", helper)
			}
			if n := liveKinds(w); (n["volume"] == 1) != tc.kept || n["container"]+n["network"] != 0 {
				t.Errorf("left %v", n)
			}
			if m := endedMeta(t, b); m.Transcript != tc.state {
				t.Errorf("bottle.json transcript %q, want %q", m.Transcript, tc.state)
			}
			got, _ := os.ReadFile(filepath.Join(b.Project.StateDir, bottle.TranscriptDir, "p", "session.jsonl"))
			if tc.saved != (string(got) == "from the volume") {
				t.Errorf("saved %q", got)
			}
		})
	}
}

// The guardian reads bottle.json through the one reader (a symlink, or one
// too big, is refused), and keeps what the launcher's ending kept.
func TestGuardianReadsMetaSafely(t *testing.T) {
	f, w, _, opt := setup(t)
	dir := filepath.Join(t.TempDir(), "g-aaaa1")
	os.MkdirAll(dir, 0o700)
	target := filepath.Join(t.TempDir(), "elsewhere.json")
	os.WriteFile(target, []byte(`{"name":"x","slug":"g-aaaa1"}`), 0o600)
	os.Symlink(target, filepath.Join(dir, bottle.MetaFile))
	if _, err := fromStateDir(f, dir, opt); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("a symlinked bottle.json: %v", err)
	}
	os.Remove(filepath.Join(dir, bottle.MetaFile))
	os.WriteFile(filepath.Join(dir, bottle.MetaFile), bytes.Repeat([]byte(" "), statedir.MaxMeta+1), 0o600)
	if _, err := fromStateDir(f, dir, opt); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a bottle.json too big: %v", err)
	}
	os.WriteFile(filepath.Join(dir, bottle.MetaFile), []byte(`{"name":"bt-unit-g-aaaa1","slug":"g-aaaa1","transcript":"in-volume","ended":"2026-01-01T00:00:00Z"}`), 0o600)
	b, err := fromStateDir(f, dir, opt)
	if err != nil || b.ended == nil || b.ended.transcript != statedir.TranscriptInVolume {
		t.Fatalf("fromStateDir = %+v, %v", b, err)
	}
	w.Add(engine.Volume{Name: "bt-unit-g-aaaa1_home", Labels: map[string]string{"com.docker.compose.project": "bt-unit-g-aaaa1"}})
	b.lock = &statedir.Lock{}
	if err := b.endOrphan(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.Volumes["bt-unit-g-aaaa1_home"]; !ok {
		t.Error("the guardian removed the volume the launcher's ending kept")
	}
}
