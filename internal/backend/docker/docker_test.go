package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
)

const P = "claude-bottle-"

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

func labels(project, key, value string) map[string]string {
	m := map[string]string{}
	if project != "" {
		m[compose.LabelProject] = project
	}
	if key != "" {
		m[key] = value
	}
	return m
}

func ctr(name, project, service, state string, created time.Time) engine.Container {
	return engine.Container{ID: "id-" + name, Name: name, Labels: labels(project, compose.LabelService, service), State: state, Created: created}
}

func TestClassify(t *testing.T) {
	w := engine.World{
		Containers: []engine.Container{
			// running: every container runs (paused counts as alive)
			ctr(P+"run-aaaa1-agent-1", P+"run-aaaa1", "agent", "running", at(5)),
			ctr(P+"run-aaaa1-sidecar-1", P+"run-aaaa1", "sidecar", "paused", at(4)),
			// partial
			ctr(P+"part-bbbb2-agent-1", P+"part-bbbb2", "agent", "running", at(3)),
			ctr(P+"part-bbbb2-sidecar-1", P+"part-bbbb2", "sidecar", "exited", at(3)),
			// stopped
			ctr(P+"stop-cccc3-agent-1", P+"stop-cccc3", "agent", "exited", at(2)),
			ctr(P+"stop-cccc3-sidecar-1", P+"stop-cccc3", "sidecar", "created", at(2)),
			// strays and look-alikes
			ctr(P+"stray-dddd4", "", "", "exited", at(1)),
			ctr("claude-bottlex-1", "", "", "running", at(1)),
			ctr("x-claude-bottle-1", "", "", "running", at(1)),
			ctr("claude-bottle-", "", "", "running", at(1)), // the prefix alone is no name of ours
			ctr("other-agent-1", "claude-bottlex-proj", "agent", "running", at(1)),
			ctr("mine-1", "x"+P+"p", "agent", "running", at(1)),
			// a smolmachines bundle container belongs to that backend
			ctr(P+"sidecars-eeee5", "", "", "running", at(1)),
		},
		Networks: []engine.Network{
			// the ghost: only networks and a volume; created is the earliest resource
			{ID: "n1", Name: P + "ghost-ffff6_default", Labels: labels(P+"ghost-ffff6", compose.LabelNetwork, "default"), Created: at(-10)},
			{ID: "n2", Name: P + "ghost-ffff6_egress", Labels: labels(P+"ghost-ffff6", compose.LabelNetwork, "egress"), Created: at(-12)},
			{ID: "n3", Name: P + "run-aaaa1_default", Labels: labels(P+"run-aaaa1", compose.LabelNetwork, "default"), Created: at(-1)},
			{ID: "n4", Name: P + "stray-net", Created: at(1)},
			{ID: "n5", Name: "bridge"},
			{ID: "n6", Name: "my-" + P + "net"},
			{ID: "n7", Name: P + "bundle-eeee5"},
			{ID: "n8", Name: "claude-bottle", Created: at(1)},
		},
		Volumes: []engine.Volume{
			{Name: P + "ghost-ffff6_home", Labels: labels(P+"ghost-ffff6", compose.LabelVolume, "home"), Created: at(-11)},
			{Name: P + "stray-vol", Created: at(1)},
			{Name: "claude-bottlexvol"},
			{Name: "0123456789abcdef"},
		},
	}
	inv := Classify(w, P)

	var got []string
	for _, b := range inv.Bottles {
		var cs []string
		for _, c := range b.Containers {
			cs = append(cs, c.Service+"="+c.State)
		}
		got = append(got, b.Name+" "+b.Slug+" "+b.Status+" "+b.Created.Format(time.RFC3339)+" ["+strings.Join(cs, ",")+"]"+
			" n"+itoa(len(b.Networks))+" v"+itoa(len(b.Volumes)))
	}
	want := []string{
		P + "ghost-ffff6 ghost-ffff6 orphaned 2026-01-01T15:04:05Z [] n2 v1",
		P + "part-bbbb2 part-bbbb2 partial 2026-01-02T06:04:05Z [agent=running,sidecar=exited] n0 v0",
		P + "run-aaaa1 run-aaaa1 running 2026-01-02T02:04:05Z [agent=running,sidecar=paused] n1 v0",
		P + "stop-cccc3 stop-cccc3 stopped 2026-01-02T05:04:05Z [agent=exited,sidecar=created] n0 v0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("bottles:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	got = nil
	for _, it := range inv.Items {
		got = append(got, it.Kind+" "+it.Name+" "+it.ID+" "+it.Slug)
	}
	// Items come in listing order; package plan sorts them.
	want = []string{
		"container " + P + "stray-dddd4 id-" + P + "stray-dddd4 stray-dddd4",
		"network " + P + "stray-net n4 stray-net",
		"volume " + P + "stray-vol " + P + "stray-vol stray-vol",
	}
	var projects []string
	for _, g := range got {
		if strings.HasPrefix(g, "compose-project ") {
			projects = append(projects, g)
		}
	}
	if len(projects) != 4 {
		t.Fatalf("compose-project items: %q", projects)
	}
	var strays []string
	for _, g := range got {
		if !strings.HasPrefix(g, "compose-project ") {
			strays = append(strays, g)
		}
	}
	if strings.Join(strays, "\n") != strings.Join(want, "\n") {
		t.Fatalf("strays:\n%s\nwant\n%s", strings.Join(strays, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(inv.Claimed, ",") != "stray-dddd4" {
		t.Fatalf("claimed %q", inv.Claimed)
	}

	// Every bottle's lists are arrays, never null; a compose-project item
	// always carries its three lists.
	for _, b := range inv.Bottles {
		if why := listsNotArrays(b); why != "" {
			t.Error(why)
		}
	}
	for _, it := range inv.Items {
		if it.Kind == bottle.KindComposeProject && it.Name == P+"ghost-ffff6" {
			j, _ := json.Marshal(it)
			if !strings.Contains(string(j), `"containers":[]`) || !strings.Contains(string(j), `"volumes":[{"name":"`+P+`ghost-ffff6_home","id":"`+P+`ghost-ffff6_home","created":"2026-01-01T16:04:05Z"}]`) {
				t.Errorf("ghost item %s", j)
			}
			if it.Created == nil || !it.Created.Equal(at(-12)) {
				t.Errorf("ghost created %v, want the earliest resource %v", it.Created, at(-12))
			}
		}
	}
}

// listsNotArrays says which of a bottle's lists is not a JSON array, or "".
func listsNotArrays(b bottle.Bottle) string {
	j, err := json.Marshal(b)
	if err != nil {
		return err.Error()
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(j, &m); err != nil {
		return err.Error()
	}
	for _, k := range []string{"containers", "networks", "volumes"} {
		if v := m[k]; len(v) == 0 || v[0] != '[' {
			return fmt.Sprintf("%s is %s, not an array, in %s", k, v, j)
		}
	}
	return ""
}

// The guard above must be able to fail: a bottle whose lists were never
// made (nil) marshals them as null.
func TestListsNotArrays(t *testing.T) {
	if why := listsNotArrays(bottle.Bottle{Name: "x"}); !strings.Contains(why, "containers is null") {
		t.Fatalf("a bottle with nil lists passed: %q", why)
	}
	if why := listsNotArrays(bottle.Bottle{Name: "x", Containers: []bottle.Container{}, Networks: []bottle.Network{}, Volumes: []bottle.Volume{}}); why != "" {
		t.Fatal(why)
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestStatus(t *testing.T) {
	cs := func(states ...string) []bottle.Container {
		var out []bottle.Container
		for _, s := range states {
			out = append(out, bottle.Container{State: s})
		}
		return out
	}
	for _, tc := range []struct {
		in   []bottle.Container
		want string
	}{
		{nil, bottle.StatusOrphaned},
		{cs("running"), bottle.StatusRunning},
		{cs("running", "restarting", "paused"), bottle.StatusRunning},
		{cs("running", "exited"), bottle.StatusPartial},
		{cs("created", "dead", "exited", "removing"), bottle.StatusStopped},
	} {
		if got := Status(tc.in); got != tc.want {
			t.Errorf("Status(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestListErrors(t *testing.T) {
	boom := errors.New("boom")
	var calls atomic.Int32 // ListAll lists concurrently
	f := enginefake.New(t)
	f.OnContainers = func() ([]engine.Container, error) { calls.Add(1); return nil, boom }
	f.OnNetworks = func() ([]engine.Network, error) { calls.Add(1); return nil, nil }
	f.OnVolumes = func() ([]engine.Volume, error) { calls.Add(1); return nil, nil }
	if _, err := engine.ListAll(context.Background(), f); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("%d calls, want one list per kind", n)
	}
}

// A resource with a field the engine gave in a form that could not be read
// is listed, named in one warning, and never makes anything look safe to
// remove: not itself, not a network or volume it may use, not a state dir
// (Partial).
func TestClassifyUnread(t *testing.T) {
	odd := ctr(P+"odd-ffff6-agent-1", "", "", "exited", at(1))
	odd.Labels = nil
	odd.Unread = []engine.Unread{{Field: "Labels", Err: "a JSON array where map was expected"}, {Field: "NetworkSettings.Networks", Err: "x"}}
	member := ctr(P+"a-aaaa1-agent-1", P+"a-aaaa1", "agent", "exited", at(1))
	w := engine.World{
		Containers: []engine.Container{member, odd},
		Networks: []engine.Network{
			{ID: "n1", Name: P + "a-aaaa1_internal", Labels: labels(P+"a-aaaa1", "", ""), Created: at(1)},
			{ID: "n2", Name: P + "stray-net", Created: at(1)},
			{ID: "n3", Name: P + "b-bbbb2_internal", Created: at(1), Unread: []engine.Unread{{Field: "Labels", Err: "y"}}},
		},
	}
	inv := Classify(w, P)
	if !inv.Partial {
		t.Fatal("a listing with unread fields must be Partial (no state dir is planned)")
	}
	warn := strings.Join(inv.Warnings, "\n")
	if len(inv.Warnings) != 2 || !strings.Contains(warn, "container "+P+"odd-ffff6-agent-1 (id-claude-bo)") ||
		!strings.Contains(warn, "Labels (a JSON array where map was expected)") || !strings.Contains(warn, "network "+P+"b-bbbb2_internal (n3)") {
		t.Fatalf("warnings %q: want one per resource, naming it and the field", inv.Warnings)
	}
	for _, it := range inv.Items {
		if it.Kind != bottle.KindComposeProject || it.Name != P+"a-aaaa1" || len(it.Networks) != 0 || len(it.Containers) != 1 {
			t.Errorf("planned %s %s (networks %v): a container whose networks are unread may use every network, and unread resources are never planned", it.Kind, it.Name, it.Networks)
		}
	}
	if !slices.Contains(inv.Claimed, "odd-ffff6-agent-1") {
		t.Errorf("claimed %v: the unread container's slug must keep its state dir", inv.Claimed)
	}
	left := strings.Join(inv.LeftAlone, "\n")
	for _, want := range []string{"network " + P + "stray-net: the networks of container " + P + "odd-ffff6-agent-1", "network " + P + "a-aaaa1_internal of compose project", "container " + P + "odd-ffff6-agent-1: the engine gave fields"} {
		if !strings.Contains(left, want) {
			t.Errorf("left alone %q: want %q", inv.LeftAlone, want)
		}
	}
	// the same world read whole plans the networks and the stray container
	odd.Unread, odd.Labels = nil, map[string]string{}
	w.Containers[1] = odd
	w.Networks[2].Unread = nil
	if inv := Classify(w, P); inv.Partial || len(inv.Items) != 4 {
		t.Errorf("read whole: partial %v, %d items, want 4", inv.Partial, len(inv.Items))
	}
}

// Issue 15, finding 5: the state root is shared across prefixes, so the
// inventory says which slugs a bottle of another prefix may be (its
// compose project's name, its name, its bottle.LabelSlug label), and never
// a bottle of our own prefix's slug: its dir goes with it.
func TestClassifyElsewhere(t *testing.T) {
	const A = "other-"
	w := engine.World{
		Containers: []engine.Container{
			ctr(A+"orig-aaaa1-agent-1", A+"orig-aaaa1", "agent", "running", time.Time{}),     // the original tool's, prefix A
			ctr(P+"mine-bbbb2-agent-1", P+"mine-bbbb2", "agent", "exited", time.Time{}),      // ours
			ctr(P+"q-nest-cccc3-agent-1", P+"q-nest-cccc3", "agent", "running", time.Time{}), // ours, or prefix P+"q-"'s
			{ID: "id-s", Name: P + "sidecars-smol-dddd4", Labels: map[string]string{}},       // our smolmachines bundle
			{ID: "id-x", Name: "x", Labels: map[string]string{bottle.LabelSlug: "lab-eeee5"}},
			{ID: "id-g", Name: "guest-" + P + "sm-hhhh8", Labels: map[string]string{}}, // names our own bottle's name
		},
		Networks: []engine.Network{{ID: "n1", Name: A + "bundle-net-ffff6", Labels: map[string]string{}}},
		Volumes:  []engine.Volume{{Name: A + "vol-gggg7_home", Labels: labels(A+"vol-gggg7", compose.LabelVolume, "home")}},
	}
	inv := Classify(w, P)
	for slug, from := range map[string]string{"orig-aaaa1": A + "orig-aaaa1", "nest-cccc3": P + "q-nest-cccc3", "lab-eeee5": "x", "net-ffff6": A + "bundle-net-ffff6", "vol-gggg7": A + "vol-gggg7"} {
		if inv.Elsewhere[slug] != from {
			t.Errorf("Elsewhere[%s] = %q, want %q", slug, inv.Elsewhere[slug], from)
		}
	}
	if inv.Embeds["sm-hhhh8"] != "guest-"+P+"sm-hhhh8" || inv.Elsewhere["sm-hhhh8"] != "" {
		t.Errorf("a name ending with ours: Embeds %v", inv.Embeds)
	}
	for _, slug := range []string{"mine-bbbb2", "q-nest-cccc3", "smol-dddd4"} {
		if n, ok := inv.Elsewhere[slug]; ok {
			t.Errorf("our own %s is elsewhere (%s)", slug, n)
		}
	}
	if slices.ContainsFunc(inv.Bottles, func(b bottle.Bottle) bool { return strings.HasPrefix(b.Name, A) }) {
		t.Errorf("another prefix's bottle in ours: %+v", inv.Bottles)
	}
}
