package engine

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needSSH puts an ssh on PATH that runs the real one with no user
// configuration (-F /dev/null), in batch mode, knowing no host: the test
// never reads or writes the real ~/.ssh. Without /usr/bin/ssh the test
// skips, except under CI=true.
func needSSH(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/ssh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no /usr/bin/ssh: %v", err)
		}
		t.Skipf("no /usr/bin/ssh (%v); under CI=true this fails", err)
	}
	bin := t.TempDir()
	wrapper := "#!/bin/sh\nexec /usr/bin/ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// A host that takes the connection and never speaks (a hung sshd, a
// firewall that swallows the banner): the call ends within the engine's
// timeout, as one unreachable-engine error naming the endpoint, and the
// ssh it started is gone once the client is closed.
func TestSSHHostSilent(t *testing.T) {
	needSSH(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	host := "ssh://root@127.0.0.1:" + port
	c, err := Open(Endpoint{Host: host, Source: "DOCKER_HOST", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Containers(context.Background())
	took := time.Since(start)
	if !IsUnreachable(err) || !strings.Contains(err.Error(), host+" (from DOCKER_HOST)") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err %q, want one unreachable line naming %s", err, host)
	}
	if !strings.Contains(err.Error(), "within 2s; check that the host answers ssh and its dockerd is not hung") && !strings.Contains(err.Error(), "ssh: exit status 255: ") {
		t.Errorf("err %q: neither the call's bound nor ssh's own ConnectTimeout", err)
	}
	if took > 8*time.Second {
		t.Errorf("took %v with a 2s timeout", took)
	}
	t.Logf("%v after %v", err, took)
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("pgrep", "-f", "-p "+port+" ").Output()
		if len(out) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh to port %s still runs after Close: %s", port, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
