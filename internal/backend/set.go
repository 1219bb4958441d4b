package backend

import (
	"io"

	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// Engine is what the tools ask of the engine the backends share: the
// backends' calls, the transcript's, and closing it. *engine.Client is one;
// package enginefake has a strict fake for tests.
type Engine interface {
	engine.API
	transcript.Engine
	io.Closer
}

var _ Engine = (*engine.Client)(nil)

// Set is the open backends and the engine they share.
type Set struct {
	Engine   Engine
	Backends []Backend
}

// Opener opens every backend for prefix, configured from getenv. The real
// one is all.Open, which a tool's main gives its environment (cli.Env), so
// tests can give a fake engine's and package cli names no backend.
type Opener func(getenv func(string) string, prefix string) (*Set, error)

// Engines are the engine endpoints the backends ask (a state dir whose
// bottle.json names another is left alone).
func (s *Set) Engines() []string { return []string{s.Engine.Endpoint().Host} }

// Close releases the engine's connections.
func (s *Set) Close() error { return s.Engine.Close() }
