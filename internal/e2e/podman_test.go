package e2e

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/claude-bottle/bottle/internal/enginetest"
)

// podmanScripts are the engine-side core that TestScriptsOnPodman runs a
// second time, against podman's Docker-compatible API (scripts/podman.sh,
// netavark) instead of the machine's engine: listing, planning, reaping,
// cleaning up, and launching — which podman 4.3 cannot isolate, so there
// the launch must refuse, in one line, leaving nothing (launch_isolation,
// [onpodman]).
var podmanScripts = []string{
	"plan_world",
	"reap_world",
	"cleanup_flow",
	"ls_state",
	"launch_isolation",
}

// TestScriptsOnPodman runs podmanScripts with DOCKER_HOST (the tools' and
// the docker CLI's) on a podman of the test's own, the test images loaded
// into it; everything named with a script's token is purged from it when
// the script ends, and the podman is stopped with the test. Under CI=true a
// podman that cannot be started fails the test.
func TestScriptsOnPodman(t *testing.T) {
	if testing.Short() {
		t.Skip("go test -short runs no engine test")
	}
	t.Cleanup(enginetest.Release)
	pm := enginetest.NeedService(t, enginetest.Podman)
	var files []string
	for _, name := range podmanScripts {
		files = append(files, filepath.Join("..", "..", "testdata", "script", name+".txtar"))
	}
	testscript.Run(t, testscript.Params{
		Files:               files,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			if err := setup(e); err != nil {
				return err
			}
			e.Setenv("DOCKER_HOST", pm.Host)
			e.Setenv("DOCKER_CONTEXT", "")
			token := e.Getenv("TOKEN")
			e.Defer(func() {
				if err := enginetest.PurgeHost(pm.Host, token); err != nil {
					e.T().Fatal(fmt.Errorf("podman: %w", err))
				}
			})
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "onpodman":
				return true, nil
			case "compose", "pipelock", "engine2", "sshd", "podman", "podman-cni":
				// the scripts here ask for no other engine, and run with
				// the stand-in sidecar
				return false, nil
			}
			return condition(cond)
		},
		Cmds: scriptCmds(),
	})
}
