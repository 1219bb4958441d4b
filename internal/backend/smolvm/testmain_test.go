package smolvm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/smolvmcli"
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
func fakeCLI(t *testing.T) (*smolvmcli.CLI, func(args ...string)) {
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
	return &smolvmcli.CLI{Path: exe, Timeout: 30 * time.Second}, seed
}
