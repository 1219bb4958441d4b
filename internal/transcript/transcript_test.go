package transcript_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/transcript"
)

const project = "bt-test-tr-aaaa1"

var (
	created = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	agentID = enginefake.ID(1)
	vol     = project + "_home"
	lim     = transcript.Limits{MaxBytes: 1 << 20, MaxEntries: 100, MaxDepth: 8, Free: func(string) (int64, int64, bool) { return 0, 0, false }}
)

func home() transcript.Home {
	c := created
	return transcript.Home{Project: project, Agent: agentID, Volume: vol, Created: &c, Image: "bottle-test/agent"}
}

// tarOf is the engine's archive of the transcript tree: the tree's own
// name on top, then its files.
func tarOf(files ...string) io.ReadCloser {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "projects/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, f := range files {
		name, body, _ := strings.Cut(f, "=")
		tw.WriteHeader(&tar.Header{Name: "projects/" + name, Typeflag: tar.TypeReg, Size: int64(len(body)), Mode: 0o644})
		tw.Write([]byte(body))
	}
	tw.Close()
	return io.NopCloser(&buf)
}

func noFile(path, id string) error {
	return fmt.Errorf("Could not find the file %s in container %s: %w", path, id, cerrdefs.ErrNotFound)
}

func stateDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "tr-aaaa1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// left lists what a save left in the state dir, hidden names included.
func left(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// From an agent container that exists: one copy, no helper.
func TestSaveFromAgent(t *testing.T) {
	f := enginefake.New(t)
	f.OnCopyFrom = func(id, path string) (io.ReadCloser, error) {
		if id != agentID || path != bottle.AgentTranscript {
			t.Errorf("CopyFrom %s:%s", id, path)
		}
		return tarOf("a/t.jsonl=line"), nil
	}
	dir := stateDir(t)
	s, err := transcript.Save(context.Background(), f, home(), dir, lim)
	if err != nil || s.None || s.Files != 1 || s.Bytes != 4 {
		t.Fatalf("Save = %+v, %v", s, err)
	}
	if got := left(t, dir); !slices.Equal(got, []string{"transcript", "transcript/a", "transcript/a/t.jsonl"}) {
		t.Errorf("left %v", got)
	}
}

// An agent container without the tree: the volume provably holds none.
func TestSaveAgentHasNone(t *testing.T) {
	f := enginefake.New(t)
	f.OnCopyFrom = func(id, path string) (io.ReadCloser, error) { return nil, noFile(path, id) }
	dir := stateDir(t)
	s, err := transcript.Save(context.Background(), f, home(), dir, lim)
	if err != nil || !s.None {
		t.Fatalf("Save = %+v, %v", s, err)
	}
	if got := left(t, dir); len(got) != 0 {
		t.Errorf("left %v", got)
	}
}

// The agent container is gone: a helper of the bottle's image, never
// started, with no network, mounting the volume (checked first: made when
// the plan says; NoCopy), is read and removed.
func TestSaveThroughHelper(t *testing.T) {
	f := enginefake.New(t)
	helper := enginefake.ID(99)
	f.OnInspectVolume = func(name string) (engine.Volume, error) {
		return engine.Volume{Name: name, Created: created.Add(300 * time.Millisecond), Labels: map[string]string{"x": "y"}}, nil
	}
	f.OnCreateContainer = func(spec engine.ContainerSpec) (string, error) {
		if !strings.HasPrefix(spec.Name, project+"-transcript-") || spec.Image != "bottle-test/agent" || spec.Network != "none" ||
			!spec.VolumeNoCopy || spec.Volumes[vol] != bottle.AgentHome || len(spec.Volumes) != 1 || !slices.Equal(spec.Cmd, []string{"true"}) {
			t.Errorf("helper spec %+v", spec)
		}
		return helper, nil
	}
	f.OnCopyFrom = func(id, path string) (io.ReadCloser, error) {
		if id == agentID {
			return nil, enginefake.NotFound("container: " + id)
		}
		return tarOf("t.jsonl=saved"), nil
	}
	f.OnRemoveContainer = func(id string) error {
		if id != helper {
			t.Errorf("removed %s", id)
		}
		return nil
	}
	dir := stateDir(t)
	s, err := transcript.Save(context.Background(), f, home(), dir, lim)
	if err != nil || s.Files != 1 {
		t.Fatalf("Save = %+v, %v", s, err)
	}
	if want := []string{"copy-from " + agentID + ":" + bottle.AgentTranscript, "inspect-volume " + vol, "create-container", "inspect-volume " + vol,
		"copy-from " + helper + ":" + bottle.AgentTranscript, "rm-container-and-volumes " + helper}; !sameCalls(f.Log(), want) {
		t.Errorf("calls %q, want %q", f.Log(), want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "transcript", "t.jsonl")); string(b) != "saved" {
		t.Errorf("t.jsonl = %q", b)
	}
}

// sameCalls compares a call log, the helper's random name cut off.
func sameCalls(got, want []string) bool {
	cut := make([]string, len(got))
	for i, g := range got {
		cut[i] = g
		if strings.HasPrefix(g, "create-container ") {
			cut[i] = "create-container"
		}
	}
	return slices.Equal(cut, want)
}

// helperWorld is a fake whose agent is gone and whose volume exists: a
// helper is made, and its removal is counted.
func helperWorld(t *testing.T, copyHelper func() (io.ReadCloser, error)) (*enginefake.Engine, *int) {
	f := enginefake.New(t)
	removed := new(int)
	f.OnInspectVolume = func(name string) (engine.Volume, error) { return engine.Volume{Name: name, Created: created}, nil }
	f.OnCreateContainer = func(engine.ContainerSpec) (string, error) { return enginefake.ID(99), nil }
	f.OnCopyFrom = func(id, path string) (io.ReadCloser, error) {
		if id == agentID {
			return nil, enginefake.NotFound("container: " + id)
		}
		return copyHelper()
	}
	f.OnRemoveContainer = func(string) error { *removed++; return nil }
	return f, removed
}

// blocking is an archive that sends part of a file, then blocks until it
// is closed.
type blocking struct {
	r      io.Reader
	closed chan struct{}
}

func (b *blocking) Read(p []byte) (int, error) {
	if n, err := b.r.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	<-b.closed
	return 0, errors.New("read on closed body")
}

func (b *blocking) Close() error {
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	return nil
}

func halfArchive() *blocking {
	full := tarOf("big.jsonl=" + strings.Repeat("x", 4096)).(interface{ Read([]byte) (int, error) })
	var buf bytes.Buffer
	io.Copy(&buf, full)
	return &blocking{r: bytes.NewReader(buf.Bytes()[:1500]), closed: make(chan struct{})}
}

// Whatever happens while the helper is read, it is removed, and nothing
// half-written stays in the state dir: an engine error, a tree that is not
// there, an answer that breaks off, an interrupt midway.
func TestSaveHelperNeverLeft(t *testing.T) {
	for _, tc := range []struct {
		name   string
		copy   func() (io.ReadCloser, error)
		cancel bool
		none   bool
		err    string
	}{
		{name: "engine error", copy: func() (io.ReadCloser, error) { return nil, errors.New("engine exploded") }, err: "engine exploded"},
		{name: "no tree", copy: func() (io.ReadCloser, error) { return nil, noFile("p", "h") }, none: true},
		{name: "broken off", copy: func() (io.ReadCloser, error) {
			b := halfArchive()
			b.Close()
			return b, nil
		}, err: "read on closed body"},
		{name: "interrupted", copy: func() (io.ReadCloser, error) { return halfArchive(), nil }, cancel: true, err: "interrupted: nothing of it was kept"},
		{name: "engine timeout midway", copy: func() (io.ReadCloser, error) {
			return io.NopCloser(io.MultiReader(bytes.NewReader([]byte{0}), errReader{&engine.UnreachableError{Err: &engine.NoAnswerError{Call: "GET /containers/x/archive", Timeout: time.Second}}})), nil
		}, err: "did not answer GET /containers/x/archive within 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, removed := helperWorld(t, tc.copy)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			dir := stateDir(t)
			s, err := transcript.Save(ctx, f, home(), dir, lim)
			switch {
			case tc.err == "" && err != nil, tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("err = %v, want %q", err, tc.err)
			case s.None != tc.none:
				t.Errorf("None = %v", s.None)
			}
			if *removed != 1 {
				t.Errorf("the helper was removed %d times", *removed)
			}
			if got := left(t, dir); len(got) != 0 {
				t.Errorf("left %v", got)
			}
		})
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// A helper never makes or reads a volume that is not the planned one: a
// volume that is gone is nothing to save; one made again since the plan is
// not read; one that vanished between the check and the create (which then
// made it anew, empty and unlabelled) goes again with the helper.
func TestSaveNeverMakesAVolume(t *testing.T) {
	t.Run("gone", func(t *testing.T) {
		f := enginefake.New(t)
		f.OnCopyFrom = func(id, _ string) (io.ReadCloser, error) { return nil, enginefake.NotFound("container: " + id) }
		f.OnInspectVolume = func(name string) (engine.Volume, error) {
			return engine.Volume{}, enginefake.NotFound("volume: " + name)
		}
		s, err := transcript.Save(context.Background(), f, home(), stateDir(t), lim)
		if err != nil || !s.None {
			t.Errorf("Save = %+v, %v", s, err)
		}
	})
	t.Run("made again", func(t *testing.T) {
		f := enginefake.New(t)
		f.OnCopyFrom = func(id, _ string) (io.ReadCloser, error) { return nil, enginefake.NotFound("container: " + id) }
		f.OnInspectVolume = func(name string) (engine.Volume, error) {
			return engine.Volume{Name: name, Created: created.Add(time.Hour)}, nil
		}
		_, err := transcript.Save(context.Background(), f, home(), stateDir(t), lim)
		if err == nil || !strings.Contains(err.Error(), "was made again since the plan (created 2026-05-01T11:00:00Z, the plan says 2026-05-01T10:00:00Z): not read") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("vanished meanwhile", func(t *testing.T) {
		f, removed := helperWorld(t, func() (io.ReadCloser, error) { t.Error("a new volume was read"); return nil, errors.New("no") })
		n := 0
		f.OnInspectVolume = func(name string) (engine.Volume, error) {
			n++
			if n == 1 {
				return engine.Volume{Name: name, Created: created, Labels: map[string]string{"com.docker.compose.project": project}}, nil
			}
			return engine.Volume{Name: name, Created: created.Add(time.Minute)}, nil
		}
		var gone []string
		f.OnRemoveVolume = func(name string) error { gone = append(gone, name); return nil }
		s, err := transcript.Save(context.Background(), f, home(), stateDir(t), lim)
		if err != nil || !s.None || *removed != 1 || !slices.Equal(gone, []string{vol}) {
			t.Errorf("Save = %+v, %v; helper removed %d, volumes removed %v", s, err, *removed, gone)
		}
	})
}

// A helper needs the bottle's image: none named, or one not on the engine
// (pruned), is an error that says so; nothing is made.
func TestSaveWithoutImage(t *testing.T) {
	f := enginefake.New(t)
	f.OnCopyFrom = func(id, _ string) (io.ReadCloser, error) { return nil, enginefake.NotFound("container: " + id) }
	f.OnInspectVolume = func(name string) (engine.Volume, error) { return engine.Volume{Name: name, Created: created}, nil }
	h := home()
	h.Image = ""
	if _, err := transcript.Save(context.Background(), f, h, stateDir(t), lim); err == nil || !strings.Contains(err.Error(), "names no image to read volume "+vol) {
		t.Errorf("no image: err = %v", err)
	}
	f.OnCreateContainer = func(spec engine.ContainerSpec) (string, error) {
		return "", enginefake.NotFound("image: " + spec.Image)
	}
	if _, err := transcript.Save(context.Background(), f, home(), stateDir(t), lim); err == nil || !strings.Contains(err.Error(), "its image bottle-test/agent, which could read volume "+vol+", is not on the engine") {
		t.Errorf("image pruned: err = %v", err)
	}
}

// A whole snapshot replaces the earlier one (a resume restored it into the
// volume, so the new one holds it too); a save stopped by a bound keeps
// what it wrote in transcript.partial and leaves the earlier one as it was.
func TestSaveReplacesAndKeepsPartial(t *testing.T) {
	dir := stateDir(t)
	os.MkdirAll(filepath.Join(dir, "transcript", "old"), 0o700)
	os.WriteFile(filepath.Join(dir, "transcript", "old", "earlier.jsonl"), []byte("earlier"), 0o600)
	f := enginefake.New(t)
	f.OnCopyFrom = func(string, string) (io.ReadCloser, error) {
		return tarOf("old/earlier.jsonl=earlier", "new.jsonl=new"), nil
	}
	if _, err := transcript.Save(context.Background(), f, home(), dir, lim); err != nil {
		t.Fatal(err)
	}
	if got := left(t, dir); !slices.Equal(got, []string{"transcript", "transcript/new.jsonl", "transcript/old", "transcript/old/earlier.jsonl"}) {
		t.Errorf("after a whole save: %v", got)
	}
	f.OnCopyFrom = func(string, string) (io.ReadCloser, error) {
		return tarOf("a.jsonl=first", "z.bin="+strings.Repeat("z", 2<<20)), nil
	}
	s, err := transcript.Save(context.Background(), f, home(), dir, lim)
	var be *transcript.BoundError
	if !errors.As(err, &be) || be.Kept != filepath.Join(dir, "transcript.partial") || s.Files != 1 {
		t.Fatalf("bounded: %+v, %v", s, err)
	}
	if !strings.HasSuffix(err.Error(), "; kept what was saved before it in "+be.Kept) {
		t.Errorf("message %q", err)
	}
	if got := left(t, dir); !slices.Equal(got, []string{"transcript", "transcript/new.jsonl", "transcript/old", "transcript/old/earlier.jsonl", "transcript.partial", "transcript.partial/a.jsonl"}) {
		t.Errorf("after a bounded save: %v", got)
	}
}

// A symlink is never followed to the state dir.
func TestSaveRefusesASymlink(t *testing.T) {
	real := stateDir(t)
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(real, link)
	if _, err := transcript.Save(context.Background(), enginefake.New(t), home(), link, lim); err == nil {
		t.Error("saved through a symlink")
	}
}

// Probe reads only what exists: the agent container. It never makes a
// helper (the strict fake fails any create): with no agent, or one that is
// gone, it cannot tell.
func TestProbe(t *testing.T) {
	f := enginefake.New(t)
	h := home()
	h.Agent = ""
	if has, known, err := transcript.Probe(context.Background(), f, h); has || known || err != nil {
		t.Errorf("no agent: %v %v %v", has, known, err)
	}
	for _, tc := range []struct {
		name       string
		copy       func() (io.ReadCloser, error)
		has, known bool
		err        string
	}{
		{"gone", func() (io.ReadCloser, error) { return nil, enginefake.NotFound("container: x") }, false, false, ""},
		{"no tree", func() (io.ReadCloser, error) { return nil, noFile("p", "x") }, false, true, ""},
		{"empty tree", func() (io.ReadCloser, error) { return tarOf(), nil }, false, true, ""},
		{"a file", func() (io.ReadCloser, error) { return tarOf("a/t.jsonl=x"), nil }, true, true, ""},
		{"no answer", func() (io.ReadCloser, error) {
			return nil, &engine.UnreachableError{Err: &engine.NoAnswerError{Call: "GET /containers/x/archive", Timeout: time.Second}}
		}, false, false, "did not answer GET /containers/x/archive"},
	} {
		f.OnCopyFrom = func(string, string) (io.ReadCloser, error) { return tc.copy() }
		has, known, err := transcript.Probe(context.Background(), f, home())
		if has != tc.has || known != tc.known || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v %v %v", tc.name, has, known, err)
		}
	}
	if n := len(f.Calls("create-container")); n != 0 {
		t.Errorf("Probe made %d containers", n)
	}
}

// HomeOf: a compose project with a home volume; its agent by service or name.
func TestHomeOf(t *testing.T) {
	it := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: project,
		Containers: []bottle.Container{{Name: project + "-agent-1", ID: agentID}, {Name: project + "-sidecar-1", ID: enginefake.ID(2), Service: "sidecar"}},
		Volumes:    []bottle.Volume{{Name: vol, ID: vol, Created: &created}}}
	h, ok := transcript.HomeOf(it)
	if !ok || h.Agent != agentID || h.Volume != vol || !h.Created.Equal(created) || h.Project != project {
		t.Errorf("HomeOf = %+v, %v", h, ok)
	}
	it.Volumes = []bottle.Volume{{Name: project + "_data", ID: project + "_data"}}
	if _, ok := transcript.HomeOf(it); ok {
		t.Error("a project without a home volume has a home")
	}
}
