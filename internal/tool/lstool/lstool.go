// Package lstool is bottle-ls: the bottles that exist, in every backend.
package lstool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/plan"
	"github.com/claude-bottle/bottle/internal/statedir"
)

const usage = `[OPTIONS]

Lists the bottles that exist in every backend: one JSON object per bottle
when stdout is not a terminal (or with --json), an aligned table otherwise.
With --state, lists the state dirs instead: each with what it holds
(preserved, resumable, transcript, Dockerfile), its size and age, the
bottle that owns it, if any, the engine its bottle was made on and the
state root its bottle belongs to.`

// Manual is bottle-ls's manual: its --help and man page.
func Manual() cli.Manual {
	return cli.Manual{Name: "bottle-ls", Summary: "list the bottles that exist, in every backend (or their state dirs)", Usage: usage, Options: &options{}}
}

type options struct {
	cli.Common
	cli.Scope
	cli.Engines
	State bool `long:"state" description:"list the state dirs (with their flags, size, age and owning bottle) instead of the bottles"`
	cli.Output
}

// Main runs bottle-ls in this process.
func Main() int { return cli.MainBounded(all.Open, Run) }

// Run runs bottle-ls.
func Run(ctx context.Context, args []string, env cli.Env) int {
	t := &cli.Tool{Name: "bottle-ls", Env: env}
	return t.Exit(run(ctx, t, args))
}

func run(ctx context.Context, t *cli.Tool, args []string) error {
	var o options
	if done, err := t.ParseNoArgs(&o, args, usage, ""); done {
		return err
	}
	p, err := cli.NewPrinter(t.Env, o.Output)
	if err != nil {
		return err
	}
	if o.State {
		if err := statedir.CheckMarked(o.StateDir, o.DefaultRoot); err != nil {
			return err
		}
	}
	pool, names, err := t.OpenEngines(o.Engines, o.Prefix)
	if err != nil {
		return err
	}
	defer pool.Close()

	if o.State {
		engines, opened := pool.Engines(ctx, names)
		err := states(ctx, t, p, pool.Backends(names), engines, opened, o.Scope)
		for _, n := range pool.Notes() {
			t.Errorf("%s", n)
		}
		return err
	}
	survey := backend.Ask(ctx, pool.Backends(names))
	for _, n := range pool.Notes() {
		t.Errorf("%s", n)
	}
	bottles := survey.Bottles()
	for i := range bottles {
		dir := filepath.Join(o.StateDir, bottles[i].Slug)
		if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && bottle.ValidSlug(bottles[i].Slug) {
			bottles[i].StateDir = &dir
			bottles[i].Launcher = statedir.Locked(dir)
			bottles[i].Detached = statedir.LiveDetached(dir)
		}
	}
	sort.SliceStable(bottles, func(i, j int) bool {
		if bottles[i].Name != bottles[j].Name {
			return bottles[i].Name < bottles[j].Name
		}
		if bottles[i].Backend != bottles[j].Backend {
			return bottles[i].Backend < bottles[j].Backend
		}
		return bottles[i].Engine < bottles[j].Engine
	})
	for _, w := range survey.Warnings() {
		t.Errorf("warning: %s", w)
	}

	if p.Table() {
		if err := table(p, bottles, t.Env, len(names) > 1); err != nil {
			return err
		}
	} else {
		for _, b := range bottles {
			if err := p.Emit(b); err != nil {
				return err
			}
		}
	}
	return survey.Err()
}

// table shows the bottles for a person; with engines (a run that asked
// more than one), an ENGINE column says which each is on.
func table(p *cli.Printer, bottles []bottle.Bottle, env cli.Env, engines bool) error {
	if len(bottles) == 0 {
		fmt.Fprintln(env.Stderr, "no bottles")
		return nil
	}
	headers := []string{"NAME", "BACKEND", "STATUS", "AGE", "CONTAINERS", "STATE DIR"}
	status := 2
	if engines {
		headers = slices.Insert(headers, 2, "ENGINE")
		status = 3
	}
	tb := p.NewTable(headers...)
	tb.ColorColumn(status, func(s string) string {
		s, _, _ = strings.Cut(s, " ")
		switch s {
		case bottle.StatusRunning:
			return "green"
		case bottle.StatusPartial, bottle.StatusStopped:
			return "yellow"
		case bottle.StatusOrphaned:
			return "red"
		}
		return ""
	})
	now := env.Now()
	for _, b := range bottles {
		age := "-"
		if b.Created != nil {
			age = plan.Age(now, *b.Created)
		}
		running := 0
		for _, c := range b.Containers {
			if bottle.Active(c.State) {
				running++
			}
		}
		containers := fmt.Sprintf("%d/%d running", running, len(b.Containers))
		dir := "-"
		if b.StateDir != nil {
			dir = *b.StateDir
			if b.Launcher {
				dir += " (launcher running)"
			}
		}
		status := b.Status
		if b.Detached {
			status += " (detached)"
		}
		row := []string{b.Name, b.Backend, status, age, containers, dir}
		if engines {
			row = slices.Insert(row, 2, b.Engine)
		}
		tb.Row(row...)
	}
	return tb.Flush()
}
