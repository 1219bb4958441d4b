// Package smolvm is the smolmachines backend: a bottle is a smolvm microVM
// "<prefix><slug>" (found with `smolvm machine ls --json`) plus its sidecar
// bundle in Docker, the container "<prefix>sidecars-<slug>" and the network
// "<prefix>bundle-<slug>" (found by name through the engine). Any of the
// three makes a bottle, so a crashed bottle's leftovers are found too.
//
// Without a smolvm binary (Linux hosts) the backend has no machines and
// that is no error; a smolvm that fails, prints what this package cannot
// read or hangs past the timeout makes the whole backend unknown.
package smolvm

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
)

// StatusGone is a smolmachines bottle's status when its machine is gone
// but bundle parts remain: what docker calls a project without containers.
const StatusGone = bottle.StatusOrphaned

// Backend is the smolmachines backend.
type Backend struct {
	// CLI runs smolvm; nil or without Path means no smolvm on this host.
	CLI *smolvmcli.CLI
	// CLIErr is why smolvm could not be resolved ($BOTTLE_SMOLVM names no
	// executable): every call then fails with it.
	CLIErr error
	API    engine.API
	Prefix string
	// Lone checks and removes the bundle containers and networks by the
	// docker backend's rules for a lone one (package all gives it
	// docker.Lone).
	Lone Lone
}

// Lone checks and removes a lone container or network item.
type Lone interface {
	// Check says why the item is not acceptable, or "".
	Check(bottle.Item) string
	// Remove removes the item; call Check first.
	Remove(context.Context, bottle.Item, backend.RemoveOptions) bottle.Result
}

var (
	_ backend.Sharing = (*Backend)(nil)
	_ backend.Remover = (*Backend)(nil)
)

// New resolves smolvm from getenv and returns the backend for prefix; lone
// removes the bundle containers and networks.
func New(getenv func(string) string, api engine.API, prefix string, lone Lone) *Backend {
	c, err := smolvmcli.Find(getenv)
	return &Backend{CLI: c, CLIErr: err, API: api, Prefix: prefix, Lone: lone}
}

// Name returns "smolmachines".
func (b *Backend) Name() string { return bottle.Smolmachines }

// machines lists the machines; none, without error, when there is no smolvm.
func (b *Backend) machines(ctx context.Context) ([]smolvmcli.Machine, error) {
	if b.CLIErr != nil {
		return nil, b.CLIErr
	}
	if !b.CLI.Present() {
		return nil, nil
	}
	return b.CLI.List(ctx)
}

// Inventory asks smolvm for its machines and the engine for bundle parts,
// at once.
func (b *Backend) Inventory(ctx context.Context) (backend.Inventory, error) {
	return b.InventoryFrom(ctx, nil)
}

// InventoryFrom is Inventory reading the engine through a survey's
// listings, which the docker backend of the same survey shares.
func (b *Backend) InventoryFrom(ctx context.Context, l *backend.Listings) (backend.Inventory, error) {
	var ms []smolvmcli.Machine
	var w engine.World
	var mErr, wErr error
	var wg sync.WaitGroup
	wg.Go(func() { ms, mErr = b.machines(ctx) })
	wg.Go(func() { w, wErr = l.Engine(ctx, b.API) })
	wg.Wait()
	if mErr != nil {
		return backend.Inventory{}, mErr
	}
	if wErr != nil {
		return backend.Inventory{}, fmt.Errorf("bundle containers and networks: %w", wErr)
	}
	return Classify(ms, w, b.Prefix), nil
}

type group struct {
	slug       string
	machine    *smolvmcli.Machine
	containers []engine.Container
	networks   []engine.Network
}

// Bundle reports whether a container or network is a smolmachines bundle
// part of prefix, and its slug: named "<prefix>sidecars-<slug>" or
// "<prefix>bundle-<slug>" and not in one of our compose projects (those are
// the docker backend's).
func Bundle(name string, labels map[string]string, prefix string) (string, bool) {
	if compose.InProject(labels, prefix) {
		return "", false
	}
	return bottle.BundleSlug(name, prefix)
}

// Classify turns machines and an engine listing into the backend's inventory:
// one bottle per slug, and one plan item per machine, bundle container and
// bundle network. Machines and resources not named with the prefix are
// left out.
func Classify(ms []smolvmcli.Machine, w engine.World, prefix string) backend.Inventory {
	groups := map[string]*group{}
	get := func(slug string) *group {
		g := groups[slug]
		if g == nil {
			g = &group{slug: slug}
			groups[slug] = g
		}
		return g
	}
	for i := range ms {
		if slug := bottle.Slug(ms[i].Name, prefix); slug != "" {
			get(slug).machine = &ms[i]
		}
	}
	for _, c := range w.Containers {
		if slug, ok := Bundle(c.Name, c.Labels, prefix); ok {
			g := get(slug)
			g.containers = append(g.containers, c)
		}
	}
	for _, n := range w.Networks {
		if slug, ok := Bundle(n.Name, n.Labels, prefix); ok {
			g := get(slug)
			g.networks = append(g.networks, n)
		}
	}

	slugs := make([]string, 0, len(groups))
	for s := range groups {
		slugs = append(slugs, s)
	}
	sort.Strings(slugs)
	var inv backend.Inventory
	for _, slug := range slugs {
		g := groups[slug]
		sort.Slice(g.containers, func(i, j int) bool { return g.containers[i].Name < g.containers[j].Name })
		sort.Slice(g.networks, func(i, j int) bool { return g.networks[i].Name < g.networks[j].Name })
		bt := bottle.Bottle{
			Backend: bottle.Smolmachines, Name: bottle.ProjectName(prefix, slug), Slug: slug, Status: StatusGone,
			Containers: []bottle.Container{}, Networks: []bottle.Network{}, Volumes: []bottle.Volume{},
		}
		var created time.Time
		saw := func(t time.Time) {
			if !t.IsZero() && (created.IsZero() || t.Before(created)) {
				created = t
			}
		}
		// The machine's item comes first: package plan names a state dir's
		// bottle after the first item of its slug.
		if m := g.machine; m != nil {
			bt.Status = m.State
			if bt.Status == "" {
				bt.Status = "unknown"
			}
			bt.Machine = &bottle.Machine{Name: m.Name, State: m.State}
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: m.Name, ID: m.Name,
				Slug: slug, State: m.State, Created: timePtr(m.Created)})
		}
		for _, c := range g.containers {
			bt.Containers = append(bt.Containers, bottle.Container{Name: c.Name, ID: c.ID, State: c.State})
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Smolmachines, Kind: bottle.KindContainer, Name: c.Name, ID: c.ID,
				Slug: slug, State: c.State, Created: timePtr(c.Created), OwnerDir: compose.StateDir(c.Labels)})
			saw(c.Created)
		}
		for _, n := range g.networks {
			bt.Networks = append(bt.Networks, bottle.Network{Name: n.Name, ID: n.ID})
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Smolmachines, Kind: bottle.KindNetwork, Name: n.Name, ID: n.ID,
				Slug: slug, Created: timePtr(n.Created), OwnerDir: compose.StateDir(n.Labels)})
			saw(n.Created)
		}
		if g.machine != nil && !g.machine.Created.IsZero() {
			created = g.machine.Created
		}
		bt.Created = timePtr(created)
		inv.Bottles = append(inv.Bottles, bt)
	}
	// Machines of other prefixes share the state root (the bundle parts
	// of theirs are the docker backend's to tell: it reads every container
	// and network).
	for _, m := range ms {
		inv.AddElsewhere(m.Name, nil, prefix, func(name string) []string { return []string{bottle.Slug(name, prefix)} })
	}
	return inv
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Second)
	return &t
}
