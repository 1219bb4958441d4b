package plan

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// BenchmarkBuild plans the benchmark world from answers in hand: 20
// bottles, 8 stray containers, 4 stray networks, 200 state dirs (20
// preserved, 20 of them the bottles' own).
func BenchmarkBuild(b *testing.B) {
	inv := backend.Inventory{}
	for i := range 20 {
		bt, it := project(fmt.Sprintf("b%d-xxxx", i), "48h", "running", "exited")
		inv.Bottles = append(inv.Bottles, bt)
		inv.Items = append(inv.Items, it)
	}
	for i := range 8 {
		inv.Items = append(inv.Items, stray(bottle.KindContainer, fmt.Sprintf("s%d-yyyy", i), "exited", "1h"))
	}
	for i := range 4 {
		inv.Items = append(inv.Items, stray(bottle.KindNetwork, fmt.Sprintf("n%d", i), "", "1h"))
	}
	root := stateRoot(b)
	var entries []statedir.Entry
	for i := range 200 {
		slug := fmt.Sprintf("d%d-zzzz", i)
		if i < 20 {
			slug = fmt.Sprintf("b%d-xxxx", i)
		}
		entries = append(entries, statedir.Entry{Slug: slug, Path: filepath.Join(root, slug), Type: statedir.Dir,
			Preserved: i >= 180, Modified: now.Add(-time.Hour), SizeBytes: 100, Transcript: true})
	}
	s := survey(&fake{name: bottle.Docker, inv: inv})
	b.ReportAllocs()
	for b.Loop() {
		p := Build(s, entries, nil, Options{Now: now, IncludeTranscripts: true})
		if len(p.Items) != 212 {
			b.Fatalf("%d items", len(p.Items))
		}
	}
}
