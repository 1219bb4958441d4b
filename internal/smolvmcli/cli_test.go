package smolvmcli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/smolvmfake"
)

// TestMain lets this test binary be the fake smolvm: run with
// SMOLVM_FAKE_BINARY=1 it answers as `smolvm` instead of running tests.
func TestMain(m *testing.M) {
	if os.Getenv("SMOLVM_FAKE_BINARY") == "1" {
		os.Exit(smolvmfake.Main())
	}
	os.Exit(m.Run())
}

// fakeCLI returns a CLI that runs this test binary as the fake smolvm, with
// its machines in a fresh file, and a function to run fake commands
// directly (seeding).
func fakeCLI(t *testing.T) (*CLI, func(args ...string)) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "machines.json")
	t.Setenv("SMOLVM_FAKE_BINARY", "1")
	t.Setenv(smolvmfake.EnvState, state)
	seed := func(args ...string) {
		t.Helper()
		var out, errb strings.Builder
		if code := smolvmfake.Run(args, strings.NewReader(""), &out, &errb, os.Getenv); code != 0 {
			t.Fatalf("fake smolvm %v: exit %d: %s", args, code, errb.String())
		}
	}
	return &CLI{Path: exe, Timeout: 30 * time.Second}, seed
}

func TestParseList(t *testing.T) {
	const newer = `[
  {
    "cpus": 4,
    "created_at": 1717000000,
    "image": "alpine:3.20",
    "labels": {"bottle": "yes"},
    "name": "claude-bottle-a-1",
    "network": {"mode": "nat", "nested": [1, 2, {"x": null}]},
    "pid": 4242,
    "state": "running",
    "some_future_field": [true]
  },
  {
    "name": "claude-bottle-b-2",
    "state": "stopped",
    "pid": null,
    "created_at": 1716000000
  }
]
`
	ms, err := ParseList([]byte(newer))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("got %d machines, want 2", len(ms))
	}
	if m := ms[0]; m.Name != "claude-bottle-a-1" || m.State != "running" || m.PID == nil || *m.PID != 4242 ||
		!m.Created.Equal(time.Unix(1717000000, 0)) {
		t.Errorf("machine 0 = %+v", m)
	}
	if m := ms[1]; m.Name != "claude-bottle-b-2" || m.State != "stopped" || m.PID != nil || !m.Created.Equal(time.Unix(1716000000, 0)) {
		t.Errorf("machine 1 = %+v (a null pid must be nil)", m)
	}

	// Before v0.8.0 created_at was a string of Unix seconds.
	ms, err = ParseList([]byte(`[{"name":"x-1","state":"created","pid":null,"created_at":"1700000000","mounts":0}]`))
	if err != nil {
		t.Fatal(err)
	}
	if !ms[0].Created.Equal(time.Unix(1700000000, 0)) || ms[0].Created.Location() != time.UTC {
		t.Errorf("old created_at = %v, want %v UTC", ms[0].Created, time.Unix(1700000000, 0).UTC())
	}

	// Empty, absent and null created_at, and an RFC 3339 one.
	ms, err = ParseList([]byte(`[{"name":"a"},{"name":"b","created_at":null},{"name":"c","created_at":""},{"name":"d","created_at":"2024-05-01T10:00:00Z"}]`))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:3] {
		if !m.Created.IsZero() {
			t.Errorf("%s: created %v, want zero", m.Name, m.Created)
		}
	}
	if want := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC); !ms[3].Created.Equal(want) {
		t.Errorf("d: created %v, want %v", ms[3].Created, want)
	}

	if ms, err := ParseList([]byte("[]\n")); err != nil || len(ms) != 0 {
		t.Errorf("[] = %v, %v; want no machines, no error", ms, err)
	}
}

func TestParseListRefusesWhatItCannotRead(t *testing.T) {
	for _, in := range []string{
		"",
		"No machines found\n",
		"NAME   STATE\nthis is not JSON {",
		`{"name":"x"}`,
		`[{"name":"x"}`,
		`[{"state":"running"}]`,
		`[{"name":"x","created_at":"yesterday"}]`,
		`[{"name":"x","created_at":true}]`,
		`[{"name":"x","pid":"12"}]`,
	} {
		if ms, err := ParseList([]byte(in)); err == nil {
			t.Errorf("ParseList(%q) = %v, want an error", in, ms)
		}
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "smolvm")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "smolvm")
	if err := os.WriteFile(plain, []byte("not executable"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	c, err := Find(env(map[string]string{"PATH": "/nonexistent:" + dir}))
	if err != nil || c.Path != exe || c.Timeout != DefaultTimeout {
		t.Errorf("PATH lookup = %+v, %v; want %s", c, err, exe)
	}
	// Only getenv's PATH counts, and a non-executable file is not smolvm.
	c, err = Find(env(map[string]string{"PATH": filepath.Dir(plain)}))
	if err != nil || c.Present() {
		t.Errorf("no smolvm on PATH = %+v, %v; want absent, no error", c, err)
	}
	c, err = Find(env(map[string]string{EnvBinary: exe, "PATH": "", EnvTimeout: "250ms"}))
	if err != nil || c.Path != exe || c.Timeout != 250*time.Millisecond {
		t.Errorf("$BOTTLE_SMOLVM = %+v, %v", c, err)
	}
	// A $BOTTLE_SMOLVM that names nothing runnable is an error, not "absent":
	// the person asked for that binary.
	for _, p := range []string{filepath.Join(dir, "missing"), plain, dir} {
		if _, err := Find(env(map[string]string{EnvBinary: p, "PATH": dir})); err == nil || !strings.Contains(err.Error(), EnvBinary) {
			t.Errorf("BOTTLE_SMOLVM=%s: err = %v, want one naming %s", p, err, EnvBinary)
		}
	}
	if _, err := Find(env(map[string]string{EnvTimeout: "soon"})); err == nil {
		t.Error("a bad timeout was accepted")
	}
}

// A smolvm reached only through an empty or relative PATH element (the
// current directory) is never found: Go's os/exec refuses it (exec.ErrDot).
func TestFindSkipsRelativePATH(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "smolvm"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, path := range []string{"/nonexistent:", ":/nonexistent", "/nonexistent::/usr/bin", ".", "./", "/nonexistent:."} {
		c, err := Find(env(map[string]string{"PATH": path}))
		if err != nil || c.Present() {
			t.Errorf("PATH=%q: Find = %+v, %v; want no smolvm (the current directory is never searched)", path, c, err)
		}
	}
	c, err := Find(env(map[string]string{EnvBinary: "smolvm", "PATH": ":"}))
	if err == nil {
		t.Errorf("BOTTLE_SMOLVM=smolvm with PATH=: found %+v; want an error", c)
	}
	c, err = Find(env(map[string]string{EnvBinary: "./smolvm"}))
	if err != nil || c.Path != filepath.Join(dir, "smolvm") {
		t.Errorf("BOTTLE_SMOLVM=./smolvm: Find = %+v, %v; want the absolute path", c, err)
	}
}

func TestCLIAgainstFake(t *testing.T) {
	c, seed := fakeCLI(t)
	ctx := context.Background()

	ms, err := c.List(ctx)
	if err != nil || len(ms) != 0 {
		t.Fatalf("empty list = %v, %v", ms, err)
	}
	seed("machine", "create", "--name", "p-run-1", "--created", "1700000000")
	seed("machine", "start", "--name", "p-run-1")
	seed("machine", "create", "--name", "p-old-2", "--created", "1600000000", "--state", "stopped", "--pid", "77")

	for _, old := range []string{"", "1"} {
		t.Setenv(smolvmfake.EnvOld, old)
		ms, err = c.List(ctx)
		if err != nil {
			t.Fatalf("old=%q: %v", old, err)
		}
		if len(ms) != 2 || ms[0].Name != "p-run-1" || ms[0].State != "running" || !ms[0].Created.Equal(time.Unix(1700000000, 0)) ||
			ms[1].State != "stopped" || ms[1].PID == nil || *ms[1].PID != 77 {
			t.Errorf("old=%q: list = %+v", old, ms)
		}
	}

	if err := c.Stop(ctx, "p-old-2"); err != nil {
		t.Errorf("stopping a stopped machine: %v (smolvm says \"is not running\", exit 0)", err)
	}
	if err := c.Stop(ctx, "p-nope-3"); !IsNotFound(err) {
		t.Errorf("stop of a missing machine = %v, want not found", err)
	}
	if err := c.Delete(ctx, "p-run-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "p-run-1"); !IsNotFound(err) {
		t.Errorf("second delete = %v, want not found", err)
	}
	ms, _ = c.List(ctx)
	if len(ms) != 1 || ms[0].Name != "p-old-2" {
		t.Errorf("after delete: %+v", ms)
	}
}

func TestCLIFailures(t *testing.T) {
	c, seed := fakeCLI(t)
	seed("machine", "create", "--name", "p-a-1")
	ctx := context.Background()
	for mode, want := range map[string]string{
		"exit":       "exit 1: database error: database is locked",
		"garbage":    "not a JSON array",
		"ls=garbage": "not a JSON array",
	} {
		t.Setenv(smolvmfake.EnvFail, mode)
		if _, err := c.List(ctx); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", mode, err, want)
		}
	}
	// A failure limited to another command leaves ls alone.
	t.Setenv(smolvmfake.EnvFail, "delete=exit")
	if _, err := c.List(ctx); err != nil {
		t.Errorf("delete=exit broke ls: %v", err)
	}
	if err := c.Delete(ctx, "p-a-1"); err == nil || IsNotFound(err) {
		t.Errorf("delete=exit: err = %v, want a failure that is not 'not found'", err)
	}

	t.Setenv(smolvmfake.EnvFail, "hang")
	c.Timeout = 300 * time.Millisecond
	if _, err := c.List(ctx); err == nil || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("hang: err = %v", err)
	}

	missing := &CLI{}
	if _, err := missing.List(ctx); err != ErrMissing {
		t.Errorf("no smolvm: err = %v, want ErrMissing", err)
	}
}

// TestFakeDeleteWithoutForce pins the real CLI's behaviour the backend
// guards against: without -f, delete prompts, and EOF is "Cancelled", exit
// 0, nothing deleted.
func TestFakeDeleteWithoutForce(t *testing.T) {
	_, seed := fakeCLI(t)
	seed("machine", "create", "--name", "p-a-1")
	var out, errb strings.Builder
	code := smolvmfake.Run([]string{"vm", "rm", "--name", "p-a-1"}, strings.NewReader(""), &out, &errb, os.Getenv)
	if code != 0 || out.String() != "Cancelled\n" || errb.String() != "Delete machine 'p-a-1'? [y/N] " {
		t.Errorf("delete without -f: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := smolvmfake.Run([]string{"machine", "list", "--json"}, nil, &out, &errb, os.Getenv); code != 0 || !strings.Contains(out.String(), `"name": "p-a-1"`) {
		t.Errorf("the machine went: %s", out.String())
	}
	errb.Reset()
	if code := smolvmfake.Run([]string{"machine", "delete", "p-a-1"}, nil, &out, &errb, os.Getenv); code != 2 {
		t.Errorf("positional name: exit %d, want 2 (usage); stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := smolvmfake.Run([]string{"machine", "stop", "--name", "zz"}, nil, &out, &errb, os.Getenv); code != 1 || errb.String() != "Error: vm not found: zz\n" {
		t.Errorf("missing machine: exit %d, stderr %q", code, errb.String())
	}
}
