package engine

import (
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A socket the user may not use (EACCES) is an unreachable engine, with one
// clear error naming it. As root, a mode-000 socket is no obstacle, so the
// test runs itself again as nobody.
func TestPermissionDenied(t *testing.T) {
	if sock := os.Getenv("ENGINE_TEST_DENIED_SOCK"); sock != "" {
		checkDenied(t, sock)
		return
	}
	dir, err := os.MkdirTemp("", "bottle-engine-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Chmod(sock, 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		checkDenied(t, sock)
		return
	}
	// Run this test binary as nobody: copy it where nobody can read it.
	bin := filepath.Join(dir, "engine.test")
	if err := copyFile(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestPermissionDenied$", "-test.v")
	cmd.Env = append(os.Environ(), "ENGINE_TEST_DENIED_SOCK="+sock)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPermissionDenied") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

func checkDenied(t *testing.T, sock string) {
	c, err := Open(Endpoint{Host: "unix://" + sock, Source: "DOCKER_HOST"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Containers(ctx)
	if !IsUnreachable(err) {
		t.Fatalf("err %v, want an unreachable engine", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "cannot reach the Docker engine at unix://"+sock+" (from DOCKER_HOST): ") ||
		!strings.Contains(msg, "permission denied") || !strings.Contains(msg, "that you may use its socket") {
		t.Fatalf("err %q", msg)
	}
}

func copyFile(from, to string) error {
	r, err := os.Open(from)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// A socket nobody listens on, and one that hangs up at once: both are an
// unreachable engine, asked once per round of concurrent calls.
func TestUnreachable(t *testing.T) {
	dir := t.TempDir()
	hang := filepath.Join(dir, "hangup.sock")
	ln, err := net.Listen("unix", hang)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan int, 1)
	go func() {
		n := 0
		for {
			c, err := ln.Accept()
			if err != nil {
				accepted <- n
				return
			}
			n++
			c.Close()
		}
	}()
	for _, tc := range []struct{ sock, cause string }{
		{filepath.Join(dir, "nobody.sock"), "connect: no such file or directory"},
		{hang, ""}, // EOF or a reset, as the race goes
	} {
		c, err := Open(Endpoint{Host: "unix://" + tc.sock, Source: "DOCKER_HOST"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Volumes(context.Background())
		if !IsUnreachable(err) || !strings.Contains(err.Error(), tc.cause) || !strings.Contains(err.Error(), "unix://"+tc.sock+" (from DOCKER_HOST)") {
			t.Errorf("%s: err %v, want unreachable (%s)", tc.sock, err, tc.cause)
		}
		c.Close()
	}
	ln.Close()
	// HEAD /_ping, then GET /_ping: one negotiation, no list request.
	if n := <-accepted; n == 0 || n > 2 {
		t.Errorf("the hang-up socket was dialled %d times, want one ping (HEAD, then GET)", n)
	}
}
