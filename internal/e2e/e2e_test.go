// Package e2e runs the testscript end-to-end scripts in testdata/script
// against the real binaries (registered with testscript.Main, so no go
// build) and, for scripts that ask for [docker], the real engine.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/claude-bottle/bottle/internal/enginetest"
	"github.com/claude-bottle/bottle/internal/tool/lstool"
	"github.com/claude-bottle/bottle/internal/tool/plantool"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"bottle-ls":           func() { os.Exit(lstool.Main()) },
		"bottle-plan-cleanup": func() { os.Exit(plantool.Main()) },
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
			"engine-proxy":    cmdEngineProxy,
			"engine-requests": cmdEngineRequests,
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
// engine is an error, never a skip) and fails loudly on unknown names.
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
