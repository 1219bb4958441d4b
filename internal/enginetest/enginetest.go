// Package enginetest is what every real-engine test shares: one lock so
// that only one engine suite runs on a machine at a time (the engine's
// default address pools hold about 30 networks), a unique prefix per test,
// the locally built test images, and a purge that removes everything a test
// made even when it failed. It never touches the default prefix.
package enginetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// LockMachine waits for the machine-wide engine-test lock and returns its
// release. Hold it for the whole of a suite that makes engine resources.
func LockMachine() (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "bottle-engine-tests.lock"), os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// Required reports whether engine tests must run (CI=true): then a missing
// engine fails them instead of skipping them.
func Required() bool { return os.Getenv("CI") == "true" }

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
func Purge(token string) error {
	if len(token) < 6 {
		return fmt.Errorf("refusing to purge with a short token %q", token)
	}
	eng, err := engine.Dial(os.Getenv)
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
