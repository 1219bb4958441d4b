package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// These tests use a fake engine for what the real one cannot show one
// call at a time (which calls the reaper makes, and never makes); the same
// attacks run on the real engine in testdata/script/reap_redteam_*.txtar.

// world is a fake engine: containers and networks by ID, volumes by name.
// It answers like the engine and logs every call that changes something.
// RemoveContainer (which takes anonymous volumes) fails the test.
type world struct {
	t          *testing.T
	mu         sync.Mutex
	containers map[string]engine.Container
	networks   map[string]engine.Network
	volumes    map[string]engine.Volume
	log        []string
}

var _ engine.API = (*world)(nil)

func newWorld(t *testing.T) *world {
	return &world{t: t, containers: map[string]engine.Container{}, networks: map[string]engine.Network{}, volumes: map[string]engine.Volume{}}
}

func notFound(what string) error { return fmt.Errorf("no such %s: %w", what, cerrdefs.ErrNotFound) }

func (w *world) record(s string) { w.log = append(w.log, s) }

func (w *world) removed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, l := range w.log {
		if strings.HasPrefix(l, "rm") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

func (w *world) Endpoint() engine.Endpoint { return engine.Endpoint{Host: "fake://"} }

func (w *world) Containers(context.Context) ([]engine.Container, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []engine.Container
	for _, c := range w.containers {
		c.Mounts = slices.Clone(c.Mounts)
		for i := range c.Mounts {
			c.Mounts[i].Anonymous = false // the list does not say
		}
		out = append(out, c)
	}
	return out, nil
}

func (w *world) Networks(context.Context) ([]engine.Network, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []engine.Network
	for _, n := range w.networks {
		out = append(out, n)
	}
	return out, nil
}

func (w *world) Volumes(context.Context) ([]engine.Volume, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []engine.Volume
	for _, v := range w.volumes {
		out = append(out, v)
	}
	return out, nil
}

func (w *world) InspectContainer(_ context.Context, id string) (engine.Container, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.containers {
		if c.ID == id || c.Name == id {
			return c, nil
		}
	}
	return engine.Container{}, notFound("container " + id)
}

func (w *world) InspectNetwork(_ context.Context, id string) (engine.Network, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range w.networks {
		if n.ID == id || n.Name == id {
			return n, nil
		}
	}
	return engine.Network{}, notFound("network " + id)
}

func (w *world) InspectVolume(_ context.Context, name string) (engine.Volume, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v, ok := w.volumes[name]; ok {
		return v, nil
	}
	return engine.Volume{}, notFound("volume " + name)
}

func (w *world) RemoveContainer(_ context.Context, id string) error {
	w.t.Errorf("RemoveContainer %s: it takes the container's anonymous volumes, whatever the plan says", id)
	return fmt.Errorf("unexpected call")
}

func (w *world) RemoveContainerOnly(_ context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.record("rm-container " + w.containers[id].Name)
	if _, ok := w.containers[id]; !ok {
		return notFound("container " + id)
	}
	delete(w.containers, id)
	return nil
}

func (w *world) RemoveNetwork(_ context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.record("rm-network " + w.networks[id].Name)
	if _, ok := w.networks[id]; !ok {
		return notFound("network " + id)
	}
	delete(w.networks, id)
	return nil
}

func (w *world) RemoveVolume(_ context.Context, name string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.record("rm-volume " + name)
	if _, ok := w.volumes[name]; !ok {
		return notFound("volume " + name)
	}
	for _, c := range w.containers {
		if mounts(c, name) {
			return fmt.Errorf("remove %s: volume is in use - [%s]: %w", name, c.ID, cerrdefs.ErrConflict)
		}
	}
	delete(w.volumes, name)
	return nil
}

func (w *world) ContainersUsing(_ context.Context, kind string, names ...string) ([]engine.Container, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []engine.Container
	for _, c := range w.containers {
		for _, name := range names {
			use := false
			switch kind {
			case "network":
				for n, id := range c.Networks {
					use = use || n == name || (id != "" && strings.HasPrefix(id, name))
				}
			case "volume":
				use = mounts(c, name)
			default:
				w.t.Errorf("ContainersUsing %q", kind)
			}
			if use {
				out = append(out, c)
				break
			}
		}
	}
	return out, nil
}

var seq int

func hexID() string { seq++; return fmt.Sprintf("%064x", seq) }

func (w *world) container(name, project string, networks []engine.Network, ms ...engine.Mount) engine.Container {
	c := engine.Container{ID: hexID(), Name: name, State: "exited", Labels: labels(project, "", ""), Networks: map[string]string{}, Mounts: ms}
	for _, n := range networks {
		c.Networks[n.Name] = n.ID
	}
	w.containers[c.ID] = c
	return c
}

func (w *world) network(name, project string) engine.Network {
	n := engine.Network{ID: hexID(), Name: name, Labels: labels(project, "", "")}
	w.networks[n.ID] = n
	return n
}

func (w *world) volume(name, project string, created time.Time) engine.Volume {
	v := engine.Volume{Name: name, Labels: labels(project, "", ""), Created: created}
	w.volumes[v.Name] = v
	return v
}

// plan is what the planner makes of the world now.
func (w *world) plan(t *testing.T, prefix string) backend.Inventory {
	t.Helper()
	b := &Backend{API: w, Prefix: prefix}
	inv, err := b.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func item(t *testing.T, inv backend.Inventory, name string) bottle.Item {
	t.Helper()
	for _, it := range inv.Items {
		if it.Name == name {
			return it
		}
	}
	t.Fatalf("no item %s in %+v", name, inv.Items)
	return bottle.Item{}
}

func reap(w *world, it bottle.Item, dry bool) bottle.Result {
	b := &Backend{API: w, Prefix: P}
	if why := b.Check(it); why != "" {
		return bottle.Result{Status: bottle.Invalid, Reason: why}
	}
	return b.Remove(context.Background(), it, backend.RemoveOptions{DryRun: dry})
}

func member(res bottle.Result, name string) bottle.ResourceResult {
	for _, m := range res.Resources {
		if m.Name == name {
			return m
		}
	}
	return bottle.ResourceResult{Status: "(not answered)"}
}

// A lone container, network or volume item that names a member of a
// compose project is skipped: only the project's item removes it (its
// checks, the launcher's lock first, cannot be passed by one member at a
// time). Without that refusal each would be removed.
func TestLoneMemberRefused(t *testing.T) {
	w := newWorld(t)
	proj := P + "lk-aaaa1"
	n := w.network(proj+"_internal", proj)
	v := w.volume(proj+"_home", proj, t0)
	c := w.container(proj+"-agent-1", proj, []engine.Network{n})
	for _, it := range []bottle.Item{
		{Backend: bottle.Docker, Kind: bottle.KindContainer, Name: c.Name, ID: c.ID},
		{Backend: bottle.Docker, Kind: bottle.KindNetwork, Name: n.Name, ID: n.ID},
		{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: v.Name, ID: v.Name, Created: timePtr(t0)},
	} {
		res := reap(w, it, false)
		if res.Status != bottle.Skipped || !strings.Contains(res.Reason, "only that project's item removes it") {
			t.Errorf("%s %s: %s %q, want skipped: only that project's item removes it", it.Kind, it.Name, res.Status, res.Reason+res.Error)
		}
	}
	if rm := w.removed(); len(rm) > 0 {
		t.Fatalf("removed %q", rm)
	}
}

// Hole 2: a volume removed and made again after the plan (new data, same
// name, so the same "ID") is skipped; so is a volume the plan records no
// creation time for (a plan from before this check).
func TestVolumeMadeAgainSincePlan(t *testing.T) {
	w := newWorld(t)
	proj := P + "vr-aaaa1"
	w.volume(proj+"_home", proj, t0)
	w.volume(P+"stray-vol", "", t0)
	inv := w.plan(t, P)
	pi, si := item(t, inv, proj), item(t, inv, P+"stray-vol")
	if pi.Volumes[0].Created == nil || si.Created == nil {
		t.Fatalf("the plan does not record when the volumes were made: %+v %+v", pi.Volumes, si)
	}
	// both are removed and made again, an hour later
	w.volume(proj+"_home", proj, t0.Add(time.Hour))
	w.volume(P+"stray-vol", "", t0.Add(time.Hour))
	if res := reap(w, pi, false); member(res, proj+"_home").Status != bottle.Skipped || !strings.Contains(res.Reason, "changed since plan: volume "+proj+"_home was made again") {
		t.Errorf("project: %s %q", res.Status, res.Reason+res.Error)
	}
	if res := reap(w, si, false); res.Status != bottle.Skipped || !strings.Contains(res.Reason, "changed since plan") {
		t.Errorf("stray: %s %q", res.Status, res.Reason+res.Error)
	}
	// an old plan: no created
	old := si
	old.Created = nil
	if res := reap(w, old, false); res.Status != bottle.Skipped || !strings.Contains(res.Reason, "does not say when the volume was made") {
		t.Errorf("old plan: %s %q", res.Status, res.Reason+res.Error)
	}
	if rm := w.removed(); len(rm) > 0 {
		t.Fatalf("removed %q", rm)
	}
	// the same volume as planned goes
	w.volume(P+"stray-vol", "", t0)
	if res := reap(w, si, false); res.Status != bottle.Removed {
		t.Errorf("unchanged: %s %q", res.Status, res.Reason+res.Error)
	}
}

// Hole 3: removing a container never takes a volume the plan does not list
// by name. A bottle container that mounts a victim's anonymous volume with
// --volumes-from (the victim container gone) keeps it; the bottle's own
// anonymous volume is listed in its item and removed by name.
func TestContainerKeepsVolumesNotListed(t *testing.T) {
	w := newWorld(t)
	proj := P + "av-aaaa1"
	victimVol := w.volume(strings.Repeat("a", 64), "", t0)
	ownVol := w.volume(strings.Repeat("b", 64), "", t0)
	w.container(proj+"-agent-1", proj, nil,
		engine.Mount{Type: "volume", Name: victimVol.Name, Destination: "/data"}, // --volumes-from: not its own
		engine.Mount{Type: "volume", Name: ownVol.Name, Destination: "/cache", Anonymous: true})
	stray := w.container(P+"stray-1", "", nil, engine.Mount{Type: "volume", Name: strings.Repeat("c", 64), Destination: "/x", Anonymous: true})
	w.volume(strings.Repeat("c", 64), "", t0)
	inv := w.plan(t, P)
	it := item(t, inv, proj)
	var listed []string
	for _, v := range it.Volumes {
		listed = append(listed, v.Name+"@"+v.Container)
	}
	if want := []string{ownVol.Name + "@" + proj + "-agent-1"}; !slices.Equal(listed, want) {
		t.Fatalf("project volumes %q, want %q", listed, want)
	}
	if si := item(t, inv, stray.Name); len(si.Volumes) != 1 || si.Volumes[0].Container != stray.Name {
		t.Fatalf("stray container's volumes %+v", si.Volumes)
	}

	// a hostile plan names the victim's volume as the container's
	hostile := it
	hostile.Volumes = append(slices.Clone(it.Volumes), bottle.Volume{Name: victimVol.Name, ID: victimVol.Name, Created: timePtr(t0), Container: proj + "-agent-1"})
	res := reap(w, hostile, false)
	if m := member(res, victimVol.Name); m.Status != bottle.Skipped || !strings.Contains(m.Reason, "not an anonymous volume of container") {
		t.Errorf("victim's volume: %s %q", m.Status, m.Reason+m.Error)
	}
	if m := member(res, ownVol.Name); m.Status != bottle.Removed {
		t.Errorf("own volume: %s %q", m.Status, m.Reason+m.Error)
	}
	if _, ok := w.volumes[victimVol.Name]; !ok {
		t.Fatal("the victim's volume was removed")
	}
	if res := reap(w, item(t, inv, stray.Name), false); res.Status != bottle.Removed {
		t.Errorf("stray container: %s %q", res.Status, res.Reason+res.Error)
	}
	want := []string{"rm-container " + proj + "-agent-1", "rm-container " + stray.Name, "rm-volume " + ownVol.Name, "rm-volume " + strings.Repeat("c", 64)}
	slices.Sort(want)
	if got := w.removed(); !slices.Equal(got, want) {
		t.Fatalf("removed %q, want %q", got, want)
	}

	// a plan naming an unprefixed volume without its container is invalid
	bad := it
	bad.Volumes = []bottle.Volume{{Name: victimVol.Name, ID: victimVol.Name}}
	if res := reap(w, bad, false); res.Status != bottle.Invalid {
		t.Errorf("unprefixed volume without container: %s", res.Status)
	}
}

// Hole 13: a network or volume that a container the plan does not remove
// uses — running or stopped — is never removed (a stopped container whose
// network went can never start again). Under --dry-run the item's own
// containers, still there, do not count.
func TestInUseKept(t *testing.T) {
	w := newWorld(t)
	n := w.network(P+"stray-net", "")
	v := w.volume(P+"stray-vol", "", t0)
	victim := w.container("victim-1", "", []engine.Network{n}, engine.Mount{Type: "volume", Name: v.Name, Destination: "/v"})
	ni := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindNetwork, Name: n.Name, ID: n.ID}
	vi := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: v.Name, ID: v.Name, Created: timePtr(t0)}
	for _, dry := range []bool{false, true} {
		for _, it := range []bottle.Item{ni, vi} {
			if res := reap(w, it, dry); res.Status != bottle.Skipped || !strings.Contains(res.Reason, "container victim-1") {
				t.Errorf("%s (dry run %v): %s %q, want skipped naming victim-1", it.Name, dry, res.Status, res.Reason+res.Error)
			}
		}
	}
	if rm := w.removed(); len(rm) > 0 {
		t.Fatalf("removed %q", rm)
	}
	// the planner leaves them out and says why
	inv := w.plan(t, P)
	for _, it := range inv.Items {
		if it.Kind != bottle.KindContainer && len(it.Users) == 0 {
			t.Errorf("%s planned without its users", it.Name)
		}
	}
	delete(w.containers, victim.ID)

	// a project's own container does not keep its network in a dry run
	proj := P + "dr-aaaa1"
	pn := w.network(proj+"_default", proj)
	w.container(proj+"-agent-1", proj, []engine.Network{pn})
	it := item(t, w.plan(t, P), proj)
	if res := reap(w, it, true); res.Status != bottle.WouldRemove {
		t.Errorf("dry run of %s: %s %q", proj, res.Status, res.Reason+res.Error)
	}
	// an outsider attached to the project's network after the plan keeps it
	w.container("victim-2", "", []engine.Network{pn})
	res := reap(w, it, false)
	if m := member(res, pn.Name); m.Status != bottle.Skipped || !strings.Contains(m.Reason, "container victim-2") {
		t.Errorf("project network: %s %q", m.Status, m.Reason+m.Error)
	}
}

// Hole 7: a prefixed compose project whose members are not all prefixed
// is planned with only what the reaper will act on (the rest named once in
// LeftAlone), so the nightly run converges instead of answering invalid
// forever.
func TestSortPlansOnlyWhatTheReaperActsOn(t *testing.T) {
	w := newWorld(t)
	proj := P + "mx-aaaa1"
	own := w.network(proj+"_default", proj)
	named := w.network("shared-net", proj) // networks: {name: shared-net}
	w.container(proj+"-agent-1", proj, []engine.Network{own})
	w.container("fixed-name", proj, []engine.Network{named, own}) // container_name: fixed-name
	w.volume(proj+"_home", proj, t0)
	w.volume(proj+"_undated", proj, time.Time{})
	// a project of nothing but unprefixed members plans no item
	other := P + "none-bbbb2"
	w.container("plain", other, nil)

	inv := w.plan(t, P)
	it := item(t, inv, proj)
	var got []string
	for _, c := range it.Containers {
		got = append(got, c.Name)
	}
	for _, n := range it.Networks {
		got = append(got, n.Name)
	}
	for _, v := range it.Volumes {
		got = append(got, v.Name)
	}
	if want := []string{proj + "-agent-1", proj + "_home"}; !slices.Equal(got, want) {
		t.Errorf("item lists %q, want %q", got, want)
	}
	if why := (&Backend{Prefix: P}).Check(it); why != "" {
		t.Errorf("the planned item is invalid: %s", why)
	}
	for _, it := range inv.Items {
		if it.Name == other {
			t.Errorf("%s planned: %+v", other, it)
		}
	}
	notes := strings.Join(inv.LeftAlone, "\n")
	for _, want := range []string{
		"left alone: container fixed-name of compose project " + proj + ": its name does not start with the prefix",
		"left alone: network shared-net of compose project " + proj + ": its name does not start with the prefix",
		"left alone: network " + proj + "_default of compose project " + proj + ": container fixed-name, which this plan does not remove, is attached to it",
		"left alone: volume " + proj + "_undated of compose project " + proj + ": the engine gives no creation time",
		"left alone: container plain of compose project " + other,
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("no note %q in\n%s", want, notes)
		}
	}
	if len(inv.LeftAlone) != 5 {
		t.Errorf("%d notes, want each thing named once:\n%s", len(inv.LeftAlone), notes)
	}
	// bottle-ls still shows every member
	for _, b := range inv.Bottles {
		if b.Name == proj && (len(b.Containers) != 2 || len(b.Networks) != 2 || len(b.Volumes) != 2) {
			t.Errorf("bottle %+v", b)
		}
	}
}

// Issue 15, finding 4: Owner, asked with each member's labels and state at
// the moment of removal, keeps the whole project when it keeps one
// container (a running one of another root's detached bottle), even when
// the others, stopped, would pass: nothing of it goes, and Owner saw the
// labels the engine gives now.
func TestOwnerKeepsTheWholeProject(t *testing.T) {
	w := newWorld(t)
	proj := P + "ow-aaaa1"
	n := w.network(proj+"_internal", proj)
	w.volume(proj+"_home", proj, t0)
	w.container(proj+"-agent-1", proj, []engine.Network{n})
	side := w.container(proj+"-sidecar-1", proj, []engine.Network{n})
	side.State = "running"
	side.Labels["dev.bottle.state-dir"] = "/other/root/ow-aaaa1"
	w.containers[side.ID] = side
	it := item(t, w.plan(t, P), proj)
	var mu sync.Mutex
	asked := map[string]string{}
	owner := func(_ bottle.Item, labels map[string]string, state string) string {
		mu.Lock()
		defer mu.Unlock()
		asked[labels["dev.bottle.state-dir"]+" "+state] = "yes"
		if labels["dev.bottle.state-dir"] != "" && bottle.Active(state) {
			return "it was launched with --detach and is running (state root /other/root)"
		}
		return ""
	}
	b := &Backend{API: w, Prefix: P}
	res := b.Remove(context.Background(), it, backend.RemoveOptions{Owner: owner})
	if res.Status != bottle.Skipped || !strings.Contains(res.Reason, "--detach and is running (state root /other/root)") {
		t.Errorf("%s %q", res.Status, res.Reason+res.Error)
	}
	if rm := w.removed(); len(rm) > 0 {
		t.Fatalf("removed %q", rm)
	}
	if asked["/other/root/ow-aaaa1 running"] == "" || asked[" exited"] == "" {
		t.Errorf("Owner was asked %v", asked)
	}
}

// The re-checks (inspects, listings of a resource's users) take their slot
// with AcquireCheck, the removals with Acquire (served first, in the order
// asked: the reaper's wait between a re-check and its removal).
func TestReadsAndRemovalsTakeTheirSlots(t *testing.T) {
	w := newWorld(t)
	const name = P + "slots-aaaa1"
	n := w.network(name+"_default", name)
	w.container(name+"-agent-1", name, []engine.Network{n})
	w.container(name+"-sidecar-1", name, []engine.Network{n})
	w.volume(name+"_home", name, time.Now())
	it := item(t, w.plan(t, P), name)
	var mu sync.Mutex
	slots := map[string]int{}
	take := func(kind string) func(context.Context) (func(), error) {
		return func(context.Context) (func(), error) {
			mu.Lock()
			slots[kind]++
			mu.Unlock()
			return func() {}, nil
		}
	}
	b := &Backend{API: w, Prefix: P}
	res := b.Remove(context.Background(), it, backend.RemoveOptions{Acquire: take("act"), AcquireCheck: take("check")})
	if res.Status != bottle.Removed {
		t.Fatalf("%+v", res)
	}
	// two containers inspected, a network and a volume inspected and their
	// users listed; four removals
	if slots["check"] != 6 || slots["act"] != 4 {
		t.Errorf("slots taken %v, want 6 to check and 4 to act", slots)
	}
}
