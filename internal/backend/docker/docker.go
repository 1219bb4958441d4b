// Package docker is the docker backend: a bottle is a compose project
// "<prefix><slug>", found by the com.docker.compose.project label on its
// containers, networks and volumes — so a project whose containers are gone
// but whose networks or volumes remain (invisible to `docker compose ls`)
// is found too. Prefix-named resources without the label are strays.
package docker

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
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
	if w, err = OwnVolumes(ctx, b.API, w, b.Prefix); err != nil {
		return backend.Inventory{}, err
	}
	return Classify(w, b.Prefix), nil
}

// anonymousName reports whether a volume is named as the engine names the
// volumes it makes for a container: 64 hex digits.
func anonymousName(name string) bool { return fullID.MatchString(name) }

// OwnVolumes learns which volumes our containers own: the list call does not
// say whether a mounted volume is one the engine made for the container, so
// each container of ours that mounts a volume named like one (64 hex digits)
// is inspected — none, for a bottle that makes none. It returns w with a
// copy of Containers holding those containers' inspected mounts.
func OwnVolumes(ctx context.Context, api interface {
	InspectContainer(ctx context.Context, idOrName string) (engine.Container, error)
}, w engine.World, prefix string) (engine.World, error) {
	var idx []int
	for i, c := range w.Containers {
		if !compose.InProject(c.Labels, prefix) && !bottle.HasPrefix(c.Name, prefix) {
			continue
		}
		if slices.ContainsFunc(c.Mounts, func(m engine.Mount) bool { return m.Type == "volume" && anonymousName(m.Name) }) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return w, nil
	}
	cs := slices.Clone(w.Containers)
	errs := make([]error, len(idx))
	parallel(len(idx), func(k int) {
		c, err := api.InspectContainer(ctx, cs[idx[k]].ID)
		switch {
		case engine.IsNotFound(err): // gone since the listing: it claims nothing
		case err != nil:
			errs[k] = err
		case c.ID == cs[idx[k]].ID:
			cs[idx[k]].Mounts = c.Mounts
		}
	})
	for _, err := range errs {
		if err != nil {
			return engine.World{}, err
		}
	}
	w.Containers = cs
	return w, nil
}

type project struct {
	name string
	// every resource labelled with the project (bottle-ls)
	containers []bottle.Container
	networks   []bottle.Network
	volumes    []bottle.Volume
	// what its plan item removes
	item    bottle.Item
	created time.Time
}

// owner takes the state dir a member's labels name, when no member
// before it named one (containers come first).
func (p *project) owner(labels map[string]string) {
	if p.item.OwnerDir == "" {
		p.item.OwnerDir = compose.StateDir(labels)
	}
}

func (p *project) saw(t time.Time) {
	if !t.IsZero() && (p.created.IsZero() || t.Before(p.created)) {
		p.created = t
	}
}

// attached reports whether container c is attached to network n (running
// or not; a container that never ran knows the network by name only). A
// container whose networks could not be read may be attached to any.
func attached(c engine.Container, n engine.Network) bool {
	if unreadNetworks(c) {
		return true
	}
	for name, id := range c.Networks {
		if id == n.ID || (id == "" && name == n.Name) {
			return true
		}
	}
	return false
}

// mounts reports whether container c mounts the volume. A container whose
// mounts could not be read may mount any.
func mounts(c engine.Container, volume string) bool {
	if unreadMounts(c) {
		return true
	}
	return slices.ContainsFunc(c.Mounts, func(m engine.Mount) bool { return m.Type == "volume" && m.Name == volume })
}

func unreadNetworks(c engine.Container) bool {
	return engine.HasUnread(c.Unread, "NetworkSettings", "NetworkSettings.Networks")
}

func unreadMounts(c engine.Container) bool { return engine.HasUnread(c.Unread, "Mounts") }

// unreadIdentity reports whether a network's ID, name, labels or creation
// time could not be read: what says whose it is and what a plan may do.
func unreadIdentity(n engine.Network) bool {
	return engine.HasUnread(n.Unread, "Id", "Name", "Labels", "Created")
}

// describe names a resource for a message: its name, else its short ID.
func describe(name, id string) string {
	switch {
	case name != "" && id != "":
		return name + " (" + short(id) + ")"
	case name != "":
		return name
	case id != "":
		return short(id)
	}
	return "(no readable name or ID)"
}

// unread notes, for a listing, what the engine gave that could not be
// read: one warning per resource, naming it and the fields. Such a listing
// is Partial.
func unread(inv *backend.Inventory, w engine.World) {
	for _, c := range w.Containers {
		if len(c.Unread) > 0 {
			inv.Partial = true
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("container %s: the engine gave fields that could not be read: %s; nothing is planned for it, for what it may use, or for any state dir",
				describe(c.Name, c.ID), engine.UnreadText(c.Unread)))
		}
	}
	for _, n := range w.Networks {
		if len(n.Unread) > 0 && unreadIdentity(n) {
			inv.Partial = true
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("network %s: the engine gave fields that could not be read: %s; nothing is planned for it or for any state dir",
				describe(n.Name, n.ID), engine.UnreadText(n.Unread)))
		}
	}
}

// Classify turns a listing into the docker backend's inventory. Containers and
// networks named like a smolmachines bundle (<prefix>sidecars-<slug>,
// <prefix>bundle-<slug>) that are not in a compose project of ours are left
// to that backend (package smolvm takes exactly those), so every resource
// is in one backend's inventory.
//
// A plan item lists only what the reaper will act on, so a nightly run
// converges: a project's member whose name lacks the prefix, a network or
// volume that a container the item does not remove uses, and a volume the
// engine gives no creation time are left out of the item and named in
// LeftAlone. A container's anonymous volumes (unprefixed, named by the
// engine) are listed with it, as members of its item.
func Classify(w engine.World, prefix string) backend.Inventory {
	var inv backend.Inventory
	unread(&inv, w)
	projects := map[string]*project{}
	get := func(name string) *project {
		p := projects[name]
		if p == nil {
			p = &project{name: name, item: bottle.Item{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: name, Slug: bottle.Slug(name, prefix)}}
			projects[name] = p
		}
		return p
	}
	leave := func(format string, args ...any) {
		inv.LeftAlone = append(inv.LeftAlone, "left alone: "+fmt.Sprintf(format, args...))
	}
	// bundleKind: containers and networks, the kinds a smolmachines
	// bundle is made of (it makes no volumes).
	stray := func(name string, labels map[string]string, bundleKind bool) bool {
		if _, labelled := labels[compose.LabelProject]; labelled || !bottle.HasPrefix(name, prefix) {
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
	volumes := map[string]engine.Volume{}
	for _, v := range w.Volumes {
		volumes[v.Name] = v
	}
	// removal maps the ID of every container a plan item removes to that
	// item: "p:<project>" or "c:<container name>".
	removal := map[string]string{}
	var strayContainers []engine.Container
	var strayItems []int // index in inv.Items of each stray container item
	var members []engine.Container
	for _, c := range w.Containers {
		if proj := c.Labels[compose.LabelProject]; bottle.HasPrefix(proj, prefix) {
			p := get(proj)
			p.owner(c.Labels)
			bc := bottle.Container{Name: c.Name, ID: c.ID, Service: c.Labels[compose.LabelService], State: c.State}
			p.containers = append(p.containers, bc)
			p.saw(c.Created)
			if !bottle.HasPrefix(c.Name, prefix) {
				leave("container %s of compose project %s: its name does not start with the prefix %q", c.Name, proj, prefix)
				continue
			}
			if len(c.Unread) > 0 {
				leave("container %s of compose project %s: the engine gave fields that could not be read (%s)", c.Name, proj, engine.UnreadText(c.Unread))
				continue
			}
			p.item.Containers = append(p.item.Containers, bc)
			removal[c.ID] = "p:" + proj
			members = append(members, c)
		} else if len(c.Unread) > 0 && bottle.HasPrefix(c.Name, prefix) {
			// its labels may name a project of ours, or none: it keeps its
			// slug's state dir and what it uses, and is not planned
			leave("container %s: the engine gave fields that could not be read (%s)", c.Name, engine.UnreadText(c.Unread))
			claim(c.Name)
		} else if stray(c.Name, c.Labels, true) {
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Docker, Kind: bottle.KindContainer, Name: c.Name, ID: c.ID,
				Slug: bottle.Slug(c.Name, prefix), State: c.State, Created: timePtr(c.Created), OwnerDir: compose.StateDir(c.Labels)})
			claim(c.Name)
			removal[c.ID] = "c:" + c.Name
			strayContainers = append(strayContainers, c)
			strayItems = append(strayItems, len(inv.Items)-1)
		}
	}
	// outsider names the first container using a resource that the item
	// `by` does not remove, or "".
	outsider := func(by string, used func(engine.Container) bool) string {
		for _, c := range w.Containers {
			if used(c) && removal[c.ID] != by {
				if c.Name == "" {
					return describe(c.Name, c.ID)
				}
				return c.Name
			}
		}
		return ""
	}
	users := func(used func(engine.Container) bool) []bottle.Container {
		var out []bottle.Container
		for _, c := range w.Containers {
			if used(c) {
				out = append(out, bottle.Container{Name: c.Name, ID: c.ID})
			}
		}
		return out
	}
	// anonymous lists the volumes the engine made for container c that its
	// item (by) may remove.
	anonymous := func(c engine.Container, by string) []bottle.Volume {
		var out []bottle.Volume
		for _, m := range c.Mounts {
			if !m.Anonymous || !anonymousName(m.Name) {
				continue
			}
			v, ok := volumes[m.Name]
			switch {
			case !ok: // removed since the listing
			case v.Created.IsZero():
				leave("volume %s of container %s: the engine gives no creation time, so the reaper could not tell it from one made after the plan", v.Name, c.Name)
			default:
				if other := outsider(by, func(u engine.Container) bool { return mounts(u, v.Name) }); other != "" {
					leave("volume %s of container %s: container %s, which this plan does not remove, mounts it", v.Name, c.Name, other)
					continue
				}
				out = append(out, bottle.Volume{Name: v.Name, ID: v.Name, Created: timePtr(v.Created), Container: c.Name})
			}
		}
		return out
	}

	// unreadUser names a container whose networks (or mounts) could not be
	// read, which may then use any network (volume), or "".
	unreadUser := func(unreadable func(engine.Container) bool) string {
		for _, c := range w.Containers {
			if unreadable(c) {
				return describe(c.Name, c.ID)
			}
		}
		return ""
	}
	for _, n := range w.Networks {
		if unreadIdentity(n) {
			if proj := n.Labels[compose.LabelProject]; bottle.HasPrefix(proj, prefix) {
				get(proj).networks = append(get(proj).networks, bottle.Network{Name: n.Name, ID: n.ID})
			}
			if bottle.HasPrefix(n.Name, prefix) || n.Name == "" {
				leave("network %s: the engine gave fields that could not be read (%s)", describe(n.Name, n.ID), engine.UnreadText(n.Unread))
				claim(n.Name)
			}
			continue
		}
		if proj := n.Labels[compose.LabelProject]; bottle.HasPrefix(proj, prefix) {
			p := get(proj)
			p.owner(n.Labels)
			bn := bottle.Network{Name: n.Name, ID: n.ID}
			p.networks = append(p.networks, bn)
			p.saw(n.Created)
			switch other := outsider("p:"+proj, func(c engine.Container) bool { return attached(c, n) }); {
			case !bottle.HasPrefix(n.Name, prefix):
				leave("network %s of compose project %s: its name does not start with the prefix %q", n.Name, proj, prefix)
			case other != "":
				leave("network %s of compose project %s: container %s, which this plan does not remove, is attached to it", n.Name, proj, other)
			default:
				p.item.Networks = append(p.item.Networks, bn)
			}
		} else if stray(n.Name, n.Labels, true) {
			if who := unreadUser(unreadNetworks); who != "" {
				leave("network %s: the networks of container %s could not be read, so it may be attached to it", n.Name, who)
				continue
			}
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Docker, Kind: bottle.KindNetwork, Name: n.Name, ID: n.ID,
				Slug: bottle.Slug(n.Name, prefix), Created: timePtr(n.Created), OwnerDir: compose.StateDir(n.Labels), Users: users(func(c engine.Container) bool { return attached(c, n) })})
		}
	}
	for _, v := range w.Volumes {
		if proj := v.Labels[compose.LabelProject]; bottle.HasPrefix(proj, prefix) {
			p := get(proj)
			p.owner(v.Labels)
			p.volumes = append(p.volumes, bottle.Volume{Name: v.Name, ID: v.Name})
			p.saw(v.Created)
			switch other := outsider("p:"+proj, func(c engine.Container) bool { return mounts(c, v.Name) }); {
			case !bottle.HasPrefix(v.Name, prefix):
				leave("volume %s of compose project %s: its name does not start with the prefix %q", v.Name, proj, prefix)
			case v.Created.IsZero():
				leave("volume %s of compose project %s: the engine gives no creation time, so the reaper could not tell it from one made after the plan", v.Name, proj)
			case other != "":
				leave("volume %s of compose project %s: container %s, which this plan does not remove, mounts it", v.Name, proj, other)
			default:
				p.item.Volumes = append(p.item.Volumes, bottle.Volume{Name: v.Name, ID: v.Name, Created: timePtr(v.Created)})
			}
		} else if stray(v.Name, v.Labels, false) {
			if who := unreadUser(unreadMounts); who != "" {
				leave("volume %s: the mounts of container %s could not be read, so it may mount it", v.Name, who)
				continue
			}
			if v.Created.IsZero() {
				leave("volume %s: the engine gives no creation time, so the reaper could not tell it from one made after the plan", v.Name)
				continue
			}
			inv.Items = append(inv.Items, bottle.Item{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: v.Name, ID: v.Name,
				Slug: bottle.Slug(v.Name, prefix), Created: timePtr(v.Created), OwnerDir: compose.StateDir(v.Labels), Users: users(func(c engine.Container) bool { return mounts(c, v.Name) })})
		}
	}
	for _, c := range members {
		p := projects[c.Labels[compose.LabelProject]]
		p.item.Volumes = append(p.item.Volumes, anonymous(c, "p:"+p.name)...)
	}
	for i, c := range strayContainers {
		inv.Items[strayItems[i]].Volumes = anonymous(c, "c:"+c.Name)
	}

	for _, p := range projects {
		byName := func(a, b string) int { return strings.Compare(a, b) }
		slices.SortFunc(p.containers, func(a, b bottle.Container) int { return byName(a.Name, b.Name) })
		slices.SortFunc(p.networks, func(a, b bottle.Network) int { return byName(a.Name, b.Name) })
		slices.SortFunc(p.volumes, func(a, b bottle.Volume) int { return byName(a.Name, b.Name) })
		slices.SortFunc(p.item.Containers, func(a, b bottle.Container) int { return byName(a.Name, b.Name) })
		slices.SortFunc(p.item.Networks, func(a, b bottle.Network) int { return byName(a.Name, b.Name) })
		slices.SortFunc(p.item.Volumes, func(a, b bottle.Volume) int { return byName(a.Name, b.Name) })
		inv.Bottles = append(inv.Bottles, bottle.Bottle{
			Backend: bottle.Docker, Name: p.name, Slug: p.item.Slug, Status: Status(p.containers),
			Created: timePtr(p.created), Containers: nonNil(p.containers), Networks: nonNil(p.networks), Volumes: nonNil(p.volumes),
		})
		if len(p.item.Containers)+len(p.item.Networks)+len(p.item.Volumes) == 0 {
			continue // every member is left alone (and named)
		}
		p.item.Created = timePtr(p.created)
		inv.Items = append(inv.Items, p.item)
	}
	sort.Slice(inv.Bottles, func(i, j int) bool { return inv.Bottles[i].Name < inv.Bottles[j].Name })
	sort.Strings(inv.LeftAlone)
	// Bottles of other prefixes share the state root: every resource of
	// the engine tells which slugs may be theirs.
	for _, c := range w.Containers {
		inv.AddElsewhere(c.Name, c.Labels, prefix, own(prefix))
	}
	for _, n := range w.Networks {
		inv.AddElsewhere(n.Name, n.Labels, prefix, own(prefix))
	}
	for _, v := range w.Volumes {
		inv.AddElsewhere(v.Name, v.Labels, prefix, own(prefix))
	}
	return inv
}

// own is the slugs a name of prefix is of: the prefix's slug, and a
// smolmachines bundle's.
func own(prefix string) func(name string) []string {
	return func(name string) []string {
		out := []string{bottle.Slug(name, prefix)}
		if s, ok := bottle.BundleSlug(name, prefix); ok {
			out = append(out, s)
		}
		return out
	}
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
