// Package enginefake is the strict fake engine the unit tests share: an
// engine whose every call the test did not set up fails the test (and
// answers an error), and a World that answers calls from maps the way the
// engine does: listing, inspect and remove for the tools and the reaper
// (Wire), and besides creates, starts, probes and kills for the launcher
// (WireLauncher). The real-engine paths are in testdata/script/*.txtar;
// this fake is for the edges the engine cannot produce on demand and for
// testing the tools without one.
package enginefake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/engine"
)

// Engine is an engine whose unset On* answers fail the test. It logs every
// call but Endpoint, ID and Close as "verb id" (the verbs are in the
// methods: "list containers", "rm-network ID", "start ID", "kill ID
// SIGNAL", …), in call order.
type Engine struct {
	T testing.TB
	// Host is the endpoint it says it is; "" is "fake://".
	Host string
	// EngineID is the ID it says it has (engine.Identifier); "" is "fake".
	EngineID string
	// OnID, when set, answers ID instead (an engine that cannot be asked).
	OnID func() (string, error)

	// Before, when set, runs at the start of every logged call with the
	// verb and id it is logged under, outside any lock: it may block (to
	// hold a call back) or fail the call (its error is the answer; the
	// call is still logged, and the On* function is not asked).
	Before func(verb, id string) error

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

	// The launcher's calls (engine.Launcher); WireLauncher sets the ones a
	// launch makes on its own.
	OnCreateNetwork   func(spec engine.NetworkSpec) (string, error)
	OnCreateVolume    func(name string, labels map[string]string) error
	OnConnect         func(network, id string, aliases []string) error
	OnDisconnect      func(network, id string) error
	OnContainerUser   func(id string) (string, error)
	OnImageUser       func(ref string) (string, error)
	OnImageID         func(ref string) (string, error)
	OnCopyTo          func(id, dir string, tar []byte) error
	OnStartContainer  func(id string) error
	OnContainerStatus func(id string) (engine.Status, error)
	OnExec            func(id string, cmd []string) (int, string, error)
	OnLogs            func(id string, tail int) (string, error)
	OnAttach          func(id string, withStdin, tty bool) (*engine.Attachment, error)
	OnWait            func(id string) (int, error)
	OnKill            func(id, signal string) error
	OnResize          func(id string, height, width uint) error

	mu     sync.Mutex
	log    []string
	specs  []engine.ContainerSpec
	copies []Copy
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

// Forget drops the record of the calls so far (the log, the specs and the
// copies): a test then looks only at what comes after.
func (f *Engine) Forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log, f.specs, f.copies = nil, nil, nil
}

// ask is the start of every logged call: Before, then the log entry. Its
// error is Before's, or, when the call's On* is unset, the test's failure.
func (f *Engine) ask(name, verb, id string, unset bool) error {
	var err error
	if f.Before != nil {
		err = f.Before(verb, id)
	}
	f.record(verb, id)
	if err == nil && unset {
		err = f.unset(name)
	}
	return err
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
	if err := f.ask("Containers", "list", "containers", f.OnContainers == nil); err != nil {
		return nil, err
	}
	return f.OnContainers()
}

func (f *Engine) Networks(context.Context) ([]engine.Network, error) {
	if err := f.ask("Networks", "list", "networks", f.OnNetworks == nil); err != nil {
		return nil, err
	}
	return f.OnNetworks()
}

func (f *Engine) Volumes(context.Context) ([]engine.Volume, error) {
	if err := f.ask("Volumes", "list", "volumes", f.OnVolumes == nil); err != nil {
		return nil, err
	}
	return f.OnVolumes()
}

func (f *Engine) InspectContainer(_ context.Context, id string) (engine.Container, error) {
	if err := f.ask("InspectContainer", "inspect-container", id, f.OnInspectContainer == nil); err != nil {
		return engine.Container{}, err
	}
	return f.OnInspectContainer(id)
}

func (f *Engine) InspectNetwork(_ context.Context, id string) (engine.Network, error) {
	if err := f.ask("InspectNetwork", "inspect-network", id, f.OnInspectNetwork == nil); err != nil {
		return engine.Network{}, err
	}
	return f.OnInspectNetwork(id)
}

func (f *Engine) InspectVolume(_ context.Context, name string) (engine.Volume, error) {
	if err := f.ask("InspectVolume", "inspect-volume", name, f.OnInspectVolume == nil); err != nil {
		return engine.Volume{}, err
	}
	return f.OnInspectVolume(name)
}

func (f *Engine) RemoveContainer(_ context.Context, id string) error {
	if err := f.ask("RemoveContainer (it takes anonymous volumes; the reaper uses RemoveContainerOnly)", "rm-container-and-volumes", id, f.OnRemoveContainer == nil); err != nil {
		return err
	}
	return f.OnRemoveContainer(id)
}

func (f *Engine) RemoveContainerOnly(_ context.Context, id string) error {
	if err := f.ask("RemoveContainerOnly", "rm-container", id, f.OnRemoveContainerOnly == nil); err != nil {
		return err
	}
	return f.OnRemoveContainerOnly(id)
}

func (f *Engine) ContainersUsing(_ context.Context, kind string, names ...string) ([]engine.Container, error) {
	if err := f.ask("ContainersUsing", "users-"+kind, strings.Join(names, ","), false); err != nil || f.OnContainersUsing == nil {
		return nil, err
	}
	return f.OnContainersUsing(kind, names)
}

func (f *Engine) RemoveNetwork(_ context.Context, id string) error {
	if err := f.ask("RemoveNetwork", "rm-network", id, f.OnRemoveNetwork == nil); err != nil {
		return err
	}
	return f.OnRemoveNetwork(id)
}

func (f *Engine) RemoveVolume(_ context.Context, name string) error {
	if err := f.ask("RemoveVolume", "rm-volume", name, f.OnRemoveVolume == nil); err != nil {
		return err
	}
	return f.OnRemoveVolume(name)
}

// CreateContainer keeps spec (Specs) before it asks, so a create that
// fails is there too.
func (f *Engine) CreateContainer(_ context.Context, spec engine.ContainerSpec) (string, error) {
	f.mu.Lock()
	f.specs = append(f.specs, spec)
	f.mu.Unlock()
	if err := f.ask("CreateContainer", "create-container", spec.Name, f.OnCreateContainer == nil); err != nil {
		return "", err
	}
	return f.OnCreateContainer(spec)
}

func (f *Engine) CopyFrom(_ context.Context, id, path string) (io.ReadCloser, error) {
	if err := f.ask("CopyFrom", "copy-from", id+":"+path, f.OnCopyFrom == nil); err != nil {
		return nil, err
	}
	return f.OnCopyFrom(id, path)
}

// Specs are the containers asked for, in call order (failed creates too).
func (f *Engine) Specs() []engine.ContainerSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.ContainerSpec(nil), f.specs...)
}

// NotFound is the engine's answer for a resource that does not exist.
func NotFound(what string) error { return fmt.Errorf("No such %s: %w", what, cerrdefs.ErrNotFound) }

// ID is a full engine ID (64 hex digits) made from n.
func ID(n int) string { return fmt.Sprintf("%064x", n) }
