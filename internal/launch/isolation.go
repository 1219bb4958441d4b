package launch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
)

// What a bottle promises of the agent's network — no route out, no address
// of the host on it, the sidecar reachable — is asked for when the
// networks are made and then checked on the engine that made them, since
// an engine may accept what it does not do: podman 4.3 drops
// com.docker.network.bridge.inhibit_ipv4 without a word (the host keeps
// its address on the internal bridge, reachable from the agent), and its
// netavark, beside Docker's firewall chains, keeps containers on one
// internal network apart (the agent cannot reach its sidecar). A launch
// that finds either refuses before the agent starts, and removes what it
// made.
//
// Two checks, both before the agent runs:
//
//   - checkNetwork, once the networks are made (one inspect, and on a
//     local engine one bind per subnet): the network is internal, the
//     engine kept inhibit_ipv4, and this host holds none of its gateway
//     addresses. A host that holds one answers the agent there; one that
//     does not cannot be reached on that network at all.
//   - probeSidecar, once the sidecar answers: a short-lived container of
//     the sidecar's image, on the agent's network only, runs the sidecar's
//     own health check against sidecar:<port> — the name and port the
//     agent's proxy settings use — through the engine's DNS and bridge, as
//     the agent will.

// IsolationError says the engine does not give the agent the isolation a
// bottle promises: the launch refuses.
type IsolationError struct{ Why string }

func (e *IsolationError) Error() string {
	return "refusing to start the agent: " + e.Why + " (docs/backends.md: which engines isolate a bottle)"
}

// IsIsolation reports whether err is a launch refused for its isolation.
func IsIsolation(err error) bool {
	var ie *IsolationError
	return errors.As(err, &ie)
}

// checkNetwork inspects the agent's network as the engine made it.
func (b *Launched) checkNetwork(ctx context.Context) error {
	name := b.Project.NetworkName(bottle.NetInternal)
	id := name
	b.mu.Lock()
	for _, n := range b.networks {
		if n.Name == name {
			id = n.ID
		}
	}
	b.mu.Unlock()
	n, err := b.eng.InspectNetwork(ctx, id)
	if err != nil {
		return &StepError{"checking the agent's network", err}
	}
	holds := func(netip.Addr) bool { return false }
	if local(b.eng) {
		holds = hostHolds
	}
	if why := networkIsolation(n, holds); why != "" {
		return &StepError{"checking the agent's network", &IsolationError{why}}
	}
	return nil
}

// local reports whether the engine is on this host (a unix socket): then
// its bridges' addresses are this host's.
func local(eng engine.Launcher) bool {
	e, ok := eng.(interface{ Endpoint() engine.Endpoint })
	return ok && strings.HasPrefix(e.Endpoint().Host, "unix://")
}

// networkIsolation says why network n, the agent's, does not isolate it,
// or "". holds reports whether this host holds an address (always false
// when the engine is elsewhere).
func networkIsolation(n engine.Network, holds func(netip.Addr) bool) string {
	if engine.HasUnread(n.Unread, "Internal", "Options") {
		return fmt.Sprintf("the engine's description of the agent's network %s could not be read (%s), so its isolation cannot be checked", n.Name, engine.UnreadText(n.Unread))
	}
	if !n.Internal {
		return fmt.Sprintf("the engine made the agent's network %s with a route out (it is not internal)", n.Name)
	}
	var gateways []string
	for _, s := range n.Subnets {
		if s.Gateway != "" {
			gateways = append(gateways, s.Gateway)
		}
	}
	if n.Options[engine.InhibitIPv4] != "true" {
		at := ""
		if len(gateways) > 0 {
			at = " (" + strings.Join(gateways, ", ") + ")"
		}
		return fmt.Sprintf("the engine did not keep %s=true on the agent's network %s (podman drops it), so the host keeps an address on it%s through which the agent could reach this machine's services", engine.InhibitIPv4, n.Name, at)
	}
	for _, g := range gateways {
		if ip, err := netip.ParseAddr(g); err == nil && ip.Is4() && holds(ip) {
			return fmt.Sprintf("this host holds the address %s on the agent's network %s although the engine reports %s=true, so the agent could reach this machine's services through it", g, n.Name, engine.InhibitIPv4)
		}
	}
	return ""
}

// hostHolds reports whether this host has the address: a listener can be
// bound to it (a port of the system's choosing, closed at once).
func hostHolds(ip netip.Addr) bool {
	l, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// probeTimeout bounds the probe container's run; the sidecar's health
// check gives up on its own after 3 s.
const probeTimeout = 20 * time.Second

// createProbe makes the probe container (beside the agent and the sidecar,
// so its making costs the launch nothing): the sidecar's image, nothing
// mounted, on the agent's network only, running the sidecar's health
// check against sidecar:<port>.
func (b *Launched) createProbe(ctx context.Context) error {
	p, s := b.Project, b.spec
	probe := sidecarProbeAt(b.probeAddr())
	labels := p.own()
	labels[compose.LabelService] = bottle.ServiceProbe
	labels[compose.LabelOneoff] = "True"
	_, err := b.createContainer(ctx, bottle.ServiceProbe, engine.ContainerSpec{
		Image: s.Sidecar.Image, Entrypoint: probe[:1], Cmd: probe[1:],
		Network: p.NetworkName(bottle.NetInternal), Labels: labels,
		CapDrop: DropAll, SecurityOpt: securityOpts(),
	})
	return err
}

func (b *Launched) probeAddr() string {
	return bottle.ServiceSidecar + ":" + strconv.Itoa(b.spec.Sidecar.Port)
}

const probeStep = "checking that the agent's network reaches the sidecar"

// runProbe runs the probe container once and returns its exit code.
func (b *Launched) runProbe(ctx context.Context) (int, error) {
	id := b.serviceID(bottle.ServiceProbe)
	if err := b.eng.StartContainer(ctx, id); err != nil {
		return -1, &StepError{probeStep, err}
	}
	wctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	code, err := b.eng.Wait(wctx, id)
	if err != nil {
		return -1, &StepError{probeStep, err}
	}
	return code, nil
}

// waitReachable returns once the started sidecar answers (waitSidecar)
// and the probe reached it from the agent's network. The probe's first run
// goes beside waitSidecar; one that ran before the sidecar listened runs
// again once it does, and a second failure refuses the launch.
func (b *Launched) waitReachable(ctx context.Context) error {
	type result struct {
		code int
		err  error
	}
	first := make(chan result, 1)
	go func() {
		code, err := b.runProbe(ctx)
		first <- result{code, err}
	}()
	werr := b.waitSidecar(ctx)
	r := <-first
	switch {
	case werr != nil:
		return werr
	case r.err != nil:
		return r.err
	case r.code == 0:
		return nil
	}
	code, err := b.runProbe(ctx)
	switch {
	case err != nil:
		return err
	case code == 0:
		return nil
	}
	why := fmt.Sprintf("from the agent's network %s the sidecar does not answer at %s (its health check there exited %d", b.Project.NetworkName(bottle.NetInternal), b.probeAddr(), code)
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if logs, lerr := b.eng.Logs(lctx, b.serviceID(bottle.ServiceProbe), sidecarLogLines); lerr == nil && strings.TrimSpace(logs) != "" {
		why += ": " + oneLine(logs)
	}
	return &StepError{probeStep, &IsolationError{why + "), so the agent could not reach its proxy: the engine keeps containers on an internal network apart (podman's netavark does beside Docker's firewall)"}}
}

// removeProbe removes the probe container in the background; the returned
// function waits for that and says how it went. Until it is gone the probe
// is one of the bottle's containers (a failed launch removes it with them).
func (b *Launched) removeProbe(ctx context.Context) (wait func() error) {
	id := b.serviceID(bottle.ServiceProbe)
	done := make(chan error, 1)
	go func() {
		err := b.eng.RemoveContainer(ctx, id)
		if err != nil && !engine.IsNotFound(err) {
			done <- &StepError{"removing the isolation probe", err}
			return
		}
		b.forget(bottle.ServiceProbe, id)
		done <- nil
	}()
	return sync.OnceValue(func() error { return <-done })
}

// forget drops a removed container of service from what the launch
// made, so that no sweep looks for it again.
func (b *Launched) forget(service, id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.ids, service)
	for i, c := range b.containers {
		if c.ID == id {
			b.containers = append(b.containers[:i], b.containers[i+1:]...)
			return
		}
	}
}

func (b *Launched) serviceID(service string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[service]
}
