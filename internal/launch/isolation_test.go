package launch

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

func TestNetworkIsolation(t *testing.T) {
	docker := engine.Network{Name: "p_internal", Internal: true, Options: map[string]string{engine.InhibitIPv4: "true"},
		Subnets: []engine.Subnet{{Subnet: "172.19.0.0/16", Gateway: "172.19.0.1"}}}
	never := func(netip.Addr) bool { return false }
	if why := networkIsolation(docker, never); why != "" {
		t.Fatalf("Docker's internal network refused: %s", why)
	}
	podman := docker
	podman.Options = map[string]string{} // what podman 4.3 answers
	podmanCNI := podman
	podmanCNI.Subnets = []engine.Subnet{{Subnet: "10.89.0.0/24", Gateway: "<nil>"}}
	routed := docker
	routed.Internal = false
	unread := docker
	unread.Unread = []engine.Unread{{Field: "Options", Err: "a JSON string where map was expected"}}
	for _, c := range []struct {
		name  string
		n     engine.Network
		holds func(netip.Addr) bool
		want  string
	}{
		{"podman", podman, never, "the engine did not keep com.docker.network.bridge.inhibit_ipv4=true on the agent's network p_internal (podman drops it), so the host keeps an address on it (172.19.0.1) through which"},
		{"podman with CNI", podmanCNI, never, "keeps an address on it (<nil>) through which"},
		{"not internal", routed, never, "with a route out"},
		{"unread", unread, never, "could not be read (Options (a JSON string where map was expected))"},
		{"the host holds the gateway", docker, func(a netip.Addr) bool { return a.String() == "172.19.0.1" }, "this host holds the address 172.19.0.1 on the agent's network p_internal although the engine reports"},
	} {
		if why := networkIsolation(c.n, c.holds); !strings.Contains(why, c.want) {
			t.Errorf("%s: %q, want %q", c.name, why, c.want)
		}
	}
}

func TestHostHolds(t *testing.T) {
	if !hostHolds(netip.MustParseAddr("127.0.0.1")) {
		t.Error("127.0.0.1 is this host's")
	}
	if hostHolds(netip.MustParseAddr("192.0.2.1")) { // TEST-NET-1: nobody's
		t.Error("192.0.2.1 is nobody's")
	}
}

// An engine that does not keep the host off the agent's network: the
// launch refuses in one line before any container is made, and nothing of
// the bottle is left, state dir included.
func TestStartRefusesHostOnAgentNetwork(t *testing.T) {
	f, w, s, opt := setup(t)
	inspect := f.OnInspectNetwork
	f.OnInspectNetwork = func(id string) (engine.Network, error) {
		n, err := inspect(id)
		n.Options = map[string]string{}
		return n, err
	}
	_, err := Start(context.Background(), f, s, opt)
	if !IsIsolation(err) || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "refusing to start the agent: the engine did not keep com.docker.network.bridge.inhibit_ipv4=true") {
		t.Fatalf("Start = %v, want one line refusing", err)
	}
	var ue *UndoError
	if held := w.Held(); errors.As(err, &ue) || len(held) != 0 || len(f.Specs()) != 0 {
		t.Fatalf("left %v (containers asked for: %d)", held, len(f.Specs()))
	}
	if des := stateDirs(t, opt.StateRoot); len(des) != 0 {
		t.Errorf("the state dir stays: %v", des)
	}
}

// An agent's network that does not reach the sidecar: the probe's check
// fails, the launch refuses before the agent starts, nothing is left.
func TestStartRefusesUnreachableSidecar(t *testing.T) {
	f, w, s, opt := setup(t)
	probe := bottle.ContainerName("", bottle.ServiceProbe)
	wait := f.OnWait
	f.OnWait = func(id string) (int, error) {
		if c, _ := w.Container(id); strings.HasSuffix(c.Name, probe) {
			return 1, nil
		}
		return wait(id)
	}
	f.OnLogs = func(string, int) (string, error) { return pipelockLogs, nil }
	var agentStarted atomic.Bool
	f.Before = func(verb, id string) error {
		if c, _ := w.Container(id); verb == "start" && strings.HasSuffix(c.Name, bottle.ContainerName("", bottle.ServiceAgent)) {
			agentStarted.Store(true)
		}
		return nil
	}
	_, err := Start(context.Background(), f, s, opt)
	if !IsIsolation(err) || !strings.Contains(err.Error(), "the sidecar does not answer at sidecar:8888 (its health check there exited 1") {
		t.Fatalf("Start = %v", err)
	}
	if held := w.Held(); len(held) != 0 {
		t.Fatalf("left %v", held)
	}
	if agentStarted.Load() {
		t.Errorf("the agent was started: %v", f.Log())
	}
}

// The probe runs the sidecar's own check against the name and port the
// agent's proxy settings use, on the agent's network only, and is gone
// once the launch returns.
func TestStartProbesFromAgentNetwork(t *testing.T) {
	f, w, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	var sp *engine.ContainerSpec
	specs := f.Specs()
	for i := range specs {
		if strings.HasSuffix(specs[i].Name, "-"+bottle.ServiceProbe+"-1") {
			sp = &specs[i]
		}
	}
	if sp == nil {
		t.Fatalf("no probe container among %d", len(specs))
	}
	if sp.Image != s.Sidecar.Image || strings.Join(append(sp.Entrypoint, sp.Cmd...), " ") != "/pipelock healthcheck --addr sidecar:8888" ||
		sp.Network != b.Project.NetworkName(bottle.NetInternal) || len(sp.Volumes)+len(sp.Binds) != 0 {
		t.Errorf("probe %+v", sp)
	}
	for _, c := range b.Info().Containers {
		if c.Service == bottle.ServiceProbe {
			t.Errorf("the probe is still part of the bottle: %+v", c)
		}
	}
	if held := w.Held(); len(held) != 5 {
		t.Errorf("live %v: want the probe removed", held)
	}
	// the agent starts after the probe ran
	probeAt, agentAt := -1, -1
	log := f.Log()
	for i, l := range log {
		if strings.HasPrefix(l, "wait ") && probeAt < 0 {
			probeAt = i
		}
		if l == "start "+b.AgentID() {
			agentAt = i
		}
	}
	if probeAt < 0 || agentAt < probeAt {
		t.Errorf("log %v: the agent must start after the probe ended", log)
	}
}
