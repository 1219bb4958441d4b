// Package plantool is bottle-plan-cleanup: what is left over, as plan items.
package plantool

import (
	"context"
	"fmt"

	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/cleanup"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/plan"
	"github.com/claude-bottle/bottle/internal/statedir"
)

const usage = `[OPTIONS]

Lists what a cleanup would remove, in every backend: compose projects
(found from containers, networks and volumes alike), stray containers,
networks and volumes named with the prefix, smolvm machines and their
bundle containers and networks, and state dirs no live bottle owns.
Exit 1 when a backend could not be asked, or gave fields that could not be read (then no state dir is listed).
One JSON object per item when stdout is not a terminal (or with
--json); grouped by backend for a person at a terminal. Pipe it into
bottle-reap to remove exactly that.`

// Manual is bottle-plan-cleanup's manual: its --help and man page.
func Manual() cli.Manual {
	return cli.Manual{Name: "bottle-plan-cleanup", Summary: "list what is left over of bottles, as plan items", Usage: usage, Options: &options{}}
}

type options struct {
	cli.Common
	cli.Scope
	cli.Engines
	cleanup.Selection
	cli.Output
}

// Main runs bottle-plan-cleanup in this process.
func Main() int { return cli.MainBounded(all.Open, Run) }

// Run runs bottle-plan-cleanup.
func Run(ctx context.Context, args []string, env cli.Env) int {
	t := &cli.Tool{Name: "bottle-plan-cleanup", Env: env}
	return t.Exit(run(ctx, t, args))
}

func run(ctx context.Context, t *cli.Tool, args []string) error {
	var o options
	if done, err := t.ParseNoArgs(&o, args, usage, ""); done {
		return err
	}
	popt, err := o.Selection.Options(o.Scope, t.Env.Now())
	if err != nil {
		return err
	}
	p, err := cli.NewPrinter(t.Env, o.Output)
	if err != nil {
		return err
	}
	if err := statedir.CheckRoot(o.StateDir, o.DefaultRoot); err != nil {
		return err
	}
	pool, names, err := t.OpenEngines(o.Engines, o.Prefix)
	if err != nil {
		return err
	}
	defer pool.Close()

	pl := cleanup.Plan(ctx, pool, names, popt)
	if err := ctx.Err(); err != nil {
		// Interrupted while planning (a backend, the state root, a
		// transcript probe): what was made is no plan; nothing of it is
		// printed (exit 130).
		return err
	}
	for _, n := range pl.Notes {
		t.Errorf("%s", n)
	}
	if p.Table() {
		if len(pl.Items) == 0 && pl.Err == nil {
			fmt.Fprintln(t.Env.Stderr, "nothing to clean up")
		} else if err := plan.Render(t.Env.Stdout, pl.Items, t.Env.Now(), p.Color(), len(names) > 1); err != nil {
			return err
		}
	} else {
		for _, it := range pl.Items {
			if err := p.Emit(it); err != nil {
				return err
			}
		}
	}
	if pl.Err != nil {
		return fmt.Errorf("%w (the plan is incomplete: no state dir is listed)", pl.Err)
	}
	return pl.Unknown
}
