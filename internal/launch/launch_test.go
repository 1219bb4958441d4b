package launch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"

	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// fake is an engine whose calls record what exists; a test sets fail to
// make one call fail. Calls a launch must not make fail the test.
type fake struct {
	t    *testing.T
	mu   sync.Mutex
	n    int
	live map[string]map[string]string // id -> labels
	fail func(op, name string) error
	log  []string
	// sidecar answers ContainerStatus and the readiness probe: the nth
	// probe (from 1) sees this state and probe exit code; nil: running, 0.
	sidecar func(n int) (engine.Status, int)
	probes  int
	aliases map[string][]string // container or network name -> aliases given
}

func (f *fake) do(op, name string, labels map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, op+" "+name)
	if f.fail != nil {
		if err := f.fail(op, name); err != nil {
			return "", err
		}
	}
	if labels == nil {
		return "", nil
	}
	f.n++
	id := fmt.Sprintf("%s-%d", op, f.n)
	if op == "volume" {
		id = name
	}
	f.live[id] = labels
	return id, nil
}

func (f *fake) gone(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "rm "+id)
	delete(f.live, id)
	return nil
}

func (f *fake) CreateNetwork(_ context.Context, s engine.NetworkSpec) (string, error) {
	return f.do("network", s.Name, s.Labels)
}
func (f *fake) CreateVolume(_ context.Context, name string, l map[string]string) error {
	_, err := f.do("volume", name, l)
	return err
}
func (f *fake) CreateContainer(_ context.Context, s engine.ContainerSpec) (string, error) {
	f.alias(s.Name+"@"+s.Network, s.Aliases)
	return f.do("container", s.Name, s.Labels)
}
func (f *fake) Connect(_ context.Context, n, c string, aliases []string) error {
	f.alias(c+"@"+n, aliases)
	_, err := f.do("connect", n, nil)
	return err
}
func (f *fake) alias(key string, a []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.aliases == nil {
		f.aliases = map[string][]string{}
	}
	f.aliases[key] = a
}
func (f *fake) state() (engine.Status, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sidecar == nil {
		return engine.Status{State: "running"}, 0
	}
	return f.sidecar(f.probes + 1)
}
func (f *fake) ContainerStatus(_ context.Context, id string) (engine.Status, error) {
	_, err := f.do("status", id, nil)
	st, _ := f.state()
	return st, err
}
func (f *fake) Exec(_ context.Context, id string, cmd []string) (int, string, error) {
	_, err := f.do("probe", id+" "+strings.Join(cmd, " "), nil)
	_, code := f.state()
	f.mu.Lock()
	f.probes++
	f.mu.Unlock()
	return code, "", err
}
func (f *fake) Logs(_ context.Context, id string, tail int) (string, error) {
	_, err := f.do("logs", id, nil)
	return "pipelock: starting\nload TLS CA: parse CA key: x509: failed to parse private key\n", err
}
func (f *fake) ImageID(_ context.Context, ref string) (string, error) {
	return "sha256:" + ref, nil
}
func (f *fake) CopyTo(_ context.Context, id, _ string, r io.Reader) error {
	_, _ = io.Copy(io.Discard, r)
	_, err := f.do("copy", id, nil)
	return err
}
func (f *fake) StartContainer(_ context.Context, id string) error {
	_, err := f.do("start", id, nil)
	return err
}
func (f *fake) RemoveContainer(_ context.Context, id string) error { return f.gone(id) }
func (f *fake) RemoveNetwork(_ context.Context, id string) error   { return f.gone(id) }
func (f *fake) RemoveVolume(_ context.Context, name string) error  { return f.gone(name) }
func (f *fake) Containers(context.Context) ([]engine.Container, error) {
	return nil, nil
}
func (f *fake) Networks(context.Context) ([]engine.Network, error) { return nil, nil }
func (f *fake) Volumes(context.Context) ([]engine.Volume, error)   { return nil, nil }

func (f *fake) CopyFrom(context.Context, string, string) (io.ReadCloser, error) {
	f.t.Fatal("unexpected CopyFrom")
	return nil, nil
}
func (f *fake) Attach(context.Context, string, bool, bool) (*engine.Attachment, error) {
	f.t.Fatal("unexpected Attach")
	return nil, nil
}

// Wait and Kill: only the teardown kills (then waits for) its containers.
func (f *fake) Wait(_ context.Context, id string) (int, error) {
	_, err := f.do("wait", id, nil)
	return 0, err
}
func (f *fake) Kill(_ context.Context, id, signal string) error {
	_, err := f.do("kill", id+" "+signal, nil)
	return err
}
func (f *fake) Resize(context.Context, string, uint, uint) error {
	f.t.Fatal("unexpected Resize")
	return nil
}
func (f *fake) InspectContainer(context.Context, string) (engine.Container, error) {
	f.t.Fatal("unexpected InspectContainer")
	return engine.Container{}, nil
}
func (f *fake) InspectNetwork(context.Context, string) (engine.Network, error) {
	f.t.Fatal("unexpected InspectNetwork")
	return engine.Network{}, nil
}
func (f *fake) InspectVolume(context.Context, string) (engine.Volume, error) {
	f.t.Fatal("unexpected InspectVolume")
	return engine.Volume{}, nil
}

var _ engine.Launcher = (*fake)(nil)

func setup(t *testing.T) (*fake, Spec, Options) {
	f := &fake{t: t, live: map[string]map[string]string{}}
	s := Spec{Agent: "unit", Image: "img"}
	s.Defaults()
	return f, s, Options{Prefix: "bt-unit-", StateRoot: filepath.Join(t.TempDir(), "state"), Version: "v-test", Now: time.Now}
}

func TestStartLabelsEverything(t *testing.T) {
	f, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.live) != 5 {
		t.Fatalf("made %d resources, want 2 networks, a volume and 2 containers: %v", len(f.live), f.live)
	}
	for id, l := range f.live {
		if l[docker.LabelProject] != b.Project.Name || l[LabelSlug] != b.Project.Slug || l[LabelAgent] != "unit" || l[LabelVersion] != "v-test" {
			t.Errorf("%s: labels %v", id, l)
		}
		if strings.HasPrefix(id, "container") {
			for _, k := range []string{docker.LabelService, docker.LabelOneoff, docker.LabelNumber, docker.LabelConfigHash, docker.LabelWorkingDir, docker.LabelConfigFile, docker.LabelVersion} {
				if l[k] == "" {
					t.Errorf("%s: no %s label", id, k)
				}
			}
		}
	}
	// what compose writes besides: the image, depends_on, config-hash on
	// networks and the volume, a real compose version; each service's
	// name as an alias on every network it joins
	for id, l := range f.live {
		if l[docker.LabelVersion] != "2.40.3" {
			t.Errorf("%s: compose version %q", id, l[docker.LabelVersion])
		}
		if !strings.HasPrefix(id, "container") && l[docker.LabelConfigHash] == "" {
			t.Errorf("%s: no config-hash", id)
		}
		if strings.HasPrefix(id, "container") {
			want, image := "", "sha256:"+s.Sidecar.Image
			if l[docker.LabelService] == ServiceAgent {
				want, image = "sidecar:service_healthy:false", "sha256:img"
			}
			if dep, ok := l[LabelDependsOn]; !ok || dep != want {
				t.Errorf("%s: depends_on = %q, want %q", id, dep, want)
			}
			if l[LabelImage] != image {
				t.Errorf("%s: image label %q, want %q", id, l[LabelImage], image)
			}
		}
	}
	p := b.Project
	for key, want := range map[string]string{
		p.ContainerName(ServiceAgent) + "@" + p.NetworkName(NetInternal):   ServiceAgent,
		p.ContainerName(ServiceSidecar) + "@" + p.NetworkName(NetInternal): ServiceSidecar,
		b.ids[ServiceSidecar] + "@" + p.NetworkName(NetEgress):             ServiceSidecar,
	} {
		if !slices.Equal(f.aliases[key], []string{want}) {
			t.Errorf("aliases of %s = %v, want [%s]", key, f.aliases[key], want)
		}
	}
	// the compose file: no obsolete version, and `up` refused by compose
	cf, err := os.ReadFile(p.ComposeFile())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(cf, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["version"]; ok {
		t.Error("compose.json has the obsolete version attribute")
	}
	if n := strings.Count(string(cf), "${"+ComposeGuardVar+":?"); n != 2 {
		t.Errorf("compose.json has %d guards, want one per service:\n%s", n, cf)
	}
	if !statedir.Locked(b.Project.StateDir) {
		t.Error("the state dir is not locked while the launcher runs")
	}
	if err := b.Detach(); err != nil {
		t.Fatal(err)
	}
	if statedir.Locked(b.Project.StateDir) {
		t.Error("the state dir is still locked after Detach")
	}
	info := b.Info()
	if info.Status != "running" || len(info.Containers) != 2 || info.Containers[0].Service != ServiceAgent {
		t.Errorf("Info = %+v", info)
	}
}

func TestStartFailureRemovesEverything(t *testing.T) {
	f, s, opt := setup(t)
	f.fail = func(op, name string) error {
		if op == "start" && strings.HasPrefix(name, "container") {
			return errors.New("boom")
		}
		return nil
	}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), "starting the ") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Start = %v", err)
	}
	if len(f.live) != 0 {
		t.Errorf("left behind: %v", f.live)
	}
	if des, _ := os.ReadDir(opt.StateRoot); len(des) != 0 {
		t.Errorf("state root holds %v", des)
	}
}

// The agent starts only once the sidecar answers its probe.
func TestStartWaitsForSidecar(t *testing.T) {
	f, s, opt := setup(t)
	s.Sidecar.Port = 9001
	f.sidecar = func(n int) (engine.Status, int) {
		if n < 3 {
			return engine.Status{State: "running"}, 1 // not listening yet
		}
		return engine.Status{State: "running"}, 0
	}
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Detach()
	sidecarStart := slices.Index(f.log, "start "+b.ids[ServiceSidecar])
	agentStart := slices.Index(f.log, "start "+b.ids[ServiceAgent])
	lastProbe := slices.IndexFunc(f.log, func(l string) bool {
		return l == "probe "+b.ids[ServiceSidecar]+" /pipelock healthcheck --addr 127.0.0.1:9001"
	})
	for i := lastProbe + 1; i < len(f.log); i++ {
		if strings.HasPrefix(f.log[i], "probe ") {
			lastProbe = i
		}
	}
	if sidecarStart < 0 || lastProbe < sidecarStart || agentStart < lastProbe || f.probes != 3 {
		t.Fatalf("want sidecar started, probed 3 times, then the agent started; log: %v", f.log)
	}
}

// A sidecar that exits at start-up fails the launch with its last log
// lines, is never reported running, and everything is removed.
func TestSidecarExitsAtStartup(t *testing.T) {
	f, s, opt := setup(t)
	f.sidecar = func(n int) (engine.Status, int) {
		if n < 2 {
			return engine.Status{State: "running"}, 1
		}
		return engine.Status{State: "exited", ExitCode: 1}, 1
	}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), "starting the sidecar: the sidecar ("+DefaultSidecarImage+") exited with code 1 during start-up; its last log lines: pipelock: starting | load TLS CA: parse CA key") {
		t.Fatalf("Start = %v", err)
	}
	if slices.ContainsFunc(f.log, func(l string) bool {
		return strings.HasPrefix(l, "start container") && strings.Contains(l, "-"+strings.Split(f.log[0], " ")[0])
	}) {
		t.Log(f.log)
	}
	for _, l := range f.log {
		if strings.HasPrefix(l, "start ") && !strings.Contains(l, "container-") {
			t.Errorf("unexpected %s", l)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(f.log), func(l string) bool { return !strings.HasPrefix(l, "start ") })); n != 1 {
		t.Errorf("the agent was started with a dead sidecar: %v", f.log)
	}
	if len(f.live) != 0 {
		t.Errorf("left behind: %v", f.live)
	}
	if des, _ := os.ReadDir(opt.StateRoot); len(des) != 0 {
		t.Errorf("state root holds %v", des)
	}
}

// A sidecar that stops between the status and the probe: the exec fails
// as a command that cannot run (126), but the error says it exited.
func TestSidecarExitsDuringProbe(t *testing.T) {
	f, s, opt := setup(t)
	calls := 0
	f.sidecar = func(int) (engine.Status, int) {
		calls++
		if calls == 1 {
			return engine.Status{State: "running"}, 126
		}
		return engine.Status{State: "exited", ExitCode: 2}, 126
	}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), "exited with code 2 during start-up") {
		t.Fatalf("Start = %v", err)
	}
}

// An image without /pipelock fails at once, not after the timeout.
func TestSidecarWithoutPipelock(t *testing.T) {
	f, s, opt := setup(t)
	f.sidecar = func(int) (engine.Status, int) { return engine.Status{State: "running"}, 127 }
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), "has no runnable /pipelock") || f.probes != 1 {
		t.Fatalf("Start = %v after %d probes", err, f.probes)
	}
}

func TestAddressPoolsExhausted(t *testing.T) {
	f, s, opt := setup(t)
	f.fail = func(op, name string) error {
		if op == "network" && strings.HasSuffix(name, "_egress") {
			return errors.New("Error response from daemon: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
		}
		return nil
	}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), "leaked networks") || !strings.Contains(err.Error(), "bottle-cleanup") {
		t.Fatalf("Start = %v, want the leaked-networks hint", err)
	}
	if len(f.live) != 0 {
		t.Errorf("left behind: %v", f.live)
	}
	if slices.ContainsFunc(f.log, func(s string) bool { return strings.HasPrefix(s, "container") }) {
		t.Errorf("containers were created after the networks failed: %v", f.log)
	}
}

func TestStartInterrupted(t *testing.T) {
	f, s, opt := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.fail = func(op, name string) error {
		if op == "volume" {
			cancel() // the person presses Ctrl-C while the volume is made
		}
		return nil
	}
	_, err := Start(ctx, f, s, opt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want context.Canceled", err)
	}
	if len(f.live) != 0 {
		t.Errorf("left behind: %v", f.live)
	}
}

// The teardown kills each container first and removes a network as soon as
// the containers on it have stopped, before their removal is done; the
// volume waits until the agent container is gone.
func TestTeardownOrder(t *testing.T) {
	f := &fake{t: t, live: map[string]map[string]string{}}
	spec := Spec{Agent: "order", Image: "img", Sidecar: Sidecar{Image: "proxy"}}
	spec.Defaults()
	b, err := Start(context.Background(), f, spec, Options{Prefix: "bt-order-", StateRoot: t.TempDir(), Version: "test", Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer b.lock.Release()
	f.mu.Lock()
	f.log = nil
	f.mu.Unlock()
	if err := b.teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	pos := func(prefix string) int {
		for i, l := range f.log {
			if strings.HasPrefix(l, prefix) {
				return i
			}
		}
		t.Fatalf("no %q in %v", prefix, f.log)
		return -1
	}
	agent, sidecar := b.containers[0], b.containers[1]
	if agent.Service != ServiceAgent {
		agent, sidecar = sidecar, agent
	}
	internal, egress := b.Project.NetworkName(NetInternal), b.Project.NetworkName(NetEgress)
	var internalID, egressID string
	for _, n := range b.networks {
		switch n.Name {
		case internal:
			internalID = n.ID
		case egress:
			egressID = n.ID
		}
	}
	for _, c := range []bottle.Container{agent, sidecar} {
		if pos("kill "+c.ID+" KILL") > pos("rm "+c.ID) || pos("wait "+c.ID) > pos("rm "+c.ID) {
			t.Errorf("%s was not killed and waited for before its removal: %v", c.Name, f.log)
		}
	}
	if pos("rm "+internalID) < pos("wait "+agent.ID) || pos("rm "+internalID) < pos("wait "+sidecar.ID) {
		t.Errorf("the internal network went before both containers stopped: %v", f.log)
	}
	if pos("rm "+egressID) < pos("wait "+sidecar.ID) {
		t.Errorf("the egress network went before the sidecar stopped: %v", f.log)
	}
	if pos("rm "+b.Project.VolumeName(VolHome)) < pos("rm "+agent.ID) {
		t.Errorf("the volume went before the agent container: %v", f.log)
	}
	if len(f.live) != 0 {
		t.Errorf("left: %v", f.live)
	}
}
