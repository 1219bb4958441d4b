package plan

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// detachedWorld: "det1" was launched with --detach and runs; "det2" was too
// but stopped; "old3" has no bottle.json (the original tool) and runs;
// "done4" was detached and ended.
func detachedWorld(t *testing.T) (*fake, []statedir.Entry) {
	root := stateRoot(t)
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
	// --name ends the bottle and keeps its conversation: its dir (where
	// the transcript will be saved) only with --include-transcripts
	for _, name := range []string{prefix + "det1-aaaaa", "det1-aaaaa"} {
		for _, include := range []bool{false, true} {
			p = Build(survey(f), entries, nil, Options{Prefix: prefix, Now: now, Names: []string{NameSlug(name, prefix)}, IncludeTranscripts: include})
			want := []string{"compose-project " + prefix + "det1-aaaaa"}
			if include {
				want = append(want, "state-dir det1-aaaaa")
			}
			if !slices.Equal(itemNames(p), want) {
				t.Errorf("--name %s (include %v): plan %q, want %q", name, include, itemNames(p), want)
			}
			for _, it := range p.Items {
				if !it.IncludeDetached || it.IncludeTranscripts != (include && it.Kind == bottle.KindStateDir) {
					t.Errorf("--name: %s %s: include_detached %v, include_transcripts %v", it.Kind, it.Name, it.IncludeDetached, it.IncludeTranscripts)
				}
			}
			switch {
			case include && len(p.Notes) != 0:
				t.Errorf("--name --include-transcripts: notes %q", p.Notes)
			case !include && (len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "--name det1-aaaaa: its state dir "+entries[0].Path+" will hold the conversation")):
				t.Errorf("--name: notes %q", p.Notes)
			}
		}
	}
	// a name that matches nothing is an error that says how to list names
	p = Build(survey(f), entries, nil, Options{Prefix: prefix, Now: now, Names: []string{"nope-zzzzz"}})
	if len(p.Items) != 0 || len(p.Notes) != 0 || p.Unknown == nil ||
		p.Unknown.Error() != "--name nope-zzzzz: no bottle and no state dir of that name (bottle-ls lists the bottles, bottle-ls --state the state dirs)" {
		t.Errorf("--name of nothing: items %q, notes %q, err %v", itemNames(p), p.Notes, p.Unknown)
	}
}

// The plan asks whether a compose project's home volume holds a transcript
// only for bottles bottle-launch made (bottle.json), and says so in the
// item: the agent container's answer, else what the launcher recorded in
// bottle.json, else null (it cannot tell without creating something).
func TestTranscriptMarked(t *testing.T) {
	root := stateRoot(t)
	_, asked := project("made-aaaaa", "2h", "exited")
	_, told := project("told-ccccc", "2h", "exited")
	_, unknown := project("unkn-ddddd", "2h", "exited")
	_, other := project("orig-bbbbb", "2h", "exited")
	entries := dirs(t, root, 0, "made-aaaaa", "orig-bbbbb", "told-ccccc", "unkn-ddddd")
	for _, i := range []int{0, 2, 3} {
		entries[i].Meta = true
	}
	entries[2].Bottle.Transcript = statedir.TranscriptInVolume
	f := &fake{name: bottle.Docker, inv: inventory(nil, asked, other, told, unknown)}
	var mu sync.Mutex
	var names []string
	opt := Options{Prefix: prefix, Now: now, Transcript: func(_ context.Context, it bottle.Item) (bool, bool, error) {
		mu.Lock()
		names = append(names, it.Slug)
		mu.Unlock()
		return true, it.Slug == "made-aaaaa", nil
	}}
	p := makeFrom(context.Background(), survey(f), entries, nil, opt)
	sort.Strings(names)
	if want := []string{"made-aaaaa", "told-ccccc", "unkn-ddddd"}; !slices.Equal(names, want) {
		t.Errorf("asked %q, want %q", names, want)
	}
	for _, it := range p.Items {
		if it.Kind != bottle.KindComposeProject {
			continue
		}
		got := "null"
		if it.Transcript != nil {
			got = strconv.FormatBool(*it.Transcript)
		}
		want := map[string]string{"made-aaaaa": "true", "told-ccccc": "true", "unkn-ddddd": "null", "orig-bbbbb": "null"}[it.Slug]
		if got != want {
			t.Errorf("%s: transcript %s, want %s", it.Name, got, want)
		}
	}
	// a probe that fails is a note; the item says null
	opt.Transcript = func(context.Context, bottle.Item) (bool, bool, error) { return false, false, errors.New("no answer") }
	p = makeFrom(context.Background(), survey(&fake{name: bottle.Docker, inv: inventory(nil, asked)}), entries[:1], nil, opt)
	if len(p.Items) == 0 || p.Items[0].Transcript != nil || !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.Contains(n, "cannot tell whether its home volume holds a transcript: no answer")
	}) {
		t.Errorf("a failed probe: items %+v, notes %q", p.Items, p.Notes)
	}
}
