package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// Identifier says which engine answers at an endpoint: its ID, as GET
// /info gives it (Docker's daemon ID, podman's too). An endpoint names a
// path or an address; what answers there may change (colima, Docker
// Desktop and Rancher re-point /var/run/docker.sock), the ID does not.
type Identifier interface {
	ID(ctx context.Context) (string, error)
}

var _ Identifier = (*Client)(nil)

// identity is what the engine's GET /info says of it, asked once (after
// an answer): its ID, data root and clock.
type identity struct {
	mu       sync.Mutex
	asked    bool
	id       string
	dataRoot string // DockerRootDir
	// skew is the engine's clock minus this host's (SystemTime less the
	// time the answer arrived), when clock is set.
	skew  time.Duration
	clock bool
	// seen is the same from the Date of the answers to the list calls
	// (whole seconds, so up to a second less), when seenOK is set: the
	// largest, each being no more than the engine's lead. seenMu guards
	// them (mu is held while /info is asked).
	seenMu sync.Mutex
	seen   time.Duration
	seenOK bool
}

// sawDate notes the Date header of an answer that arrived at arrived.
func (e *Client) sawDate(date string, arrived time.Time) {
	t, err := http.ParseTime(date)
	if err != nil {
		return
	}
	skew := t.Sub(arrived)
	e.id.seenMu.Lock()
	defer e.id.seenMu.Unlock()
	if !e.id.seenOK || skew > e.id.seen {
		e.id.seen, e.id.seenOK = skew, true
	}
}

// info asks GET /info once: every later call has its answer. Callers hold
// e.id.mu.
func (e *Client) info(ctx context.Context) error {
	if e.id.asked {
		return nil
	}
	if err := e.negotiate(ctx); err != nil {
		return err
	}
	ctx, cancel := e.bound(ctx, "GET /info")
	defer cancel()
	res, err := e.c.Info(ctx, client.InfoOptions{})
	arrived := time.Now()
	if err != nil {
		return e.answer(ctx, err)
	}
	e.id.asked = true
	e.id.id, e.id.dataRoot = res.Info.ID, res.Info.DockerRootDir
	if t, err := time.Parse(time.RFC3339Nano, res.Info.SystemTime); err == nil {
		// The engine read its clock before the answer arrived: the skew
		// is never more than the engine's lead, so the engine's time
		// taken as this host's plus skew is never later than its own.
		e.id.skew, e.id.clock = t.Sub(arrived), true
	}
	return nil
}

// ID returns the engine's ID (GET /info's "ID"), asked at the first call
// and remembered after a successful one. An engine whose /info holds no ID
// is an error: what answers there cannot be told from another engine.
func (e *Client) ID(ctx context.Context) (string, error) {
	e.id.mu.Lock()
	defer e.id.mu.Unlock()
	if err := e.info(ctx); err != nil {
		return "", err
	}
	if e.id.id == "" {
		return "", fmt.Errorf("the engine at %s gives no ID in GET /info: it cannot be told from another engine", e.ep)
	}
	return e.id.id, nil
}

// Clocker tells how far an engine's clock is from this host's: the
// engine's time minus this host's, never more (this host's time plus it
// is a time the engine's clock has reached, never one ahead of it).
type Clocker interface {
	// ClockSeen is what the answers so far say, asking nothing: from the
	// Date of the list calls' answers, in whole seconds, so up to a
	// second short. ok is false before any.
	ClockSeen() (skew time.Duration, ok bool)
	// Clock reads the engine's clock (GET /info's SystemTime, asked once,
	// with the ID): short only by the time its answer took to come (or
	// ClockSeen's, if that is nearer).
	Clock(ctx context.Context) (time.Duration, error)
}

var _ Clocker = (*Client)(nil)

// ClockSeen implements Clocker.
func (e *Client) ClockSeen() (time.Duration, bool) {
	e.id.seenMu.Lock()
	defer e.id.seenMu.Unlock()
	return e.id.seen, e.id.seenOK
}

// Clock implements Clocker. An engine whose /info gives no SystemTime is
// an error.
func (e *Client) Clock(ctx context.Context) (time.Duration, error) {
	e.id.mu.Lock()
	defer e.id.mu.Unlock()
	if err := e.info(ctx); err != nil {
		return 0, err
	}
	if !e.id.clock {
		return 0, fmt.Errorf("the engine at %s gives no SystemTime in GET /info", e.ep)
	}
	if seen, ok := e.ClockSeen(); ok && seen > e.id.skew {
		return seen, nil
	}
	return e.id.skew, nil
}

// DataRoot returns where the engine keeps its containers', images' and
// volumes' files (GET /info's DockerRootDir: a path on the engine's own
// host), asked with its ID.
func (e *Client) DataRoot(ctx context.Context) (string, error) {
	if _, err := e.ID(ctx); err != nil {
		return "", err
	}
	e.id.mu.Lock()
	defer e.id.mu.Unlock()
	return e.id.dataRoot, nil
}
