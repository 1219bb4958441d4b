package launch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"

	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

func setup(t *testing.T) (*fake, Spec, Options) {
	f := &fake{t: t, live: map[string]res{}}
	s := Spec{Agent: "unit", Image: "img"}
	s.Defaults()
	return f, s, Options{Prefix: "bt-unit-", StateRoot: filepath.Join(t.TempDir(), "state"), Version: "v-test", Now: time.Now}
}

// Both images are looked up before anything is made, and every missing
// one is named in one error; the IDs found label the containers, with no
// second lookup.
func TestStartChecksImagesFirst(t *testing.T) {
	for _, c := range []struct {
		name    string
		missing []string
		sidecar string
		want    string
	}{
		{"both", []string{"img", DefaultSidecarImage}, "", "the agent image img and the sidecar image " + DefaultSidecarImage + " are not on this engine, and bottle-launch does not pull: docker pull them, or build them (docs/images.md says how); nothing was made"},
		{"sidecar", []string{"pl:local"}, "pl:local", "the sidecar image pl:local is not on this engine, and bottle-launch does not pull: docker pull it, or build it"},
		{"one image for both", []string{"img"}, "img", "the agent and sidecar image img is not on this engine"},
		{"engine down", nil, "", "cannot reach the Docker engine"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, s, opt := setup(t)
			if c.sidecar != "" {
				s.Sidecar.Image = c.sidecar
			}
			f.imageErr = func(ref string) error {
				if c.missing == nil {
					return &engine.UnreachableError{Endpoint: engine.Endpoint{Host: "unix:///nowhere.sock"}, Err: syscall.ENOENT}
				}
				if slices.Contains(c.missing, ref) {
					return errNotFound{}
				}
				return nil
			}
			_, err := Start(context.Background(), f, s, opt)
			var mi *MissingImagesError
			if err == nil || !strings.HasPrefix(err.Error(), c.want) || (c.missing != nil) != errors.As(err, &mi) {
				t.Fatalf("Start = %v, want %q", err, c.want)
			}
			if len(f.log) != 0 {
				t.Errorf("engine calls after the check: %v", f.log)
			}
			if _, err := os.Stat(opt.StateRoot); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the state root was made: %v", err)
			}
		})
	}
	f, s, opt := setup(t)
	if _, err := Start(context.Background(), f, s, opt); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.images, []string{"img", DefaultSidecarImage}) {
		t.Errorf("images looked up: %v, want each once", f.images)
	}
	for _, sp := range f.specs {
		if sp.Labels[LabelImage] != "sha256:"+sp.Image {
			t.Errorf("%s: image label %q", sp.Name, sp.Labels[LabelImage])
		}
	}
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
	for id, r := range f.live {
		l := r.labels
		if l[compose.LabelProject] != b.Project.Name || l[bottle.LabelSlug] != b.Project.Slug || l[bottle.LabelAgent] != "unit" || l[bottle.LabelVersion] != "v-test" {
			t.Errorf("%s: labels %v", id, l)
		}
		if strings.HasPrefix(id, "container") {
			for _, k := range []string{compose.LabelService, compose.LabelOneoff, compose.LabelNumber, compose.LabelConfigHash, compose.LabelWorkingDir, compose.LabelConfigFile, compose.LabelVersion} {
				if l[k] == "" {
					t.Errorf("%s: no %s label", id, k)
				}
			}
		}
	}
	// what compose writes besides: the image, depends_on, config-hash on
	// networks and the volume, a real compose version; each service's
	// name as an alias on every network it joins
	for id, r := range f.live {
		l := r.labels
		if l[compose.LabelVersion] != "5.6.0" {
			t.Errorf("%s: compose version %q", id, l[compose.LabelVersion])
		}
		if !strings.HasPrefix(id, "container") && l[compose.LabelConfigHash] == "" {
			t.Errorf("%s: no config-hash", id)
		}
		if strings.HasPrefix(id, "container") {
			want, image := "", "sha256:"+s.Sidecar.Image
			if l[compose.LabelService] == bottle.ServiceAgent {
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
		p.ContainerName(bottle.ServiceAgent) + "@" + p.NetworkName(bottle.NetInternal):   bottle.ServiceAgent,
		p.ContainerName(bottle.ServiceSidecar) + "@" + p.NetworkName(bottle.NetInternal): bottle.ServiceSidecar,
		b.ids[bottle.ServiceSidecar] + "@" + p.NetworkName(bottle.NetEgress):             bottle.ServiceSidecar,
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
	if info.Status != "running" || len(info.Containers) != 2 || info.Containers[0].Service != bottle.ServiceAgent {
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
	if des := stateDirs(t, opt.StateRoot); len(des) != 0 {
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
	sidecarStart := slices.Index(f.log, "start "+b.ids[bottle.ServiceSidecar])
	agentStart := slices.Index(f.log, "start "+b.ids[bottle.ServiceAgent])
	lastProbe := slices.IndexFunc(f.log, func(l string) bool {
		return l == "probe "+b.ids[bottle.ServiceSidecar]+" /pipelock healthcheck --addr 127.0.0.1:9001"
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
	agentStarted := false
	f.hook = func(op, id string) {
		if op == "start" {
			f.mu.Lock()
			agentStarted = agentStarted || strings.HasSuffix(f.live[id].name, bottle.ContainerName("", bottle.ServiceAgent))
			f.mu.Unlock()
		}
	}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.HasPrefix(err.Error(), "the sidecar ("+DefaultSidecarImage+") exited with code 1 during start-up; its last log lines: pipelock: starting | load TLS CA: parse CA key") || !strings.HasSuffix(err.Error(), " (while starting the sidecar)") {
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
	if agentStarted {
		t.Errorf("the agent was started with a dead sidecar: %v", f.log)
	}
	if len(f.live) != 0 {
		t.Errorf("left behind: %v", f.live)
	}
	if des := stateDirs(t, opt.StateRoot); len(des) != 0 {
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
	// The containers are made beside the egress network (each once the
	// agent's network is made and checked), so some may be: none starts.
	if slices.ContainsFunc(f.log, func(s string) bool { return strings.HasPrefix(s, "start ") }) {
		t.Errorf("a container was started although a network failed: %v", f.log)
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
	f := &fake{t: t, live: map[string]res{}}
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
	// A container's removal is slow (the engine deletes its file system):
	// it is held back until both networks were removed, or 2 s. A teardown
	// that made the networks wait for it would remove them only after.
	f.hook = func(op, id string) {
		if op != "rm" || !strings.HasPrefix(id, "container") {
			return
		}
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			f.mu.Lock()
			n := 0
			for _, l := range f.log {
				if strings.HasPrefix(l, "rm network") {
					n++
				}
			}
			f.mu.Unlock()
			if n == 2 {
				return
			}
		}
	}
	if err := b.teardown(context.Background(), nil); err != nil {
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
	if agent.Service != bottle.ServiceAgent {
		agent, sidecar = sidecar, agent
	}
	internal, egress := b.Project.NetworkName(bottle.NetInternal), b.Project.NetworkName(bottle.NetEgress)
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
	if pos("rm "+egressID) < pos("disconnect "+sidecar.ID+"@"+egressID) {
		t.Errorf("the egress network went before the sidecar was taken off it: %v", f.log)
	}
	for _, c := range []bottle.Container{agent, sidecar} {
		if pos("rm "+internalID) > pos("rm "+c.ID) {
			t.Errorf("the internal network waited for the removal of %s, not just its stop: %v", c.Name, f.log)
		}
	}
	if pos("rm "+egressID) > pos("rm "+sidecar.ID) {
		t.Errorf("the egress network waited for the sidecar's removal, not just its stop: %v", f.log)
	}
	if pos("rm "+b.Project.VolumeName(bottle.VolHome)) < pos("rm "+agent.ID) {
		t.Errorf("the volume went before the agent container: %v", f.log)
	}
	if len(f.live) != 0 {
		t.Errorf("left: %v", f.live)
	}
}

// The sidecar's stop (two endpoints to let go of) is slow: the egress
// network goes once the sidecar is taken off it, without waiting for the
// stop; when the engine refuses that, it waits for the stop.
func TestTeardownEgressBeforeSidecarStops(t *testing.T) {
	for _, refused := range []bool{false, true} {
		t.Run(fmt.Sprintf("disconnect refused %v", refused), func(t *testing.T) {
			f := &fake{t: t, live: map[string]res{}}
			spec := Spec{Agent: "egress", Image: "img"}
			spec.Defaults()
			b, err := Start(context.Background(), f, spec, Options{Prefix: "bt-egress-", StateRoot: t.TempDir(), Version: "test", Now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer b.lock.Release()
			sidecar, egressID := b.serviceID(bottle.ServiceSidecar), ""
			for _, n := range b.networks {
				if n.Name == b.Project.NetworkName(bottle.NetEgress) {
					egressID = n.ID
				}
			}
			if refused {
				f.fail = func(op, _ string) error {
					if op == "disconnect" {
						return errors.New("Error response from daemon: cannot disconnect")
					}
					return nil
				}
			}
			f.mu.Lock()
			f.log = nil
			f.mu.Unlock()
			// the sidecar stops only once the egress network is gone, or
			// after 2 s
			f.hook = func(op, id string) {
				if op != "wait" || id != sidecar {
					return
				}
				for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					f.mu.Lock()
					gone := slices.Contains(f.log, "rm "+egressID)
					f.mu.Unlock()
					if gone {
						return
					}
				}
			}
			if err := b.teardown(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			rm, stop := slices.Index(f.log, "rm "+egressID), slices.Index(f.log, "wait "+sidecar)
			if rm < 0 || stop < 0 || (rm < stop) == refused {
				t.Errorf("egress network removed at %d, the sidecar stopped at %d: %v", rm, stop, f.log)
			}
			if len(f.live) != 0 {
				t.Errorf("left: %v", f.live)
			}
		})
	}
}

// A create whose answer is lost (an interrupt, a reset connection) may
// still be done by the engine, and may show up in its listing only later:
// the undo of a failed start finds it by the bottle's labels and lists
// again until nothing of the bottle is left.
func TestStartUndoesLateCreate(t *testing.T) {
	f, s, opt := setup(t)
	f.loseIf = func(op, name string) bool { return op == "network" && strings.HasSuffix(name, "_egress") }
	_, err := Start(context.Background(), f, s, opt)
	var ue *UndoError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Start = %v, want the create's error and a clean undo", err)
	}
	if len(f.live) != 0 || len(f.pending) != 0 {
		t.Errorf("left behind: %v (pending %v)", f.live, f.pending)
	}
}

// An interrupted start whose cleanup cannot remove everything says so (an
// *UndoError naming what is left), never that it removed what was made.
func TestStartInterruptedUndoFails(t *testing.T) {
	f, s, opt := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.fail = func(op, name string) error {
		switch {
		case op == "volume":
			cancel()
		case op == "rm" && strings.HasSuffix(name, "_home"):
			return errors.New("boom")
		}
		return nil
	}
	_, err := Start(ctx, f, s, opt)
	var ue *UndoError
	if !errors.As(err, &ue) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want an *UndoError wrapping context.Canceled", err)
	}
	if !strings.Contains(ue.Undo.Error(), "still on the engine: volume bt-unit-unit-") {
		t.Errorf("Undo = %v, want it to name the volume", ue.Undo)
	}
	// the state dir stays, so the plan ties the volume to its bottle
	if des := stateDirs(t, opt.StateRoot); len(des) != 1 {
		t.Errorf("state root holds %v, want the bottle's dir", des)
	}
}

// sweep adds what the engine holds with the bottle's project label and the
// launch did not record; another project's resources are left alone.
func TestSweep(t *testing.T) {
	f, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.lock.Release()
	ours := b.Project.ContainerLabels(bottle.ServiceAgent, "x", "")
	other := Project{Name: b.Project.Name + "x"}.VolumeLabels(bottle.VolHome, "x")
	f.mu.Lock()
	f.live["stray-c"] = res{"container", b.Project.Name + "-agent-2", ours}
	f.live["stray-n"] = res{"network", b.Project.Name + "_extra", b.Project.NetworkLabels("extra", "x")}
	f.live[b.Project.Name+"x_home"] = res{"volume", b.Project.Name + "x_home", other}
	f.mu.Unlock()
	n, err := b.sweep(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("sweep = %d, %v; want the stray container and network", n, err)
	}
	if n, _ := b.sweep(context.Background()); n != 0 {
		t.Errorf("a second sweep added %d", n)
	}
	if err := b.removeAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.live) != 1 {
		t.Errorf("left: %v, want only the other project's volume", f.live)
	}
}

// Creates that could not even connect to the engine made nothing: the
// failed start says so without listing an engine it cannot reach.
func TestStartEngineUnreachable(t *testing.T) {
	f, s, opt := setup(t)
	f.fail = func(op, name string) error {
		return &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}
	}
	_, err := Start(context.Background(), f, s, opt)
	var ue *UndoError
	if err == nil || errors.As(err, &ue) {
		t.Fatalf("Start = %v, want the create's error alone", err)
	}
	if slices.ContainsFunc(f.log, func(l string) bool { return strings.HasPrefix(l, "list ") }) {
		t.Errorf("listed an engine it could not reach: %v", f.log)
	}
	if des := stateDirs(t, opt.StateRoot); len(des) != 0 {
		t.Errorf("state root holds %v", des)
	}
}
