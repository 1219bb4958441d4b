package backend

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// countingLister answers empty lists and counts the container listings.
type countingLister struct{ lists atomic.Int32 }

func (c *countingLister) Containers(context.Context) ([]engine.Container, error) {
	c.lists.Add(1)
	return nil, nil
}
func (c *countingLister) Networks(context.Context) ([]engine.Network, error) { return nil, nil }
func (c *countingLister) Volumes(context.Context) ([]engine.Volume, error)   { return nil, nil }

// reader is a Sharing backend that reads the engine through the survey's
// listings.
type reader struct {
	name string
	api  engine.Lister
}

func (r reader) Name() string { return r.name }
func (r reader) Inventory(ctx context.Context) (Inventory, error) {
	return r.InventoryFrom(ctx, nil)
}
func (r reader) InventoryFrom(ctx context.Context, l *Listings) (Inventory, error) {
	_, err := l.Engine(ctx, r.api)
	return Inventory{}, err
}

// TestListingsArePerSurvey: the backends of one survey share one listing of
// the engine; every survey, and every Inventory outside a survey, lists
// afresh (there is no cache to outlive a survey).
func TestListingsArePerSurvey(t *testing.T) {
	api := &countingLister{}
	backends := []Backend{reader{"a", api}, reader{"b", api}, reader{"c", api}}
	if s := Ask(context.Background(), backends); !s.Complete() || api.lists.Load() != 1 {
		t.Fatalf("one survey of three backends listed %d times; want 1", api.lists.Load())
	}
	Ask(context.Background(), backends)
	if n := api.lists.Load(); n != 2 {
		t.Errorf("a second survey: %d listings in all; want 2 (afresh)", n)
	}
	if _, err := backends[0].Inventory(context.Background()); err != nil || api.lists.Load() != 3 {
		t.Errorf("Inventory outside a survey: %d listings in all, err %v; want 3", api.lists.Load(), err)
	}
	var l Listings
	l.Engine(context.Background(), api)
	l.Engine(context.Background(), api)
	if n := api.lists.Load(); n != 4 {
		t.Errorf("one Listings asked twice: %d listings in all; want 4", n)
	}
}

type answers struct {
	name string
	inv  Inventory
}

func (a answers) Name() string                                 { return a.name }
func (a answers) Inventory(context.Context) (Inventory, error) { return a.inv, nil }

// A slug is live under another prefix (Elsewhere) whatever our bottles
// are; a name that ends with our own bottle's name (Embeds) only while we
// have no bottle of that slug, in any backend.
func TestSurveyElsewhere(t *testing.T) {
	s := Ask(context.Background(), []Backend{
		answers{"docker", Inventory{Elsewhere: map[string]string{"a-aaaa1": "A-a-aaaa1"}, Embeds: map[string]string{"b-bbbb2": "g-P-b-bbbb2", "c-cccc3": "g-P-c-cccc3"}}},
		answers{"smolmachines", Inventory{Bottles: []bottle.Bottle{{Name: "P-b-bbbb2", Slug: "b-bbbb2"}}}},
	})
	e := s.Elsewhere()
	if len(e) != 2 || e["a-aaaa1"] != "A-a-aaaa1" || e["c-cccc3"] != "g-P-c-cccc3" {
		t.Errorf("Elsewhere %v", e)
	}
	live := s.Live()
	for _, slug := range []string{"a-aaaa1", "b-bbbb2", "c-cccc3"} {
		if !live[slug] {
			t.Errorf("%s not live", slug)
		}
	}
}
