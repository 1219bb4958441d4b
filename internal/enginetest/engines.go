package enginetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The engines and transports beside the machine's engine that tests start
// themselves, each with a script in scripts/ (which benches and people use
// too) and stopped after even when the test fails:
//
//	Engine2  a second dockerd (scripts/engine2.sh): its own bridge, data root,
//	         socket; the test images loaded into it
//	SSHD     an OpenSSH server on 127.0.0.1 (scripts/sshd.sh) that logs root
//	         in with a throwaway key: ssh://root@127.0.0.1:PORT reaches this
//	         machine's engine through `docker system dial-stdio`
//	Podman   podman's Docker-compatible API on a private socket
//	         (scripts/podman.sh, netavark); PodmanCNI with the CNI backend
//
// Each needs root and, for SSHD and Podman, a Debian package that the
// script installs when missing (scripts/test-deps.sh).
const (
	Engine2   = "engine2"
	SSHD      = "sshd"
	Podman    = "podman"
	PodmanCNI = "podman-cni"
)

// Service is one started engine or transport.
type Service struct {
	Kind string
	// Dir holds everything it made; Stop removes it.
	Dir string
	// Host is its DOCKER_HOST: unix://DIR/docker.sock, unix://DIR/podman.sock,
	// or ssh://root@127.0.0.1:PORT (which reaches the machine's engine).
	Host string
	// SSH (SSHD only) is the client side: Bin holds an `ssh` that runs the
	// real one with the server's client config; put it first on PATH.
	SSH *SSHClient

	stopOnce sync.Once
	stopErr  error
}

// SSHClient is how a client reaches an SSHD: the docker CLI's connection
// helper, like the toolkit's, runs plain `ssh` from PATH, and OpenSSH
// reads ~/.ssh from the passwd entry, never from $HOME, so a test gives the
// real ssh its config through a wrapper on PATH (scripts/sshd.sh).
type SSHClient struct {
	Port int
	// Bin is the directory of the wrapper `ssh`.
	Bin string
	// Config is the client config the wrapper passes with -F.
	Config string
	// NoDockerKey logs in with PATH=/nonexistent: no docker on the far
	// side. StrangerKey is authorized for no one.
	NoDockerKey, StrangerKey string
}

// URL returns the ssh:// DOCKER_HOST for user on this server.
func (c *SSHClient) URL(user string) string {
	return fmt.Sprintf("ssh://%s@127.0.0.1:%d", user, c.Port)
}

// Path returns PATH with the wrapper first.
func (c *SSHClient) Path(path string) string {
	return c.Bin + string(os.PathListSeparator) + path
}

// Start starts a service of kind, as its script does, with the test images
// loaded into an engine of its own. The machine's engine must be ready
// (Ready) for those. The caller stops it.
func Start(kind string) (*Service, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	// Short paths: the engines' unix sockets live under Dir.
	base, err := os.MkdirTemp("", "bt-"+strings.TrimPrefix(kind, "podman-")+".")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(base); err != nil { // the script makes it
		return nil, err
	}
	s := &Service{Kind: kind, Dir: base}
	script, args := scriptFor(root, kind)
	out, err := run(script, append([]string{"start", base}, args...)...)
	if err != nil {
		_ = s.Stop()
		return nil, err
	}
	switch kind {
	case SSHD:
		port, err := strconv.Atoi(out)
		if err != nil {
			_ = s.Stop()
			return nil, fmt.Errorf("%s start: port %q: %v", script, out, err)
		}
		s.SSH = &SSHClient{Port: port, Bin: filepath.Join(base, "bin"), Config: filepath.Join(base, "ssh_config"),
			NoDockerKey: filepath.Join(base, "nodocker_key"), StrangerKey: filepath.Join(base, "stranger_key")}
		s.Host = s.SSH.URL("root")
		return s, nil
	default:
		s.Host = out
	}
	images, err := testImages()
	if err == nil && len(images) > 0 {
		_, err = run(script, append([]string{"load", base}, images...)...)
	}
	if err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func scriptFor(root, kind string) (string, []string) {
	switch kind {
	case Engine2:
		return filepath.Join(root, "scripts", "engine2.sh"), nil
	case SSHD:
		return filepath.Join(root, "scripts", "sshd.sh"), nil
	case PodmanCNI:
		return filepath.Join(root, "scripts", "podman.sh"), []string{"cni"}
	default:
		return filepath.Join(root, "scripts", "podman.sh"), nil
	}
}

// Stop stops the service and removes its directory (once; later calls
// return the first's answer).
func (s *Service) Stop() error {
	s.stopOnce.Do(func() {
		root, err := Root()
		if err != nil {
			s.stopErr = err
			return
		}
		script, _ := scriptFor(root, s.Kind)
		_, s.stopErr = run(script, "stop", s.Dir)
	})
	return s.stopErr
}

// run runs a script and returns its stdout, trimmed; a failure carries its
// stderr.
func run(script string, args ...string) (string, error) {
	cmd := exec.Command(script, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", filepath.Base(script), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// testImages lists the test images on the machine's engine (bottle-test/*,
// and the real pipelock's image when BOTTLE_TEST_PIPELOCK_IMAGE names one
// that is there).
func testImages() ([]string, error) {
	out, err := exec.Command("docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=bottle-test/*").Output()
	if err != nil {
		return nil, fmt.Errorf("docker image ls: %v", err)
	}
	images := strings.Fields(string(out))
	if img := os.Getenv("BOTTLE_TEST_PIPELOCK_IMAGE"); img != "" && exec.Command("docker", "image", "inspect", img).Run() == nil {
		images = append(images, img)
	}
	return images, nil
}

// Need is Start for one test: it needs the machine's engine (Need), starts
// the service, and stops it when t ends. Where it cannot be started the
// test skips, except under CI=true, where it fails.
func NeedService(t testing.TB, kind string) *Service {
	t.Helper()
	Need(t)
	s, err := Start(kind)
	if err != nil {
		if Required() {
			t.Fatalf("CI=true but %s could not be started: %v", kind, err)
		}
		t.Skipf("%s could not be started (%v); under CI=true this fails", kind, err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping %s: %v", kind, err)
		}
	})
	return s
}

// SecondEngine starts a second dockerd for t (stopped when t ends) and
// returns its DOCKER_HOST.
func SecondEngine(t testing.TB) string { return NeedService(t, Engine2).Host }

var shared struct {
	sync.Mutex
	started map[string]*Service
	failed  map[string]error
}

// Shared starts a service of kind once per test binary (testscript scripts
// share it); StopShared stops them all. An earlier failure is returned
// again without trying anew.
func Shared(kind string) (*Service, error) {
	shared.Lock()
	defer shared.Unlock()
	if s := shared.started[kind]; s != nil {
		return s, nil
	}
	if err := shared.failed[kind]; err != nil {
		return nil, err
	}
	if shared.started == nil {
		shared.started, shared.failed = map[string]*Service{}, map[string]error{}
	}
	s, err := Start(kind)
	if err != nil {
		shared.failed[kind] = err
		return nil, err
	}
	shared.started[kind] = s
	return s, nil
}

// StopShared stops every service Shared started.
func StopShared() error {
	shared.Lock()
	defer shared.Unlock()
	var errs []string
	for kind, s := range shared.started {
		if err := s.Stop(); err != nil {
			errs = append(errs, err.Error())
		}
		delete(shared.started, kind)
	}
	if len(errs) > 0 {
		return fmt.Errorf("stopping test engines: %s", strings.Join(errs, "; "))
	}
	return nil
}

// SharedRunning returns the services Shared started that are still up.
func SharedRunning() []*Service {
	shared.Lock()
	defer shared.Unlock()
	var out []*Service
	for _, s := range shared.started {
		out = append(out, s)
	}
	return out
}
