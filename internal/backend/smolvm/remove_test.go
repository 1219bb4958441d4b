package smolvm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
	"github.com/claude-bottle/bottle/internal/smolvmfake"
)

func machineItem(name string, created *time.Time) bottle.Item {
	return bottle.Item{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: name, ID: name, Created: created}
}

func fakeLog(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(os.Getenv(smolvmfake.EnvState) + ".log")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRemoveMachine(t *testing.T) {
	c, seed := fakeCLI(t)
	ctx := context.Background()
	b := &Backend{CLI: c, API: enginefake.New(t), Prefix: p}
	seed("machine", "create", "--name", p+"run-1", "--created", "1700000000")
	seed("machine", "start", "--name", p+"run-1")
	seed("machine", "create", "--name", p+"again-2", "--created", "1700000005")
	created := time.Unix(1700000000, 0).UTC()

	// --dry-run checks everything and touches nothing.
	if r := b.Remove(ctx, machineItem(p+"run-1", &created), backend.RemoveOptions{DryRun: true}); r.Status != bottle.WouldRemove {
		t.Errorf("dry run: %+v", r)
	}
	// Running again after a --not-running plan.
	it := machineItem(p+"run-1", &created)
	it.NotRunning = true
	if r := b.Remove(ctx, it, backend.RemoveOptions{}); r.Status != bottle.Skipped || !strings.Contains(r.Reason, "running") {
		t.Errorf("not-running: %+v", r)
	}

	// Removal is stop, then delete -f; the slot is taken for it.
	acquired := 0
	opt := backend.RemoveOptions{Acquire: func(context.Context) (func(), error) { acquired++; return func() {}, nil }}
	if r := b.Remove(ctx, machineItem(p+"run-1", &created), opt); r.Status != bottle.Removed || acquired != 1 {
		t.Errorf("remove: %+v, acquired %d", r, acquired)
	}
	log := fakeLog(t)
	stop := strings.Index(log, "machine stop --name "+p+"run-1\n")
	del := strings.Index(log, "machine delete --name "+p+"run-1 -f\n")
	if stop < 0 || del < stop {
		t.Errorf("want stop, then delete -f; the fake saw:\n%s", log)
	}
	if r := b.Remove(ctx, machineItem(p+"run-1", &created), opt); r.Status != bottle.Gone {
		t.Errorf("second remove: %+v", r)
	}

	// Made again under the same name since the plan: not the planned one.
	old := time.Unix(1600000000, 0).UTC()
	if r := b.Remove(ctx, machineItem(p+"again-2", &old), opt); r.Status != bottle.Skipped || !strings.Contains(r.Reason, "changed since plan") {
		t.Errorf("re-created: %+v", r)
	}

	// Names are checked before anything runs.
	for _, bad := range []bottle.Item{
		machineItem("claude-bottle-x-1", nil),
		machineItem(p[:len(p)-1]+"x-1", nil),
		machineItem(p, nil),
		{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: p + "again-2", ID: p + "other"},
		{Backend: bottle.Docker, Kind: bottle.KindMachine, Name: p + "again-2"},
		{Backend: bottle.Smolmachines, Kind: bottle.KindVolume, Name: p + "again-2"},
	} {
		if r := b.Remove(ctx, bad, opt); r.Status != bottle.Invalid {
			t.Errorf("%+v: %+v, want invalid", bad, r)
		}
	}
	if strings.Contains(fakeLog(t), "delete --name "+p+"again-2") {
		t.Error("an invalid item reached smolvm delete")
	}

	// A delete that fails is failed (and says why); the machine stays.
	t.Setenv(smolvmfake.EnvFail, "delete=exit")
	now := time.Unix(1700000005, 0).UTC()
	if r := b.Remove(ctx, machineItem(p+"again-2", &now), opt); r.Status != bottle.Failed || !strings.Contains(r.Error, "database is locked") {
		t.Errorf("failing delete: %+v", r)
	}
	// A failing stop does not keep delete from trying (delete stops too).
	t.Setenv(smolvmfake.EnvFail, "stop=exit")
	if r := b.Remove(ctx, machineItem(p+"again-2", &now), opt); r.Status != bottle.Removed {
		t.Errorf("failing stop: %+v", r)
	}
	// smolvm that cannot list: failed, nothing stopped or deleted.
	seed("machine", "create", "--name", p+"third-3")
	t.Setenv(smolvmfake.EnvFail, "ls=garbage")
	if r := b.Remove(ctx, machineItem(p+"third-3", nil), opt); r.Status != bottle.Failed {
		t.Errorf("unlistable: %+v", r)
	}
	if log := fakeLog(t); strings.Contains(log, "stop --name "+p+"third-3") || strings.Contains(log, "delete --name "+p+"third-3") {
		t.Error("smolvm was asked to act on a machine it could not list")
	}
	// No smolvm at reap time: failed, never gone.
	b.CLI = &smolvmcli.CLI{}
	if r := b.Remove(ctx, machineItem(p+"third-3", nil), opt); r.Status != bottle.Failed {
		t.Errorf("no smolvm: %+v", r)
	}
}

// TestRemoveMachineRaces: a machine that someone else removes between the
// listing and the stop or delete is gone, not failed.
func TestRemoveMachineRaces(t *testing.T) {
	c, seed := fakeCLI(t)
	ctx := context.Background()
	b := &Backend{CLI: c, API: enginefake.New(t), Prefix: p}
	for _, step := range []string{"stop", "delete"} {
		seed("machine", "create", "--name", p+step+"-1")
		t.Setenv(smolvmfake.EnvFail, step+"=vanish")
		if r := b.Remove(ctx, machineItem(p+step+"-1", nil), backend.RemoveOptions{}); r.Status != bottle.Gone {
			t.Errorf("vanished before %s: %+v", step, r)
		}
	}
}

func bundleContainer(id string) bottle.Item {
	return bottle.Item{Backend: bottle.Smolmachines, Kind: bottle.KindContainer, Name: p + "sidecars-s-1", ID: id, State: "exited"}
}

func TestRemoveContainer(t *testing.T) {
	ctx := context.Background()
	removed := ""
	eng := &enginefake.Engine{T: t,
		OnInspectContainer: func(id string) (engine.Container, error) {
			switch id {
			case idC1:
				return engine.Container{ID: idC1, Name: p + "sidecars-s-1", State: "exited"}, nil
			case idRenamed:
				return engine.Container{ID: idRenamed, Name: p + "sidecars-other-2"}, nil
			case idComposed:
				return engine.Container{ID: idComposed, Name: p + "sidecars-s-1", Labels: map[string]string{"com.docker.compose.project": p + "s-1"}}, nil
			case p + "sidecars-s-1":
				return engine.Container{ID: idC1New, Name: p + "sidecars-s-1"}, nil
			}
			return engine.Container{}, errNoSuch{}
		},
		OnRemoveContainerOnly: func(id string) error { removed += id + " "; return nil },
	}
	b := &Backend{CLI: &smolvmcli.CLI{}, API: eng, Prefix: p, Lone: docker.Lone{API: eng}}

	if r := b.Remove(ctx, bundleContainer(idC1), backend.RemoveOptions{DryRun: true}); r.Status != bottle.WouldRemove || removed != "" {
		t.Errorf("dry run: %+v, removed %q", r, removed)
	}
	if r := b.Remove(ctx, bundleContainer(idC1), backend.RemoveOptions{}); r.Status != bottle.Removed || removed != idC1+" " {
		t.Errorf("remove: %+v, removed %q", r, removed)
	}
	// The planned ID is gone and the name now belongs to another container.
	if r := b.Remove(ctx, bundleContainer(idC1Old), backend.RemoveOptions{}); r.Status != bottle.Skipped || !strings.Contains(r.Reason, "changed since plan") {
		t.Errorf("replaced: %+v", r)
	}
	for _, id := range []string{idRenamed, idComposed} {
		if r := b.Remove(ctx, bundleContainer(id), backend.RemoveOptions{}); r.Status != bottle.Skipped {
			t.Errorf("%s: %+v", id, r)
		}
	}
	eng.OnInspectContainer = func(string) (engine.Container, error) { return engine.Container{}, errNoSuch{} }
	if r := b.Remove(ctx, bundleContainer(idC9), backend.RemoveOptions{}); r.Status != bottle.Gone {
		t.Errorf("gone: %+v", r)
	}
	for _, it := range []bottle.Item{
		{Backend: bottle.Smolmachines, Kind: bottle.KindContainer, Name: p + "s-1", ID: idC1},
		{Backend: bottle.Smolmachines, Kind: bottle.KindContainer, Name: "claude-bottle-sidecars-s-1", ID: idC1},
		{Backend: bottle.Smolmachines, Kind: bottle.KindContainer, Name: p + "sidecars-s-1"},
	} {
		if r := b.Remove(ctx, it, backend.RemoveOptions{}); r.Status != bottle.Invalid {
			t.Errorf("%+v: %+v, want invalid", it, r)
		}
	}
	if removed != idC1+" " {
		t.Errorf("removed %q; want only c1", removed)
	}
}

func TestRemoveNetwork(t *testing.T) {
	ctx := context.Background()
	attempts := 0
	eng := &enginefake.Engine{T: t,
		OnInspectNetwork: func(id string) (engine.Network, error) {
			if id == idN1 {
				return engine.Network{ID: idN1, Name: p + "bundle-s-1"}, nil
			}
			return engine.Network{}, errNoSuch{}
		},
		// Its container is still going away: 403 active endpoints, then ok.
		OnRemoveNetwork: func(string) error {
			attempts++
			if attempts < 3 {
				return activeEndpoints{}
			}
			return nil
		},
	}
	b := &Backend{CLI: &smolvmcli.CLI{}, API: eng, Prefix: p, Lone: docker.Lone{API: eng}}
	it := bottle.Item{Backend: bottle.Smolmachines, Kind: bottle.KindNetwork, Name: p + "bundle-s-1", ID: idN1}
	if r := b.Remove(ctx, it, backend.RemoveOptions{}); r.Status != bottle.Removed || attempts != 3 {
		t.Errorf("remove: %+v after %d attempts", r, attempts)
	}
	eng.OnRemoveNetwork = func(string) error { return errors.New("engine exploded") }
	if r := b.Remove(ctx, it, backend.RemoveOptions{}); r.Status != bottle.Failed || r.Error != "engine exploded" {
		t.Errorf("failure: %+v", r)
	}
	it.ID = idN0
	if r := b.Remove(ctx, it, backend.RemoveOptions{}); r.Status != bottle.Gone {
		t.Errorf("gone: %+v", r)
	}
}

var (
	idC1       = hexID(0xc1)
	idRenamed  = hexID(0xc2)
	idComposed = hexID(0xc3)
	idC1New    = hexID(0xc4)
	idC1Old    = hexID(0xc5)
	idC9       = hexID(0xc9)
	idN1       = hexID(0xa1)
	idN0       = hexID(0xa0)
)

func hexID(n int) string { return fmt.Sprintf("%064x", n) }

type activeEndpoints struct{}

func (activeEndpoints) Error() string {
	return "error while removing network: network has active endpoints"
}
func (activeEndpoints) Forbidden() {}
