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

// The plan's second is the engine's: a volume's creation time is on the
// engine's clock. With an engine whose clock lags this host's by 5 s, a
// volume it made just now was read as 5 s old and planned (the local
// clock's second was long over), though one made again under its name
// could still have its creation time; with one 5 s ahead, a volume made
// 2 s ago was never planned. Each engine's own clock decides now: first
// as its answers' Date said (here 0.8 s short of it), and where that
// leaves a volume out, as its clock reads (asked only then); an engine
// that cannot say keeps this host's clock, and a machine (smolvm, on this
// host) this host's.
func TestBuildSecondOnEngineClock(t *testing.T) {
	planned := now.Add(300 * time.Millisecond)
	at := func(d time.Duration) *time.Time { t := planned.Add(d); return &t }
	vol := func(engine, name string, created *time.Time) bottle.Item {
		return bottle.Item{Backend: bottle.Docker, Engine: engine, Kind: bottle.KindVolume, Name: prefix + name, ID: prefix + name, Created: created}
	}
	skews := map[string]time.Duration{"lag": -5 * time.Second, "lead": 5 * time.Second, "calm": 0}
	read := map[string]int{}
	skew := func(engine string, exact bool) (time.Duration, bool) {
		d, ok := skews[engine]
		if !exact {
			return d - 800*time.Millisecond, ok
		}
		read[engine]++
		return d, ok
	}
	d := &fake{name: bottle.Docker, inv: backend.Inventory{Items: []bottle.Item{
		vol("lag", "lag-now", at(-5*time.Second)),    // the lagging engine's own second
		vol("lag", "lag-before", at(-6*time.Second)), // its second before (but 0.8 s short, its own)
		vol("lead", "lead-2s", at(3*time.Second)),    // made 2 s ago on the leading engine
		vol("lead", "lead-now", at(5*time.Second)),   // its own second
		vol("calm", "calm-old", at(-10*time.Second)), // long ago: its clock is never read
		vol("mute", "mute-now", at(0)),               // no clock: this host's second
		vol("mute", "mute-before", at(-time.Second)),
		{Backend: bottle.Smolmachines, Engine: "lag", Kind: bottle.KindMachine, Name: prefix + "m-cccc3", ID: prefix + "m-cccc3", Created: at(-5 * time.Second)},
	}}}
	p := Build(survey(d), nil, nil, Options{Now: planned, Skew: skew})
	want := "volume " + prefix + "calm-old\nvolume " + prefix + "lag-before\nvolume " + prefix + "lead-2s\nvolume " + prefix + "mute-before\nmachine " + prefix + "m-cccc3"
	if got := names(p.Items); got != want {
		t.Errorf("planned:\n%s\nwant:\n%s", got, want)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, n := range []string{"lag-now", "lead-now", "mute-now"} {
		if !strings.Contains(notes, "left out volume "+prefix+n+": ") {
			t.Errorf("no note for %s: %q", n, p.Notes)
		}
	}
	if read["calm"] != 0 || read["lag"] == 0 {
		t.Errorf("clocks read: %v", read)
	}
	// The second round waits for the last of those seconds to end on this
	// host's clock (with skews of whole seconds, each ends with this
	// host's, 700 ms away).
	if want := planned.Truncate(time.Second).Add(time.Second); !p.freshUntil.Equal(want) {
		t.Errorf("fresh until %v, want %v", p.freshUntil, want)
	}
}

// Make waits out the second on the engine's clock: an engine 1.5 s ahead
// made a volume just now, which this host's next second (sooner than the
// engine's) would still leave out, and an engine 1.5 s behind made one
// whose second this host's clock had already left.
func TestMakeWaitsOutTheEngineSecond(t *testing.T) {
	for name, skew := range map[string]time.Duration{"ahead": 1500 * time.Millisecond, "behind": -1500 * time.Millisecond} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			made := start.Add(skew) // the engine's now
			d := &fake{name: bottle.Docker, inv: backend.Inventory{Items: []bottle.Item{
				{Backend: bottle.Docker, Engine: "far", Kind: bottle.KindVolume, Name: prefix + "new-vol", ID: prefix + "new-vol", Created: &made},
			}}}
			clock := func(_ string, exact bool) (time.Duration, bool) {
				if !exact {
					return skew - 900*time.Millisecond, true
				}
				return skew, true
			}
			p := Make(context.Background(), []backend.Backend{d}, Options{StateRoot: stateRoot(t), Now: start, Skew: clock})
			if got := names(p.Items); got != "volume "+prefix+"new-vol" || len(p.Notes) != 0 {
				t.Errorf("planned:\n%s\nnotes %q", got, p.Notes)
			}
			over := made.Truncate(time.Second).Add(time.Second).Add(-skew) // the engine's second is over, on this host's clock
			if waited := time.Since(start); waited < over.Sub(start) || waited > 2*time.Second {
				t.Errorf("waited %v, the engine's second was over after %v", waited, over.Sub(start))
			}
		})
	}
}
