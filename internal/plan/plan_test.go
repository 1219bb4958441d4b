package plan

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

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
	root := stateRoot(t)
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

const prefix = "bt-test-"

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time { t := now.Add(-d); return &t }

// fake is a backend that answers with a fixed inventory or error.
type fake struct {
	name string
	inv  backend.Inventory
	err  error
}

func (f *fake) Name() string { return f.name }
func (f *fake) Inventory(context.Context) (backend.Inventory, error) {
	return f.inv, f.err
}

func survey(backends ...backend.Backend) *backend.Survey {
	return backend.Ask(context.Background(), backends)
}

func project(slug, created string, states ...string) (bottle.Bottle, bottle.Item) {
	d, _ := time.ParseDuration(created)
	name := prefix + slug
	var cs []bottle.Container
	for i, s := range states {
		cs = append(cs, bottle.Container{Name: name + "-c-" + string(rune('1'+i)), ID: "id" + slug + string(rune('1'+i)), State: s})
	}
	nets := []bottle.Network{{Name: name + "_default", ID: "n" + slug}}
	vols := []bottle.Volume{{Name: name + "_home", ID: name + "_home"}}
	b := bottle.Bottle{Backend: bottle.Docker, Name: name, Slug: slug, Created: ago(d), Containers: cs, Networks: nets, Volumes: vols}
	it := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: name, Slug: slug, Created: ago(d), Containers: cs, Networks: nets, Volumes: vols}
	return b, it
}

func stray(kind, slug, state, created string) bottle.Item {
	d, _ := time.ParseDuration(created)
	return bottle.Item{Backend: bottle.Docker, Kind: kind, Name: prefix + slug, ID: "id-" + slug, Slug: slug, State: state, Created: ago(d)}
}

// dirs makes real state dirs under a temp root and returns their entries
// (as Scan would), each modified `modified` ago.
func dirs(t *testing.T, root string, modified time.Duration, slugs ...string) []statedir.Entry {
	t.Helper()
	var out []statedir.Entry
	for _, s := range slugs {
		p := filepath.Join(root, s)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, statedir.Entry{Slug: s, Path: p, Type: statedir.Dir, Modified: now.Add(-modified), SizeBytes: 10})
	}
	return out
}

// world: docker holds a running bottle "live1" (one running, one exited
// container), a stopped one "stop2", a ghost "ghost3" (no containers), a
// stray running container "run4" and stopped "cold5", a stray network and
// volume; state dirs for live1, stop2, orphan6 (old), orphan7 (new),
// cold5 (claimed by the stray container), and a preserved one.
func world(t *testing.T) (*fake, []statedir.Entry, string) {
	root := stateRoot(t)
	b1, i1 := project("live1", "48h", "running", "exited")
	b2, i2 := project("stop2", "72h", "exited")
	b3, i3 := project("ghost3", "200h")
	d := &fake{name: bottle.Docker, inv: backend.Inventory{
		Bottles: []bottle.Bottle{b1, b2, b3},
		Items: []bottle.Item{i1, i2, i3,
			stray(bottle.KindContainer, "run4", "running", "1h"),
			stray(bottle.KindContainer, "cold5", "exited", "100h"),
			stray(bottle.KindNetwork, "net8", "", "100h"),
			stray(bottle.KindVolume, "vol9", "", "1h"),
		},
		Claimed: []string{"run4", "cold5"},
	}}
	entries := dirs(t, root, 100*time.Hour, "live1", "stop2", "orphan6", "cold5")
	entries = append(entries, dirs(t, root, time.Hour, "orphan7")...)
	kept := dirs(t, root, 100*time.Hour, "kept8")
	kept[0].Preserved = true
	entries = append(entries, kept...)
	return d, entries, root
}

func names(items []bottle.Item) string {
	var s []string
	for _, it := range items {
		n := it.Kind + " " + it.Name
		if it.Bottle != "" {
			n += " (with " + it.Bottle + ")"
		}
		s = append(s, n)
	}
	return strings.Join(s, "\n")
}

func TestBuildAll(t *testing.T) {
	d, entries, _ := world(t)
	p := Build(survey(d), entries, nil, Options{Now: now})
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	want := strings.Join([]string{
		"compose-project bt-test-ghost3",
		"compose-project bt-test-live1",
		"compose-project bt-test-stop2",
		"container bt-test-cold5",
		"container bt-test-run4",
		"network bt-test-net8",
		"volume bt-test-vol9",
		"state-dir cold5 (with bt-test-cold5)",
		"state-dir live1 (with bt-test-live1)",
		"state-dir orphan6",
		"state-dir orphan7",
		"state-dir stop2 (with bt-test-stop2)",
	}, "\n")
	if got := names(p.Items); got != want {
		t.Fatalf("plan:\n%s\nwant\n%s", got, want)
	}
	for _, it := range p.Items {
		if it.Backend != bottle.Docker || it.NotRunning {
			t.Errorf("%s: backend %q not_running %v", it.Name, it.Backend, it.NotRunning)
		}
	}
}

func TestBuildSelection(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		want []string
	}{
		{"kinds", Options{Kinds: []string{bottle.KindNetwork, bottle.KindVolume}}, []string{
			"network bt-test-net8", "volume bt-test-vol9"}},
		// A live bottle's dir goes only with the bottle: with --kind
		// state-dir alone only true orphans are listed.
		{"state dirs only", Options{Kinds: []string{bottle.KindStateDir}}, []string{
			"state-dir orphan6", "state-dir orphan7"}},
		{"not running", Options{NotRunning: true}, []string{
			"compose-project bt-test-ghost3", "compose-project bt-test-stop2", "container bt-test-cold5",
			"network bt-test-net8", "volume bt-test-vol9",
			"state-dir cold5 (with bt-test-cold5)", "state-dir orphan6", "state-dir orphan7", "state-dir stop2 (with bt-test-stop2)"}},
		// Created (dirs: modified) before now-50h: live1 (48h) stays, so
		// its dir does too, however old the dir is.
		{"older than", Options{OlderThan: 50 * time.Hour}, []string{
			"compose-project bt-test-ghost3", "compose-project bt-test-stop2", "container bt-test-cold5",
			"network bt-test-net8",
			"state-dir cold5 (with bt-test-cold5)", "state-dir orphan6", "state-dir stop2 (with bt-test-stop2)"}},
		{"combined", Options{OlderThan: 80 * time.Hour, NotRunning: true, Kinds: []string{bottle.KindComposeProject, bottle.KindStateDir}}, []string{
			"compose-project bt-test-ghost3", "state-dir orphan6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, entries, _ := world(t)
			tc.opt.Now = now
			p := Build(survey(d), entries, nil, tc.opt)
			if got, want := names(p.Items), strings.Join(tc.want, "\n"); got != want {
				t.Fatalf("plan:\n%s\nwant\n%s", got, want)
			}
			for _, it := range p.Items {
				if it.NotRunning != tc.opt.NotRunning {
					t.Errorf("%s: not_running %v", it.Name, it.NotRunning)
				}
			}
		})
	}
}

// An item without a creation time is never "older than" anything.
func TestBuildOlderThanUnknownTime(t *testing.T) {
	it := stray(bottle.KindVolume, "v1", "", "1h")
	it.Created = nil
	d := &fake{name: bottle.Docker, inv: backend.Inventory{Items: []bottle.Item{it}}}
	if p := Build(survey(d), nil, nil, Options{Now: now, OlderThan: time.Minute}); len(p.Items) != 0 {
		t.Fatalf("got %s", names(p.Items))
	}
}

func TestBuildByteStable(t *testing.T) {
	d, entries, _ := world(t)
	s := &fake{name: bottle.Smolmachines, inv: backend.Inventory{Items: []bottle.Item{
		{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: prefix + "m2", Slug: "m2", State: "stopped"},
		{Backend: bottle.Smolmachines, Kind: bottle.KindContainer, Name: prefix + "sidecars-m1", Slug: "m1", State: "exited"},
		{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: prefix + "m1", Slug: "m1", State: "stopped"},
	}}}
	first := marshal(t, Build(survey(s, d), entries, nil, Options{Now: now}).Items)
	for i := range 20 {
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		d2 := *d
		d2.inv.Items = append([]bottle.Item(nil), d.inv.Items...)
		rng.Shuffle(len(d2.inv.Items), func(a, b int) { d2.inv.Items[a], d2.inv.Items[b] = d2.inv.Items[b], d2.inv.Items[a] })
		e2 := append([]statedir.Entry(nil), entries...)
		rng.Shuffle(len(e2), func(a, b int) { e2[a], e2[b] = e2[b], e2[a] })
		backends := []backend.Backend{&d2, s}
		if i%2 == 0 {
			backends = []backend.Backend{s, &d2}
		}
		if got := marshal(t, Build(survey(backends...), e2, nil, Options{Now: now}).Items); got != first {
			t.Fatalf("round %d differs:\n%s\nwant\n%s", i, got, first)
		}
	}
	// docker first, then smolmachines; kinds in plan order.
	lines := strings.Split(strings.TrimSpace(first), "\n")
	if !strings.Contains(lines[len(lines)-1], `"kind":"machine","name":"bt-test-m2"`) ||
		!strings.Contains(lines[len(lines)-3], `"backend":"smolmachines","kind":"container"`) {
		t.Fatalf("order:\n%s", first)
	}
}

func marshal(t *testing.T, items []bottle.Item) string {
	var b strings.Builder
	for _, it := range items {
		j, err := json.Marshal(it)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// A backend that cannot be asked makes the plan incomplete: what the others
// answered is listed, no state dir is, and Err says why.
func TestBuildIncompleteSurvey(t *testing.T) {
	d, entries, _ := world(t)
	down := &fake{name: bottle.Smolmachines, err: errors.New("smolvm: permission denied")}
	p := Build(survey(d, down), entries, nil, Options{Now: now})
	if p.Err == nil || !strings.Contains(p.Err.Error(), "smolmachines backend: smolvm: permission denied") {
		t.Fatalf("Err = %v", p.Err)
	}
	for _, it := range p.Items {
		if it.Kind == bottle.KindStateDir {
			t.Fatalf("an incomplete survey listed state dir %s", it.Name)
		}
	}
	if len(p.Items) != 7 {
		t.Fatalf("the docker items must still be listed: %s", names(p.Items))
	}
	// Err says it (the tools add "no state dir is listed"); a note saying
	// it first would print the effect before the cause, twice.
	if strings.Contains(strings.Join(p.Notes, "\n"), "no state dir") {
		t.Fatalf("notes %q repeat what Err says", p.Notes)
	}

	// Every backend down, still no state dir.
	p = Build(survey(&fake{name: bottle.Docker, err: errors.New("down")}), entries, nil, Options{Now: now})
	if p.Err == nil || len(p.Items) != 0 {
		t.Fatalf("all down: %v %s", p.Err, names(p.Items))
	}
}

func TestBuildScanError(t *testing.T) {
	d, entries, _ := world(t)
	p := Build(survey(d), entries, errors.New("reading state root: permission denied"), Options{Now: now})
	if p.Err == nil || strings.Contains(names(p.Items), "state-dir") {
		t.Fatalf("Err %v, items %s", p.Err, names(p.Items))
	}
}

// A locked dir is a running launcher: nothing of its slug is planned, and
// the dir is not listed.
func TestBuildLocked(t *testing.T) {
	d, entries, _ := world(t)
	for i := range entries {
		if entries[i].Slug == "live1" || entries[i].Slug == "orphan6" {
			entries[i].Locked = true
		}
	}
	p := Build(survey(d), entries, nil, Options{Now: now})
	got := names(p.Items)
	if strings.Contains(got, "live1") || strings.Contains(got, "orphan6") {
		t.Fatalf("locked slugs planned:\n%s", got)
	}
	if !strings.Contains(got, "compose-project bt-test-stop2") || !strings.Contains(got, "state-dir orphan7") {
		t.Fatalf("the rest must stay:\n%s", got)
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "left out compose-project bt-test-live1: its bottle-launch is still running") {
		t.Fatalf("notes %q", p.Notes)
	}
}

// Non-dirs are noted, never listed; preserved dirs and invalid slugs never appear.
func TestBuildNotStateDirs(t *testing.T) {
	root := stateRoot(t)
	entries := []statedir.Entry{
		{Slug: "link1", Path: filepath.Join(root, "link1"), Type: statedir.Symlink},
		{Slug: "file2", Path: filepath.Join(root, "file2"), Type: statedir.File},
		{Slug: "kept3", Path: filepath.Join(root, "kept3"), Type: statedir.Dir, Preserved: true},
		{Slug: ".reaping-x-1f2e", Path: filepath.Join(root, ".reaping-x-1f2e"), Type: statedir.Aside},
		{Slug: "bad slug", Path: filepath.Join(root, "bad slug"), Type: statedir.Dir},
	}
	p := Build(survey(&fake{name: bottle.Docker}), entries, nil, Options{Now: now})
	if len(p.Items) != 0 {
		t.Fatalf("listed %s", names(p.Items))
	}
	notes := strings.Join(p.Notes, "\n")
	if !strings.Contains(notes, "link1 is a symlink, not a bottle's state dir") || !strings.Contains(notes, "file2 is a file, not a bottle's state dir") ||
		!strings.Contains(notes, ".reaping-x-1f2e is a state dir an interrupted bottle-reap was removing") {
		t.Fatalf("notes %q", p.Notes)
	}
}

// A state dir's bottle.json names its backend.
func TestBuildStateDirBackend(t *testing.T) {
	root := stateRoot(t)
	e := dirs(t, root, time.Hour, "smol1", "plain2")
	if err := os.WriteFile(filepath.Join(root, "smol1", bottle.MetaFile), []byte(`{"backend":"smolmachines"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range e {
		e[i].Meta = e[i].Slug == "smol1" // as Scan sees it
		if e[i].Meta {
			e[i].Bottle = statedir.Meta{Backend: bottle.Smolmachines}
		}
	}
	p := Build(survey(&fake{name: bottle.Docker}), e, nil, Options{Now: now})
	if len(p.Items) != 2 || p.Items[0].Name != "plain2" || p.Items[0].Backend != bottle.Docker || p.Items[1].Name != "smol1" || p.Items[1].Backend != bottle.Smolmachines {
		t.Fatalf("got %+v", p.Items)
	}
}

func TestMakeScansAndAsks(t *testing.T) {
	root := stateRoot(t)
	dirs(t, root, time.Hour, "orphan-aaaa1")
	p := Make(context.Background(), []backend.Backend{&fake{name: bottle.Docker}}, Options{StateRoot: root, Now: now})
	if p.Err != nil || names(p.Items) != "state-dir orphan-aaaa1" {
		t.Fatalf("%v %s", p.Err, names(p.Items))
	}
	// A missing root is an empty one.
	p = Make(context.Background(), []backend.Backend{&fake{name: bottle.Docker}}, Options{StateRoot: filepath.Join(root, "none"), Now: now})
	if p.Err != nil || len(p.Items) != 0 {
		t.Fatalf("%v %s", p.Err, names(p.Items))
	}
}

// Red team: a bottle.json that is a FIFO (or a symlink to /dev/zero) made
// the planner block forever (or read without end). It is never read, and
// a dir whose bottle.json cannot be read whole is never an orphan (it may
// be a live bottle's of another prefix or engine).
func TestBuildHostileBottleJSON(t *testing.T) {
	root := stateRoot(t)
	for _, s := range []string{"fifo-aaaaa", "zero-bbbbb"} {
		if err := os.Mkdir(filepath.Join(root, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo-aaaaa", bottle.MetaFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(root, "zero-bbbbb", bottle.MetaFile)); err != nil {
		t.Fatal(err)
	}
	p := Make(context.Background(), []backend.Backend{oneBackend{}}, Options{StateRoot: root, Prefix: "p-"}) // a hang is the test timeout's to report
	var got []string
	for _, it := range p.Items {
		got = append(got, it.Kind+" "+it.Name+" "+it.Backend)
	}
	if len(got) != 0 {
		t.Errorf("plan = %q, want nothing", got)
	}
	notes := strings.Join(p.Notes, "\n")
	if !strings.Contains(notes, "fifo-aaaaa left alone: its bottle.json is not a regular file") ||
		!strings.Contains(notes, "zero-bbbbb left alone: its bottle.json is a symlink") {
		t.Errorf("notes %q", p.Notes)
	}
}

// Red team, holes 1, 4, 5, 12, 14: what the plan records and leaves alone.
// A dir that does not look like a state dir, holds a mount or an unreadable
// tree, a bottle.json that cannot be read whole or names an engine not
// asked, is named once and never planned; a planned dir records its
// identity, newest change and the plan's --older-than.
func TestBuildStateDirRules(t *testing.T) {
	root := stateRoot(t)
	e := dirs(t, root, 2*time.Hour, "ok-aaaa1", "eng-bbbb2", "mine-cccc3", "mnt-dddd4", "walk-eeee5", "meta-ffff6")
	e = append(e, statedir.Entry{Slug: "thesis", Path: filepath.Join(root, "thesis"), Type: statedir.Dir, NotState: `its name "thesis" is not a slug's`})
	e[0].ID, e[0].Changed = statedir.Identity{Device: 7, Inode: 42}, now.Add(-time.Hour)
	e[1].Meta, e[1].Bottle = true, statedir.Meta{Name: prefix + "eng-bbbb2", Engine: "unix:///b.sock"}
	e[2].Meta, e[2].Bottle = true, statedir.Meta{Name: prefix + "mine-cccc3", Engine: "unix:///a.sock"}
	e[3].Mount = "work/mnt"
	e[4].WalkErr = errors.New("sub: permission denied")
	e[5].Meta, e[5].MetaErr = true, errors.New("bottle.json is larger than 1048576 bytes")
	p := Build(survey(&fake{name: bottle.Docker}), e, nil, Options{Now: now, Prefix: prefix, Engines: statedir.EnginesAt("unix:///a.sock"), OlderThan: time.Hour})
	if names(p.Items) != "state-dir mine-cccc3\nstate-dir ok-aaaa1" {
		t.Fatalf("planned %s", names(p.Items))
	}
	it := p.Items[1]
	if it.OlderThan != "1h0m0s" || *it.Device != 7 || *it.Inode != 42 || !it.Changed.Equal(now.Add(-time.Hour)) {
		t.Errorf("item %+v", it)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{
		`thesis is not a bottle's state dir (its name "thesis" is not a slug's); left alone`,
		"eng-bbbb2 left alone: its bottle.json names engine unix:///b.sock, and this run asked unix:///a.sock",
		"mnt-dddd4 left alone: work/mnt inside it is on another file system",
		"walk-eeee5 left alone: it cannot be read whole: sub: permission denied",
		"meta-ffff6 left alone: its bottle.json is larger than 1048576 bytes: it may belong to any bottle",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Count(notes, "/thesis ") != 1 {
		t.Errorf("thesis named more than once:\n%s", notes)
	}
}

// Red team, hole 1: a state root that is mostly not bottle state lists no
// state dir and is an error (exit 2 in the tools).
func TestBuildRefusedRoot(t *testing.T) {
	root := stateRoot(t)
	for _, d := range []string{"thesis", "webapp"} {
		if err := os.MkdirAll(filepath.Join(root, d, "src"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := Make(context.Background(), []backend.Backend{&fake{name: bottle.Docker}}, Options{StateRoot: root, Now: now})
	if p.Err == nil || !strings.Contains(p.Err.Error(), "2 of its 2 entries do not look like bottle state") || len(p.Items) != 0 {
		t.Fatalf("err %v, items %s", p.Err, names(p.Items))
	}
}

// A stray network or volume that a container outside the plan uses is left
// out (and named once): the reaper would skip it every night. One whose
// users the plan removes stays in; a state dir of its slug then goes with it.
func TestBuildLeavesOutInUse(t *testing.T) {
	run4 := stray(bottle.KindContainer, "run4", "running", "1h")
	net := stray(bottle.KindNetwork, "net8", "", "100h")
	net.Users = []bottle.Container{{Name: run4.Name, ID: run4.ID}}
	vol := stray(bottle.KindVolume, "vol9", "", "100h")
	vol.Users = []bottle.Container{{Name: "victim", ID: "id-victim"}}
	d := &fake{name: bottle.Docker, inv: backend.Inventory{
		Items:     []bottle.Item{run4, net, vol},
		LeftAlone: []string{"left alone: container x of compose project y: its name does not start with the prefix"},
	}}
	p := Build(survey(d), nil, nil, Options{Now: now})
	if got, want := names(p.Items), "container "+prefix+"run4\nnetwork "+prefix+"net8"; got != want {
		t.Errorf("items:\n%s\nwant\n%s", got, want)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, want := range []string{"left alone: volume " + prefix + "vol9: container victim, which this plan does not remove, mounts it", "left alone: container x"} {
		if !strings.Contains(notes, want) {
			t.Errorf("no note %q in %q", want, notes)
		}
	}
	// --not-running leaves run4 out, and so its network
	p = Build(survey(d), nil, nil, Options{Now: now, NotRunning: true})
	if got := names(p.Items); got != "" {
		t.Errorf("with --not-running: %s", got)
	}
	if !strings.Contains(strings.Join(p.Notes, "\n"), "left alone: network "+prefix+"net8: container "+prefix+"run4, which this plan does not remove, is attached to it") {
		t.Errorf("notes %q", p.Notes)
	}
}

// stateRoot is a temporary state root as bottle-launch makes one: marked.
func stateRoot(t testing.TB) string {
	root := t.TempDir()
	if err := statedir.Mark(root); err != nil {
		t.Fatal(err)
	}
	return root
}

// A backend that answered only in part (a field it could not read) makes
// the plan incomplete as one that could not be asked does: its items are
// listed, no state dir is, Err says why.
func TestBuildPartialSurvey(t *testing.T) {
	d, entries, _ := world(t)
	whole := Build(survey(d), entries, nil, Options{Now: now})
	if whole.Err != nil || !strings.Contains(names(whole.Items), "state-dir") {
		t.Fatalf("the world read whole: Err %v, items %s", whole.Err, names(whole.Items))
	}
	d.inv.Partial = true
	d.inv.Warnings = append(d.inv.Warnings, "container x: the engine gave fields that could not be read: Labels (y)")
	p := Build(survey(d), entries, nil, Options{Now: now})
	if !errors.Is(p.Err, backend.ErrPartial) || strings.Contains(names(p.Items), "state-dir") {
		t.Fatalf("Err %v, items %s", p.Err, names(p.Items))
	}
	if len(p.Items) == 0 || !strings.Contains(strings.Join(p.Notes, "\n"), "Labels (y)") {
		t.Fatalf("items %s, notes %q: the docker items and the warning must still be said", names(p.Items), p.Notes)
	}
}

// A smolmachines bottle's transcript is on its machine's disk: its state
// dir (bottle.json: a bottle-launch bottle) stays as a conversation unless
// asked, as a docker bottle's does, and --discard-transcript marks the
// machine. Before, the plan listed the dir "no transcript" to go with it.
func TestBuildSmolConversation(t *testing.T) {
	root := t.TempDir()
	e := dirs(t, root, time.Hour, "vm1")
	e[0].Meta, e[0].Bottle = true, statedir.Meta{Backend: bottle.Smolmachines, Name: prefix + "vm1", Slug: "vm1"}
	s := &fake{name: bottle.Smolmachines, inv: backend.Inventory{
		Bottles: []bottle.Bottle{{Backend: bottle.Smolmachines, Name: prefix + "vm1", Slug: "vm1"}},
		Items:   []bottle.Item{{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: prefix + "vm1", ID: prefix + "vm1", Slug: "vm1", State: "stopped", Created: ago(time.Hour)}},
	}}
	p := Build(survey(s), e, nil, Options{Now: now, Names: []string{"vm1"}, Prefix: prefix})
	if got := names(p.Items); got != "machine bt-test-vm1" {
		t.Fatalf("plan:\n%s", got)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "--name vm1: its state dir "+e[0].Path+" will hold the conversation")
	}) {
		t.Errorf("notes %q", p.Notes)
	}
	p = Build(survey(s), e, nil, Options{Now: now, Names: []string{"vm1"}, Prefix: prefix, IncludeTranscripts: true, DiscardTranscript: true})
	if got := names(p.Items); got != "machine bt-test-vm1\nstate-dir vm1 (with bt-test-vm1)" {
		t.Fatalf("plan with --include-transcripts:\n%s", got)
	}
	if !p.Items[0].DiscardTranscript {
		t.Error("--discard-transcript does not mark the machine")
	}
	// recorded: the launcher's ending saved it (or found none)
	e[0].Bottle.Transcript = statedir.TranscriptSaved
	p = Build(survey(s), e, nil, Options{Now: now, Names: []string{"vm1"}, Prefix: prefix})
	if got := names(p.Items); got != "machine bt-test-vm1\nstate-dir vm1 (with bt-test-vm1)" {
		t.Fatalf("plan after a recorded save:\n%s", got)
	}
}
