// Package docker is the docker backend: a bottle is a compose project
// "<prefix><slug>", found by the com.docker.compose.project label on its
// containers, networks and volumes — so a project whose containers are gone
// but whose networks or volumes remain (invisible to `docker compose ls`)
// is found too. Prefix-named resources without the label are strays.
package docker

import (
	"context"
	"sort"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// Compose labels, as docker compose v2 (and v1) write them.
const (
	LabelProject    = "com.docker.compose.project"
	LabelService    = "com.docker.compose.service"
	LabelNetwork    = "com.docker.compose.network"
	LabelVolume     = "com.docker.compose.volume"
	LabelOneoff     = "com.docker.compose.oneoff"
	LabelNumber     = "com.docker.compose.container-number"
	LabelConfigHash = "com.docker.compose.config-hash"
	LabelWorkingDir = "com.docker.compose.project.working_dir"
	LabelConfigFile = "com.docker.compose.project.config_files"
	LabelVersion    = "com.docker.compose.version"
)

// Backend is the docker backend.
type Backend struct {
	API    engine.API
	Prefix string
	// Retry is how engine calls are tried again; nil is DefaultRetry().
	Retry *Retry
}

var _ backend.Sharing = (*Backend)(nil)

// Name returns "docker".
func (b *Backend) Name() string { return bottle.Docker }

// World is one listing of the engine: three requests, however much it holds.
type World = engine.World

// List lists containers, networks and volumes concurrently.
func List(ctx context.Context, api engine.Lister) (World, error) { return engine.ListAll(ctx, api) }

// Inventory lists the engine and sorts what it holds into bottles (compose
// projects) and strays.
func (b *Backend) Inventory(ctx context.Context) (backend.Inventory, error) {
	return b.InventoryFrom(ctx, nil)
}

// InventoryFrom is Inventory reading the engine through a survey's
// listings: within one backend.Survey the engine is listed once for every
// backend that reads it.
func (b *Backend) InventoryFrom(ctx context.Context, l *backend.Listings) (backend.Inventory, error) {
	w, err := l.Engine(ctx, b.API)
	if err != nil {
		return backend.Inventory{}, err
	}
	return Sort(w, b.Prefix), nil
}

type project struct {
	name       string
	containers []bottle.Container
	networks   []bottle.Network
	volumes    []bottle.Volume
	created    time.Time
}

func (p *project) saw(t time.Time) {
	if !t.IsZero() && (p.created.IsZero() || t.Before(p.created)) {
		p.created = t
	}
}

// InProject reports whether a resource with these labels belongs to a
// compose project of ours (the docker backend's, whatever its name).
func InProject(labels map[string]string, prefix string) bool {
	return bottle.HasPrefix(labels[LabelProject], prefix)
}

// Sort turns a listing into the docker backend's inventory. Containers and
// networks named like a smolmachines bundle (<prefix>sidecars-<slug>,
// <prefix>bundle-<slug>) that are not in a compose project of ours are left
// to that backend (package smolvm takes exactly those), so every resource
// is in one backend's inventory.
func Sort(w World, prefix string) backend.Inventory {
	var inv backend.Inventory
	projects := map[string]*project{}
	get := func(name string) *project {
		p := projects[name]
		if p == nil {
			p = &project{name: name}
			projects[name] = p
		}
		return p
	}
	// bundleKind: containers and networks, the kinds a smolmachines
	// bundle is made of (it makes no volumes).
	stray := func(name string, labels map[string]string, bundleKind bool) bool {
		if _, labelled := labels[LabelProject]; labelled || !bottle.HasPrefix(name, prefix) {
			return false
		}
		_, bundle := bottle.BundleSlug(name, prefix)
		return !bundle || !bundleKind
	}
	claim := func(name string) {
		if s := bottle.Slug(name, prefix); bottle.ValidSlug(s) {
			inv.Claimed = append(inv.Claimed, s)
		}
	}

	for _, c := range w.Containers {
		if proj := c.Labels[LabelProject]; bottle.HasPrefix(proj, prefix) {
			p := get(proj)
			p.containers = append(p.containers, bottle.Container{Name: c.Name, ID: c.ID, Service: c.Labels[LabelService], State: c.State})
			p.saw(c.Created)
		} else if stray(c.Name, c.Labels, true) {
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Docker, Kind: bottle.KindContainer, Name: c.Name, ID: c.ID,
				Slug: bottle.Slug(c.Name, prefix), State: c.State, Created: timePtr(c.Created)})
			claim(c.Name)
		}
	}
	for _, n := range w.Networks {
		if proj := n.Labels[LabelProject]; bottle.HasPrefix(proj, prefix) {
			p := get(proj)
			p.networks = append(p.networks, bottle.Network{Name: n.Name, ID: n.ID})
			p.saw(n.Created)
		} else if stray(n.Name, n.Labels, true) {
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Docker, Kind: bottle.KindNetwork, Name: n.Name, ID: n.ID,
				Slug: bottle.Slug(n.Name, prefix), Created: timePtr(n.Created)})
		}
	}
	for _, v := range w.Volumes {
		if proj := v.Labels[LabelProject]; bottle.HasPrefix(proj, prefix) {
			p := get(proj)
			p.volumes = append(p.volumes, bottle.Volume{Name: v.Name, ID: v.Name})
			p.saw(v.Created)
		} else if stray(v.Name, v.Labels, false) {
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: v.Name, ID: v.Name,
				Slug: bottle.Slug(v.Name, prefix), Created: timePtr(v.Created)})
		}
	}

	for _, p := range projects {
		sort.Slice(p.containers, func(i, j int) bool { return p.containers[i].Name < p.containers[j].Name })
		sort.Slice(p.networks, func(i, j int) bool { return p.networks[i].Name < p.networks[j].Name })
		sort.Slice(p.volumes, func(i, j int) bool { return p.volumes[i].Name < p.volumes[j].Name })
		slug := bottle.Slug(p.name, prefix)
		inv.Bottles = append(inv.Bottles, bottle.Bottle{
			Backend: bottle.Docker, Name: p.name, Slug: slug, Status: Status(p.containers),
			Created: timePtr(p.created), Containers: nonNil(p.containers), Networks: nonNil(p.networks), Volumes: nonNil(p.volumes),
		})
		inv.Items = append(inv.Items, bottle.Item{
			Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: p.name, Slug: slug, Created: timePtr(p.created),
			Containers: p.containers, Networks: p.networks, Volumes: p.volumes,
		})
	}
	sort.Slice(inv.Bottles, func(i, j int) bool { return inv.Bottles[i].Name < inv.Bottles[j].Name })
	return inv
}

// Status is a bottle's status from its containers' states.
func Status(cs []bottle.Container) string {
	if len(cs) == 0 {
		return bottle.StatusOrphaned
	}
	running := 0
	for _, c := range cs {
		if bottle.Active(c.State) {
			running++
		}
	}
	switch running {
	case 0:
		return bottle.StatusStopped
	case len(cs):
		return bottle.StatusRunning
	}
	return bottle.StatusPartial
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Second)
	return &t
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
