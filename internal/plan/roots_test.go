package plan

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Issue 15, finding 4: a bottle whose labels name a state dir in another
// root that still exists is that root's: left out and named once, unless
// --all-roots; then that root's lock and detached flag count as this
// root's do. A dir that is gone, or labels that name none, keep today's
// rules.
func TestOtherRootsBottles(t *testing.T) {
	mine, other := t.TempDir(), t.TempDir()
	owned := func(slug, dir string, states ...string) (bottle.Bottle, bottle.Item) {
		b, it := project(slug, "2h", states...)
		it.OwnerDir = dir
		return b, it
	}
	mkdir := func(slug, meta string) string {
		d := filepath.Join(other, slug)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if meta != "" {
			if err := os.WriteFile(filepath.Join(d, bottle.MetaFile), []byte(meta), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	bA, iA := owned("alice-aaaa1", mkdir("alice-aaaa1", ""), "exited")
	bD, iD := owned("det-aaaa2", mkdir("det-aaaa2", `{"detached":true}`), "running")
	bL, iL := owned("fg-aaaa3", mkdir("fg-aaaa3", ""), "running")
	lock, err := statedir.Acquire(filepath.Join(other, "fg-aaaa3"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	bG, iG := owned("gone-aaaa4", filepath.Join(other, "gone-aaaa4"), "exited")
	bM, iM := owned("mine-aaaa5", filepath.Join(mine, "mine-aaaa5"), "exited")
	bN, iN := owned("none-aaaa6", "", "exited")
	f := &fake{name: bottle.Docker, inv: inventory([]bottle.Bottle{bA, bD, bL, bG, bM, bN}, iA, iD, iL, iG, iM, iN)}

	p := Build(survey(f), nil, nil, Options{StateRoot: mine, Prefix: prefix, Now: now})
	got := itemNames(p)
	want := []string{"compose-project " + prefix + "gone-aaaa4", "compose-project " + prefix + "mine-aaaa5", "compose-project " + prefix + "none-aaaa6"}
	if !slices.Equal(got, want) {
		t.Errorf("plan %q, want %q", got, want)
	}
	for _, slug := range []string{"alice-aaaa1", "det-aaaa2", "fg-aaaa3"} {
		n := 0
		for _, note := range p.Notes {
			if strings.Contains(note, slug) {
				n++
				if want := "leaving " + prefix + slug + ": made from state root " + other + " (--all-roots to include)"; note != want {
					t.Errorf("note %q, want %q", note, want)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s named %d times: %q", slug, n, p.Notes)
		}
	}

	p = Build(survey(f), nil, nil, Options{StateRoot: mine, Prefix: prefix, Now: now, AllRoots: true})
	got = itemNames(p)
	want = append([]string{"compose-project " + prefix + "alice-aaaa1"}, want...)
	if !slices.Equal(got, want) {
		t.Errorf("--all-roots: plan %q, want %q", got, want)
	}
	for _, it := range p.Items {
		if it.AllRoots != (it.Slug == "alice-aaaa1") {
			t.Errorf("all_roots is recorded on another root's items only: %+v", it)
		}
	}
	for slug, why := range map[string]string{"det-aaaa2": "it was launched with --detach and is running (state root " + other + ")", "fg-aaaa3": "its bottle-launch is still running (state root " + other + ")"} {
		if !slices.Contains(p.Notes, "leaving "+prefix+slug+": "+why) {
			t.Errorf("--all-roots: no note for %s in %q", slug, p.Notes)
		}
	}

	p = Build(survey(f), nil, nil, Options{StateRoot: mine, Prefix: prefix, Now: now, AllRoots: true, Names: []string{"det-aaaa2"}})
	if got := itemNames(p); !slices.Equal(got, []string{"compose-project " + prefix + "det-aaaa2"}) {
		t.Errorf("--all-roots --name of a detached one: %q", got)
	}
}
