package launch

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Red team, hole 14: bottle.json names the engine the bottle was made on,
// so the cleanup tools of another engine leave its dir alone.
func TestMetaRecordsEngine(t *testing.T) {
	f, _, s, opt := setup(t)
	f.Host = "unix:///run/engine-a.sock"
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.lock.Release()
	m, ok, err := statedir.ReadMeta(b.Project.StateDir)
	if !ok || err != nil || m.Engine != "unix:///run/engine-a.sock" || m.Name != b.Project.Name {
		t.Fatalf("bottle.json: %+v %v %v", m, ok, err)
	}
}

// Red team, hole 12: a spec whose command made bottle.json larger than
// the cleanup tools read hid the bottle. bottle-launch refuses a spec that
// would make bottle.json large, before anything is made.
func TestMetaBounded(t *testing.T) {
	f, w, s, opt := setup(t)
	s.Command = []string{"sh", "-c", strings.Repeat("x", MaxSpecMeta)}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "the spec is too large: bottle.json would be") {
		t.Fatalf("Start = %v (exit %d)", err, exitcode.Of(err))
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("made %v", held)
	}
	if des := stateDirs(t, opt.StateRoot); len(des) != 0 {
		t.Errorf("state root holds %v", des)
	}
	// A spec just under the bound is recorded whole.
	s.Command = []string{"sh", "-c", strings.Repeat("x", MaxSpecMeta/2)}
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.lock.Release()
	fi, err := os.Stat(filepath.Join(b.Project.StateDir, bottle.MetaFile))
	if err != nil || fi.Size() > MaxSpecMeta {
		t.Fatalf("bottle.json: %v %v", fi, err)
	}
}

// bottle.json, now written through statedir.Meta, keeps every key it had
// when launch had its own type, and reads back into the spec launched.
func TestMetaKeys(t *testing.T) {
	f, _, s, opt := setup(t)
	f.Host = "unix:///run/engine-a.sock"
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.lock.Release()
	if err := b.writeMeta(func(m *statedir.Meta) { m.Detached = true }); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(b.Project.StateDir, bottle.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range keys {
		got = append(got, k)
	}
	slices.Sort(got)
	// engine_id: the fake engine says its ID, as the real one does
	want := []string{"agent", "backend", "containers", "created", "detached", "engine", "engine_id", "image", "name", "networks", "prefix", "slug", "spec", "volumes"}
	if !slices.Equal(got, want) {
		t.Errorf("bottle.json keys %v, want %v", got, want)
	}
	m, ok, err := statedir.ReadMeta(b.Project.StateDir)
	if !ok || err != nil || m.Image != s.Image || !m.Detached || m.Slug != b.Project.Slug {
		t.Errorf("read back: %+v %v %v", m, ok, err)
	}
	var spec Spec
	if err := json.Unmarshal(m.Spec, &spec); err != nil || spec.Agent != s.Agent || spec.Image != s.Image {
		t.Errorf("spec read back: %+v %v", spec, err)
	}
}

// stateDirs is what the state root holds but its marker.
func stateDirs(t *testing.T, root string) []string {
	t.Helper()
	des, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		if de.Name() != bottle.RootMarker {
			names = append(names, de.Name())
		}
	}
	return names
}

// Issue 15, finding 3: a launch makes its state root and marks it; it
// writes no state dir into a dir of source checkouts, however often it
// is run there, and says so in one line (exit 2), having made nothing.
func TestStateRootMarked(t *testing.T) {
	f, w, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	b.lock.Release()
	if !statedir.Marked(opt.StateRoot) {
		t.Error("the state root a launch made has no marker")
	}
	if err := statedir.CheckRoot(opt.StateRoot, false); err != nil {
		t.Errorf("the cleanup tools refuse the launch's root: %v", err)
	}

	src := t.TempDir()
	for _, p := range []string{"auth-proxy/.git/HEAD", "auth-proxy/go.mod", "auth-proxy/Dockerfile", "web-react/.git/HEAD", "web-react/Dockerfile", "scratch/notes"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opt.StateRoot = src
	made := len(w.Held())
	for range 2 {
		_, err := Start(context.Background(), f, s, opt)
		if exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "is no state root") {
			t.Fatalf("Start into checkouts = %v (exit %d)", err, exitcode.Of(err))
		}
	}
	if des := stateDirs(t, src); !slices.Equal(des, []string{"auth-proxy", "scratch", "web-react"}) || statedir.Marked(src) || len(w.Held()) != made {
		t.Errorf("after two launches: %v, marked %v, made %d", des, statedir.Marked(src), len(w.Held())-made)
	}
}

// compose.json says "(from the spec)" only for what the agent gets from
// the spec: the launcher's own HOME, proxy and CA values win over a spec
// env of the same names, and compose.json shows them.
func TestComposeEnvSaysWhoseValue(t *testing.T) {
	spec := Spec{Agent: "env", Image: "bottle-test/agent", Env: map[string]string{"API_KEY": "sk-secret", "HOME": "/root", "HTTP_PROXY": "http://evil:1", "NO_PROXY": "*", "SSL_CERT_FILE": "/x.pem"}, Sidecar: Sidecar{Image: "bottle-test/pipelock", Allow: []string{"example.test"}}}
	spec.Defaults()
	b := &Launched{spec: spec, Project: Project{Name: "bt-x-env-aaaaa", Slug: "env-aaaaa", Agent: "env"}}
	agent, _, env := b.services()
	if env["HOME"] != bottle.AgentHome || env["API_KEY"] != "sk-secret" {
		t.Fatalf("agent env %v", env)
	}
	for k, v := range agent.Environment {
		want := env[k]
		if k == "API_KEY" {
			want = "(from the spec)"
		}
		if v != want {
			t.Errorf("compose.json %s=%q, want %q (the agent gets %q)", k, v, want, env[k])
		}
	}
	if len(agent.Environment) != len(env) {
		t.Errorf("compose.json env %v, agent env %v", agent.Environment, env)
	}
}
