package reap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Issue 15, finding 4, at removal time: the labels the engine gives now
// say whose a resource is, whatever the plan line says; another root's
// stays without all_roots, and with it while that root's lock is held or
// its detached bottle runs.
func TestOwnerReadsLabelsNow(t *testing.T) {
	mine, other := t.TempDir(), t.TempDir()
	dir := filepath.Join(other, "x-aaaa1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	b := &Bottles{Prefix: "p-", StateRoot: mine}
	it := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: "p-x-aaaa1", Slug: "x-aaaa1"}
	labels := map[string]string{bottle.LabelStateDir: dir}
	check := func(what string, it bottle.Item, labels map[string]string, state, want string) {
		t.Helper()
		if got := b.Owner(it, labels, state); want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	check("another root's", it, labels, "exited", "made from state root "+other+" (--all-roots to include)")
	check("a container bottle-launch labelled before the state-dir label", it,
		map[string]string{bottle.LabelSlug: "x-aaaa1", compose.LabelWorkingDir: dir}, "exited", "made from state root "+other)
	check("compose's own working dir", it, map[string]string{compose.LabelWorkingDir: dir}, "exited", "")
	check("no label", it, nil, "exited", "")
	check("this root's", it, map[string]string{bottle.LabelStateDir: filepath.Join(mine, "x-aaaa1")}, "exited", "")
	check("a dir that is gone", it, map[string]string{bottle.LabelStateDir: filepath.Join(other, "y-aaaa2")}, "exited", "")

	it.AllRoots = true
	check("--all-roots", it, labels, "exited", "")
	lock, err := statedir.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	check("--all-roots, its launcher runs", it, labels, "exited", "its bottle-launch is still running (state root "+other+")")
	lock.Release()
	if err := os.WriteFile(filepath.Join(dir, bottle.MetaFile), []byte(`{"detached":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	check("--all-roots, detached and running", it, labels, "running", "it was launched with --detach and is running")
	check("--all-roots, detached and stopped", it, labels, "exited", "")
	it.IncludeDetached = true
	check("--all-roots --include-detached", it, labels, "running", "")
	if got := b.stateDirOf(it, "x-aaaa1"); got != dir {
		t.Errorf("the rescue saves into %s, want the other root's %s", got, dir)
	}
}
