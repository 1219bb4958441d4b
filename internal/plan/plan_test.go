package plan

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

type oneBackend struct{ inv backend.Inventory }

func (b oneBackend) Name() string { return bottle.Docker }
func (b oneBackend) Inventory(context.Context) (backend.Inventory, error) {
	return b.inv, nil
}

// A bottle whose launcher holds its state dir's lock is in use: none of its
// items is planned, and the locked dir is never listed.
func TestLockedStateDirKeepsItsBottleOut(t *testing.T) {
	root := t.TempDir()
	for _, s := range []string{"run-aaaaa", "dead-bbbbb"} {
		if err := os.Mkdir(filepath.Join(root, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	lock, err := statedir.Acquire(filepath.Join(root, "run-aaaaa"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	inv := backend.Inventory{Items: []bottle.Item{
		{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: "p-run-aaaaa", Slug: "run-aaaaa"},
		{Backend: bottle.Docker, Kind: bottle.KindNetwork, Name: "p-run-aaaaa_x", Slug: "run-aaaaa"},
		{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: "p-dead-bbbbb", Slug: "dead-bbbbb"},
	}, Bottles: []bottle.Bottle{{Backend: bottle.Docker, Name: "p-run-aaaaa", Slug: "run-aaaaa"}, {Backend: bottle.Docker, Name: "p-dead-bbbbb", Slug: "dead-bbbbb"}}}
	p := Make(context.Background(), []backend.Backend{oneBackend{inv}}, Options{StateRoot: root})
	var got []string
	for _, it := range p.Items {
		got = append(got, it.Kind+" "+it.Name)
	}
	want := []string{"compose-project p-dead-bbbbb", "state-dir dead-bbbbb"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("plan = %q, want %q", got, want)
	}
	lock.Release()
	p = Make(context.Background(), []backend.Backend{oneBackend{inv}}, Options{StateRoot: root})
	if len(p.Items) != 5 {
		t.Errorf("once the lock is gone everything is planned; got %d items", len(p.Items))
	}
}
