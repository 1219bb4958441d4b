package engines

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/bottle"
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
