package enginetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// docker runs the docker CLI against host (the machine's engine when "")
// with extra environment, and returns its trimmed output.
func docker(t *testing.T, host string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(os.Environ(), env...)
	if host != "" {
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+host)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s (DOCKER_HOST=%s): %v\n%s", strings.Join(args, " "), host, err, out)
	}
	return strings.TrimSpace(string(out))
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.Split(s, "\n")
	slices.Sort(out)
	return out
}

// TestSecondEngine: a second dockerd starts beside the machine's engine,
// runs containers and holds networks of its own that the machine's engine
// does not see (and the other way round); stopped, it leaves no process,
// bridge, mount or directory, and the machine's engine still starts
// containers on its default bridge (docker0), which `--bridge none` would
// have deleted.
func TestSecondEngine(t *testing.T) {
	s := NeedService(t, Engine2)
	token := Token()
	t.Cleanup(func() { _ = Purge(token) })
	name := Prefix(token) + "two"
	docker(t, s.Host, nil, "network", "create", name)
	docker(t, s.Host, nil, "run", "-d", "--name", name, "--network", name, SleeperImage)
	if got := lines(docker(t, s.Host, nil, "ps", "-aq", "--no-trunc")); len(got) != 1 {
		t.Errorf("the second engine holds containers %q; want only the one made there", got)
	}
	if got := docker(t, "", nil, "ps", "-aq", "--filter", "name="+name); got != "" {
		t.Errorf("the machine's engine sees the second engine's container: %q", got)
	}
	subnet := docker(t, s.Host, nil, "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", name)
	if !strings.HasPrefix(subnet, "10.2") {
		t.Errorf("the second engine's network has subnet %q; want one of its own pools (10.200-231.x)", subnet)
	}
	bridge, err := os.ReadFile(filepath.Join(s.Dir, "bridge"))
	if err != nil {
		t.Fatal(err)
	}
	pidfile, err := os.ReadFile(filepath.Join(s.Dir, "dockerd.pid"))
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after stop (%v)", s.Dir, err)
	}
	if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pidfile))); err == nil {
		t.Errorf("dockerd %s still runs after stop", strings.TrimSpace(string(pidfile)))
	}
	for _, link := range []string{strings.TrimSpace(string(bridge))} {
		if exec.Command("ip", "link", "show", link).Run() == nil {
			t.Errorf("bridge %s is still there after stop", link)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), s.Dir) {
		t.Errorf("something is still mounted under %s", s.Dir)
	}
	if exec.Command("ip", "link", "show", "docker0").Run() != nil {
		t.Error("the host's docker0 is gone")
	}
	docker(t, "", nil, "run", "--rm", "--network", "bridge", "--name", Prefix(token)+"one", SleeperImage, "0")
}

// TestSSHServer: the private sshd logs root in with the throwaway key and
// runs `docker system dial-stdio`, so the docker CLI over ssh:// sees the
// machine's engine; a key it does not know is refused.
func TestSSHServer(t *testing.T) {
	s := NeedService(t, SSHD)
	path := []string{"PATH=" + s.SSH.Path(os.Getenv("PATH"))}
	want := docker(t, "", nil, "info", "--format", "{{.ID}}")
	if got := docker(t, s.Host, path, "info", "--format", "{{.ID}}"); got != want {
		t.Errorf("over %s the engine is %q; want the machine's, %q", s.Host, got, want)
	}
	cmd := exec.Command("/usr/bin/ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile="+filepath.Join(s.Dir, "known_hosts"), "-i", s.SSH.StrangerKey, "-p", strconv.Itoa(s.SSH.Port), "root@127.0.0.1", "true")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Errorf("a stranger's key: %v, %s; want Permission denied", err, out)
	}
}

// TestPodmanService: podman's API answers on its private socket with the
// test images loaded, starts a container (explicit ulimits), and stopped,
// leaves nothing.
func TestPodmanService(t *testing.T) {
	s := NeedService(t, Podman)
	if v := docker(t, s.Host, nil, "version", "--format", "{{range .Server.Components}}{{.Name}} {{end}}"); !strings.Contains(v, "Podman") {
		t.Fatalf("the engine at %s is %q; want podman", s.Host, v)
	}
	docker(t, s.Host, nil, "run", "--rm", SleeperImage, "0")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("%s is still there after stop (%v)", s.Dir, err)
	}
	if out, _ := exec.Command("pgrep", "-f", s.Dir).Output(); len(out) > 0 {
		t.Errorf("processes of %s still run: %s", s.Dir, out)
	}
}
