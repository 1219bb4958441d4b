// Package tooltest runs a tool in this process on a fake engine, with
// buffers for stdout and stderr: what the unit tests of internal/tool/*
// share.
package tooltest

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Prefix is the prefix the tools run with.
const Prefix = "bttool0001-"

// Now is the tools' clock.
var Now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// Tool is one tool on a fake engine: its environment (no terminal, the
// prefix Prefix, a temporary state root, no smolvm) and what it printed.
type Tool struct {
	Run            cli.RunFunc
	Engine         *enginefake.Engine
	Env            cli.Env
	StateDir       string
	Vars           map[string]string
	Stdout, Stderr *bytes.Buffer
}

// New is run on a strict fake engine with nothing set up but an empty
// state root bottle-launch would have made (its marker written).
func New(t testing.TB, run cli.RunFunc) *Tool {
	x := &Tool{Run: run, Engine: enginefake.New(t), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	x.StateDir = filepath.Join(t.TempDir(), "state")
	if err := statedir.PrepareRoot(x.StateDir, false); err != nil {
		t.Fatal(err)
	}
	x.Vars = map[string]string{"BOTTLE_PREFIX": Prefix, "BOTTLE_STATE_DIR": x.StateDir, "HOME": t.TempDir(), "NO_COLOR": "1"}
	x.Env = cli.Env{
		Stdin: strings.NewReader(""), Stdout: x.Stdout, Stderr: x.Stderr,
		Getenv: func(k string) string { return x.Vars[k] },
		Now:    func() time.Time { return Now },
		Open:   opener(x.Engine),
	}
	return x
}

// Exec runs the tool with args and returns its exit code; Stdout and
// Stderr hold only what this run printed.
func (x *Tool) Exec(args ...string) int {
	x.Stdout.Reset()
	x.Stderr.Reset()
	return x.Run(context.Background(), args, x.Env)
}

// opener opens every backend on f, as all.Open does on the real engine:
// what a tool's environment gets in tests.
func opener(f *enginefake.Engine) backend.Opener {
	return func(getenv func(string) string, prefix string) (*backend.Set, error) {
		return all.On(f, getenv, prefix), nil
	}
}
