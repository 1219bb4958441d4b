package backend

import (
	"context"
	"sync/atomic"
	"testing"

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
