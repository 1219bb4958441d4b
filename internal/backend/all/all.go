// Package all opens every backend the toolkit knows, configured from a
// tool's environment. Tools ask for the set and never name a backend; only
// a tool's Main (and the fake engine) import this package.
package all

import (
	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/backend/smolvm"
	"github.com/claude-bottle/bottle/internal/engine"
)

// Open resolves the engine from getenv and returns every backend for prefix:
// docker, and smolmachines (smolvm from $BOTTLE_SMOLVM or PATH, as getenv
// says; without one it simply has no machines). It is a backend.Opener.
func Open(getenv func(string) string, prefix string) (*backend.Set, error) {
	eng, err := engine.Dial(getenv)
	if err != nil {
		return nil, err
	}
	return On(eng, getenv, prefix), nil
}

var _ backend.Opener = Open

// On returns every backend for prefix on eng (the smolvm to ask from
// getenv, as Open).
func On(eng backend.Engine, getenv func(string) string, prefix string) *backend.Set {
	return &backend.Set{
		Engine: eng,
		Backends: []backend.Backend{
			&docker.Backend{API: eng, Prefix: prefix},
			smolvm.New(getenv, eng, prefix, docker.Lone{API: eng}),
		},
	}
}
