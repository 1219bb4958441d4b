package launch

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// guardedBottle starts a bottle on the fake and hands its lock over as a
// guardian would hold it (a second open of the lock file cannot share an
// flock, so the test passes the launcher's own lock).
func guardedBottle(t *testing.T) (*enginefake.Engine, *enginefake.World, *Launched, Options) {
	f, w, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	return f, w, b, opt
}

// A launcher that ends its bottle says so: the guardian does nothing and
// lets go of the lock.
func TestGuardDone(t *testing.T) {
	f, w, b, opt := guardedBottle(t)
	f.Forget()
	if err := Guard(context.Background(), f, b.Project.StateDir, strings.NewReader(guardianDone), b.lock, opt); err != nil {
		t.Fatal(err)
	}
	if log := f.Log(); len(log) != 0 {
		t.Errorf("the guardian called the engine: %v", log)
	}
	if statedir.Locked(b.Project.StateDir) {
		t.Error("the guardian kept the lock")
	}
	if held := w.Held(); len(held) != 5 {
		t.Errorf("the guardian touched the bottle: %v", held)
	}
}

// A launcher that died (the pipe ends without its word): the guardian
// stops the agent (SIGTERM), saves the transcript, removes everything,
// records the end, writes no .preserve, and holds the lock until done.
func TestGuardEndsOrphan(t *testing.T) {
	f, w, b, opt := guardedBottle(t)
	dir, agent := b.Project.StateDir, b.AgentID()
	var stopped atomic.Bool
	f.OnInspectContainer = func(id string) (engine.Container, error) {
		return engine.Container{ID: id, State: "running"}, nil
	}
	wait := f.OnWait
	f.OnWait = func(id string) (int, error) {
		if id != agent {
			return wait(id)
		}
		for !stopped.Load() {
			time.Sleep(time.Millisecond)
		}
		return 143, nil
	}
	var lockedWhileRemoving atomic.Bool
	f.Before = func(verb, id string) error {
		switch {
		case verb == "kill" && id == agent+" SIGTERM":
			stopped.Store(true)
		case strings.HasPrefix(verb, "rm-") && statedir.Locked(dir):
			lockedWhileRemoving.Store(true)
		}
		return nil
	}
	f.OnCopyFrom = func(id, p string) (io.ReadCloser, error) {
		if id != agent || p != bottle.AgentTranscript {
			t.Errorf("CopyFrom %s %s", id, p)
		}
		return io.NopCloser(bytes.NewReader(transcriptTar(t))), nil
	}
	if err := Guard(context.Background(), f, dir, strings.NewReader(""), b.lock, opt); err != nil {
		t.Fatal(err)
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("left: %v", held)
	}
	if !lockedWhileRemoving.Load() {
		t.Error("the state dir was not locked while the guardian removed the bottle")
	}
	if statedir.Locked(dir) {
		t.Error("the guardian kept the lock")
	}
	if _, err := os.Stat(filepath.Join(dir, bottle.PreserveFile)); err == nil {
		t.Error(".preserve written: the user killed the launcher, the agent did not crash")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "transcript", "project", "s.jsonl")); err != nil || string(b) != "{}\n" {
		t.Errorf("transcript: %q, %v", b, err)
	}
	var m statedir.Meta
	data, _ := os.ReadFile(filepath.Join(dir, bottle.MetaFile))
	if err := json.Unmarshal(data, &m); err != nil || m.Ended == nil || m.ExitCode == nil || *m.ExitCode != 143 {
		t.Errorf("bottle.json: %s (%v)", data, err)
	}
	if !slices.Contains(f.Calls("kill"), agent+" SIGTERM") {
		t.Errorf("the agent got no SIGTERM: %v", f.Log())
	}
}

func transcriptTar(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "projects/", Mode: 0o755},
		{Typeflag: tar.TypeDir, Name: "projects/project/", Mode: 0o755},
		{Typeflag: tar.TypeReg, Name: "projects/project/s.jsonl", Mode: 0o644, Size: 3},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	tw.Write([]byte("{}\n"))
	tw.Close()
	return buf.Bytes()
}
