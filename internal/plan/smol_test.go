package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// stub is a backend with a fixed answer.
type stub struct {
	name string
	inv  backend.Inventory
	err  error
}

func (s stub) Name() string { return s.name }
func (s stub) Inventory(context.Context) (backend.Inventory, error) {
	return s.inv, s.err
}

func smolInventory() backend.Inventory {
	return backend.Inventory{
		Bottles: []bottle.Bottle{{Backend: bottle.Smolmachines, Name: "p-smol-aaaa1", Slug: "smol-aaaa1", Status: "running"}},
		Items: []bottle.Item{
			{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: "p-smol-aaaa1", ID: "p-smol-aaaa1", Slug: "smol-aaaa1", State: "running", Created: ago(3 * time.Hour)},
			{Backend: bottle.Smolmachines, Kind: bottle.KindContainer, Name: "p-sidecars-smol-aaaa1", ID: "c1", Slug: "smol-aaaa1", State: "exited", Created: ago(2 * time.Hour)},
			{Backend: bottle.Smolmachines, Kind: bottle.KindNetwork, Name: "p-bundle-smol-aaaa1", ID: "n1", Slug: "smol-aaaa1", Created: ago(2 * time.Hour)},
		},
	}
}

func dockerInventory() backend.Inventory {
	return backend.Inventory{
		Bottles: []bottle.Bottle{{Backend: bottle.Docker, Name: "p-dock-bbbb2", Slug: "dock-bbbb2", Status: "running"}},
		Items: []bottle.Item{{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: "p-dock-bbbb2", Slug: "dock-bbbb2",
			Containers: []bottle.Container{{Name: "p-dock-bbbb2-agent-1", ID: "d1", State: "running"}}, Created: ago(time.Hour)}},
	}
}

func TestRenderGroupsByBackend(t *testing.T) {
	survey := backend.Ask(context.Background(), []backend.Backend{
		stub{name: bottle.Docker, inv: dockerInventory()}, stub{name: bottle.Smolmachines, inv: smolInventory()},
	})
	p := Build(survey, nil, nil, Options{Now: now})
	var b strings.Builder
	if err := Render(&b, p.Items, now, false, false); err != nil {
		t.Fatal(err)
	}
	want := `--- docker backend ---
compose projects:
  p-dock-bbbb2  1 container (1 running); 0 networks; 0 volumes; created 1h ago
--- smolmachines backend ---
containers:
  p-sidecars-smol-aaaa1  exited; created 2h ago
networks:
  p-bundle-smol-aaaa1  created 2h ago
machines:
  p-smol-aaaa1  running; created 3h ago
total: 1 compose project, 1 container, 1 network, 1 machine
`
	if b.String() != want {
		t.Errorf("render:\n%s\nwant:\n%s", b.String(), want)
	}

	// An empty smolmachines side prints nothing for it.
	survey = backend.Ask(context.Background(), []backend.Backend{
		stub{name: bottle.Docker, inv: dockerInventory()}, stub{name: bottle.Smolmachines},
	})
	b.Reset()
	if err := Render(&b, Build(survey, nil, nil, Options{Now: now}).Items, now, false, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "smolmachines") || !strings.Contains(b.String(), "--- docker backend ---") {
		t.Errorf("empty smolmachines side:\n%s", b.String())
	}
}

func stateDirs(t *testing.T, slugs ...string) (string, []statedir.Entry) {
	t.Helper()
	root := stateRoot(t)
	for _, s := range slugs {
		if err := os.MkdirAll(filepath.Join(root, s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := statedir.Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, entries
}

func planned(p *Plan) []string {
	var out []string
	for _, it := range p.Items {
		if it.Kind == bottle.KindStateDir {
			s := it.Backend + " " + it.Name
			if it.Bottle != "" {
				s += " goes with " + it.Bottle
			}
			out = append(out, s)
		}
	}
	return out
}

// TestCrossBackendProtection: the live set is the union of every backend,
// so a state dir of a smolmachines bottle is never orphan for the docker
// backend, and vice versa; when either backend cannot be asked, no state
// dir is planned.
func TestCrossBackendProtection(t *testing.T) {
	_, entries := stateDirs(t, "smol-aaaa1", "dock-bbbb2", "orphan-cccc3")
	ask := func(bs ...backend.Backend) *backend.Survey { return backend.Ask(context.Background(), bs) }

	// Only the docker backend's bottles in the plan's selection: the
	// smolmachines bottle (not planned with --kind compose-project) keeps
	// its dir, and the docker one keeps its dir too (it is not planned).
	p := Build(ask(stub{name: bottle.Docker, inv: dockerInventory()}, stub{name: bottle.Smolmachines, inv: smolInventory()}),
		entries, nil, Options{Now: now, Kinds: []string{bottle.KindStateDir}})
	if got := strings.Join(planned(p), "; "); got != "docker orphan-cccc3" {
		t.Errorf("state dirs planned: %q; want only the orphan", got)
	}

	// Everything planned: each bottle's dir goes with its own bottle.
	p = Build(ask(stub{name: bottle.Docker, inv: dockerInventory()}, stub{name: bottle.Smolmachines, inv: smolInventory()}),
		entries, nil, Options{Now: now})
	if got := strings.Join(planned(p), "; "); got != "docker dock-bbbb2 goes with p-dock-bbbb2; docker orphan-cccc3; smolmachines smol-aaaa1 goes with p-smol-aaaa1" {
		t.Errorf("state dirs planned: %q", got)
	}

	// The smolmachines bottle's items left out (--not-running: its machine
	// runs): its dir stays, although the docker backend knows no smol-aaaa1.
	p = Build(ask(stub{name: bottle.Docker}, stub{name: bottle.Smolmachines, inv: smolInventory()}),
		entries, nil, Options{Now: now, NotRunning: true})
	if got := strings.Join(planned(p), "; "); got != "docker dock-bbbb2; docker orphan-cccc3" {
		t.Errorf("with a running machine: %q", got)
	}

	// Either backend unknown: no state dir at all, and the plan says why.
	for _, bs := range [][]backend.Backend{
		{stub{name: bottle.Docker, inv: dockerInventory()}, stub{name: bottle.Smolmachines, err: errors.New("smolvm machine ls --json: exit 1: database is locked")}},
		{stub{name: bottle.Docker, err: errors.New("cannot reach the Docker engine")}, stub{name: bottle.Smolmachines, inv: smolInventory()}},
	} {
		p = Build(ask(bs...), entries, nil, Options{Now: now})
		if got := planned(p); len(got) != 0 || p.Err == nil {
			t.Errorf("a backend unknown: state dirs %v, err %v", got, p.Err)
		}
		if strings.Contains(strings.Join(p.Notes, "\n"), "no state dir") {
			t.Errorf("notes %q repeat what Err says", p.Notes)
		}
	}
}
