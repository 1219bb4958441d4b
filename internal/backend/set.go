package backend

import (
	"context"
	"io"
	"sync"

	"github.com/claude-bottle/bottle/internal/bottle"
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
	Backends []Backend
}

// Opener opens every backend for prefix, configured from getenv. The real
// one is all.Open, which a tool's main gives its environment (cli.Env), so
// tests can give a fake engine's and package cli names no backend.
type Opener func(getenv func(string) string, prefix string) (*Set, error)

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

// TranscriptHolder is a backend whose bottles keep the agent's transcript
// in an item it removes (a smolmachines machine's own disk), not in a
// volume the engine reads: the plan asks it, and the reaper has it save
// the transcript into the bottle's state dir before the item goes.
type TranscriptHolder interface {
	Remover
	// ProbeTranscript tells, changing nothing, whether the item holds a
	// transcript; known is false when it cannot tell that way.
	ProbeTranscript(ctx context.Context, it bottle.Item) (has, known bool, err error)
	// SaveTranscript saves the item's transcript into stateDir as
	// transcript.SaveFrom does (None: it holds none, or is gone).
	SaveTranscript(ctx context.Context, it bottle.Item, stateDir string) (transcript.Saved, error)
}

// HolderOf is the backend among bs that handles it and holds its
// transcript, or nil.
func HolderOf(bs []Backend, it bottle.Item) TranscriptHolder {
	for _, b := range bs {
		if h, ok := b.(TranscriptHolder); ok && h.Handles(it) {
			return h
		}
	}
	return nil
}
