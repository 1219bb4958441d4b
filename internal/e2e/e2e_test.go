// Package e2e runs the testscript end-to-end scripts in testdata/script
// against the real binaries (registered with testscript.Main, so no go
// build) and, for scripts that ask for [docker], the real engine.
//
// House rules for a script (TestScriptsCheckExitCodes enforces the first):
//
//   - A failure is checked with `exits N command [args...]`, N the exit code
//     the README's table documents (2 usage, 1 runtime, 3 bad spec, 130
//     interrupted, 127 "not found" from sh). `exec` checks success. `! exec`
//     only for a background command the script kills with SIGKILL.
//   - A script that needs the engine starts with `[!docker] skip`: under
//     -short it skips without asking the engine; under CI=true a missing
//     engine fails it.
//   - Everything a script makes on the engine is named with $P (or carries
//     $TOKEN) and is purged when the script ends.
package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/claude-bottle/bottle/internal/enginetest"
	"github.com/claude-bottle/bottle/internal/smolvmfake"
	"github.com/claude-bottle/bottle/internal/statedir"
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

func TestScripts(t *testing.T) {
	t.Cleanup(enginetest.Release)
	t.Cleanup(func() {
		if err := enginetest.StopShared(); err != nil {
			t.Error(err)
		}
	})
	if plugin := os.Getenv(composeEnv); plugin != "" {
		dir := filepath.Join(t.TempDir(), "docker")
		if err := makeDockerConfig(dir, plugin, os.Getenv("DOCKER_CONFIG")); err != nil {
			t.Fatal(err)
		}
		dockerConfig = dir
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") == "1",
		Setup:               setup,
		Condition:           condition,
		Cmds:                scriptCmds(),
	})
}

// scriptCmds are the harness's script commands.
func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"exits":             cmdExits,
		"purge":             cmdPurge,
		"without-smolvm":    cmdWithoutSmolvm,
		"engine-proxy":      cmdEngineProxy,
		"engine-requests":   cmdEngineRequests,
		"bind-mount":        cmdBindMount,
		"mount-tmpfs":       cmdMountTmpfs,
		"at-end":            cmdAtEnd,
		"readme":            cmdReadme,
		"host-listen":       cmdHostListen,
		"machines-confined": cmdMachinesConfined,
		"engine":            cmdEngine,
	}
}

// passEnv are the variables a script gets from the test's environment:
// which engine, and CI. Everything else is pinned by setup.
var passEnv = []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_API_VERSION", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_CONFIG", "CI"}

// setup pins the environment: a unique prefix ($P, also $BOTTLE_PREFIX), a
// temporary state root ($STATE, $BOTTLE_STATE_DIR: made, with the marker
// bottle-launch writes) and HOME inside $WORK, the
// scripts' own DOCKER_CONFIG when there is one (the compose plugin), and a
// deferred purge of everything named with this script's token.
func setup(e *testscript.Env) error {
	token := enginetest.Token()
	e.Setenv("TOKEN", token)
	e.Setenv("P", enginetest.Prefix(token))
	e.Setenv("BOTTLE_PREFIX", enginetest.Prefix(token))
	e.Setenv("STATE", filepath.Join(e.WorkDir, "state"))
	e.Setenv("BOTTLE_STATE_DIR", filepath.Join(e.WorkDir, "state"))
	// The state root as bottle-launch makes it: the cleanup tools act on
	// no other (a script that needs it missing removes it).
	if err := statedir.PrepareRoot(filepath.Join(e.WorkDir, "state"), false); err != nil {
		return err
	}
	e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
	e.Setenv("IMAGE", enginetest.SleeperImage)
	// $PIPELOCK: the real pipelock image named by BOTTLE_TEST_PIPELOCK_IMAGE
	// ([pipelock] says whether it is on the engine); $SIDECAR: it, or the
	// stand-in.
	e.Setenv("PIPELOCK", os.Getenv("BOTTLE_TEST_PIPELOCK_IMAGE"))
	e.Setenv("SIDECAR", "bottle-test/pipelock:latest")
	if realPipelock() {
		e.Setenv("SIDECAR", os.Getenv("BOTTLE_TEST_PIPELOCK_IMAGE"))
	}
	// $REPO: the repository, for scripts that read its files (the
	// completion scripts, scripts/*.sh).
	e.Setenv("REPO", repoRoot)
	// Go's caches as the test runs with them: scripts that build (the
	// scripts/*-image.sh) then start warm, HOME being $WORK/home.
	for k, v := range goEnv() {
		e.Setenv(k, v)
	}
	e.Setenv(smolvmfake.EnvState, filepath.Join(e.WorkDir, "smolvm-machines.json"))
	for _, k := range passEnv {
		if v := os.Getenv(k); v != "" {
			e.Setenv(k, v)
		}
	}
	if dockerConfig != "" {
		e.Setenv("DOCKER_CONFIG", dockerConfig)
	}
	e.Defer(func() {
		// Only a script of a run whose engine is ready made anything (and
		// under -short no script may touch the engine at all).
		if !enginetest.Up() {
			return
		}
		if err := enginetest.Purge(token); err != nil {
			e.T().Fatal(err)
		}
		removeFakeImages(token)
	})
	return nil
}

// goEnv is Go's cache and module settings of this test's environment.
var goEnv = sync.OnceValue(func() map[string]string {
	env := map[string]string{}
	keys := []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOFLAGS", "GOPROXY", "GONOSUMDB", "GOSUMDB", "GOTOOLCHAIN"}
	out, err := exec.Command("go", append([]string{"env"}, keys...)...).Output()
	if err != nil {
		return env
	}
	for i, v := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if i < len(keys) && v != "" {
			env[keys[i]] = v
		}
	}
	return env
})

// condition knows [docker] (the engine answers; skipped under -short; under
// CI=true a missing engine is an error, never a skip), [root], [pipelock]
// (the image named by BOTTLE_TEST_PIPELOCK_IMAGE is on the engine; never
// under -short), [compose] (the scripts see the docker compose plugin of the
// release the labels claim, launch.ComposeVersion; under CI=true anything
// else is an error), [engine2], [sshd], [podman] and [podman-cni] (see
// engines_test.go), [onpodman] (false: true in TestScriptsOnPodman, whose
// scripts run against podman), and fails loudly on unknown names.
func condition(cond string) (bool, error) {
	switch cond {
	case "docker":
		return enginetest.Use(testing.Short(), enginetest.Required(), engineReady)
	case "root":
		// real mounts (bind-mount, mount-tmpfs) need root. Under CI=true a
		// test that needs one must run, so not being root is an error
		// there, never a skip.
		if os.Geteuid() != 0 && enginetest.Required() && !testing.Short() {
			return false, fmt.Errorf("[root]: not root, and CI=true: the scripts that need a real mount must run in CI (run the tests as root)")
		}
		return os.Geteuid() == 0, nil
	case "pipelock":
		// the real pipelock, built from its source by whoever runs the
		// tests (never by them: no registry here); absent, even under CI,
		// the scripts say so and run with the stand-in only.
		return !testing.Short() && realPipelock() && engineReady() == nil, nil
	case "compose":
		return composeUse(testing.Short(), enginetest.Required(), func() (string, error) { return composeVersion(dockerConfig) })
	case "onpodman":
		// the scripts run against podman (TestScriptsOnPodman), not here
		return false, nil
	case "engine2", "sshd", "podman", "podman-cni":
		// engines and transports of the tests' own (engines_test.go)
		return extraCondition(extraKinds[cond])
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// engineReady is enginetest.Ready: the engine answers, the test images are
// built and this binary holds the machine lock (an error under -short).
func engineReady() error { return enginetest.Ready() }

// exits N command [args...]
//
// Runs command as exec does (stdin and ttyin apply; stdout and stderr are
// kept for the checks that follow) and fails unless it exits with code N
// (1-255). It is how every script checks a failure: `! exec` accepts any
// non-zero code, so scripts use it only for a background command they kill
// with SIGKILL (no exit code at all); TestScriptsCheckExitCodes holds every
// script to that.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N command [args...] (exec checks success; there is no ! exits)")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want < 1 || want > 255 {
		ts.Fatalf("exits: bad exit code %q: use 1-255 (exec checks 0)", args[0])
	}
	if strings.HasSuffix(args[len(args)-1], "&") {
		ts.Fatalf("exits: no background commands; see cmdExits in internal/e2e")
	}
	err = ts.Exec(args[1], args[2:]...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		ts.Fatalf("%s exited 0; want %d", args[1], want)
	case errors.As(err, &ee) && ee.ExitCode() == want:
		ts.Logf("[exit %d, as wanted]", want)
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		ts.Fatalf("%s exited %d; want %d", args[1], ee.ExitCode(), want)
	default:
		ts.Fatalf("%s: %v; want exit %d", args[1], err, want)
	}
}

// purge removes everything named with this script's token now (scripts
// that check the engine is clean afterwards call it themselves).
func cmdPurge(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: purge")
	}
	ts.Check(enginetest.Purge(ts.Getenv("TOKEN")))
}

// at-end runs `sh FILE` (in $WORK, with the script's variables) when the
// script ends, failed or not: the cleanup of what the token-based purge
// cannot find, such as an anonymous volume (the engine names it).
func cmdAtEnd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: at-end FILE")
	}
	file, work := ts.MkAbs(args[0]), ts.Getenv("WORK")
	env := os.Environ()
	for _, k := range []string{"WORK", "TOKEN", "P", "STATE", "IMAGE", "HOME", "PATH", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	ts.Defer(func() {
		cmd := exec.Command("sh", file)
		cmd.Dir, cmd.Env = work, env
		if out, err := cmd.CombinedOutput(); err != nil {
			ts.Logf("at-end %s: %v\n%s", args[0], err, out)
		}
	})
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

// realPipelock reports whether BOTTLE_TEST_PIPELOCK_IMAGE names an image
// on the engine (never asked under -short, which needs no engine).
func realPipelock() bool {
	img := os.Getenv("BOTTLE_TEST_PIPELOCK_IMAGE")
	return img != "" && !testing.Short() && exec.Command("docker", "image", "inspect", img).Run() == nil
}
