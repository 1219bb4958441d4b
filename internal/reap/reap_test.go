package reap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/jsonl"
	"github.com/claude-bottle/bottle/internal/retry"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// These tests use a fake engine for what the real one cannot produce on
// demand (an error mid-reap, a transient error, a 403 that goes away); the
// real-engine paths are in testdata/script/reap_*.txtar.

// fast is the retry of the tests' docker backend: three retries, a
// millisecond apart.
var fast = &docker.Retry{
	Transient: retry.Backoff(time.Millisecond, time.Millisecond, 3),
	Endpoints: retry.Backoff(time.Millisecond, time.Millisecond, 3),
}

const prefix = "bttest0001-"

// fake is an engine whose unset methods fail the test. It logs every call.
type fake struct {
	t  testing.TB
	mu sync.Mutex
	// log holds "verb id" per call, in call order.
	log []string

	containers       func() ([]engine.Container, error)
	networks         func() ([]engine.Network, error)
	volumes          func() ([]engine.Volume, error)
	inspectContainer func(id string) (engine.Container, error)
	inspectNetwork   func(id string) (engine.Network, error)
	inspectVolume    func(name string) (engine.Volume, error)
	removeContainer  func(id string) error
	removeNetwork    func(id string) error
	removeVolume     func(name string) error
	// containersUsing answers ContainersUsing; unset, no container uses
	// any network or volume.
	containersUsing func(kind string, names []string) ([]engine.Container, error)
}

var _ engine.API = (*fake)(nil)

func (f *fake) record(verb, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, verb+" "+id)
}

func (f *fake) calls(verb string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, l := range f.log {
		if strings.HasPrefix(l, verb+" ") {
			out = append(out, strings.TrimPrefix(l, verb+" "))
		}
	}
	return out
}

func (f *fake) unset(name string) error {
	f.t.Errorf("unexpected engine call %s", name)
	return errors.New("unexpected call " + name)
}

func (f *fake) Endpoint() engine.Endpoint { return engine.Endpoint{Host: "fake://"} }
func (f *fake) Containers(context.Context) ([]engine.Container, error) {
	if f.containers == nil {
		return nil, f.unset("Containers")
	}
	return f.containers()
}
func (f *fake) Networks(context.Context) ([]engine.Network, error) {
	if f.networks == nil {
		return nil, f.unset("Networks")
	}
	return f.networks()
}
func (f *fake) Volumes(context.Context) ([]engine.Volume, error) {
	if f.volumes == nil {
		return nil, f.unset("Volumes")
	}
	return f.volumes()
}
func (f *fake) InspectContainer(_ context.Context, id string) (engine.Container, error) {
	f.record("inspect-container", id)
	if f.inspectContainer == nil {
		return engine.Container{}, f.unset("InspectContainer")
	}
	return f.inspectContainer(id)
}
func (f *fake) InspectNetwork(_ context.Context, id string) (engine.Network, error) {
	f.record("inspect-network", id)
	if f.inspectNetwork == nil {
		return engine.Network{}, f.unset("InspectNetwork")
	}
	return f.inspectNetwork(id)
}
func (f *fake) InspectVolume(_ context.Context, name string) (engine.Volume, error) {
	f.record("inspect-volume", name)
	if f.inspectVolume == nil {
		return engine.Volume{}, f.unset("InspectVolume")
	}
	return f.inspectVolume(name)
}
func (f *fake) RemoveContainer(context.Context, string) error {
	return f.unset("RemoveContainer (it takes anonymous volumes; the reaper uses RemoveContainerOnly)")
}
func (f *fake) RemoveContainerOnly(_ context.Context, id string) error {
	f.record("rm-container", id)
	if f.removeContainer == nil {
		return f.unset("RemoveContainerOnly")
	}
	return f.removeContainer(id)
}
func (f *fake) ContainersUsing(_ context.Context, kind string, names ...string) ([]engine.Container, error) {
	f.record("users-"+kind, strings.Join(names, ","))
	if f.containersUsing == nil {
		return nil, nil
	}
	return f.containersUsing(kind, names)
}
func (f *fake) RemoveNetwork(_ context.Context, id string) error {
	f.record("rm-network", id)
	if f.removeNetwork == nil {
		return f.unset("RemoveNetwork")
	}
	return f.removeNetwork(id)
}
func (f *fake) RemoveVolume(_ context.Context, name string) error {
	f.record("rm-volume", name)
	if f.removeVolume == nil {
		return f.unset("RemoveVolume")
	}
	return f.removeVolume(name)
}

// errorCounter is a testing.TB that counts Errorf calls instead of failing.
type errorCounter struct {
	testing.TB
	errors int
}

func (e *errorCounter) Errorf(string, ...any) { e.errors++ }

// TestFakeIsStrict: every call the fake was not set up for fails the test
// and answers an error (as the README promises of every fake).
func TestFakeIsStrict(t *testing.T) {
	rec := &errorCounter{TB: t}
	f := &fake{t: rec}
	ctx := context.Background()
	var errs []error
	_, err := f.Containers(ctx)
	errs = append(errs, err)
	_, err = f.Networks(ctx)
	errs = append(errs, err)
	_, err = f.Volumes(ctx)
	errs = append(errs, err)
	_, err = f.InspectContainer(ctx, "x")
	errs = append(errs, err)
	_, err = f.InspectNetwork(ctx, "x")
	errs = append(errs, err)
	_, err = f.InspectVolume(ctx, "x")
	errs = append(errs, err)
	errs = append(errs, f.RemoveContainer(ctx, "x"), f.RemoveNetwork(ctx, "x"), f.RemoveVolume(ctx, "x"))
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d: no error from an unset call", i)
		}
	}
	if rec.errors != len(errs) {
		t.Errorf("%d of %d unset calls failed the test", rec.errors, len(errs))
	}
}

// world is what the fake engine holds: containers, networks and volumes
// by ID (volumes by name), answering inspect and remove like the engine.
type world struct {
	mu         sync.Mutex
	containers map[string]engine.Container
	networks   map[string]engine.Network
	volumes    map[string]engine.Volume
}

func notFound(what string) error { return fmt.Errorf("No such %s: %w", what, cerrdefs.ErrNotFound) }

func (w *world) wire(f *fake) {
	f.inspectContainer = func(id string) (engine.Container, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, c := range w.containers {
			if c.ID == id || c.Name == id {
				return c, nil
			}
		}
		return engine.Container{}, notFound("container: " + id)
	}
	f.inspectNetwork = func(id string) (engine.Network, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, n := range w.networks {
			if n.ID == id || n.Name == id {
				return n, nil
			}
		}
		return engine.Network{}, notFound("network: " + id)
	}
	f.inspectVolume = func(name string) (engine.Volume, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if v, ok := w.volumes[name]; ok {
			return v, nil
		}
		return engine.Volume{}, notFound("volume: " + name)
	}
	f.removeContainer = func(id string) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, ok := w.containers[id]; !ok {
			return notFound("container: " + id)
		}
		delete(w.containers, id)
		return nil
	}
	f.removeNetwork = func(id string) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, ok := w.networks[id]; !ok {
			return notFound("network: " + id)
		}
		delete(w.networks, id)
		return nil
	}
	f.removeVolume = func(name string) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, ok := w.volumes[name]; !ok {
			return notFound("volume: " + name)
		}
		delete(w.volumes, name)
		return nil
	}
	list := func() {
		f.containers = func() ([]engine.Container, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			var out []engine.Container
			for _, c := range w.containers {
				out = append(out, c)
			}
			return out, nil
		}
		f.networks = func() ([]engine.Network, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			var out []engine.Network
			for _, n := range w.networks {
				out = append(out, n)
			}
			return out, nil
		}
		f.volumes = func() ([]engine.Volume, error) {
			w.mu.Lock()
			defer w.mu.Unlock()
			var out []engine.Volume
			for _, v := range w.volumes {
				out = append(out, v)
			}
			return out, nil
		}
	}
	list()
}

var idSeq int

func newID() string {
	idSeq++
	return fmt.Sprintf("%064x", idSeq)
}

// bottleWorld makes a compose project <prefix><slug> with two containers,
// a network and a volume, and returns its plan item.
func (w *world) bottle(slug, state string) bottle.Item {
	name := prefix + slug
	labels := map[string]string{compose.LabelProject: name}
	it := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: name, Slug: slug}
	for _, svc := range []string{"agent", "sidecar"} {
		c := engine.Container{ID: newID(), Name: name + "-" + svc + "-1", Labels: labels, State: state}
		w.containers[c.ID] = c
		it.Containers = append(it.Containers, bottle.Container{Name: c.Name, ID: c.ID, Service: svc, State: state})
	}
	n := engine.Network{ID: newID(), Name: name + "_default", Labels: labels}
	w.networks[n.ID] = n
	it.Networks = append(it.Networks, bottle.Network{Name: n.Name, ID: n.ID})
	made := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := engine.Volume{Name: name + "_home", Labels: labels, Created: made}
	w.volumes[v.Name] = v
	it.Volumes = append(it.Volumes, bottle.Volume{Name: v.Name, ID: v.Name, Created: &made})
	return it
}

func (w *world) strayContainer(slug string) bottle.Item {
	c := engine.Container{ID: newID(), Name: prefix + slug, State: "exited"}
	w.containers[c.ID] = c
	return bottle.Item{Backend: bottle.Docker, Kind: bottle.KindContainer, Name: c.Name, ID: c.ID, Slug: slug, State: "exited"}
}

func (w *world) strayNetwork(slug string) bottle.Item {
	n := engine.Network{ID: newID(), Name: prefix + slug}
	w.networks[n.ID] = n
	return bottle.Item{Backend: bottle.Docker, Kind: bottle.KindNetwork, Name: n.Name, ID: n.ID, Slug: slug}
}

type env struct {
	t     *testing.T
	f     *fake
	w     *world
	root  string
	opt   Options
	input []byte
}

func newEnv(t *testing.T) *env {
	f := &fake{t: t}
	w := &world{containers: map[string]engine.Container{}, networks: map[string]engine.Network{}, volumes: map[string]engine.Volume{}}
	w.wire(f)
	root := stateRoot(t)
	return &env{t: t, f: f, w: w, root: root, opt: Options{
		Prefix: prefix, StateRoot: root, Jobs: 2,
		Backends: []backend.Backend{&docker.Backend{API: f, Prefix: prefix, Retry: fast}},
	}}
}

func (e *env) add(items ...any) {
	for _, it := range items {
		var b []byte
		switch v := it.(type) {
		case string:
			b = []byte(v)
		default:
			var err error
			if b, err = json.Marshal(v); err != nil {
				e.t.Fatal(err)
			}
		}
		e.input = append(e.input, []byte(string(b)+"\n")...)
	}
}

func (e *env) run(ctx context.Context) ([]bottle.Result, Summary) {
	e.t.Helper()
	lines, err := Read(strings.NewReader(string(e.input)))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []bottle.Result
	sum, err := Run(ctx, NewSource(strings.NewReader(string(e.input))), e.opt, func(r Record) error {
		// every record must marshal to one JSON object with a result
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		var back map[string]json.RawMessage
		if err := json.Unmarshal(b, &back); err != nil || back["result"] == nil {
			e.t.Errorf("record %s is not an object with a result", b)
		}
		out = append(out, r.Result)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(out) != len(lines) {
		e.t.Fatalf("%d results for %d lines", len(out), len(lines))
	}
	for i, r := range out {
		if r.Line != i+1 {
			e.t.Errorf("result %d has line %d", i, r.Line)
		}
	}
	return out, sum
}

func (e *env) statedir(slug string, preserve bool) bottle.Item {
	dir := filepath.Join(e.root, slug)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if preserve {
		os.WriteFile(filepath.Join(dir, bottle.PreserveFile), nil, 0o644)
	}
	t := statedir.Walk(dir)
	changed := t.Changed
	return bottle.Item{Backend: bottle.Docker, Kind: bottle.KindStateDir, Name: slug, Slug: slug, Path: dir,
		Device: &t.ID.Device, Inode: &t.ID.Inode, Changed: &changed}
}

func status(t *testing.T, got bottle.Result, want, text string) {
	t.Helper()
	if got.Status != want || !strings.Contains(got.Reason+got.Error, text) {
		t.Errorf("got %s (%q), want %s containing %q", got.Status, got.Reason+got.Error, want, text)
	}
}

func TestProjectOrderAndRemoval(t *testing.T) {
	e := newEnv(t)
	items := []any{e.w.bottle("a-aaaa1", "running"), e.w.strayContainer("s-aaaa1"), e.w.strayNetwork("n-aaaa1")}
	e.add(items...)
	res, sum := e.run(context.Background())
	for _, r := range res {
		status(t, r, bottle.Removed, "")
	}
	if len(res[0].Resources) != 4 {
		t.Errorf("project members: %+v", res[0].Resources)
	}
	if !sum.Ok() || sum.String() != "removed 3, gone 0, skipped 0, failed 0, invalid 0" {
		t.Errorf("summary %q", sum)
	}
	if len(e.w.containers)+len(e.w.networks)+len(e.w.volumes) != 0 {
		t.Errorf("left: %v %v %v", e.w.containers, e.w.networks, e.w.volumes)
	}
	// a project's network and volume go only after its containers; a stray
	// network only after the stray containers
	at := func(entry string) int {
		for i, l := range e.f.log {
			if l == entry {
				return i
			}
		}
		t.Fatalf("no %q in %v", entry, e.f.log)
		return -1
	}
	proj, sc, sn := items[0].(bottle.Item), items[1].(bottle.Item), items[2].(bottle.Item)
	for _, c := range proj.Containers {
		if at("rm-network "+proj.Networks[0].ID) < at("rm-container "+c.ID) || at("rm-volume "+proj.Volumes[0].Name) < at("rm-container "+c.ID) {
			t.Errorf("project network or volume before its container: %v", e.f.log)
		}
	}
	if at("rm-network "+sn.ID) < at("rm-container "+sc.ID) {
		t.Errorf("stray network before the stray container: %v", e.f.log)
	}

	// a second run on the same plan: everything gone, nothing failed
	res, sum = e.run(context.Background())
	for _, r := range res {
		status(t, r, bottle.Gone, "")
	}
	if !sum.Ok() {
		t.Error(sum)
	}
}

func TestErrorMidReap(t *testing.T) {
	e := newEnv(t)
	proj := e.w.bottle("a-aaaa1", "exited")
	s1, s2 := e.w.strayContainer("s-aaaa1"), e.w.strayContainer("s-2")
	remove := e.f.removeContainer
	e.f.removeContainer = func(id string) error {
		if id == s1.ID || id == proj.Containers[1].ID {
			return errors.New("Error response from daemon: driver failed programming external connectivity")
		}
		return remove(id)
	}
	e.add(proj, s1, s2)
	res, sum := e.run(context.Background())
	status(t, res[0], bottle.Failed, "container "+proj.Containers[1].Name+": Error response from daemon: driver failed")
	for _, m := range res[0].Resources {
		if m.Kind != bottle.KindContainer && (m.Status != bottle.Skipped || !strings.Contains(m.Reason, "was not removed")) {
			t.Errorf("member %+v: want skipped because a container stayed", m)
		}
	}
	status(t, res[1], bottle.Failed, "driver failed")
	status(t, res[2], bottle.Removed, "")
	if sum.Ok() || sum.Counts[bottle.Failed] != 2 {
		t.Errorf("summary %s", sum)
	}
	if len(e.f.calls("rm-network"))+len(e.f.calls("rm-volume")) != 0 {
		t.Errorf("removed a network or volume of a project whose container stayed: %v", e.f.log)
	}
}

func TestTransientThenSuccess(t *testing.T) {
	e := newEnv(t)
	s1, s2 := e.w.strayContainer("s-aaaa1"), e.w.strayContainer("s-2")
	remove := e.f.removeContainer
	tries := map[string]int{}
	var mu sync.Mutex
	e.f.removeContainer = func(id string) error {
		mu.Lock()
		tries[id]++
		n := tries[id]
		mu.Unlock()
		switch {
		case id == s1.ID && n < 3:
			return fmt.Errorf("read unix @->/var/run/docker.sock: read: connection reset by peer")
		case id == s2.ID && n == 1:
			// the other reaper is removing it; then it is gone
			remove(id)
			return fmt.Errorf("Error response from daemon: removal of container %s is already in progress: %w", id, cerrdefs.ErrConflict)
		}
		return remove(id)
	}
	e.add(s1, s2)
	res, sum := e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	status(t, res[1], bottle.Gone, "")
	if tries[s1.ID] != 3 || tries[s2.ID] != 2 {
		t.Errorf("tries %v", tries)
	}
	if !sum.Ok() {
		t.Error(sum)
	}

	// a transient error that never goes away is retried a bounded number of times
	e = newEnv(t)
	s := e.w.strayContainer("s-3")
	e.f.removeContainer = func(string) error { return errors.New("connection reset by peer") }
	e.add(s)
	res, _ = e.run(context.Background())
	status(t, res[0], bottle.Failed, "connection reset")
	if n := len(e.f.calls("rm-container")); n != fast.Transient.Tries() {
		t.Errorf("%d tries, want %d", n, fast.Transient.Tries())
	}
}

func activeEndpoints(id string) error {
	return fmt.Errorf("Error response from daemon: error while removing network: network %s id %s has active endpoints: %w", id, id, cerrdefs.ErrPermissionDenied)
}

func TestActiveEndpointsThenSuccess(t *testing.T) {
	e := newEnv(t)
	proj := e.w.bottle("a-aaaa1", "running")
	remove := e.f.removeNetwork
	n := 0
	e.f.removeNetwork = func(id string) error {
		if n++; n <= 2 {
			return activeEndpoints(id)
		}
		return remove(id)
	}
	e.add(proj)
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	if n != 3 {
		t.Errorf("%d network removals, want 3", n)
	}

	// endpoints that stay: failed with the engine's reason
	e = newEnv(t)
	net := e.w.strayNetwork("n-aaaa1")
	e.f.removeNetwork = func(id string) error { return activeEndpoints(id) }
	e.add(net)
	res, sum := e.run(context.Background())
	status(t, res[0], bottle.Failed, "has active endpoints")
	if sum.Ok() {
		t.Error(sum)
	}
}

func TestInvalidLines(t *testing.T) {
	e := newEnv(t) // any engine call fails the test: nothing here is acted on
	e.f = &fake{t: t}
	e.opt.Backends = []backend.Backend{&docker.Backend{API: e.f, Prefix: prefix, Retry: fast}}
	good := fmt.Sprintf("%064x", 99)
	cases := []struct{ line, why string }{
		{`not json`, "not a JSON object"},
		{`[1,2]`, "not a JSON object"},
		{`{"backend":"docker","kind":"container","name":"` + prefix + `x","id":"` + good + `"`, "not valid JSON"},
		{`{"backend":"docker","kind":"pod","name":"` + prefix + `x"}`, `unknown kind "pod"`},
		{`{"backend":"k8s","kind":"container","name":"` + prefix + `x","id":"` + good + `"}`, `unknown backend "k8s"`},
		{`{"backend":"docker","name":"` + prefix + `x"}`, "missing field kind"},
		{`{"backend":"docker","kind":"container","id":"` + good + `"}`, "missing field name"},
		{`{"backend":"docker","kind":"container","name":"claude-bottle-x","id":"` + good + `"}`, "does not start with the prefix"},
		{`{"backend":"docker","kind":"container","name":"` + strings.TrimSuffix(prefix, "-") + `x-1","id":"` + good + `"}`, "does not start with the prefix"},
		{`{"backend":"docker","kind":"container","name":"my-` + prefix + `1","id":"` + good + `"}`, "does not start with the prefix"},
		{`{"backend":"docker","kind":"container","name":"` + prefix + `x","id":"abc"}`, "not a full engine ID"},
		{`{"backend":"docker","kind":"container","name":"` + prefix + `x"}`, "not a full engine ID"},
		{`{"backend":"docker","kind":"compose-project","name":"` + prefix + `p","containers":[{"name":"other","id":"` + good + `"}]}`, "does not start with the prefix"},
		{`{"backend":"docker","kind":"compose-project","name":"` + prefix + `p","containers":[],"networks":[],"volumes":[]}`, "lists no containers"},
		{`{"backend":"docker","kind":"volume","name":"` + prefix + `v","id":"other"}`, "its id must be its name"},
		{`{"backend":"docker","kind":"container","name":5}`, "not a plan item"},
		{`{"backend":"docker","kind":"state-dir","name":"x-aaaa1"}`, "missing field path"},
		{`{"backend":"docker","kind":"state-dir","name":"x-aaaa1","path":"x-aaaa1"}`, "not absolute"},
		{`{"backend":"docker","kind":"state-dir","name":"..","path":"/tmp/.."}`, "not a slug"},
		{`{"backend":"docker","kind":"state-dir","name":"x-aaaa1","path":"` + e.root + `/../x-1"}`, "not clean"},
		{`{"backend":"docker","kind":"state-dir","name":"x-aaaa1","slug":"y-aaaa1","path":"` + e.root + `/x-1"}`, "differ"},
		{`{"backend":"docker","kind":"state-dir","name":"x-aaaa1","path":"` + e.root + `/x-aaaa1","older_than":"7d"}`, "older_than \"7d\" is not a positive duration"},
		{`{"backend":"docker","kind":"state-dir","name":"x-aaaa1","path":"` + e.root + `/x-aaaa1","older_than":"-1h"}`, "not a positive duration"},
		{`{"backend":"smolmachines","kind":"machine","name":"` + prefix + `m"}`, "no backend here removes machine items"},
		{`{"x":"` + strings.Repeat("a", jsonl.MaxLine) + `"}`, "longer than"},
		// one way to a person (jq: case-sensitive, first duplicate),
		// another to Go (case-insensitive, last duplicate): refused
		{`{"backend":"docker","kind":"container","name":"` + prefix + `shown","Name":"` + prefix + `hidden","id":"` + good + `"}`, `keys "name" and "Name" differ only in case`},
		{`{"backend":"docker","kind":"container","name":"` + prefix + `shown","name":"` + prefix + `hidden","id":"` + good + `"}`, `key "name" appears twice`},
		{`{"backend":"docker","kind":"container","NAME":"` + prefix + `hidden","id":"` + good + `"}`, `key "NAME": the field is "name"`},
		{`{"backend":"docker","kind":"container","name":"` + prefix + `x","id":"` + good + `","ID":"` + fmt.Sprintf("%064x", 98) + `"}`, `differ only in case`},
		{`{"backend":"docker","kind":"container","name":"` + prefix + `x","ſTATE":"running","id":"` + good + `"}`, `the field is "state"`},
		{`{"backend":"docker","kind":"compose-project","name":"` + prefix + `p","containers":[{"name":"` + prefix + `p-1","id":"` + good + `","Id":"` + fmt.Sprintf("%064x", 98) + `"}]}`, `keys "containers[0].id" and "containers[0].Id" differ only in case`},
		{`{"backend":"docker","kind":"compose-project","name":"` + prefix + `p","containers":[{"name":"` + prefix + `p-1","ID":"` + good + `"}]}`, `the field is "containers[0].id"`},
		{`{"backend":"docker","kind":"container","name":"` + prefix + `x","id":"` + good + `","extra":{"a":1,"a":2}}`, `key "extra.a" appears twice`},
		{`{"backend":"docker","kind":"container","name":"` + prefix + "x\xff" + `","id":"` + good + `"}`, `not valid UTF-8`},
	}
	for _, c := range cases {
		e.add(c.line)
	}
	res, sum := e.run(context.Background())
	for i, c := range cases {
		status(t, res[i], bottle.Invalid, c.why)
	}
	if sum.Counts[bottle.Invalid] != len(cases) || sum.Ok() {
		t.Errorf("summary %s", sum)
	}
}

func TestChangedLabelledRunning(t *testing.T) {
	e := newEnv(t)
	// recreated under the same name: the planned ID is gone, the name has a new one
	s := e.w.strayContainer("s-aaaa1")
	old := s.ID
	c := e.w.containers[old]
	delete(e.w.containers, old)
	c.ID = newID()
	e.w.containers[c.ID] = c
	// a member not labelled as the project's: never removed
	p := e.w.bottle("p-aaaa1", "exited")
	other := e.w.containers[p.Containers[1].ID]
	other.Labels = map[string]string{compose.LabelProject: prefix + "other"}
	e.w.containers[other.ID] = other
	// planned with --not-running; one container runs again: the whole project stays
	r := e.w.bottle("r-aaaa1", "exited")
	r.NotRunning = true
	again := e.w.containers[r.Containers[0].ID]
	again.State = "running"
	e.w.containers[again.ID] = again
	e.add(s, p, r)
	res, sum := e.run(context.Background())
	status(t, res[0], bottle.Skipped, "changed since plan")
	status(t, res[1], bottle.Skipped, "not labelled as part of compose project "+p.Name)
	status(t, res[2], bottle.Skipped, "--not-running")
	for _, id := range e.f.calls("rm-container") {
		if id == c.ID || id == other.ID || id == r.Containers[0].ID || id == r.Containers[1].ID {
			t.Errorf("removed %s", id)
		}
	}
	if len(e.f.calls("rm-network"))+len(e.f.calls("rm-volume")) != 0 {
		t.Errorf("removed networks or volumes of a project that stays: %v", e.f.log)
	}
	if !sum.Ok() {
		t.Error(sum)
	}
}

func TestDryRunTouchesNothing(t *testing.T) {
	e := newEnv(t)
	e.opt.DryRun = true
	e.f.removeContainer, e.f.removeNetwork, e.f.removeVolume = nil, nil, nil // any removal fails the test
	proj := e.w.bottle("a-aaaa1", "running")
	dir := e.statedir("a-aaaa1", false)
	dir.Bottle = proj.Name
	e.add(proj, e.w.strayContainer("s-aaaa1"), dir, e.statedir("o-aaaa1", false), e.statedir("k-aaaa1", true))
	res, sum := e.run(context.Background())
	for _, r := range res[:4] {
		status(t, r, bottle.WouldRemove, "")
	}
	status(t, res[4], bottle.Skipped, "preserved")
	if sum.String() != "would-remove 4, gone 0, skipped 1, failed 0, invalid 0" {
		t.Errorf("summary %q", sum)
	}
	for _, s := range []string{"a-aaaa1", "o-aaaa1", "k-aaaa1"} {
		if _, err := os.Stat(filepath.Join(e.root, s)); err != nil {
			t.Error(err)
		}
	}
}

func TestStateDirsAfterBottles(t *testing.T) {
	e := newEnv(t)
	proj := e.w.bottle("a-aaaa1", "running")
	live := e.w.bottle("l-aaaa1", "running") // not in the plan: its dir stays
	_ = live
	dir := e.statedir("a-aaaa1", false)
	dir.Bottle = proj.Name
	e.add(proj, dir, e.statedir("l-aaaa1", false), e.statedir("o-aaaa1", false))
	res, sum := e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	status(t, res[1], bottle.Removed, "")
	status(t, res[2], bottle.Skipped, "its bottle exists")
	status(t, res[3], bottle.Removed, "")
	if _, err := os.Stat(filepath.Join(e.root, "l-aaaa1")); err != nil {
		t.Error(err)
	}
	if !sum.Ok() {
		t.Error(sum)
	}
}

// The reaper streams: a state dir waits for the engine items read before
// it, not for the ones after it. A dir listed before its own bottle (not
// what bottle-plan-cleanup writes) goes only if the bottle is already gone
// when the backends are asked (the two run concurrently); otherwise it is
// kept, and the next run takes it.
func TestStateDirBeforeItsBottle(t *testing.T) {
	e := newEnv(t)
	proj := e.w.bottle("a-aaaa1", "running")
	dir := e.statedir("a-aaaa1", false)
	dir.Bottle = proj.Name
	e.add(dir, proj)
	res, _ := e.run(context.Background())
	if res[0].Status != bottle.Removed {
		status(t, res[0], bottle.Skipped, "its bottle exists")
	}
	status(t, res[1], bottle.Removed, "")
	e.input = nil
	e.add(dir)
	res, _ = e.run(context.Background())
	if res[0].Status != bottle.Gone {
		status(t, res[0], bottle.Removed, "")
	}
	if _, err := os.Stat(dir.Path); !os.IsNotExist(err) {
		t.Errorf("the dir is still there after two runs: %v", err)
	}
}

func TestEngineUnreachable(t *testing.T) {
	e := newEnv(t)
	down := &engine.UnreachableError{Endpoint: engine.Endpoint{Host: "unix:///nobody.sock"}, Err: errors.New("connect: no such file or directory")}
	proj := e.w.bottle("a-aaaa1", "exited")
	e.f.inspectContainer = func(string) (engine.Container, error) { return engine.Container{}, down }
	e.f.inspectNetwork = func(string) (engine.Network, error) { return engine.Network{}, down }
	e.f.inspectVolume = func(string) (engine.Volume, error) { return engine.Volume{}, down }
	e.f.containers = func() ([]engine.Container, error) { return nil, down }
	e.f.networks = func() ([]engine.Network, error) { return nil, down }
	e.f.volumes = func() ([]engine.Volume, error) { return nil, down }
	e.add(proj, e.w.strayNetwork("n-aaaa1"), e.statedir("o-aaaa1", false))
	res, sum := e.run(context.Background())
	status(t, res[0], bottle.Failed, "cannot reach the Docker engine")
	status(t, res[1], bottle.Failed, "cannot reach the Docker engine")
	status(t, res[2], bottle.Skipped, "could not be asked")
	if _, err := os.Stat(filepath.Join(e.root, "o-aaaa1")); err != nil {
		t.Error(err)
	}
	if sum.Ok() {
		t.Error(sum)
	}
}

func TestLaunchingIsSkipped(t *testing.T) {
	e := newEnv(t)
	proj := e.w.bottle("a-aaaa1", "running")
	dir := e.statedir("a-aaaa1", false)
	lock, err := statedir.Acquire(dir.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	e.add(proj, dir)
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Skipped, ReasonLaunching)
	status(t, res[1], bottle.Skipped, ReasonLaunching)
	if len(e.f.calls("rm-container")) != 0 {
		t.Errorf("removed a starting bottle: %v", e.f.log)
	}
}

func TestInterrupted(t *testing.T) {
	e := newEnv(t)
	e.opt.Jobs = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// the signal arrives while the first removal is in flight
	remove := e.f.removeContainer
	var once sync.Once
	e.f.removeContainer = func(id string) error {
		once.Do(cancel)
		return remove(id)
	}
	var items []any
	for i := range 6 {
		items = append(items, e.w.strayContainer(fmt.Sprintf("s-%d", i)))
	}
	items = append(items, e.w.strayNetwork("n-aaaa1"), e.statedir("o-aaaa1", false))
	e.add(items...)
	res, sum := e.run(ctx)
	removed := 0
	for _, r := range res {
		switch {
		case r.Status == bottle.Removed:
			removed++
		case r.Status == bottle.Skipped && r.Reason == ReasonInterrupted:
		default:
			t.Errorf("got %+v, want removed or skipped: interrupted", r)
		}
	}
	if removed != 1 {
		t.Errorf("%d removed, want only the one in flight", removed)
	}
	if !sum.Interrupted {
		t.Error("not marked interrupted")
	}
	if _, err := os.Stat(filepath.Join(e.root, "o-aaaa1")); err != nil {
		t.Error(err)
	}
}

func TestEmptyInput(t *testing.T) {
	e := newEnv(t) // any engine call fails the test: there is nothing to act on
	e.f = &fake{t: t}
	e.opt.Backends = []backend.Backend{&docker.Backend{API: e.f, Prefix: prefix, Retry: fast}}
	res, sum := e.run(context.Background())
	if len(res) != 0 || sum.Total() != 0 || !sum.Ok() {
		t.Errorf("%v %v", res, sum)
	}
}

// Red team, hole 1 (reaper side): a state root that became mostly not
// bottle state between plan and reap (the wrong root given to the reaper)
// removes no state dir: each is skipped, naming the count.
func TestStateRootRefusedAtReap(t *testing.T) {
	e := newEnv(t)
	dir := e.statedir("o-aaaa1", false)
	for _, d := range []string{"thesis", "webapp"} {
		if err := os.MkdirAll(filepath.Join(e.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.add(dir)
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Skipped, "2 of its 3 entries do not look like bottle state")
	if _, err := os.Stat(dir.Path); err != nil {
		t.Error(err)
	}
}

// Red team, hole 4: an item planned with --older-than is checked against
// its age when the reaper acts.
func TestStateDirOlderThanRechecked(t *testing.T) {
	e := newEnv(t)
	dir := e.statedir("o-aaaa1", false)
	dir.OlderThan = "1h0m0s"
	e.add(dir)
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Skipped, "not older than --older-than 1h0m0s")
}

// A stray volume (or network) that a compose project's container uses waits
// for the compose projects, so it goes in the same run (hole 13 of the red
// team's issue): before, it raced the project and failed "in use".
func TestStrayVolumeWaitsForProjects(t *testing.T) {
	e := newEnv(t)
	proj := e.w.bottle("a-1", "exited")
	made := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := engine.Volume{Name: prefix + "shared", Created: made}
	e.w.volumes[v.Name] = v
	stray := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: v.Name, ID: v.Name, Created: &made}
	rm := e.f.removeContainer
	e.f.removeContainer = func(id string) error {
		time.Sleep(30 * time.Millisecond) // the engine takes its time
		err := rm(id)
		e.f.record("removed-container", id)
		return err
	}
	e.add(proj, stray)
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	status(t, res[1], bottle.Removed, "")
	last := -1
	for i, l := range e.f.log {
		if strings.HasPrefix(l, "removed-container ") {
			last = i
		}
	}
	for i, l := range e.f.log {
		if l == "rm-volume "+v.Name && i < last {
			t.Fatalf("the stray volume went before the project's containers: %v", e.f.log)
		}
	}
}

// Every result says when the item was answered (RFC 3339 UTC, whole
// seconds): a cron log of results tells when each thing went.
func TestResultsCarryTheTime(t *testing.T) {
	e := newEnv(t)
	e.add(e.w.strayContainer("s-1"), `not json`, e.statedir("d-1", false))
	before := time.Now().UTC().Truncate(time.Second)
	res, _ := e.run(context.Background())
	after := time.Now().UTC()
	for i, r := range res {
		at, err := time.Parse(time.RFC3339, r.Time)
		if err != nil || at.Location() != time.UTC || !strings.HasSuffix(r.Time, "Z") || at.Before(before) || at.After(after) {
			t.Errorf("result %d: time %q (%v), want RFC 3339 UTC between %v and %v", i, r.Time, err, before, after)
		}
	}
}

// launched makes the state dir bottle-launch leaves for slug: bottle.json
// naming the bottle and its image.
func (e *env) launched(slug string) {
	e.t.Helper()
	dir := filepath.Join(e.root, slug)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		e.t.Fatal(err)
	}
	meta := fmt.Sprintf(`{"backend":"docker","name":"%s%s","slug":"%s","agent":"a","image":"bottle-test/agent","spec":{"image":"bottle-test/agent"}}`, prefix, slug, slug)
	if err := os.WriteFile(filepath.Join(dir, bottle.MetaFile), []byte(meta), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// saver is a Save that writes a transcript file into the dir, as the real
// one would, and fails for the slugs in fail.
type saver struct {
	mu    sync.Mutex
	saved map[string]transcript.Home
	fail  map[string]error
}

func (s *saver) save(_ context.Context, h transcript.Home, dir string) (transcript.Saved, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slug := filepath.Base(dir)
	if s.saved == nil {
		s.saved = map[string]transcript.Home{}
	}
	s.saved[slug] = h
	if err := s.fail[slug]; err != nil {
		return transcript.Saved{}, err
	}
	os.MkdirAll(filepath.Join(dir, bottle.TranscriptDir), 0o700)
	os.WriteFile(filepath.Join(dir, bottle.TranscriptDir, "s.jsonl"), []byte("saved\n"), 0o600)
	return transcript.Saved{Files: 1, Bytes: 6}, nil
}

// Before a launcher-made bottle's project goes, its transcript is saved
// into its state dir, whatever the plan says of that dir; the dir's own
// removal then decides by what it finds: a .preserve added after the plan
// keeps it (with the transcript), a plan without --include-transcripts
// keeps it (it holds a conversation now), a plan with it removes it (the
// rescue's own write is no change since the plan). A save that fails keeps
// the home volume, naming it and the ways out; the rest of the project
// goes. The slugs have a slug's shape, so the state root is accepted and
// each dir's own result is checked.
func TestTranscriptSavedFirst(t *testing.T) {
	e := newEnv(t)
	sv := &saver{fail: map[string]error{"broken-cccc3": errors.New("No such image: bottle-test/agent")}}
	e.opt.Save = sv.save
	slugs := []string{"keep-aaaa1", "going-bbbb2", "broken-cccc3", "kept-dddd4", "talk-eeee5"}
	projects := map[string]bottle.Item{}
	for _, s := range slugs {
		projects[s] = e.w.bottle(s, "exited")
		e.launched(s)
	}
	going, kept, talk := e.statedir("going-bbbb2", false), e.statedir("kept-dddd4", false), e.statedir("talk-eeee5", false)
	going.IncludeTranscripts, kept.IncludeTranscripts = true, true
	for _, s := range slugs {
		e.add(projects[s])
	}
	e.add(going, kept, talk)
	// after the plan, a person keeps one dir
	os.WriteFile(filepath.Join(e.root, "kept-dddd4", bottle.PreserveFile), nil, 0o600)

	res, _ := e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	status(t, res[1], bottle.Removed, "")
	status(t, res[2], bottle.Failed, "volume "+prefix+"broken-cccc3_home: its transcript could not be saved into "+filepath.Join(e.root, "broken-cccc3")+
		": No such image: bottle-test/agent; the volume is kept (it holds the only copy): retry with bottle-cleanup --name broken-cccc3, or let it go with bottle-cleanup --name broken-cccc3 --discard-transcript")
	status(t, res[3], bottle.Removed, "")
	status(t, res[4], bottle.Removed, "")
	status(t, res[5], bottle.Removed, "")                          // going-bbbb2's dir
	status(t, res[6], bottle.Skipped, "preserved (.preserve)")     // kept-dddd4's dir
	status(t, res[7], bottle.Skipped, statedir.ReasonConversation) // talk-eeee5's dir
	for _, s := range slugs {
		h, ok := sv.saved[s]
		if !ok || h.Image != "bottle-test/agent" || h.Volume != prefix+s+"_home" || h.Agent != projects[s].Containers[0].ID {
			t.Errorf("%s: saved %v with %+v", s, ok, h)
		}
	}
	for _, s := range []string{"keep-aaaa1", "kept-dddd4", "talk-eeee5"} {
		if _, err := os.Stat(filepath.Join(e.root, s, bottle.TranscriptDir, "s.jsonl")); err != nil {
			t.Errorf("%s: the transcript is not in its dir: %v", s, err)
		}
	}
	if _, err := os.Stat(filepath.Join(e.root, "going-bbbb2")); err == nil {
		t.Error("going-bbbb2's dir stayed although its plan included conversations")
	}
	// the failed save kept exactly the home volume
	if _, ok := e.w.volumes[prefix+"broken-cccc3_home"]; !ok {
		t.Error("the home volume went although its transcript could not be saved")
	}
	for _, c := range projects["broken-cccc3"].Containers {
		if _, ok := e.w.containers[c.ID]; ok {
			t.Errorf("%s stayed: only the home volume is kept", c.Name)
		}
	}
}

// A dry run saves nothing; a bottle planned with discard_transcript is not
// saved, and its home volume goes.
func TestTranscriptNotSaved(t *testing.T) {
	sv := &saver{}
	e := newEnv(t)
	e.opt.DryRun, e.opt.Save = true, sv.save
	e.launched("dry-aaaa1")
	e.add(e.w.bottle("dry-aaaa1", "exited"))
	res, _ := e.run(context.Background())
	status(t, res[0], bottle.WouldRemove, "")

	e = newEnv(t)
	e.opt.Save = sv.save
	e.launched("dis-bbbb2")
	it := e.w.bottle("dis-bbbb2", "exited")
	it.DiscardTranscript = true
	e.add(it)
	res, _ = e.run(context.Background())
	status(t, res[0], bottle.Removed, "")
	if len(sv.saved) != 0 {
		t.Errorf("saved %v", sv.saved)
	}
}
