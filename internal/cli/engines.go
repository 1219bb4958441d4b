package cli

import (
	"slices"

	"github.com/claude-bottle/bottle/internal/engines"
	"github.com/claude-bottle/bottle/internal/exitcode"
)

// Engines are the flags that choose the engines a tool asks:
// bottle-ls, bottle-plan-cleanup and bottle-cleanup take them.
type Engines struct {
	Contexts    []string `long:"context" complete:"context" unquote:"false" value-name:"NAME" description:"ask the engine of docker context NAME (repeatable; default is DOCKER_HOST's engine or the default socket); without it, the engine DOCKER_HOST, DOCKER_CONTEXT or the current context names"`
	AllContexts bool     `long:"all-contexts" description:"ask the engine of every docker context (docker context ls), default included, all at once"`
}

// OpenEngines opens the engines the flags name (each when first asked) and
// returns them with the names to ask, in order: every --context, every
// context with --all-contexts, else the engine the environment names. An
// engine two of those names reach at one endpoint is asked once, by one
// name, and said so on stderr (engines.Pool.Distinct); one they reach at
// two is found by its ID as it is asked (the pool's Notes say so).
func (t *Tool) OpenEngines(sel Engines, prefix string) (*engines.Pool, []string, error) {
	e := t.Env
	current, err := engines.Current(e.Getenv)
	if err != nil && (len(sel.Contexts) == 0 && !sel.AllContexts) {
		return nil, nil, err
	}
	if err != nil {
		current = "" // no engine is the environment's: nothing named is it
	}
	var names []string
	switch {
	case sel.AllContexts && len(sel.Contexts) > 0:
		return nil, nil, exitcode.Usagef("--all-contexts asks every context already: give it or --context NAME, not both")
	case sel.AllContexts:
		if names, err = engines.Names(e.Getenv); err != nil {
			return nil, nil, err
		}
	case len(sel.Contexts) > 0:
		known, err := engines.Names(e.Getenv)
		if err != nil {
			return nil, nil, err
		}
		for _, n := range sel.Contexts {
			if !slices.Contains(known, n) {
				return nil, nil, exitcode.Usagef("--context %s: no docker context of that name; docker context ls lists them", n)
			}
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	default:
		names = []string{current}
	}
	pool := engines.NewPool(e.Getenv, prefix, e.Open, current)
	// A run of one engine stops at once when it cannot be opened, as a
	// mistake in the environment stops a run of many (a bad
	// BOTTLE_ENGINE_TIMEOUT); one of many that cannot be opened is an
	// engine that cannot be asked: the others are.
	for _, n := range names {
		if _, err := pool.Open(n); err != nil && (len(names) == 1 || exitcode.Of(err) == exitcode.Usage) {
			pool.Close()
			return nil, nil, err
		}
	}
	if len(names) > 1 {
		var notes []string
		names, notes = pool.Distinct(names)
		for _, n := range notes {
			t.Errorf("%s", n)
		}
	}
	return pool, names, nil
}

// EnginePool is the pool of the reaper, which opens each engine when a plan
// item first names it: only a mistake in the environment that any engine
// would meet (a bad BOTTLE_ENGINE_TIMEOUT) stops it at once.
func (e Env) EnginePool(prefix string) (*engines.Pool, error) {
	current, err := engines.Current(e.Getenv)
	if err != nil {
		return nil, err
	}
	pool := engines.NewPool(e.Getenv, prefix, e.Open, current)
	if _, err := pool.Open(current); err != nil && exitcode.Of(err) == exitcode.Usage {
		pool.Close()
		return nil, err
	}
	return pool, nil
}
