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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"

	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// newEngine is the strict fake engine wired as one a launch runs on. Every
// network it is asked for is checked: the agent's (internal) one is
// internal and keeps the host off it, the egress one neither.
func newEngine(t *testing.T) (*enginefake.Engine, *enginefake.World) {
	f, w := enginefake.New(t), enginefake.NewWorld()
	w.WireLauncher(f)
	create := f.OnCreateNetwork
	f.OnCreateNetwork = func(s engine.NetworkSpec) (string, error) {
		if in := strings.HasSuffix(s.Name, "_"+bottle.NetInternal); s.Internal != in || s.NoHostAddress != in {
			t.Errorf("network %s: internal=%v, no host address=%v", s.Name, s.Internal, s.NoHostAddress)
		}
		return create(s)
	}
	return f, w
}

func setup(t *testing.T) (*enginefake.Engine, *enginefake.World, Spec, Options) {
	f, w := newEngine(t)
	s := Spec{Agent: "unit", Image: "img"}
	s.Defaults()
	return f, w, s, Options{Prefix: "bt-unit-", StateRoot: filepath.Join(t.TempDir(), "state"), Version: "v-test", Now: time.Now}
}

// pipelockLogs is what a pipelock that cannot start writes.
const pipelockLogs = "pipelock: starting\nload TLS CA: parse CA key: x509: failed to parse private key\n"

// sidecarSays makes the sidecar answer its status and readiness probe as
// says: the nth probe (from 1), and the status calls before it, see its
// state and probe exit code; its log lines are pipelockLogs.
func sidecarSays(f *enginefake.Engine, says func(n int) (engine.Status, int)) {
	f.OnContainerStatus = func(string) (engine.Status, error) {
		st, _ := says(len(f.Calls("exec")) + 1)
		return st, nil
	}
	f.OnExec = func(string, []string) (int, string, error) {
		_, code := says(len(f.Calls("exec")))
		return code, "", nil
	}
	f.OnLogs = func(string, int) (string, error) { return pipelockLogs, nil }
}

// labelled are the labels of every resource w holds, by "kind ID" (a
// volume's name for its ID).
func labelled(w *enginefake.World) map[string]map[string]string {
	out := map[string]map[string]string{}
	for id, c := range w.Containers {
		out["container "+id] = c.Labels
	}
	for id, n := range w.Networks {
		out["network "+id] = n.Labels
	}
	for name, v := range w.Volumes {
		out["volume "+name] = v.Labels
	}
	return out
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
			f, _, s, opt := setup(t)
			if c.sidecar != "" {
				s.Sidecar.Image = c.sidecar
			}
			found := f.OnImageID
			f.OnImageID = func(ref string) (string, error) {
				if c.missing == nil {
					return "", &engine.UnreachableError{Endpoint: engine.Endpoint{Host: "unix:///nowhere.sock"}, Err: syscall.ENOENT}
				}
				if slices.Contains(c.missing, ref) {
					return "", enginefake.NotFound("image: " + ref)
				}
				return found(ref)
			}
			_, err := Start(context.Background(), f, s, opt)
			var mi *MissingImagesError
			if err == nil || !strings.HasPrefix(err.Error(), c.want) || (c.missing != nil) != errors.As(err, &mi) {
				t.Fatalf("Start = %v, want %q", err, c.want)
			}
			if calls := slices.DeleteFunc(f.Log(), func(l string) bool { return strings.HasPrefix(l, "image-id ") }); len(calls) != 0 {
				t.Errorf("engine calls after the check: %v", calls)
			}
			if _, err := os.Stat(opt.StateRoot); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the state root was made: %v", err)
			}
		})
	}
	f, _, s, opt := setup(t)
	if _, err := Start(context.Background(), f, s, opt); err != nil {
		t.Fatal(err)
	}
	if images := f.Calls("image-id"); !slices.Equal(images, []string{"img", DefaultSidecarImage}) {
		t.Errorf("images looked up: %v, want each once", images)
	}
	for _, sp := range f.Specs() {
		if sp.Labels[LabelImage] != "sha256:"+sp.Image {
			t.Errorf("%s: image label %q", sp.Name, sp.Labels[LabelImage])
		}
	}
}

func TestStartLabelsEverything(t *testing.T) {
	f, w, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if held := w.Held(); len(held) != 5 {
		t.Fatalf("made %d resources, want 2 networks, a volume and 2 containers: %v", len(held), held)
	}
	for id, l := range labelled(w) {
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
	for id, l := range labelled(w) {
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
		b.ids[bottle.ServiceAgent] + "@" + p.NetworkName(bottle.NetInternal):   bottle.ServiceAgent,
		b.ids[bottle.ServiceSidecar] + "@" + p.NetworkName(bottle.NetInternal): bottle.ServiceSidecar,
		b.ids[bottle.ServiceSidecar] + "@" + p.NetworkName(bottle.NetEgress):   bottle.ServiceSidecar,
	} {
		if !slices.Equal(w.Aliases[key], []string{want}) {
			t.Errorf("aliases of %s = %v, want [%s]", key, w.Aliases[key], want)
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
	f, w, s, opt := setup(t)
	f.OnStartContainer = func(string) error { return errors.New("boom") }
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), "starting the ") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Start = %v", err)
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("left behind: %v", held)
	}
	if des := stateDirs(t, opt.StateRoot); len(des) != 0 {
		t.Errorf("state root holds %v", des)
	}
}

// The agent starts only once the sidecar answers its probe.
func TestStartWaitsForSidecar(t *testing.T) {
	f, _, s, opt := setup(t)
	s.Sidecar.Port = 9001
	sidecarSays(f, func(n int) (engine.Status, int) {
		if n < 3 {
			return engine.Status{State: "running"}, 1 // not listening yet
		}
		return engine.Status{State: "running"}, 0
	})
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Detach()
	log := f.Log()
	sidecarStart := slices.Index(log, "start "+b.ids[bottle.ServiceSidecar])
	agentStart := slices.Index(log, "start "+b.ids[bottle.ServiceAgent])
	lastProbe := slices.IndexFunc(log, func(l string) bool {
		return l == "exec "+b.ids[bottle.ServiceSidecar]+" /pipelock healthcheck --addr 127.0.0.1:9001"
	})
	for i := lastProbe + 1; i < len(log); i++ {
		if strings.HasPrefix(log[i], "exec ") {
			lastProbe = i
		}
	}
	if sidecarStart < 0 || lastProbe < sidecarStart || agentStart < lastProbe || len(f.Calls("exec")) != 3 {
		t.Fatalf("want sidecar started, probed 3 times, then the agent started; log: %v", log)
	}
}

// A sidecar that exits at start-up fails the launch with its last log
// lines, is never reported running, and everything is removed.
func TestSidecarExitsAtStartup(t *testing.T) {
	f, w, s, opt := setup(t)
	sidecarSays(f, func(n int) (engine.Status, int) {
		if n < 2 {
			return engine.Status{State: "running"}, 1
		}
		return engine.Status{State: "exited", ExitCode: 1}, 1
	})
	var made, agent sync.Map // the IDs of the containers the engine made; the agent's
	create := f.OnCreateContainer
	f.OnCreateContainer = func(sp engine.ContainerSpec) (string, error) {
		id, err := create(sp)
		if err == nil {
			made.Store(id, true)
			if strings.HasSuffix(sp.Name, bottle.ContainerName("", bottle.ServiceAgent)) {
				agent.Store(id, true)
			}
		}
		return id, err
	}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.HasPrefix(err.Error(), "the sidecar ("+DefaultSidecarImage+") exited with code 1 during start-up; its last log lines: pipelock: starting | load TLS CA: parse CA key") || !strings.HasSuffix(err.Error(), " (while starting the sidecar)") {
		t.Fatalf("Start = %v", err)
	}
	for _, id := range f.Calls("start") {
		if _, ok := made.Load(id); !ok {
			t.Errorf("unexpected start %s", id)
		}
	}
	// (the agent may not be made at all: it is made beside the sidecar's
	// start)
	for _, id := range f.Calls("start") {
		if _, ok := agent.Load(id); ok {
			t.Errorf("the agent (%s) was started with a dead sidecar: %v", id, f.Log())
		}
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("left behind: %v", held)
	}
	if des := stateDirs(t, opt.StateRoot); len(des) != 0 {
		t.Errorf("state root holds %v", des)
	}
}

// A sidecar that stops between the status and the probe: the exec fails
// as a command that cannot run (126), but the error says it exited.
func TestSidecarExitsDuringProbe(t *testing.T) {
	f, _, s, opt := setup(t)
	calls := 0
	sidecarSays(f, func(int) (engine.Status, int) {
		calls++
		if calls == 1 {
			return engine.Status{State: "running"}, 126
		}
		return engine.Status{State: "exited", ExitCode: 2}, 126
	})
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), "exited with code 2 during start-up") {
		t.Fatalf("Start = %v", err)
	}
}

// An image without /pipelock fails at once, not after the timeout.
func TestSidecarWithoutPipelock(t *testing.T) {
	f, _, s, opt := setup(t)
	sidecarSays(f, func(int) (engine.Status, int) { return engine.Status{State: "running"}, 127 })
	_, err := Start(context.Background(), f, s, opt)
	if probes := len(f.Calls("exec")); err == nil || !strings.Contains(err.Error(), "has no runnable /pipelock") || probes != 1 {
		t.Fatalf("Start = %v after %d probes", err, probes)
	}
}

func TestAddressPoolsExhausted(t *testing.T) {
	f, w, s, opt := setup(t)
	f.Before = func(verb, name string) error {
		if verb == "create-network" && strings.HasSuffix(name, "_egress") {
			return errors.New("Error response from daemon: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
		}
		return nil
	}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), "leaked networks") || !strings.Contains(err.Error(), "bottle-cleanup") {
		t.Fatalf("Start = %v, want the leaked-networks hint", err)
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("left behind: %v", held)
	}
	// The containers are made beside the egress network (each once the
	// agent's network is made and checked), so some may be: none starts.
	if starts := f.Calls("start"); len(starts) != 0 {
		t.Errorf("containers were started although a network failed: %v", f.Log())
	}
}

func TestStartInterrupted(t *testing.T) {
	f, w, s, opt := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.Before = func(verb, _ string) error {
		if verb == "create-volume" {
			cancel() // the person presses Ctrl-C while the volume is made
		}
		return nil
	}
	_, err := Start(ctx, f, s, opt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, want context.Canceled", err)
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("left behind: %v", held)
	}
}

// The teardown kills each container first and removes a network as soon as
// the containers on it have stopped, before their removal is done; the
// volume waits until the agent container is gone.
func TestTeardownOrder(t *testing.T) {
	f, w := newEngine(t)
	spec := Spec{Agent: "order", Image: "img", Sidecar: Sidecar{Image: "proxy"}}
	spec.Defaults()
	b, err := Start(context.Background(), f, spec, Options{Prefix: "bt-order-", StateRoot: t.TempDir(), Version: "test", Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer b.lock.Release()
	f.Forget()
	// A container's removal is slow (the engine deletes its file system):
	// it is held back until both networks were removed, or 2 s. A teardown
	// that made the networks wait for it would remove them only after.
	f.Before = func(verb, _ string) error {
		if verb != "rm-container-and-volumes" {
			return nil
		}
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if len(f.Calls("rm-network")) == 2 {
				return nil
			}
		}
		return nil
	}
	if err := b.teardown(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	log := f.Log()
	pos := func(prefix string) int {
		for i, l := range log {
			if strings.HasPrefix(l, prefix) {
				return i
			}
		}
		t.Fatalf("no %q in %v", prefix, log)
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
		if pos("kill "+c.ID+" KILL") > pos("rm-container-and-volumes "+c.ID) || pos("wait "+c.ID) > pos("rm-container-and-volumes "+c.ID) {
			t.Errorf("%s was not killed and waited for before its removal: %v", c.Name, log)
		}
	}
	if pos("rm-network "+internalID) < pos("wait "+agent.ID) || pos("rm-network "+internalID) < pos("wait "+sidecar.ID) {
		t.Errorf("the internal network went before both containers stopped: %v", log)
	}
	if pos("rm-network "+egressID) < pos("disconnect "+sidecar.ID+"@"+egressID) {
		t.Errorf("the egress network went before the sidecar was taken off it: %v", log)
	}
	for _, c := range []bottle.Container{agent, sidecar} {
		if pos("rm-network "+internalID) > pos("rm-container-and-volumes "+c.ID) {
			t.Errorf("the internal network waited for the removal of %s, not just its stop: %v", c.Name, log)
		}
	}
	if pos("rm-network "+egressID) > pos("rm-container-and-volumes "+sidecar.ID) {
		t.Errorf("the egress network waited for the sidecar's removal, not just its stop: %v", log)
	}
	if pos("rm-volume "+b.Project.VolumeName(bottle.VolHome)) < pos("rm-container-and-volumes "+agent.ID) {
		t.Errorf("the volume went before the agent container: %v", log)
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("left: %v", held)
	}
}

// The sidecar's stop (two endpoints to let go of) is slow: the egress
// network goes once the sidecar is taken off it, without waiting for the
// stop; when the engine refuses that, it waits for the stop.
func TestTeardownEgressBeforeSidecarStops(t *testing.T) {
	for _, refused := range []bool{false, true} {
		t.Run(fmt.Sprintf("disconnect refused %v", refused), func(t *testing.T) {
			f, w := newEngine(t)
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
			f.Forget()
			// the sidecar stops only once the egress network is gone, or
			// after 2 s
			f.Before = func(verb, id string) error {
				switch {
				case verb == "disconnect" && refused:
					return errors.New("Error response from daemon: cannot disconnect")
				case verb == "wait" && id == sidecar:
					for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
						if slices.Contains(f.Calls("rm-network"), egressID) {
							break
						}
					}
				}
				return nil
			}
			if err := b.teardown(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			log := f.Log()
			rm, stop := slices.Index(log, "rm-network "+egressID), slices.Index(log, "wait "+sidecar)
			if rm < 0 || stop < 0 || (rm < stop) == refused {
				t.Errorf("egress network removed at %d, the sidecar stopped at %d: %v", rm, stop, log)
			}
			if held := w.Held(); len(held) != 0 {
				t.Errorf("left: %v", held)
			}
		})
	}
}

// A create whose answer is lost (an interrupt, a reset connection) may
// still be done by the engine, and may show up in its listing only later:
// the undo of a failed start finds it by the bottle's labels and lists
// again until nothing of the bottle is left.
func TestStartUndoesLateCreate(t *testing.T) {
	f, w, s, opt := setup(t)
	create := f.OnCreateNetwork
	f.OnCreateNetwork = func(sp engine.NetworkSpec) (string, error) {
		id, err := create(sp)
		if err == nil && strings.HasSuffix(sp.Name, "_egress") {
			w.Late(id, 1) // made, but shown from the second listing on
			return "", errors.New("read: connection reset by peer")
		}
		return id, err
	}
	_, err := Start(context.Background(), f, s, opt)
	var ue *UndoError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Start = %v, want the create's error and a clean undo", err)
	}
	if held := w.Held(); len(held) != 0 || w.Pending() != 0 {
		t.Errorf("left behind: %v (pending %d)", held, w.Pending())
	}
}

// An interrupted start whose cleanup cannot remove everything says so (an
// *UndoError naming what is left), never that it removed what was made.
func TestStartInterruptedUndoFails(t *testing.T) {
	f, _, s, opt := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.Before = func(verb, name string) error {
		switch {
		case verb == "create-volume":
			cancel()
		case verb == "rm-volume" && strings.HasSuffix(name, "_home"):
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
	f, w, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.lock.Release()
	ours := b.Project.ContainerLabels(bottle.ServiceAgent, "x", "")
	other := Project{Name: b.Project.Name + "x"}.VolumeLabels(bottle.VolHome, "x")
	w.Add(engine.Container{ID: "stray-c", Name: b.Project.Name + "-agent-2", Labels: ours, State: "running"},
		engine.Network{ID: "stray-n", Name: b.Project.Name + "_extra", Labels: b.Project.NetworkLabels("extra", "x")},
		engine.Volume{Name: b.Project.Name + "x_home", Labels: other})
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
	if held := w.Held(); len(held) != 1 {
		t.Errorf("left: %v, want only the other project's volume", held)
	}
}

// Creates that could not even connect to the engine made nothing: the
// failed start says so without listing an engine it cannot reach.
func TestStartEngineUnreachable(t *testing.T) {
	f, _, s, opt := setup(t)
	f.Before = func(verb, _ string) error {
		if verb == "image-id" || verb == "image-user" { // the engine goes once the images are looked at
			return nil
		}
		return &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}
	}
	_, err := Start(context.Background(), f, s, opt)
	var ue *UndoError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "(while creating ") {
		t.Fatalf("Start = %v, want the create's error alone", err)
	}
	if slices.ContainsFunc(f.Log(), func(l string) bool { return strings.HasPrefix(l, "list ") }) {
		t.Errorf("listed an engine it could not reach: %v", f.Log())
	}
	if des := stateDirs(t, opt.StateRoot); len(des) != 0 {
		t.Errorf("state root holds %v", des)
	}
}
