// Package enginetest is what every real-engine test shares: one lock so
// that only one engine suite runs on a machine at a time (the engine's
// default address pools hold about 30 networks), a unique prefix per test,
// the locally built test images, and a purge that removes everything a test
// made even when it failed. It never touches the default prefix.
package enginetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/engine"
)

// SleeperImage runs /sleeper: it waits for SIGTERM, or exits at once with
// the code given as its argument.
const SleeperImage = "bottle-test/sleeper:latest"

// Token returns a random 8-character [a-z0-9] token. Test prefixes are
// "bt" + token + "-": never the default prefix, never a user's.
func Token() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Prefix returns the resource prefix for a token.
func Prefix(token string) string { return "bt" + token + "-" }

// LockPath is the machine-wide engine-test lock. Its holder writes who it
// is into it (Holder), so that a waiter can say whom it waits for.
func LockPath() string { return filepath.Join(os.TempDir(), "bottle-engine-tests.lock") }

// LockMachine waits for the machine-wide engine-test lock and returns its
// release. Hold it for the whole of a suite that makes engine resources.
// While it waits it says so on wait (once, naming the holder the lock file
// names); once it holds the lock it writes its own pid and command line
// into the file, and empties it again on release.
func LockMachine(wait io.Writer) (release func(), err error) {
	return lockFile(LockPath(), wait)
}

func lockFile(path string, wait io.Writer) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		start := time.Now()
		fmt.Fprintf(wait, "enginetest: waiting for the engine-test lock %s, held by %s\n", path, Holder(path))
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
		fmt.Fprintf(wait, "enginetest: got the engine-test lock after %s\n", time.Since(start).Round(time.Second))
	}
	// Say who holds it; a failure here only makes a waiter's message vaguer.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(holderLine()), 0)
	}
	return func() {
		_ = f.Truncate(0)
		f.Close()
	}, nil
}

func holderLine() string {
	return fmt.Sprintf("pid %d since %s: %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339), strings.Join(os.Args, " "))
}

// Holder says who holds the lock at path, as its holder wrote it ("pid 123
// since 2026-01-02T03:04:05Z: /tmp/go-build…/e2e.test -test.run …"), or
// "a process that does not say who it is" (an older holder, or flock(1)
// without a note).
func Holder(path string) string {
	b, err := os.ReadFile(path)
	if s := strings.TrimSpace(string(b)); err == nil && s != "" {
		return s
	}
	return "a process that does not say who it is"
}

// Required reports whether engine tests must run (CI=true): then a missing
// engine fails them instead of skipping them.
func Required() bool { return os.Getenv("CI") == "true" }

var (
	readyOnce sync.Once
	readyErr  error
	up        atomic.Bool
	release   func()
)

// Ready pings the engine, builds the test images and takes the machine-wide
// engine-test lock, once per test binary; the lock is held until Release
// (or the binary's exit). It never contacts the engine under -short.
func Ready() error {
	readyOnce.Do(func() {
		if testing.Short() {
			readyErr = errors.New("go test -short runs no engine test")
			return
		}
		if readyErr = Ping(); readyErr != nil {
			return
		}
		// The images are built under the lock: another checkout's suite
		// builds the same image names from its own sources, and must not
		// replace them while this one runs.
		if release, readyErr = LockMachine(waitNote()); readyErr != nil {
			return
		}
		if readyErr = BuildImages(); readyErr != nil {
			release()
			return
		}
		up.Store(true)
	})
	return readyErr
}

// waitNote is where a test binary says it waits for the lock: its stderr,
// which go test shows only when the package is done, and the terminal if
// there is one, so that a person watching `make test` sees it now.
func waitNote() io.Writer {
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		return io.MultiWriter(os.Stderr, tty) // closed at exit
	}
	return os.Stderr
}

// Up reports whether Ready succeeded, without asking the engine.
func Up() bool { return up.Load() }

// Release gives the machine lock back, if Ready took it.
func Release() {
	if up.Swap(false) {
		release()
	}
}

// Use decides whether an engine test runs: under -short it never does
// (skip; `go test -short` and `make unit` touch no engine), else it runs when
// the engine is ready; an engine that is not is a skip, except under CI=true
// where it is an error (a missing engine must fail CI, never pass it).
// ready is only called when the test would run.
func Use(short, required bool, ready func() error) (run bool, err error) {
	if short {
		return false, nil
	}
	if err := ready(); err != nil {
		if required {
			return false, fmt.Errorf("CI=true but the Docker engine is not usable: %v", err)
		}
		return false, nil
	}
	return true, nil
}

// Need is Use for a Go test: it skips t under -short or without an engine,
// fails it under CI=true without an engine, and otherwise returns with the
// engine ready and the machine lock held.
func Need(t testing.TB) {
	t.Helper()
	run, err := Use(testing.Short(), Required(), Ready)
	switch {
	case err != nil:
		t.Fatal(err)
	case !run && testing.Short():
		t.Skip("engine test: skipped under -short")
	case !run:
		t.Skipf("engine test: no usable Docker engine (%v); under CI=true this fails", readyErr)
	}
}

// Ping checks that the engine answers.
func Ping() error {
	eng, err := engine.Dial(os.Getenv)
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = eng.Ping(ctx)
	return err
}

// Root returns the module's root directory.
func Root() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the bottle module")
	}
	return filepath.Dir(mod), nil
}

// BuildImages builds the test images (scripts/test-images.sh).
func BuildImages() error {
	root, err := Root()
	if err != nil {
		return err
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "test-images.sh")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/test-images.sh: %v\n%s", err, out)
	}
	return nil
}

// Purge removes every container, network and volume whose name (or compose
// project) contains token, and reports what it could not remove. Tokens are
// random, so nothing else can match.
func Purge(token string) error { return purge(os.Getenv, token) }

// PurgeHost is Purge on the engine at host (a DOCKER_HOST value).
func PurgeHost(host, token string) error {
	return purge(func(k string) string {
		switch k {
		case "DOCKER_HOST":
			return host
		case "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_TLS":
			return ""
		}
		return os.Getenv(k)
	}, token)
}

func purge(getenv func(string) string, token string) error {
	if len(token) < 6 {
		return fmt.Errorf("refusing to purge with a short token %q", token)
	}
	eng, err := engine.Dial(getenv)
	if err != nil {
		return err
	}
	defer eng.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ours := func(name string, labels map[string]string) bool {
		return strings.Contains(name, token) || strings.Contains(labels["com.docker.compose.project"], token)
	}
	var failed []string
	cs, err := eng.Containers(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if ours(c.Name, c.Labels) {
			if err := eng.RemoveContainer(ctx, c.ID); err != nil && !engine.IsNotFound(err) {
				failed = append(failed, "container "+c.Name+": "+err.Error())
			}
		}
	}
	ns, err := eng.Networks(ctx)
	if err != nil {
		return err
	}
	for _, n := range ns {
		if ours(n.Name, n.Labels) {
			if err := eng.RemoveNetwork(ctx, n.ID); err != nil && !engine.IsNotFound(err) {
				failed = append(failed, "network "+n.Name+": "+err.Error())
			}
		}
	}
	vs, err := eng.Volumes(ctx)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if ours(v.Name, v.Labels) {
			if err := eng.RemoveVolume(ctx, v.Name); err != nil && !engine.IsNotFound(err) {
				failed = append(failed, "volume "+v.Name+": "+err.Error())
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("purge %s left: %s", token, strings.Join(failed, "; "))
	}
	return nil
}
