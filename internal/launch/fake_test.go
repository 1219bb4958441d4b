package launch

// The launcher's calls faked: what internal/enginefake (the listing,
// inspect, remove and copy calls) does not cover.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"

	"github.com/claude-bottle/bottle/internal/engine"
)

// fake is an engine whose calls record what exists and whose lists show
// it; a test sets fail to make one call fail, hook to hold a call back,
// late to make a create the engine does without answering. The calls a
// launch makes on its own are set up; any other (CopyFrom, Attach, Resize,
// Inspect*) fails the test unless the test set a function for it.
type fake struct {
	t    *testing.T
	mu   sync.Mutex
	n    int
	live map[string]res // id (name for volumes) -> resource
	fail func(op, name string) error
	// hook runs before a call is answered, outside the lock (it may block).
	hook func(op, id string)
	// pending are resources made by creates whose answers were lost: they
	// show up in the listing after `after` more list calls.
	pending []lateRes
	// loseIf makes a create fail after the engine did it: the resource
	// shows up in the second list call of its kind.
	loseIf func(op, name string) bool
	// inspect, when set, answers InspectContainer; inspectVolume,
	// InspectVolume.
	inspect       func(id string) (engine.Container, error)
	inspectVolume func(name string) (engine.Volume, error)
	// user is the USER the created containers report.
	user string
	// netInspect, when set, changes what InspectNetwork answers.
	netInspect func(engine.Network) engine.Network
	// copyFrom, when set, answers CopyFrom; wait, Wait.
	copyFrom func(id, path string) (io.ReadCloser, error)
	wait     func(ctx context.Context, id string) (int, error)
	log      []string
	// sidecar answers ContainerStatus and the readiness probe: the nth
	// probe (from 1) sees this state and probe exit code; nil: running, 0.
	sidecar func(n int) (engine.Status, int)
	probes  int
	aliases map[string][]string // container or network name -> aliases given
	// specs and copies record the containers asked for and the archives
	// copied in (by container ID), in order.
	specs  []engine.ContainerSpec
	copies []copied
	// imageErr, when set, answers ImageID for ref; images records the
	// references looked up.
	imageErr func(ref string) error
	images   []string
}

type copied struct {
	id   string
	data []byte
}

type res struct {
	kind, name string
	labels     map[string]string
}

type lateRes struct {
	id    string
	r     res
	after int
}

var errUnexpected = errors.New("unexpected call")

func (f *fake) unexpected(call string) error {
	f.t.Errorf("unexpected engine call %s", call)
	return fmt.Errorf("%s: %w", call, errUnexpected)
}

func (f *fake) do(op, name string, labels map[string]string) (string, error) {
	if f.hook != nil {
		f.hook(op, name)
	}
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
	if f.loseIf != nil && f.loseIf(op, name) {
		f.lose(op, name, labels, 1)
		return "", errors.New("read: connection reset by peer")
	}
	f.n++
	id := fmt.Sprintf("%s-%d", op, f.n)
	if op == "volume" {
		id = name
	}
	f.live[id] = res{op, name, labels}
	return id, nil
}

// lose records a create the engine does but whose answer never comes: the
// resource appears in the listing after `after` list calls.
func (f *fake) lose(op, name string, labels map[string]string, after int) {
	f.n++
	id := fmt.Sprintf("%s-%d", op, f.n)
	if op == "volume" {
		id = name
	}
	f.pending = append(f.pending, lateRes{id, res{op, name, labels}, after})
}

func (f *fake) gone(id string) error {
	if f.hook != nil {
		f.hook("rm", id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "rm "+id)
	if f.fail != nil {
		if err := f.fail("rm", id); err != nil {
			return err
		}
	}
	if _, ok := f.live[id]; !ok {
		return errNotFound{}
	}
	delete(f.live, id)
	return nil
}

type errNotFound struct{}

func (errNotFound) Error() string { return "not found" }
func (errNotFound) NotFound()     {}

func (f *fake) CreateNetwork(_ context.Context, s engine.NetworkSpec) (string, error) {
	if in := strings.HasSuffix(s.Name, "_"+bottle.NetInternal); s.Internal != in || s.NoHostAddress != in {
		f.t.Errorf("network %s: internal=%v, no host address=%v", s.Name, s.Internal, s.NoHostAddress)
	}
	return f.do("network", s.Name, s.Labels)
}
func (f *fake) CreateVolume(_ context.Context, name string, l map[string]string) error {
	_, err := f.do("volume", name, l)
	return err
}
func (f *fake) CreateContainer(_ context.Context, s engine.ContainerSpec) (string, error) {
	f.alias(s.Name+"@"+s.Network, s.Aliases)
	f.mu.Lock()
	f.specs = append(f.specs, s)
	f.mu.Unlock()
	return f.do("container", s.Name, s.Labels)
}
func (f *fake) Connect(_ context.Context, n, c string, aliases []string) error {
	f.alias(c+"@"+n, aliases)
	_, err := f.do("connect", n, nil)
	return err
}
func (f *fake) Disconnect(_ context.Context, n, c string) error {
	_, err := f.do("disconnect", c+"@"+n, nil)
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
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images = append(f.images, ref)
	if f.imageErr != nil {
		if err := f.imageErr(ref); err != nil {
			return "", err
		}
	}
	return "sha256:" + ref, nil
}
func (f *fake) CopyTo(_ context.Context, id, _ string, r io.Reader) error {
	data, _ := io.ReadAll(r)
	f.mu.Lock()
	f.copies = append(f.copies, copied{id, data})
	f.mu.Unlock()
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

// list answers a list call of one kind; each call brings pending
// resources one list call closer to showing.
func (f *fake) list(kind string) map[string]res {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "list "+kind)
	var still []lateRes
	for _, p := range f.pending {
		if p.r.kind == kind {
			if p.after--; p.after < 0 {
				f.live[p.id] = p.r
				continue
			}
		}
		still = append(still, p)
	}
	f.pending = still
	out := map[string]res{}
	for id, r := range f.live {
		if r.kind == kind {
			out[id] = r
		}
	}
	return out
}

func (f *fake) Containers(context.Context) ([]engine.Container, error) {
	var out []engine.Container
	for id, r := range f.list("container") {
		out = append(out, engine.Container{ID: id, Name: r.name, Labels: r.labels, State: "running"})
	}
	return out, nil
}
func (f *fake) Networks(context.Context) ([]engine.Network, error) {
	var out []engine.Network
	for id, r := range f.list("network") {
		out = append(out, engine.Network{ID: id, Name: r.name, Labels: r.labels})
	}
	return out, nil
}
func (f *fake) Volumes(context.Context) ([]engine.Volume, error) {
	var out []engine.Volume
	for _, r := range f.list("volume") {
		out = append(out, engine.Volume{Name: r.name, Labels: r.labels})
	}
	return out, nil
}

func (f *fake) CopyFrom(_ context.Context, id, path string) (io.ReadCloser, error) {
	if f.copyFrom == nil {
		return nil, f.unexpected("CopyFrom " + id + " " + path)
	}
	f.mu.Lock()
	f.log = append(f.log, "copyfrom "+id+" "+path)
	f.mu.Unlock()
	return f.copyFrom(id, path)
}

// ContainerUser answers the User the container was created with, else
// the image's (f.user), as the engine does.
func (f *fake) ContainerUser(_ context.Context, id string) (string, error) {
	_, err := f.do("user", id, nil)
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.live[id]; ok {
		for _, s := range f.specs {
			if s.Name == r.name && s.User != "" {
				return s.User, err
			}
		}
	}
	return f.user, err
}
func (f *fake) ImageUser(_ context.Context, ref string) (string, error) {
	_, err := f.do("imageuser", ref, nil)
	return f.user, err
}
func (f *fake) Attach(context.Context, string, bool, bool) (*engine.Attachment, error) {
	return nil, f.unexpected("Attach")
}

// Wait and Kill: the teardown kills (then waits for) its containers.
func (f *fake) Wait(ctx context.Context, id string) (int, error) {
	if _, err := f.do("wait", id, nil); err != nil {
		return 0, err
	}
	if f.wait != nil {
		return f.wait(ctx, id)
	}
	return 0, nil
}
func (f *fake) Kill(_ context.Context, id, signal string) error {
	_, err := f.do("kill", id+" "+signal, nil)
	return err
}
func (f *fake) Resize(context.Context, string, uint, uint) error {
	return f.unexpected("Resize")
}
func (f *fake) InspectContainer(_ context.Context, id string) (engine.Container, error) {
	if f.inspect == nil {
		return engine.Container{}, f.unexpected("InspectContainer " + id)
	}
	return f.inspect(id)
}

// InspectNetwork answers as an engine that made the network as asked
// (internal ones without an address of the host), or as netInspect says.
func (f *fake) InspectNetwork(_ context.Context, id string) (engine.Network, error) {
	f.mu.Lock()
	r, ok := f.live[id]
	f.mu.Unlock()
	if !ok || r.kind != "network" {
		return engine.Network{}, errNotFound{}
	}
	n := engine.Network{ID: id, Name: r.name, Labels: r.labels, Subnets: []engine.Subnet{{Subnet: "192.0.2.0/24", Gateway: "192.0.2.1"}}}
	if strings.HasSuffix(r.name, "_"+bottle.NetInternal) {
		n.Internal, n.Options = true, map[string]string{engine.InhibitIPv4: "true"}
	}
	if f.netInspect != nil {
		n = f.netInspect(n)
	}
	return n, nil
}

func (f *fake) InspectVolume(_ context.Context, name string) (engine.Volume, error) {
	if f.inspectVolume == nil {
		return engine.Volume{}, f.unexpected("InspectVolume " + name)
	}
	return f.inspectVolume(name)
}

var _ engine.Launcher = (*fake)(nil)

// A call the fake was not set up for fails the test (checked here on a
// throw-away T).
func TestFakeRefusesUnexpectedCalls(t *testing.T) {
	ft := &testing.T{}
	f := &fake{t: ft, live: map[string]res{}}
	if _, err := f.CopyFrom(context.Background(), "x", "/"); !errors.Is(err, errUnexpected) {
		t.Errorf("CopyFrom = %v", err)
	}
	if !ft.Failed() {
		t.Error("an unexpected call did not fail the test")
	}
}
