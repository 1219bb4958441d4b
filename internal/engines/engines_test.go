package engines

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/statedir"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// storeContext writes a context store entry as `docker context create` does.
func storeContext(t *testing.T, configDir, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	dir := filepath.Join(configDir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	meta := `{"Name":"` + name + `","Metadata":{},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A name reads the environment as the docker CLI's --context does: a
// context of the store ignores DOCKER_HOST; "default" is DOCKER_HOST's.
func TestGetenv(t *testing.T) {
	base := env(map[string]string{"DOCKER_HOST": "unix:///h.sock", "DOCKER_TLS_VERIFY": "1", "HOME": "/home/x"})
	two := Getenv(base, "two")
	if two("DOCKER_CONTEXT") != "two" || two("DOCKER_HOST") != "" || two("DOCKER_TLS_VERIFY") != "" || two("HOME") != "/home/x" {
		t.Errorf("two: %q %q %q", two("DOCKER_CONTEXT"), two("DOCKER_HOST"), two("DOCKER_TLS_VERIFY"))
	}
	def := Getenv(base, Default)
	if def("DOCKER_CONTEXT") != Default || def("DOCKER_HOST") != "unix:///h.sock" {
		t.Errorf("default: %q %q", def("DOCKER_CONTEXT"), def("DOCKER_HOST"))
	}
}

// The current engine: DOCKER_HOST is "default", else DOCKER_CONTEXT, else
// config.json's currentContext; Names lists default and the store's, in
// docker context ls's order.
func TestCurrentAndNames(t *testing.T) {
	cfg := t.TempDir()
	storeContext(t, cfg, "zeta", "unix:///z.sock")
	storeContext(t, cfg, "alpha", "tcp://10.0.0.1:2376")
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DOCKER_CONFIG": cfg}, Default},
		{map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "zeta"}, "zeta"},
		{map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "zeta", "DOCKER_HOST": "unix:///x"}, Default},
	} {
		if got, err := Current(env(tc.env)); err != nil || got != tc.want {
			t.Errorf("%v: %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"currentContext":"alpha"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := Current(env(map[string]string{"DOCKER_CONFIG": cfg})); got != "alpha" {
		t.Errorf("currentContext: %q", got)
	}
	names, err := Names(env(map[string]string{"DOCKER_CONFIG": cfg}))
	if err != nil || !slices.Equal(names, []string{"alpha", Default, "zeta"}) {
		t.Errorf("names %v, %v", names, err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Current(env(map[string]string{"DOCKER_CONFIG": cfg})); err == nil {
		t.Error("a config.json that is not JSON: no error")
	}
}

// Each engine is opened once, however many ask at once; only the current
// one keeps the smolmachines backend; one that cannot be opened is one
// backend that answers why.
func TestPool(t *testing.T) {
	var mu sync.Mutex
	opened := map[string]int{}
	open := func(getenv func(string) string, prefix string) (*backend.Set, error) {
		name := getenv("DOCKER_CONTEXT")
		mu.Lock()
		opened[name]++
		mu.Unlock()
		if name == "broken" {
			return nil, errors.New("cannot resolve broken")
		}
		return all.On(enginefake.New(t), getenv, prefix), nil
	}
	p := NewPool(env(nil), "bt-", open, "one")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, n := range []string{"", "one", "two"} {
				if _, err := p.Open(n); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if opened["one"] != 1 || opened["two"] != 1 || opened[""] != 0 {
		t.Errorf("opened %v", opened)
	}
	bs := p.Backends([]string{"one", "two", "broken"})
	var keys []string
	for _, b := range bs {
		keys = append(keys, backend.Key(b))
	}
	want := []string{bottle.Docker + "@one", bottle.Smolmachines + "@one", bottle.Docker + "@two", bottle.Docker + "@broken"}
	if !slices.Equal(keys, want) {
		t.Errorf("backends %v, want %v", keys, want)
	}
	if _, err := bs[3].Inventory(t.Context()); err == nil || err.Error() != "cannot resolve broken" {
		t.Errorf("the broken engine's backend answers %v", err)
	}
	if p.Name("") != "one" || p.Current() != "one" {
		t.Errorf("name of the default: %q", p.Name(""))
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

// Names of one engine are asked once. By the endpoint, without asking the
// engines (Distinct); where two or more endpoints are left, by the ID (GET
// /info) of the engines whose listings share a network ID, once listed,
// the lists of all but one name then dropped (Backends). The name kept is
// the current engine's when it is one of them, else the first given; a
// note says so. Engines that share no network are not asked their IDs;
// one that cannot be listed answers as it does alone.
func TestDistinct(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	fakes := map[string]*enginefake.Engine{}
	// engine x, at three endpoints: a bottle; engine d: an orphaned one.
	// Each has its own bridge network, as every Docker engine has.
	worlds := map[string]*enginefake.World{"x": enginefake.NewWorld(), "d": enginefake.NewWorld()}
	worlds["x"].Add(engine.Network{ID: "bridge-of-x", Name: "bridge"})
	worlds["x"].Project("bt-x-1111", "running", time.Now())
	worlds["d"].Add(engine.Network{ID: "bridge-of-d", Name: "bridge"},
		engine.Volume{Name: "bt-d-1111_home", Labels: map[string]string{"com.docker.compose.project": "bt-d-1111"}})
	add := func(name, host, id string, down error) {
		f := enginefake.New(t)
		f.Host = host
		f.OnID = func() (string, error) {
			mu.Lock()
			asked[name]++
			mu.Unlock()
			return id, down
		}
		if down != nil {
			f.OnContainers = func() ([]engine.Container, error) { return nil, down }
			f.OnNetworks = func() ([]engine.Network, error) { return nil, down }
			f.OnVolumes = func() ([]engine.Volume, error) { return nil, down }
		} else {
			worlds[id].Wire(f)
		}
		fakes[name] = f
	}
	add("a", "unix:///run/x.sock", "x", nil)
	add("b", "unix:///run/../run/x.sock", "x", nil) // the same path
	add("c", "ssh://root@box", "x", nil)            // the same engine, by another way
	add("d", "tcp://10.0.0.4:2376", "d", nil)
	down := &engine.UnreachableError{Endpoint: engine.Endpoint{Host: "unix:///gone.sock"}, Err: errors.New("connection refused")}
	add("e", "unix:///gone.sock", "", down)
	open := func(getenv func(string) string, prefix string) (*backend.Set, error) {
		return all.On(fakes[getenv("DOCKER_CONTEXT")], getenv, prefix), nil
	}
	for _, tc := range []struct {
		current     string
		names, want []string
		notes       []string // Distinct's
		bottles     []string
		idNotes     []string
		asked       map[string]int
	}{
		{"default", []string{"a", "b"}, []string{"a"},
			[]string{"docker contexts a and b are one engine (all at unix:///run/x.sock): asked once, as a"},
			[]string{"a bt-x-1111"}, nil, map[string]int{}},
		{"b", []string{"a", "c", "b"}, []string{"c", "b"},
			[]string{"docker contexts a and b are one engine (all at unix:///run/x.sock): asked once, as b"},
			[]string{"b bt-x-1111"},
			[]string{"docker contexts c and b are one engine (engine ID x, at ssh://root@box and unix:///run/../run/x.sock): asked once, as b"},
			map[string]int{"b": 1, "c": 1}},
		{"default", []string{"c", "a", "d"}, []string{"c", "a", "d"}, nil,
			[]string{"c bt-x-1111", "d bt-d-1111"},
			[]string{"docker contexts c and a are one engine (engine ID x, at ssh://root@box and unix:///run/x.sock): asked once, as c"},
			map[string]int{"a": 1, "c": 1}},
		{"default", []string{"d", "e"}, []string{"d", "e"}, nil, []string{"d bt-d-1111"}, nil, map[string]int{}},
	} {
		clear(asked)
		p := NewPool(env(nil), "bt-", open, tc.current)
		got, notes := p.Distinct(tc.names)
		if !slices.Equal(got, tc.want) || !slices.Equal(notes, tc.notes) {
			t.Errorf("%v (current %s): %v, %q; want %v, %q", tc.names, tc.current, got, notes, tc.want, tc.notes)
		}
		survey := backend.Ask(t.Context(), p.Backends(got))
		var bottles []string
		for _, b := range survey.Bottles() {
			bottles = append(bottles, b.Engine+" "+b.Name)
		}
		slices.Sort(bottles)
		if !slices.Equal(bottles, tc.bottles) || !slices.Equal(p.Notes(), tc.idNotes) {
			t.Errorf("%v: bottles %q, notes %q; want %q, %q", tc.names, bottles, p.Notes(), tc.bottles, tc.idNotes)
		}
		if err := survey.Err(); (err != nil) != slices.Contains(tc.names, "e") || err != nil && !errors.Is(err, down) {
			t.Errorf("%v: the survey's error %v", tc.names, err)
		}
		if !maps.Equal(asked, tc.asked) {
			t.Errorf("%v: IDs asked %v, want %v", tc.names, asked, tc.asked)
		}
		if tc.current == "b" {
			// A bottle.json's engine ID finds the name the engine is asked by.
			eng, names := p.Engines(t.Context(), got)
			if !slices.Equal(names, []string{"b", "c"}) || eng.Named(statedir.Meta{EngineID: "x"}, names) != "b" {
				t.Errorf("engines %v %v", eng.Endpoints, names)
			}
		}
		p.Close()
	}
}
