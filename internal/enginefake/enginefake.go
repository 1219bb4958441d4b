// Package enginefake is the strict fake engine the unit tests share: an
// engine whose every call the test did not set up fails the test (and
// answers an error), and a World that answers listing, inspect and remove
// calls from maps the way the engine does. The real-engine paths are in
// testdata/script/*.txtar; this fake is for the edges the engine cannot
// produce on demand and for testing the tools without one.
package enginefake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
)

// Engine is an engine whose unset On* answers fail the test. It logs every
// inspect, remove, create and copy call as "verb id".
type Engine struct {
	T testing.TB
	// Host is the endpoint it says it is; "" is "fake://".
	Host string
	// EngineID is the ID it says it has (engine.Identifier); "" is "fake".
	EngineID string
	// OnID, when set, answers ID instead (an engine that cannot be asked).
	OnID func() (string, error)

	OnContainers       func() ([]engine.Container, error)
	OnNetworks         func() ([]engine.Network, error)
	OnVolumes          func() ([]engine.Volume, error)
	OnInspectContainer func(id string) (engine.Container, error)
	OnInspectNetwork   func(id string) (engine.Network, error)
	OnInspectVolume    func(name string) (engine.Volume, error)
	// OnRemoveContainer answers RemoveContainer (which takes anonymous
	// volumes; the reaper uses RemoveContainerOnly).
	OnRemoveContainer     func(id string) error
	OnRemoveContainerOnly func(id string) error
	OnRemoveNetwork       func(id string) error
	OnRemoveVolume        func(name string) error
	// OnContainersUsing answers ContainersUsing; unset, no container uses
	// any network or volume.
	OnContainersUsing func(kind string, names []string) ([]engine.Container, error)
	OnCreateContainer func(spec engine.ContainerSpec) (string, error)
	OnCopyFrom        func(id, path string) (io.ReadCloser, error)

	mu  sync.Mutex
	log []string
}

var _ backend.Engine = (*Engine)(nil)

// New is a strict engine for t with nothing set up.
func New(t testing.TB) *Engine { return &Engine{T: t} }

// Note puts "verb id" in the log among the calls: a test marks a moment
// (a removal done) to check the order against.
func (f *Engine) Note(verb, id string) { f.record(verb, id) }

func (f *Engine) record(verb, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, verb+" "+id)
}

// Log is every recorded call, "verb id", in call order.
func (f *Engine) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

// Calls are the ids of the recorded calls of verb ("rm-container",
// "inspect-network", …), in call order.
func (f *Engine) Calls(verb string) []string {
	var out []string
	for _, l := range f.Log() {
		if id, ok := strings.CutPrefix(l, verb+" "); ok {
			out = append(out, id)
		}
	}
	return out
}

func (f *Engine) unset(name string) error {
	f.T.Errorf("unexpected engine call %s", name)
	return errors.New("unexpected call " + name)
}

// Endpoint says Host.
func (f *Engine) Endpoint() engine.Endpoint {
	if f.Host == "" {
		return engine.Endpoint{Host: "fake://"}
	}
	return engine.Endpoint{Host: f.Host}
}

// ID says EngineID, or what OnID answers.
func (f *Engine) ID(context.Context) (string, error) {
	if f.OnID != nil {
		return f.OnID()
	}
	if f.EngineID == "" {
		return "fake", nil
	}
	return f.EngineID, nil
}

// Close does nothing.
func (f *Engine) Close() error { return nil }

func (f *Engine) Containers(context.Context) ([]engine.Container, error) {
	if f.OnContainers == nil {
		return nil, f.unset("Containers")
	}
	return f.OnContainers()
}

func (f *Engine) Networks(context.Context) ([]engine.Network, error) {
	if f.OnNetworks == nil {
		return nil, f.unset("Networks")
	}
	return f.OnNetworks()
}

func (f *Engine) Volumes(context.Context) ([]engine.Volume, error) {
	if f.OnVolumes == nil {
		return nil, f.unset("Volumes")
	}
	return f.OnVolumes()
}

func (f *Engine) InspectContainer(_ context.Context, id string) (engine.Container, error) {
	f.record("inspect-container", id)
	if f.OnInspectContainer == nil {
		return engine.Container{}, f.unset("InspectContainer")
	}
	return f.OnInspectContainer(id)
}

func (f *Engine) InspectNetwork(_ context.Context, id string) (engine.Network, error) {
	f.record("inspect-network", id)
	if f.OnInspectNetwork == nil {
		return engine.Network{}, f.unset("InspectNetwork")
	}
	return f.OnInspectNetwork(id)
}

func (f *Engine) InspectVolume(_ context.Context, name string) (engine.Volume, error) {
	f.record("inspect-volume", name)
	if f.OnInspectVolume == nil {
		return engine.Volume{}, f.unset("InspectVolume")
	}
	return f.OnInspectVolume(name)
}

func (f *Engine) RemoveContainer(_ context.Context, id string) error {
	f.record("rm-container-and-volumes", id)
	if f.OnRemoveContainer == nil {
		return f.unset("RemoveContainer (it takes anonymous volumes; the reaper uses RemoveContainerOnly)")
	}
	return f.OnRemoveContainer(id)
}

func (f *Engine) RemoveContainerOnly(_ context.Context, id string) error {
	f.record("rm-container", id)
	if f.OnRemoveContainerOnly == nil {
		return f.unset("RemoveContainerOnly")
	}
	return f.OnRemoveContainerOnly(id)
}

func (f *Engine) ContainersUsing(_ context.Context, kind string, names ...string) ([]engine.Container, error) {
	f.record("users-"+kind, strings.Join(names, ","))
	if f.OnContainersUsing == nil {
		return nil, nil
	}
	return f.OnContainersUsing(kind, names)
}

func (f *Engine) RemoveNetwork(_ context.Context, id string) error {
	f.record("rm-network", id)
	if f.OnRemoveNetwork == nil {
		return f.unset("RemoveNetwork")
	}
	return f.OnRemoveNetwork(id)
}

func (f *Engine) RemoveVolume(_ context.Context, name string) error {
	f.record("rm-volume", name)
	if f.OnRemoveVolume == nil {
		return f.unset("RemoveVolume")
	}
	return f.OnRemoveVolume(name)
}

func (f *Engine) CreateContainer(_ context.Context, spec engine.ContainerSpec) (string, error) {
	f.record("create-container", spec.Name)
	if f.OnCreateContainer == nil {
		return "", f.unset("CreateContainer")
	}
	return f.OnCreateContainer(spec)
}

func (f *Engine) CopyFrom(_ context.Context, id, path string) (io.ReadCloser, error) {
	f.record("copy-from", id+":"+path)
	if f.OnCopyFrom == nil {
		return nil, f.unset("CopyFrom")
	}
	return f.OnCopyFrom(id, path)
}

// NotFound is the engine's answer for a resource that does not exist.
func NotFound(what string) error { return fmt.Errorf("No such %s: %w", what, cerrdefs.ErrNotFound) }

// ID is a full engine ID (64 hex digits) made from n.
func ID(n int) string { return fmt.Sprintf("%064x", n) }

// World is what the fake engine holds: containers and networks by ID,
// volumes by name. Wire makes an Engine answer from it.
type World struct {
	mu         sync.Mutex
	Containers map[string]engine.Container
	Networks   map[string]engine.Network
	Volumes    map[string]engine.Volume
	seq        int
}

// NewWorld is an empty world.
func NewWorld() *World {
	return &World{Containers: map[string]engine.Container{}, Networks: map[string]engine.Network{}, Volumes: map[string]engine.Volume{}}
}

// Add puts engine.Containers, engine.Networks and engine.Volumes in w.
func (w *World) Add(resources ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range resources {
		switch r := r.(type) {
		case engine.Container:
			w.Containers[r.ID] = r
		case engine.Network:
			w.Networks[r.ID] = r
		case engine.Volume:
			w.Volumes[r.Name] = r
		default:
			panic(fmt.Sprintf("enginefake: %T is not a container, network or volume", r))
		}
	}
}

// Wire makes f list, inspect and remove (RemoveContainerOnly) from w, as
// the engine does: inspect by ID or name, not found when absent. Calls it
// does not answer stay unset.
func (w *World) Wire(f *Engine) {
	f.OnContainers = func() ([]engine.Container, error) { return values(w, w.Containers), nil }
	f.OnNetworks = func() ([]engine.Network, error) { return values(w, w.Networks), nil }
	f.OnVolumes = func() ([]engine.Volume, error) { return values(w, w.Volumes), nil }
	f.OnInspectContainer = func(id string) (engine.Container, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, c := range w.Containers {
			if c.ID == id || c.Name == id {
				return c, nil
			}
		}
		return engine.Container{}, NotFound("container: " + id)
	}
	f.OnInspectNetwork = func(id string) (engine.Network, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, n := range w.Networks {
			if n.ID == id || n.Name == id {
				return n, nil
			}
		}
		return engine.Network{}, NotFound("network: " + id)
	}
	f.OnInspectVolume = func(name string) (engine.Volume, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if v, ok := w.Volumes[name]; ok {
			return v, nil
		}
		return engine.Volume{}, NotFound("volume: " + name)
	}
	f.OnRemoveContainerOnly = func(id string) error { return remove(w, w.Containers, id, "container") }
	f.OnRemoveNetwork = func(id string) error { return remove(w, w.Networks, id, "network") }
	f.OnRemoveVolume = func(name string) error { return remove(w, w.Volumes, name, "volume") }
}

func values[T any](w *World, m map[string]T) []T {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func remove[T any](w *World, m map[string]T, key, kind string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := m[key]; !ok {
		return NotFound(kind + ": " + key)
	}
	delete(m, key)
	return nil
}

// Project puts a compose project in w as bottle-launch makes one: an agent
// and a sidecar container in state, attached to the project's network,
// the agent mounting the project's home volume, all labelled with the
// project and created at created. It returns the containers' IDs.
func (w *World) Project(name, state string, created time.Time) (agent, sidecar string) {
	w.mu.Lock()
	w.seq++
	base := w.seq * 16
	w.mu.Unlock()
	labels := map[string]string{compose.LabelProject: name}
	n := engine.Network{ID: ID(base + 1), Name: bottle.NetworkName(name, bottle.NetInternal), Labels: labels, Created: created}
	v := engine.Volume{Name: bottle.VolumeName(name, bottle.VolHome), Labels: labels, Created: created}
	var ids []string
	for i, svc := range []string{bottle.ServiceAgent, bottle.ServiceSidecar} {
		l := map[string]string{compose.LabelProject: name, compose.LabelService: svc}
		c := engine.Container{ID: ID(base + 2 + i), Name: bottle.ContainerName(name, svc), Labels: l, State: state, Created: created,
			Networks: map[string]string{n.Name: n.ID}}
		if svc == bottle.ServiceAgent {
			c.Mounts = []engine.Mount{{Type: "volume", Name: v.Name, Destination: bottle.AgentHome}}
		}
		w.Add(c)
		ids = append(ids, c.ID)
	}
	w.Add(n, v)
	return ids[0], ids[1]
}
