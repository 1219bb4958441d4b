// Package all opens every backend the toolkit knows, configured from a
// tool's environment. Tools ask for the set and never name a backend.
package all

import (
	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/backend/smolvm"
	"github.com/claude-bottle/bottle/internal/engine"
)

// Set is the open backends and the engine they share.
type Set struct {
	Engine   *engine.Client
	Backends []backend.Backend
}

// Open resolves the engine from getenv and returns every backend for prefix:
// docker, and smolmachines (smolvm from $BOTTLE_SMOLVM or PATH, as getenv
// says; without one it simply has no machines).
func Open(getenv func(string) string, prefix string) (*Set, error) {
	eng, err := engine.Dial(getenv)
	if err != nil {
		return nil, err
	}
	return &Set{
		Engine: eng,
		Backends: []backend.Backend{
			&docker.Backend{API: eng, Prefix: prefix},
			smolvm.New(getenv, eng, prefix, docker.Lone{API: eng}),
		},
	}, nil
}

// Engines are the engine endpoints the backends ask (a state dir whose
// bottle.json names another is left alone).
func (s *Set) Engines() []string { return []string{s.Engine.Endpoint().Host} }

// Close releases the engine's connections.
func (s *Set) Close() error { return s.Engine.Close() }
