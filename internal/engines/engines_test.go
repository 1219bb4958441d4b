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

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
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

// Names of one engine are asked once: by the endpoint, without asking the
// engines; by the ID (GET /info) where the endpoints differ. The name
// kept is the current engine's when it is one of them, else the first
// given; one note says so. An engine whose ID cannot be asked because it
// cannot be reached is asked no more: its backend answers that error.
func TestDistinct(t *testing.T) {
	var mu sync.Mutex
	asked := map[string]int{}
	fakes := map[string]*enginefake.Engine{}
	add := func(name, host, id string, idErr error) {
		f := enginefake.New(t)
		f.Host = host
		f.OnID = func() (string, error) {
			mu.Lock()
			asked[name]++
			mu.Unlock()
			return id, idErr
		}
		fakes[name] = f
	}
	add("a", "unix:///run/x.sock", "ID-X", nil)
	add("b", "unix:///run/../run/x.sock", "ID-X", nil) // the same path
	add("c", "ssh://root@box", "ID-X", nil)            // the same engine, by another way
	add("d", "tcp://10.0.0.4:2376", "ID-D", nil)
	down := &engine.UnreachableError{Endpoint: engine.Endpoint{Host: "unix:///gone.sock"}, Err: errors.New("connection refused")}
	add("e", "unix:///gone.sock", "", down)
	open := func(getenv func(string) string, prefix string) (*backend.Set, error) {
		return all.On(fakes[getenv("DOCKER_CONTEXT")], getenv, prefix), nil
	}
	for _, tc := range []struct {
		current string
		names   []string
		want    []string
		notes   []string
		asked   map[string]int
	}{
		{"default", []string{"a", "b"}, []string{"a"},
			[]string{"docker contexts a and b are one engine (all at unix:///run/x.sock): asked once, as a"}, map[string]int{}},
		{"b", []string{"a", "c", "b"}, []string{"b"},
			[]string{"docker contexts a, c and b are one engine (engine ID ID-X, at unix:///run/x.sock and ssh://root@box): asked once, as b"},
			map[string]int{"b": 1, "c": 1}},
		{"default", []string{"c", "a", "d"}, []string{"c", "d"},
			[]string{"docker contexts c and a are one engine (engine ID ID-X, at ssh://root@box and unix:///run/x.sock): asked once, as c"},
			map[string]int{"a": 1, "c": 1, "d": 1}},
		{"default", []string{"d", "e"}, []string{"d", "e"}, nil, map[string]int{"d": 1, "e": 1}},
	} {
		clear(asked)
		p := NewPool(env(nil), "bt-", open, tc.current)
		got, notes := p.Distinct(t.Context(), tc.names)
		if !slices.Equal(got, tc.want) || !slices.Equal(notes, tc.notes) {
			t.Errorf("%v (current %s): %v, %q; want %v, %q", tc.names, tc.current, got, notes, tc.want, tc.notes)
		}
		if !maps.Equal(asked, tc.asked) {
			t.Errorf("%v: IDs asked %v, want %v", tc.names, asked, tc.asked)
		}
		if slices.Contains(tc.names, "e") {
			bs := p.Backends([]string{"e"})
			if len(bs) != 1 {
				t.Fatalf("e: %d backends, want the one that answers why", len(bs))
			}
			if _, err := bs[0].Inventory(t.Context()); !errors.Is(err, down) {
				t.Errorf("e's backend answers %v; want %v", err, down)
			}
		}
		if tc.current == "b" {
			// A state dir's rules see the engine at both its endpoints,
			// each time by the name it is asked by.
			eng, names := p.Engines(t.Context(), got)
			if want := []string{"unix:///run/../run/x.sock", "ssh://root@box"}; !slices.Equal(eng.Endpoints, want) || !slices.Equal(names, []string{"b", "b"}) {
				t.Errorf("engines %v %v; want %v [b b]", eng.Endpoints, names, want)
			}
			if ids := eng.IDs(); !slices.Equal(ids, []string{"ID-X", "ID-X"}) {
				t.Errorf("IDs %v", ids)
			}
		}
		p.Close()
	}
}
