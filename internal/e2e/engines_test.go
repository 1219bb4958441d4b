package e2e

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/claude-bottle/bottle/internal/enginetest"
)

// The engines and transports beside the machine's engine, for scripts:
// started once per test binary (enginetest.Shared) by the first script
// whose condition asks, stopped when TestScripts ends.
//
//	[engine2]       a second dockerd       engine engine2  sets $DOCKER_HOST2
//	[sshd]          a private sshd         engine sshd     sets $SSH_HOST
//	                                                       (ssh://root@127.0.0.1:$SSH_PORT),
//	                                                       $SSH_DIR, and puts its ssh
//	                                                       first on PATH
//	[podman]        podman's API, netavark engine podman   sets $PODMAN_HOST
//	[podman-cni]    the same, CNI networks engine podman-cni sets $PODMAN_CNI_HOST
//
// A script asks the condition first (`[!sshd] skip`; under CI=true a
// service that cannot start fails it), then runs `engine NAME`.
// Everything named with the script's token on an engine of its own is
// purged when the script ends.
var extraKinds = map[string]string{
	"engine2":    enginetest.Engine2,
	"sshd":       enginetest.SSHD,
	"podman":     enginetest.Podman,
	"podman-cni": enginetest.PodmanCNI,
}

// extraCondition reports whether the service behind cond runs, starting it
// if need be (with the machine's engine ready first).
func extraCondition(kind string) (bool, error) {
	return enginetest.Use(testing.Short(), enginetest.Required(), func() error {
		if err := engineReady(); err != nil {
			return err
		}
		_, err := enginetest.Shared(kind)
		return err
	})
}

// engine NAME
func cmdEngine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 || extraKinds[args[0]] == "" {
		ts.Fatalf("usage: engine engine2|sshd|podman|podman-cni (after its condition, e.g. [!sshd] skip)")
	}
	s, err := enginetest.Shared(extraKinds[args[0]])
	if err != nil {
		ts.Fatalf("engine %s: %v", args[0], err)
	}
	token := ts.Getenv("TOKEN")
	switch args[0] {
	case "sshd":
		ts.Setenv("SSH_HOST", s.Host)
		ts.Setenv("SSH_PORT", strconv.Itoa(s.SSH.Port))
		ts.Setenv("SSH_DIR", s.Dir)
		ts.Setenv("PATH", s.SSH.Path(ts.Getenv("PATH")))
		return // the machine's engine: the script's purge covers it
	case "engine2":
		ts.Setenv("DOCKER_HOST2", s.Host)
	case "podman":
		ts.Setenv("PODMAN_HOST", s.Host)
	case "podman-cni":
		ts.Setenv("PODMAN_CNI_HOST", s.Host)
	}
	ts.Defer(func() {
		if err := enginetest.PurgeHost(s.Host, token); err != nil {
			ts.Fatalf("%v", fmt.Errorf("engine %s: %w", args[0], err))
		}
	})
}
