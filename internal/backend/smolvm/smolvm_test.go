package smolvm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
	"github.com/claude-bottle/bottle/internal/smolvmfake"
)

// errNoSuch is an error engine.IsNotFound accepts.
type errNoSuch struct{}

func (errNoSuch) Error() string { return "No such object" }
func (errNoSuch) NotFound()     {}

const p = "bt-test-"

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func world() engine.World {
	ours := map[string]string{compose.LabelProject: p + "dock-1"}
	return engine.World{
		Containers: []engine.Container{
			{ID: "c1", Name: p + "sidecars-smol-1", State: "running", Created: t0.Add(time.Minute)},
			{ID: "c2", Name: p + "sidecars-ghost-2", State: "exited", Created: t0},
			{ID: "c3", Name: p + "dock-1-agent-1", Labels: ours, State: "running"},
			// named like a bundle but in one of our compose projects: docker's
			{ID: "c4", Name: p + "sidecars-dock-1", Labels: ours, State: "running"},
			{ID: "c5", Name: p + "stray-5", State: "created"},
			{ID: "c6", Name: "x" + p + "sidecars-no-6", State: "running"},
			// a foreign compose project's container with a bundle name: ours
			{ID: "c7", Name: p + "sidecars-foreign-7", Labels: map[string]string{compose.LabelProject: "other"}, State: "running"},
		},
		Networks: []engine.Network{
			{ID: "n1", Name: p + "bundle-smol-1", Created: t0.Add(2 * time.Minute)},
			{ID: "n2", Name: p + "bundle-ghost-2", Created: t0.Add(time.Second)},
			{ID: "n3", Name: p + "dock-1_default", Labels: ours},
			{ID: "n4", Name: p + "bundle-"},
			{ID: "n5", Name: p + "stray-net"},
		},
		Volumes: []engine.Volume{
			{Name: p + "dock-1_home", Labels: ours, Created: t0},
			// bundles make no volumes: a bundle-named volume is a docker stray
			{Name: p + "bundle-vol-8", Created: t0},
		},
	}
}

func TestClassify(t *testing.T) {
	ms := []smolvmcli.Machine{
		{Name: p + "vm-only-3", State: "stopped", Created: t0.Add(-time.Hour)},
		{Name: p + "smol-1", State: "running", Created: t0.Add(-time.Minute)},
		{Name: "other-vm", State: "running"},
		{Name: p[:len(p)-1], State: "running"},
	}
	inv := Classify(ms, world(), p)

	var got []string
	for _, b := range inv.Bottles {
		m := "-"
		if b.Machine != nil {
			m = b.Machine.Name + ":" + b.Machine.State
		}
		created := "nil"
		if b.Created != nil {
			created = b.Created.Format(time.TimeOnly)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s %s c=%d n=%d", b.Backend, b.Name, b.Slug, b.Status, m, len(b.Containers), len(b.Networks)), "  created "+created)
	}
	want := []string{
		"smolmachines bt-test-foreign-7 foreign-7 orphaned - c=1 n=0", "  created nil",
		"smolmachines bt-test-ghost-2 ghost-2 orphaned - c=1 n=1", "  created 03:04:05",
		"smolmachines bt-test-smol-1 smol-1 running bt-test-smol-1:running c=1 n=1", "  created 03:03:05",
		"smolmachines bt-test-vm-only-3 vm-only-3 stopped bt-test-vm-only-3:stopped c=0 n=0", "  created 02:04:05",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bottles:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	got = nil
	for _, it := range inv.Items {
		got = append(got, fmt.Sprintf("%s %s %s id=%s slug=%s state=%s", it.Backend, it.Kind, it.Name, it.ID, it.Slug, it.State))
	}
	want = []string{
		"smolmachines container bt-test-sidecars-foreign-7 id=c7 slug=foreign-7 state=running",
		"smolmachines container bt-test-sidecars-ghost-2 id=c2 slug=ghost-2 state=exited",
		"smolmachines network bt-test-bundle-ghost-2 id=n2 slug=ghost-2 state=",
		"smolmachines machine bt-test-smol-1 id=bt-test-smol-1 slug=smol-1 state=running",
		"smolmachines container bt-test-sidecars-smol-1 id=c1 slug=smol-1 state=running",
		"smolmachines network bt-test-bundle-smol-1 id=n1 slug=smol-1 state=",
		"smolmachines machine bt-test-vm-only-3 id=bt-test-vm-only-3 slug=vm-only-3 state=stopped",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("items:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(inv.Claimed) != 0 || len(inv.Warnings) != 0 {
		t.Errorf("claimed %v, warnings %v", inv.Claimed, inv.Warnings)
	}
}

// TestEveryResourceOnce: across the docker and smolmachines inventories of
// one listing, every prefix-named resource is in exactly one item.
func TestEveryResourceOnce(t *testing.T) {
	w := world()
	count := map[string]int{}
	for _, inv := range []backend.Inventory{docker.Classify(w, p), Classify(nil, w, p)} {
		for _, it := range inv.Items {
			if it.Kind == bottle.KindComposeProject {
				for _, c := range it.Containers {
					count["container "+c.ID]++
				}
				for _, n := range it.Networks {
					count["network "+n.ID]++
				}
				for _, v := range it.Volumes {
					count["volume "+v.ID]++
				}
				continue
			}
			count[it.Kind+" "+it.ID]++
		}
	}
	for _, c := range w.Containers {
		wantOnce(t, count, "container "+c.ID, c.Name)
	}
	for _, n := range w.Networks {
		wantOnce(t, count, "network "+n.ID, n.Name)
	}
	for _, v := range w.Volumes {
		wantOnce(t, count, "volume "+v.Name, v.Name)
	}
}

// wantOnce: a prefix-named resource is in exactly one item, a look-alike in none.
func wantOnce(t *testing.T, count map[string]int, key, name string) {
	t.Helper()
	want := 0
	if bottle.HasPrefix(name, p) {
		want = 1
	}
	if count[key] != want {
		t.Errorf("%s (%s) is in %d items, want %d", key, name, count[key], want)
	}
}

func listing(t testing.TB, w engine.World) *enginefake.Engine {
	return &enginefake.Engine{T: t,
		OnContainers: func() ([]engine.Container, error) { return w.Containers, nil },
		OnNetworks:   func() ([]engine.Network, error) { return w.Networks, nil },
		OnVolumes:    func() ([]engine.Volume, error) { return w.Volumes, nil },
	}
}

func TestInventoryAvailability(t *testing.T) {
	ctx := context.Background()
	eng := listing(t, world())

	// No smolvm: no machines, no error, bundle parts still found.
	b := &Backend{CLI: &smolvmcli.CLI{}, API: eng, Prefix: p}
	inv, err := b.Inventory(ctx)
	if err != nil || len(inv.Bottles) != 3 {
		t.Fatalf("without smolvm: %d bottles, %v; want the 3 bundle-only bottles, no error", len(inv.Bottles), err)
	}

	// smolvm failing in each way: the backend is unknown.
	c, seed := fakeCLI(t)
	seed("machine", "create", "--name", p+"smol-1")
	c.Timeout = 300 * time.Millisecond
	b = &Backend{CLI: c, API: eng, Prefix: p}
	for _, mode := range []string{"exit", "garbage", "hang"} {
		t.Setenv(smolvmfake.EnvFail, mode)
		if inv, err := b.Inventory(ctx); err == nil {
			t.Errorf("smolvm %s: no error, inventory %+v", mode, inv)
		}
	}
	t.Setenv(smolvmfake.EnvFail, "")
	c.Timeout = 30 * time.Second
	if inv, err := b.Inventory(ctx); err != nil || len(inv.Bottles) != 3 || inv.Bottles[2].Machine == nil {
		t.Errorf("smolvm answering: %+v, %v", inv.Bottles, err)
	}

	// $BOTTLE_SMOLVM naming nothing: unknown too.
	b = New(func(k string) string { return map[string]string{smolvmcli.EnvBinary: "/nonexistent/smolvm"}[k] }, eng, p, docker.Lone{API: eng})
	if _, err := b.Inventory(ctx); err == nil || !strings.Contains(err.Error(), smolvmcli.EnvBinary) {
		t.Errorf("bad $BOTTLE_SMOLVM: err = %v", err)
	}

	// An engine that cannot be asked: unknown, and the error wraps the
	// engine's so a Survey says it once.
	down := errors.New("engine down")
	eng2 := &enginefake.Engine{T: t,
		OnContainers: func() ([]engine.Container, error) { return nil, down },
		OnNetworks:   func() ([]engine.Network, error) { return nil, down },
		OnVolumes:    func() ([]engine.Volume, error) { return nil, down },
	}
	b = &Backend{CLI: &smolvmcli.CLI{}, API: eng2, Prefix: p}
	if _, err := b.Inventory(ctx); !errors.Is(err, down) {
		t.Errorf("engine down: err = %v", err)
	}
}

// TestSurveySharesOneListing: within one Survey the docker and smolmachines
// backends list the engine once, and an engine error is said once.
func TestSurveySharesOneListing(t *testing.T) {
	calls := 0
	w := world()
	eng := &enginefake.Engine{T: t,
		OnContainers: func() ([]engine.Container, error) { calls++; return w.Containers, nil },
		OnNetworks:   func() ([]engine.Network, error) { return w.Networks, nil },
		OnVolumes:    func() ([]engine.Volume, error) { return w.Volumes, nil },
	}
	backends := []backend.Backend{&docker.Backend{API: eng, Prefix: p}, &Backend{CLI: &smolvmcli.CLI{}, API: eng, Prefix: p}}
	s := backend.Ask(context.Background(), backends)
	if !s.Complete() || calls != 1 {
		t.Errorf("complete %v, %d container listings; want one", s.Complete(), calls)
	}
	backend.Ask(context.Background(), backends)
	if calls != 2 {
		t.Errorf("a second survey listed %d times in all; want afresh (2)", calls)
	}

	down := &engine.UnreachableError{Endpoint: engine.Endpoint{Host: "unix:///nobody.sock"}, Err: errors.New("connection refused")}
	eng.OnContainers = func() ([]engine.Container, error) { return nil, down }
	s = backend.Ask(context.Background(), backends)
	if len(s.Errors) != 2 {
		t.Fatalf("errors %v; want both backends unknown", s.Errors)
	}
	if msg := s.Err().Error(); strings.Count(msg, "cannot reach") != 1 || !strings.HasPrefix(msg, "docker backend: ") {
		t.Errorf("Err() = %q; want the engine error once, from the docker backend", msg)
	}
}
