package cleanup

import (
	"context"
	"slices"

	"github.com/claude-bottle/bottle/internal/engines"
	"github.com/claude-bottle/bottle/internal/plan"
)

// Plan asks the engines named (in pool) and scans the state root, all at
// once, and returns the plan: bottle-plan-cleanup's and bottle-cleanup's.
// Every item carries the name of its engine; a state dir is planned only
// against the engine its bottle was made on.
func Plan(ctx context.Context, pool *engines.Pool, names []string, opt plan.Options) *plan.Plan {
	backends := pool.Backends(names)
	opt.Engines, opt.EngineNames = pool.Engines(ctx, names)
	// the plan's second for an engine's volumes is on its clock
	opt.Skew = pool.Clock(ctx)
	if slices.Contains(names, pool.Current()) {
		opt.Default = pool.Current()
	}
	opt.Transcript = Probe(pool)
	pl := plan.Make(ctx, backends, opt)
	pl.Notes = append(pool.Notes(), pl.Notes...) // names found to be one engine
	return pl
}
