package cli

import (
	"errors"

	"github.com/claude-bottle/bottle/internal/backend"
)

// OpenBackends opens every backend for prefix as the environment says
// (env.Open: all.Open in a tool's Main, a fake engine's in tests).
func (e Env) OpenBackends(prefix string) (*backend.Set, error) {
	if e.Open == nil {
		return nil, errors.New("no way to open the backends: the tool's environment has no Open (a bug)")
	}
	return e.Open(e.Getenv, prefix)
}
