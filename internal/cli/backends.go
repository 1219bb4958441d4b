package cli

import "github.com/claude-bottle/bottle/internal/backend/all"

// OpenBackends opens every backend for prefix as the environment says:
// env.Open, or all.Open when the environment names none.
func (e Env) OpenBackends(prefix string) (*all.Set, error) {
	open := e.Open
	if open == nil {
		open = all.Open
	}
	return open(e.Getenv, prefix)
}
