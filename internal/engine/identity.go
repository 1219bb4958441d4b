package engine

import (
	"context"
	"fmt"
	"sync"

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

// identity is the engine's ID, asked once.
type identity struct {
	mu       sync.Mutex
	id       string
	dataRoot string // DockerRootDir
}

// ID returns the engine's ID (GET /info's "ID"), asked at the first call
// and remembered after a successful one. An engine whose /info holds no ID
// is an error: what answers there cannot be told from another engine.
func (e *Client) ID(ctx context.Context) (string, error) {
	e.id.mu.Lock()
	defer e.id.mu.Unlock()
	if e.id.id != "" {
		return e.id.id, nil
	}
	if err := e.negotiate(ctx); err != nil {
		return "", err
	}
	ctx, cancel := e.bound(ctx, "GET /info")
	defer cancel()
	res, err := e.c.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", e.answer(ctx, err)
	}
	if res.Info.ID == "" {
		return "", fmt.Errorf("the engine at %s gives no ID in GET /info: it cannot be told from another engine", e.ep)
	}
	e.id.id, e.id.dataRoot = res.Info.ID, res.Info.DockerRootDir
	return e.id.id, nil
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
