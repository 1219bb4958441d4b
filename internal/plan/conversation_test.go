package plan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// One rule: a state dir that holds a transcript is a conversation, and no
// plan lists it unless it asked for conversations (--include-transcripts);
// nor the dir of a planned bottle whose home volume holds (or may hold) a
// transcript, which the reaper saves there. The plan says once how many it
// kept and how to see them. Dirs without one keep the other rules; so does
// the dir of a bottle whose volume provably holds none.
func TestConversationsKept(t *testing.T) {
	root := stateRoot(t)
	_, none := project("none-aaaa1", "48h", "exited")
	_, maybe := project("maybe-bbbb2", "48h", "exited")
	b1, _ := project("none-aaaa1", "48h", "exited")
	b2, _ := project("maybe-bbbb2", "48h", "exited")
	f := &fake{name: bottle.Docker, inv: inventory([]bottle.Bottle{b1, b2}, none, maybe)}
	entries := dirs(t, root, 72*time.Hour, "talk-cccc3", "debris-dddd4", "none-aaaa1", "maybe-bbbb2")
	entries[0].Transcript = true
	for _, i := range []int{2, 3} {
		entries[i].Meta = true
	}
	probe := func(_ context.Context, it bottle.Item) (bool, bool, error) {
		return false, it.Slug == "none-aaaa1", nil // none's agent has no tree; maybe's cannot tell
	}
	opt := Options{Prefix: prefix, Now: now, Transcript: probe}
	p := makeFrom(context.Background(), survey(f), entries, nil, opt)
	want := []string{"compose-project " + prefix + "maybe-bbbb2", "compose-project " + prefix + "none-aaaa1", "state-dir debris-dddd4", "state-dir none-aaaa1"}
	if !slices.Equal(itemNames(p), want) {
		t.Errorf("plan %q, want %q", itemNames(p), want)
	}
	note := "kept 2 state dirs that hold a conversation (an agent's transcript; a planned bottle's is saved there before it goes): bottle-ls --state lists them; --include-transcripts plans them too"
	if !slices.Contains(p.Notes, note) {
		t.Errorf("notes %q, want %q", p.Notes, note)
	}
	for _, it := range p.Items {
		if it.IncludeTranscripts {
			t.Errorf("%s: include_transcripts", it.Name)
		}
	}

	opt.IncludeTranscripts = true
	p = makeFrom(context.Background(), survey(f), entries, nil, opt)
	want = []string{"compose-project " + prefix + "maybe-bbbb2", "compose-project " + prefix + "none-aaaa1",
		"state-dir debris-dddd4", "state-dir maybe-bbbb2", "state-dir none-aaaa1", "state-dir talk-cccc3"}
	if !slices.Equal(itemNames(p), want) {
		t.Errorf("--include-transcripts: plan %q, want %q", itemNames(p), want)
	}
	for _, it := range p.Items {
		if it.Kind == bottle.KindStateDir && !it.IncludeTranscripts {
			t.Errorf("--include-transcripts: %s does not record it", it.Name)
		}
	}
	if slices.ContainsFunc(p.Notes, func(n string) bool { return strings.HasPrefix(n, "kept ") }) {
		t.Errorf("--include-transcripts: notes %q", p.Notes)
	}

	// --older-than leaves out the young ones without counting them
	young := dirs(t, t.TempDir(), time.Hour, "young-eeee5")
	young[0].Transcript = true
	p = Build(survey(&fake{name: bottle.Docker}), young, nil, Options{Prefix: prefix, Now: now, OlderThan: 24 * time.Hour})
	if len(p.Items) != 0 || len(p.Notes) != 0 {
		t.Errorf("a young conversation: %q, %q", itemNames(p), p.Notes)
	}
}

// --name: a bottle's name with nothing left of it but a conversation says
// that it stays; a preserved dir says .preserve keeps it; with
// --discard-transcript the named bottle's project records it.
func TestNameNotes(t *testing.T) {
	root := stateRoot(t)
	entries := dirs(t, root, time.Hour, "talk-aaaa1", "kept-bbbb2")
	entries[0].Transcript = true
	entries[1].Preserved = true
	p := Build(survey(&fake{name: bottle.Docker}), entries, nil, Options{Prefix: prefix, Now: now, Names: []string{"talk-aaaa1", "kept-bbbb2"}})
	if len(p.Items) != 0 || p.Unknown != nil {
		t.Fatalf("items %q, unknown %v", itemNames(p), p.Unknown)
	}
	for _, want := range []string{
		"--name talk-aaaa1: its state dir " + entries[0].Path + " holds the conversation (its transcript) and stays; add --include-transcripts to remove it too",
		"--name kept-bbbb2: its state dir " + entries[1].Path + " has .preserve, which keeps it (remove that file to let it go)",
	} {
		if !slices.Contains(p.Notes, want) {
			t.Errorf("notes %q lack %q", p.Notes, want)
		}
	}

	b, it := project("end-cccc3", "1h", "running")
	p = Build(survey(&fake{name: bottle.Docker, inv: inventory([]bottle.Bottle{b}, it)}), nil, nil,
		Options{Prefix: prefix, Now: now, Names: []string{"end-cccc3"}, DiscardTranscript: true})
	if len(p.Items) != 1 || !p.Items[0].DiscardTranscript {
		t.Errorf("--discard-transcript: %+v", p.Items)
	}
}

// resumable is what bottle-launch --resume accepts (a bottle.json of this
// prefix and slug), not "a transcript and a Dockerfile".
func TestResumableInPlan(t *testing.T) {
	root := stateRoot(t)
	for _, s := range []string{"res-aaaa1", "old-bbbb2"} {
		os.MkdirAll(filepath.Join(root, s), 0o700)
	}
	os.WriteFile(filepath.Join(root, "res-aaaa1", bottle.MetaFile), []byte(`{"backend":"docker","name":"`+prefix+`res-aaaa1","slug":"res-aaaa1","agent":"res"}`), 0o600)
	os.WriteFile(filepath.Join(root, "old-bbbb2", "Dockerfile"), []byte("FROM x\n"), 0o600)
	os.WriteFile(filepath.Join(root, "old-bbbb2", "transcript.jsonl"), []byte("{}\n"), 0o600)
	entries, err := statedir.Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	p := Build(survey(&fake{name: bottle.Docker}), entries, nil, Options{Prefix: prefix, Now: time.Now(), IncludeTranscripts: true})
	got := map[string]bool{}
	for _, it := range p.Items {
		got[it.Name] = *it.Resumable
	}
	if !got["res-aaaa1"] || got["old-bbbb2"] || len(got) != 2 {
		t.Errorf("resumable %v", got)
	}
}
