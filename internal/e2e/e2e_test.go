// Package e2e runs the testscript end-to-end scripts in testdata/script
// against the real binaries (registered with testscript.Main, so no go
// build) and, for scripts that ask for [docker], the real engine.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/claude-bottle/bottle/internal/enginetest"
	"github.com/claude-bottle/bottle/internal/smolvmfake"
	"github.com/claude-bottle/bottle/internal/tool/cleanuptool"
	"github.com/claude-bottle/bottle/internal/tool/launchtool"
	"github.com/claude-bottle/bottle/internal/tool/lstool"
	"github.com/claude-bottle/bottle/internal/tool/plantool"
	"github.com/claude-bottle/bottle/internal/tool/reaptool"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bottle-launch":       func() { os.Exit(launchtool.Main()) },
		"bottle-ls":           func() { os.Exit(lstool.Main()) },
		"bottle-plan-cleanup": func() { os.Exit(plantool.Main()) },
		"bottle-reap":         func() { os.Exit(reaptool.Main()) },
		"bottle-cleanup":      func() { os.Exit(cleanuptool.Main()) },
		// The fake smolvm (machines in $SMOLVM_FAKE_STATE); `without-smolvm`
		// takes it off PATH.
		"smolvm": func() { os.Exit(smolvmfake.Main()) },
	})
}

var (
	engineOnce sync.Once
	engineErr  error
	release    func()
)

// engineReady pings the engine, builds the test images and takes the
// machine-wide engine-test lock, once per test binary.
func engineReady() error {
	engineOnce.Do(func() {
		if engineErr = enginetest.Ping(); engineErr != nil {
			return
		}
		if engineErr = enginetest.BuildImages(); engineErr != nil {
			return
		}
		release, engineErr = enginetest.LockMachine()
	})
	return engineErr
}

func TestScripts(t *testing.T) {
	t.Cleanup(func() {
		if release != nil {
			release()
		}
	})
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") == "1",
		Setup:               setup,
		Condition:           condition,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"purge":           cmdPurge,
			"without-smolvm":  cmdWithoutSmolvm,
			"engine-proxy":    cmdEngineProxy,
			"engine-requests": cmdEngineRequests,
			"host-listen":     cmdHostListen,
		},
	})
}

// setup pins the environment: a unique prefix ($P, also $BOTTLE_PREFIX), a
// temporary state root ($BOTTLE_STATE_DIR) and HOME inside $WORK, and a
// deferred purge of everything named with this script's token.
func setup(e *testscript.Env) error {
	token := enginetest.Token()
	e.Setenv("TOKEN", token)
	e.Setenv("P", enginetest.Prefix(token))
	e.Setenv("BOTTLE_PREFIX", enginetest.Prefix(token))
	e.Setenv("STATE", filepath.Join(e.WorkDir, "state"))
	e.Setenv("BOTTLE_STATE_DIR", filepath.Join(e.WorkDir, "state"))
	e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
	e.Setenv("IMAGE", enginetest.SleeperImage)
	e.Setenv(smolvmfake.EnvState, filepath.Join(e.WorkDir, "smolvm-machines.json"))
	for _, k := range []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_API_VERSION", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "CI"} {
		if v := os.Getenv(k); v != "" {
			e.Setenv(k, v)
		}
	}
	e.Defer(func() {
		if err := enginetest.Purge(token); err != nil && engineErr == nil && release != nil {
			e.T().Fatal(err)
		}
	})
	return nil
}

// condition knows [docker] (the engine answers; under CI=true a missing
// engine is an error, never a skip), [compose2] (the docker compose v2
// plugin is installed) and fails loudly on unknown names.
func condition(cond string) (bool, error) {
	switch cond {
	case "docker":
		if err := engineReady(); err != nil {
			if enginetest.Required() {
				return false, fmt.Errorf("CI=true but the Docker engine is not usable: %v", err)
			}
			return false, nil
		}
		return true, nil
	case "compose2":
		// docker compose v2 (the CLI plugin); only v1 may be installed.
		return exec.Command("docker", "compose", "version").Run() == nil, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// purge removes everything named with this script's token now (scripts
// that check the engine is clean afterwards call it themselves).
func cmdPurge(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: purge")
	}
	ts.Check(enginetest.Purge(ts.Getenv("TOKEN")))
}

// without-smolvm makes PATH hold no smolvm: a host without one (Linux). The
// testscript command directory (every registered binary) is replaced by a
// copy of its symlinks without smolvm.
func cmdWithoutSmolvm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: without-smolvm")
	}
	bin := filepath.Join(ts.Getenv("WORK"), ".bin-without-smolvm")
	ts.Check(os.MkdirAll(bin, 0o755))
	var path []string
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, "smolvm")); err != nil {
			path = append(path, dir)
			continue
		}
		des, err := os.ReadDir(dir)
		ts.Check(err)
		for _, de := range des {
			if de.Name() == "smolvm" {
				continue
			}
			link := filepath.Join(bin, de.Name())
			if _, err := os.Lstat(link); err == nil {
				continue
			}
			ts.Check(os.Symlink(filepath.Join(dir, de.Name()), link))
		}
	}
	if !slices.Contains(path, bin) {
		path = append([]string{bin}, path...)
	}
	ts.Setenv("PATH", strings.Join(path, string(os.PathListSeparator)))
}
