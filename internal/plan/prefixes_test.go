package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
)

// Issue 15, finding 5: a state dir is live while a bottle of its slug
// exists under any prefix (the state root is shared across prefixes): a
// dir another prefix's bottle may own is never planned, not even with a
// bottle of ours of that slug that the plan removes whole, and is named
// once on stderr.
func TestBuildLiveUnderAnotherPrefix(t *testing.T) {
	root := stateRoot(t)
	b, it := project("both-cccc3", "48h", "exited")
	d := &fake{name: bottle.Docker, inv: backend.Inventory{
		Bottles: []bottle.Bottle{b}, Items: []bottle.Item{it},
		Elsewhere: map[string]string{"orig-aaaa1": "A-orig-aaaa1", "both-cccc3": "A-both-cccc3"},
	}}
	entries := dirs(t, root, 48*time.Hour, "orig-aaaa1", "gone-bbbb2", "both-cccc3")
	p := Build(survey(d), entries, nil, Options{Now: now, IncludeTranscripts: true})
	if got := names(p.Items); got != "compose-project "+prefix+"both-cccc3\nstate-dir gone-bbbb2" {
		t.Errorf("planned:\n%s", got)
	}
	notes := strings.Join(p.Notes, "\n")
	for _, slug := range []string{"orig-aaaa1", "both-cccc3"} {
		if strings.Count(notes, slug+" left alone: A-"+slug+" exists, which may be a bottle of its slug under another prefix") != 1 {
			t.Errorf("%s: notes %q", slug, p.Notes)
		}
	}
}
