package plan

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
)

// Issue 15, finding 7: a volume (or machine) made in the plan's own second
// (or later) is never planned: one made again under its name after the
// plan could have the same whole-second creation time. One made in an
// earlier second is; anonymous volumes go with their container.
func TestBuildLeavesOutThisSecond(t *testing.T) {
	planned := now.Add(300 * time.Millisecond) // the plan's time, within the second of now
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	b, it := project("proj-aaaa1", "1h", "exited")
	it.Volumes = []bottle.Volume{
		{Name: prefix + "proj-aaaa1_home", ID: prefix + "proj-aaaa1_home", Created: at(0)},                                // this second
		{Name: prefix + "proj-aaaa1_old", ID: prefix + "proj-aaaa1_old", Created: at(-time.Millisecond)},                  // the second before
		{Name: strings.Repeat("a", 64), ID: strings.Repeat("a", 64), Created: at(999 * time.Millisecond), Container: "c"}, // anonymous
	}
	_, vonly := project("vonly-bbbb2", "1h")
	vonly.Networks, vonly.Volumes = nil, []bottle.Volume{{Name: prefix + "vonly-bbbb2_home", ID: prefix + "vonly-bbbb2_home", Created: at(2 * time.Second)}}
	d := &fake{name: bottle.Docker, inv: backend.Inventory{Bottles: []bottle.Bottle{b}, Items: []bottle.Item{
		it, vonly,
		{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: prefix + "new-vol", ID: prefix + "new-vol", Created: at(0)},
		{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: prefix + "old-vol", ID: prefix + "old-vol", Created: at(-time.Second)},
		{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: prefix + "m-cccc3", ID: prefix + "m-cccc3", Created: at(0)},
	}}}
	p := Build(survey(d), nil, nil, Options{Now: planned})
	if got := names(p.Items); got != "compose-project "+prefix+"proj-aaaa1\nvolume "+prefix+"old-vol" {
		t.Fatalf("planned:\n%s", got)
	}
	var vols []string
	for _, v := range p.Items[0].Volumes {
		vols = append(vols, v.Name)
	}
	if strings.Join(vols, " ") != prefix+"proj-aaaa1_old "+strings.Repeat("a", 64) {
		t.Errorf("the project's volumes: %v", vols)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, n := range []string{"volume " + prefix + "proj-aaaa1_home", "volume " + prefix + "vonly-bbbb2_home", "volume " + prefix + "new-vol", "machine " + prefix + "m-cccc3"} {
		if !strings.Contains(notes, "left out "+n+": it was made at ") {
			t.Errorf("no note for %s: %q", n, p.Notes)
		}
	}
}

// Make waits out the second a volume was made in and plans again, as made
// in the next second: a plan made right after a bottle takes it whole. What
// is still too new then is left to the next run.
func TestMakeWaitsOutTheSecond(t *testing.T) {
	start := time.Now()
	made := start
	later := start.Add(time.Hour) // made "later" than any plan: never taken
	d := &fake{name: bottle.Docker, inv: backend.Inventory{Items: []bottle.Item{
		{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: prefix + "new-vol", ID: prefix + "new-vol", Created: &made},
		{Backend: bottle.Docker, Kind: bottle.KindVolume, Name: prefix + "odd-vol", ID: prefix + "odd-vol", Created: &later},
	}}}
	p := Make(context.Background(), []backend.Backend{d}, Options{StateRoot: stateRoot(t), Now: start})
	if got := names(p.Items); got != "volume "+prefix+"new-vol" {
		t.Errorf("planned:\n%s", got)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "left out volume "+prefix+"odd-vol") {
		t.Errorf("notes %q", p.Notes)
	}
	if waited := time.Since(start); waited < start.Truncate(time.Second).Add(time.Second).Sub(start) || waited > 2*time.Second {
		t.Errorf("waited %v", waited)
	}
	// Interrupted while it waits: the first plan, at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	made = time.Now()
	if p := Make(ctx, []backend.Backend{d}, Options{StateRoot: stateRoot(t), Now: made}); len(p.Items) != 0 {
		t.Errorf("interrupted: %s", names(p.Items))
	}
}
