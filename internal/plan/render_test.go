package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

func TestRender(t *testing.T) {
	size, tr, df, res := int64(47<<10), true, true, true
	no := false
	small := int64(12)
	mod := now.Add(-3 * 24 * time.Hour)
	_, live := project("live1", "48h", "running", "exited")
	_, ghost := project("ghost3", "200h")
	items := []bottle.Item{
		live, ghost,
		stray(bottle.KindContainer, "run4", "running", "90m"),
		stray(bottle.KindNetwork, "net8", "", "30s"),
		{Backend: bottle.Docker, Kind: bottle.KindStateDir, Name: "live1", Path: "/s/live1", SizeBytes: &small, Modified: &mod, Transcript: &no, Dockerfile: &no, Resumable: &no, Bottle: prefix + "live1"},
		{Backend: bottle.Docker, Kind: bottle.KindStateDir, Name: "orphan6", Path: "/s/orphan6", SizeBytes: &size, Modified: &mod, Transcript: &tr, Dockerfile: &df, Resumable: &res},
		{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: prefix + "m1", State: "stopped", Created: ago(time.Hour)},
	}
	Order(items)
	var b strings.Builder
	if err := Render(&b, items, now, false, false); err != nil {
		t.Fatal(err)
	}
	want := `--- docker backend ---
compose projects:
  bt-test-ghost3  0 containers; 1 network; 1 volume; no containers left (invisible to docker compose ls); created 8d ago
  bt-test-live1  2 containers (1 running); 1 network; 1 volume; created 2d ago
containers:
  bt-test-run4  running; created 1h ago
networks:
  bt-test-net8  created 30s ago
state dirs:
  live1  12 B; no transcript; goes with bt-test-live1; modified 3d ago
  orphan6  47.0 KiB; transcript, Dockerfile, resumable; modified 3d ago
--- smolmachines backend ---
machines:
  bt-test-m1  stopped; created 1h ago
total: 2 compose projects, 1 container, 1 network, 1 machine, 2 state dirs
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	if err := Render(&b, items, now, true, false); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"\x1b[1m--- docker backend ---\x1b[0m", "\x1b[33m (1 running)\x1b[0m", "\x1b[33mrunning\x1b[0m", "\x1b[33mresumable\x1b[0m"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("colour: %q missing in\n%s", s, b.String())
		}
	}
}

func TestRenderEmpty(t *testing.T) {
	var b strings.Builder
	if err := Render(&b, nil, now, false, false); err != nil || b.String() != "total: nothing\n" {
		t.Fatalf("%q %v", b.String(), err)
	}
}

func TestAgeAndSize(t *testing.T) {
	for d, want := range map[time.Duration]string{-time.Second: "0s", 0: "0s", 59 * time.Second: "59s", time.Minute: "1m", 59 * time.Minute: "59m",
		time.Hour: "1h", 47 * time.Hour: "47h", 48 * time.Hour: "2d", 400 * 24 * time.Hour: "400d"} {
		if got := Age(now, now.Add(-d)); got != want {
			t.Errorf("Age(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

// A plan over more than one engine heads each group with its engine, the
// engine items grouped by engine and the state dirs last; over one engine
// the plan reads as before.
func TestRenderEngines(t *testing.T) {
	mod := now.Add(-time.Hour)
	on := func(it bottle.Item, engine string) bottle.Item { it.Engine = engine; return it }
	items := []bottle.Item{
		{Backend: bottle.Docker, Engine: "two", Kind: bottle.KindStateDir, Name: "o2", Path: "/s/o2", Modified: &mod},
		on(stray(bottle.KindNetwork, "n2", "", "30s"), "two"),
		{Backend: bottle.Docker, Engine: "default", Kind: bottle.KindStateDir, Name: "o1", Path: "/s/o1", Modified: &mod},
		on(stray(bottle.KindNetwork, "n1", "", "30s"), "default"),
	}
	Order(items)
	var b strings.Builder
	if err := Render(&b, items, now, false, true); err != nil {
		t.Fatal(err)
	}
	want := `--- docker backend, engine default ---
networks:
  bt-test-n1  created 30s ago
--- docker backend, engine two ---
networks:
  bt-test-n2  created 30s ago
--- docker backend, engine default ---
state dirs:
  o1  no transcript; modified 1h ago
--- docker backend, engine two ---
state dirs:
  o2  no transcript; modified 1h ago
total: 2 networks, 2 state dirs
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := Render(&b, items[:2], now, false, false); err != nil || !strings.HasPrefix(b.String(), "--- docker backend ---\n") {
		t.Errorf("one engine: %q, %v", b.String(), err)
	}
}
