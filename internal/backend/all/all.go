// Package all opens every backend the toolkit knows, configured from a
// tool's environment. Tools ask for the set and never name a backend.
package all

import (
	"context"
	"io"
	"sync"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/backend/smolvm"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// Engine is what the tools ask of the engine the backends share: the
// backends' calls, the transcript's, and closing it. *engine.Client is one;
// package enginefake has a strict fake for tests.
type Engine interface {
	engine.API
	engine.Identifier
	transcript.Engine
	io.Closer
}

var _ Engine = (*engine.Client)(nil)

// Set is the open backends and the engine they share.
type Set struct {
	Engine   Engine
	Backends []backend.Backend
}

// Opener opens every backend for prefix, configured from getenv. Open is
// the real one; a tool gets it from its environment (cli.Env), so tests can
// give it a fake engine.
type Opener func(getenv func(string) string, prefix string) (*Set, error)

// Open resolves the engine from getenv and returns every backend for prefix:
// docker, and smolmachines (smolvm from $BOTTLE_SMOLVM or PATH, as getenv
// says; without one it simply has no machines).
func Open(getenv func(string) string, prefix string) (*Set, error) {
	eng, err := engine.Dial(getenv)
	if err != nil {
		return nil, err
	}
	return On(eng, getenv, prefix), nil
}

// On returns every backend for prefix on eng (the smolvm to ask from
// getenv, as Open).
func On(eng Engine, getenv func(string) string, prefix string) *Set {
	return &Set{
		Engine: eng,
		Backends: []backend.Backend{
			&docker.Backend{API: eng, Prefix: prefix},
			smolvm.New(getenv, eng, prefix, docker.Lone{API: eng}),
		},
	}
}

// Engines are the engines the backends ask (a state dir whose bottle.json
// names another is left alone): their endpoints, and their IDs, asked
// with ctx at the first need and only once.
func (s *Set) Engines(ctx context.Context) statedir.Engines {
	return statedir.Engines{
		Endpoints: []string{s.Engine.Endpoint().Host},
		IDs: sync.OnceValue(func() []string {
			id, err := s.Engine.ID(ctx)
			if err != nil {
				return []string{""}
			}
			return []string{id}
		}),
	}
}

// Close releases the engine's connections.
func (s *Set) Close() error { return s.Engine.Close() }
