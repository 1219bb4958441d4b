package launch

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// guardedBottle starts a bottle on the fake and hands its lock over as a
// guardian would hold it (a second open of the lock file cannot share an
// flock, so the test passes the launcher's own lock).
func guardedBottle(t *testing.T) (*fake, *Launched, Options) {
	f, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	return f, b, opt
}

// A launcher that ends its bottle says so: the guardian does nothing and
// lets go of the lock.
func TestGuardDone(t *testing.T) {
	f, b, opt := guardedBottle(t)
	n := len(f.log)
	if err := Guard(context.Background(), f, b.Project.StateDir, strings.NewReader(guardianDone), b.lock, opt); err != nil {
		t.Fatal(err)
	}
	if len(f.log) != n {
		t.Errorf("the guardian called the engine: %v", f.log[n:])
	}
	if statedir.Locked(b.Project.StateDir) {
		t.Error("the guardian kept the lock")
	}
	if len(f.live) != 5 {
		t.Errorf("the guardian touched the bottle: %v", f.live)
	}
}

// A launcher that died (the pipe ends without its word): the guardian
// stops the agent (SIGTERM), saves the transcript, removes everything,
// records the end, writes no .preserve, and holds the lock until done.
func TestGuardEndsOrphan(t *testing.T) {
	f, b, opt := guardedBottle(t)
	dir, agent := b.Project.StateDir, b.AgentID()
	var stopped atomic.Bool
	f.inspect = func(id string) (engine.Container, error) {
		return engine.Container{ID: id, State: "running"}, nil
	}
	f.wait = func(ctx context.Context, id string) (int, error) {
		if id != agent {
			return 0, nil
		}
		for !stopped.Load() {
			time.Sleep(time.Millisecond)
		}
		return 143, nil
	}
	f.fail = func(op, name string) error {
		if op == "kill" && name == agent+" SIGTERM" {
			stopped.Store(true)
		}
		return nil
	}
	var lockedWhileRemoving atomic.Bool
	f.hook = func(op, id string) {
		if op == "rm" && statedir.Locked(dir) {
			lockedWhileRemoving.Store(true)
		}
	}
	f.copyFrom = func(id, p string) (io.ReadCloser, error) {
		if id != agent || p != bottle.AgentTranscript {
			t.Errorf("CopyFrom %s %s", id, p)
		}
		return io.NopCloser(bytes.NewReader(transcriptTar(t))), nil
	}
	if err := Guard(context.Background(), f, dir, strings.NewReader(""), b.lock, opt); err != nil {
		t.Fatal(err)
	}
	if len(f.live) != 0 {
		t.Errorf("left: %v", f.live)
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
	sigterm := false
	for _, l := range f.log {
		sigterm = sigterm || l == "kill "+agent+" SIGTERM"
	}
	if !sigterm {
		t.Errorf("the agent got no SIGTERM: %v", f.log)
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
