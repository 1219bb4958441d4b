package plan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// detachedWorld: "det1" was launched with --detach and runs; "det2" was too
// but stopped; "old3" has no bottle.json (the original tool) and runs;
// "done4" was detached and ended.
func detachedWorld(t *testing.T) (*fake, []statedir.Entry) {
	root := t.TempDir()
	bDet, iDet := project("det1-aaaaa", "2h", "running", "running")
	bStop, iStop := project("det2-bbbbb", "2h", "exited")
	bOld, iOld := project("old3-ccccc", "2h", "running")
	bDone, iDone := project("done4-ddddd", "2h", "running")
	entries := dirs(t, root, 0, "det1-aaaaa", "det2-bbbbb", "old3-ccccc", "done4-ddddd")
	meta := map[string]string{
		"det1-aaaaa":  `{"backend":"docker","name":"` + prefix + `det1-aaaaa","detached":true}`,
		"det2-bbbbb":  `{"backend":"docker","name":"` + prefix + `det2-bbbbb","detached":true}`,
		"done4-ddddd": `{"backend":"docker","name":"` + prefix + `done4-ddddd","detached":true,"ended":"2026-05-01T11:00:00Z"}`,
	}
	for i, e := range entries {
		if m, ok := meta[e.Slug]; ok {
			if err := os.WriteFile(filepath.Join(e.Path, bottle.MetaFile), []byte(m), 0o600); err != nil {
				t.Fatal(err)
			}
			entries[i].Meta = true
		}
	}
	return &fake{name: bottle.Docker, inv: inventory(
		[]bottle.Bottle{bDet, bStop, bOld, bDone}, iDet, iStop, iOld, iDone)}, entries
}

func inventory(bs []bottle.Bottle, items ...bottle.Item) backend.Inventory {
	return backend.Inventory{Items: items, Bottles: bs}
}

func itemNames(p *Plan) []string {
	var out []string
	for _, it := range p.Items {
		out = append(out, it.Kind+" "+it.Name)
	}
	return out
}

// A running bottle launched with --detach is live: left out of the plan and
// named once on stderr; a stopped one, one without bottle.json and an ended
// one keep today's rules.
func TestDetachedRunningBottleIsLeftOut(t *testing.T) {
	f, entries := detachedWorld(t)
	p := Build(survey(f), entries, nil, Options{Prefix: prefix, Now: now})
	got := itemNames(p)
	for _, it := range got {
		if strings.Contains(it, "det1-aaaaa") {
			t.Errorf("a running detached bottle is planned: %q", got)
		}
	}
	for _, want := range []string{"compose-project " + prefix + "det2-bbbbb", "compose-project " + prefix + "old3-ccccc", "compose-project " + prefix + "done4-ddddd"} {
		if !slices.Contains(got, want) {
			t.Errorf("plan %q lacks %q", got, want)
		}
	}
	n := 0
	for _, note := range p.Notes {
		if strings.Contains(note, "det1-aaaaa") {
			n++
			if !strings.Contains(note, "--detach") || !strings.Contains(note, "running") || !strings.Contains(note, "--name det1-aaaaa") {
				t.Errorf("note %q does not say it runs detached and how to end it", note)
			}
		}
	}
	if n != 1 {
		t.Errorf("the detached bottle is named %d times on stderr, want once: %q", n, p.Notes)
	}
	for _, it := range p.Items {
		if it.IncludeDetached {
			t.Errorf("%s %s: include_detached set without --include-detached or --name", it.Kind, it.Name)
		}
	}
}

// --include-detached takes it (and records that in every item); --name
// takes only the named bottle (prefix + slug or slug), its state dir with it.
func TestDetachedTakenWhenAskedOrNamed(t *testing.T) {
	f, entries := detachedWorld(t)
	p := Build(survey(f), entries, nil, Options{Prefix: prefix, Now: now, IncludeDetached: true})
	if !slices.Contains(itemNames(p), "compose-project "+prefix+"det1-aaaaa") {
		t.Errorf("--include-detached: plan %q lacks the detached bottle", itemNames(p))
	}
	for _, it := range p.Items {
		if !it.IncludeDetached {
			t.Errorf("%s %s: include_detached not recorded", it.Kind, it.Name)
		}
	}
	for _, name := range []string{prefix + "det1-aaaaa", "det1-aaaaa"} {
		p = Build(survey(f), entries, nil, Options{Prefix: prefix, Now: now, Names: []string{NameSlug(name, prefix)}})
		want := []string{"compose-project " + prefix + "det1-aaaaa", "state-dir det1-aaaaa"}
		if !slices.Equal(itemNames(p), want) {
			t.Errorf("--name %s: plan %q, want %q", name, itemNames(p), want)
		}
		for _, it := range p.Items {
			if !it.IncludeDetached {
				t.Errorf("--name: %s %s: include_detached not recorded", it.Kind, it.Name)
			}
		}
		if len(p.Notes) != 0 {
			t.Errorf("--name: notes %q", p.Notes)
		}
	}
	p = Build(survey(f), entries, nil, Options{Prefix: prefix, Now: now, Names: []string{"nope-zzzzz"}})
	if len(p.Items) != 0 || len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "--name nope-zzzzz") {
		t.Errorf("--name of nothing: items %q, notes %q", itemNames(p), p.Notes)
	}
}

// The plan asks whether a compose project's home volume holds a transcript
// only for bottles bottle-launch made (bottle.json), and says so in the item.
func TestTranscriptMarked(t *testing.T) {
	root := t.TempDir()
	_, launched := project("made-aaaaa", "2h", "exited")
	_, other := project("orig-bbbbb", "2h", "exited")
	entries := dirs(t, root, 0, "made-aaaaa", "orig-bbbbb")
	os.WriteFile(filepath.Join(entries[0].Path, bottle.MetaFile), []byte(`{"backend":"docker"}`), 0o600)
	entries[0].Meta = true
	f := &fake{name: bottle.Docker, inv: inventory(nil, launched, other)}
	var asked []string
	opt := Options{Prefix: prefix, Now: now, Transcript: func(_ context.Context, it bottle.Item, dir string) (bool, error) {
		asked = append(asked, it.Name+" "+filepath.Base(dir))
		return true, nil
	}}
	p := makeWith(f, entries, opt)
	if want := []string{prefix + "made-aaaaa made-aaaaa"}; !slices.Equal(asked, want) {
		t.Errorf("asked %q, want %q", asked, want)
	}
	for _, it := range p.Items {
		has := it.Transcript != nil && *it.Transcript
		if it.Kind == bottle.KindComposeProject && has != (it.Slug == "made-aaaaa") {
			t.Errorf("%s: transcript %v", it.Name, has)
		}
	}
}

func makeWith(f *fake, entries []statedir.Entry, opt Options) *Plan {
	return finish(context.Background(), Build(survey(f), entries, nil, opt), entries, opt)
}
