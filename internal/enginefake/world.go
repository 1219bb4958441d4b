package enginefake

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
)

// World is what the fake engine holds: containers and networks by ID,
// volumes by name. Wire (or WireLauncher) makes an Engine answer from it.
// A test reads and changes the maps directly only while no call runs.
type World struct {
	mu         sync.Mutex
	Containers map[string]engine.Container
	Networks   map[string]engine.Network
	Volumes    map[string]engine.Volume
	// ImageUser is the USER of every image ("" for none); a container
	// created without a User runs as it.
	ImageUser string
	// Aliases are the aliases each container has on each network, keyed
	// "containerID@network" (WireLauncher's creates and connects).
	Aliases map[string][]string
	// users are the User each container was created with, by ID.
	users map[string]string
	// late are resources the engine has made that its listing does not
	// show yet (Late).
	late []late
	seq  int
}

type late struct {
	kind     string
	r        any
	listings int // listings of its kind still to miss it
}

// NewWorld is an empty world.
func NewWorld() *World {
	return &World{Containers: map[string]engine.Container{}, Networks: map[string]engine.Network{}, Volumes: map[string]engine.Volume{},
		Aliases: map[string][]string{}, users: map[string]string{}}
}

// Add puts engine.Containers, engine.Networks and engine.Volumes in w.
func (w *World) Add(resources ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range resources {
		w.add(r)
	}
}

func (w *World) add(r any) {
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

// Container is the container of that ID or name, as inspect finds it.
func (w *World) Container(idOrName string) (engine.Container, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return find(w.Containers, idOrName, func(c engine.Container) string { return c.Name })
}

// Network is the network of that ID or name, as inspect finds it.
func (w *World) Network(idOrName string) (engine.Network, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return find(w.Networks, idOrName, func(n engine.Network) string { return n.Name })
}

func find[T any](m map[string]T, idOrName string, name func(T) string) (T, bool) {
	if r, ok := m[idOrName]; ok {
		return r, true
	}
	for _, r := range m {
		if name(r) == idOrName {
			return r, true
		}
	}
	var zero T
	return zero, false
}

// Held is what w holds, as "container NAME", "network NAME" and "volume
// NAME", sorted: what a test finds left behind.
func (w *World) Held() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, c := range w.Containers {
		out = append(out, "container "+c.Name)
	}
	for _, n := range w.Networks {
		out = append(out, "network "+n.Name)
	}
	for _, v := range w.Volumes {
		out = append(out, "volume "+v.Name)
	}
	slices.Sort(out)
	return out
}

// Late makes the resource of that ID (a volume's: its name) one the engine
// made but does not show yet, as after a create whose answer was lost: it
// is missing from the next listings listings of its kind (and from inspect
// and remove until then), and there from the one after.
func (w *World) Late(id string, listings int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.Containers[id]; ok {
		delete(w.Containers, id)
		w.late = append(w.late, late{"container", c, listings})
	}
	if n, ok := w.Networks[id]; ok {
		delete(w.Networks, id)
		w.late = append(w.late, late{"network", n, listings})
	}
	if v, ok := w.Volumes[id]; ok {
		delete(w.Volumes, id)
		w.late = append(w.late, late{"volume", v, listings})
	}
}

// Pending are the resources Late still keeps out of the listing.
func (w *World) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.late)
}

// Wire makes f list, inspect and remove (RemoveContainerOnly) from w, as
// the engine does: inspect by ID or name, not found when absent. Calls it
// does not answer stay unset.
func (w *World) Wire(f *Engine) {
	w.wireLists(f)
	f.OnInspectContainer = w.inspectContainer
	f.OnInspectNetwork = w.inspectNetwork
	f.OnInspectVolume = func(name string) (engine.Volume, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if v, ok := w.Volumes[name]; ok {
			return v, nil
		}
		return engine.Volume{}, NotFound("volume: " + name)
	}
	f.OnRemoveContainerOnly = w.removeContainer
	w.wireRemoves(f)
}

func (w *World) wireLists(f *Engine) {
	f.OnContainers = func() ([]engine.Container, error) { return list(w, "container", w.Containers), nil }
	f.OnNetworks = func() ([]engine.Network, error) { return list(w, "network", w.Networks), nil }
	f.OnVolumes = func() ([]engine.Volume, error) { return list(w, "volume", w.Volumes), nil }
}

func (w *World) wireRemoves(f *Engine) {
	f.OnRemoveNetwork = func(id string) error { return remove(w, w.Networks, id, "network") }
	f.OnRemoveVolume = func(name string) error { return remove(w, w.Volumes, name, "volume") }
}

func (w *World) inspectContainer(id string) (engine.Container, error) {
	if c, ok := w.Container(id); ok {
		return c, nil
	}
	return engine.Container{}, NotFound("container: " + id)
}

func (w *World) inspectNetwork(id string) (engine.Network, error) {
	if n, ok := w.Network(id); ok {
		return n, nil
	}
	return engine.Network{}, NotFound("network: " + id)
}

func (w *World) removeContainer(id string) error { return remove(w, w.Containers, id, "container") }

// list is what a listing of kind shows; each one brings the late
// resources of its kind one listing nearer.
func list[T any](w *World, kind string, m map[string]T) []T {
	w.mu.Lock()
	defer w.mu.Unlock()
	var still []late
	for _, l := range w.late {
		switch {
		case l.kind != kind:
			still = append(still, l)
		case l.listings == 0:
			w.add(l.r)
		default:
			l.listings--
			still = append(still, l)
		}
	}
	w.late = still
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

// newID is the ID of a resource the engine makes now.
func (w *World) newID() string {
	w.seq++
	return ID(w.seq * 16)
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
