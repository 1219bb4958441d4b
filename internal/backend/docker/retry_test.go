package docker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/retry"
)

// resetEngine holds one stray container whose removal always fails with a
// connection reset (a transient error). Any other call panics on the nil
// embedded API and fails the test.
type resetEngine struct {
	engine.API
	c       engine.Container
	removes int
}

func (e *resetEngine) InspectContainer(context.Context, string) (engine.Container, error) {
	return e.c, nil
}

func (e *resetEngine) RemoveContainer(context.Context, string) error {
	e.removes++
	return errors.New("read unix @->/var/run/docker.sock: read: connection reset by peer")
}

// RemoveContainerOnly is how the reaper removes a container (never its
// volumes): it fails the same way.
func (e *resetEngine) RemoveContainerOnly(ctx context.Context, id string) error {
	return e.RemoveContainer(ctx, id)
}

func strayItem(prefix string) (engine.Container, bottle.Item) {
	id := fmt.Sprintf("%064x", 7)
	c := engine.Container{ID: id, Name: prefix + "stray-1", State: "exited"}
	return c, bottle.Item{Backend: bottle.Docker, Kind: bottle.KindContainer, Name: c.Name, ID: id}
}

// TestRetryIsTheBackendsAndStopsOnCancel: the backend retries a transient
// error as its Retry says (no package variable to change), and a cancelled
// context stops the waiting at once instead of sleeping the backoff out.
func TestRetryIsTheBackendsAndStopsOnCancel(t *testing.T) {
	const prefix = "bt-retry-"
	c, it := strayItem(prefix)

	eng := &resetEngine{c: c}
	b := &Backend{API: eng, Prefix: prefix, Retry: &Retry{Transient: retry.Immediate(4)}}
	res := b.Remove(context.Background(), it, backend.RemoveOptions{})
	if res.Status != bottle.Failed || eng.removes != 5 {
		t.Errorf("%+v after %d removals; want failed after 5 (1 + 4 retries)", res, eng.removes)
	}

	eng = &resetEngine{c: c}
	b = &Backend{API: eng, Prefix: prefix, Retry: &Retry{Transient: retry.Backoff(time.Hour, time.Hour, 4)}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	res = b.Remove(ctx, it, backend.RemoveOptions{})
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("Remove slept through the cancellation: %v", took)
	}
	if res.Status != bottle.Failed || eng.removes != 1 {
		t.Errorf("%+v after %d removals; want the one try's failure", res, eng.removes)
	}

	if d := DefaultRetry(); d.Transient.Tries() != 6 || d.Endpoints.Tries() != 6 {
		t.Errorf("default retry %+v; want 5 retries each", d)
	}
}
