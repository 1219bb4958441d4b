// Package cleanuptool is bottle-cleanup: plan over every backend, show the
// plan, ask once, reap. It composes the same packages as
// bottle-plan-cleanup and bottle-reap, so its plan and results are exactly
// what `bottle-plan-cleanup | bottle-reap` produces.
package cleanuptool

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/cleanup"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/jsonl"
	"github.com/claude-bottle/bottle/internal/plan"
	"github.com/claude-bottle/bottle/internal/statedir"
)

const usage = `[OPTIONS]

Finds what is left over in every backend (as bottle-plan-cleanup does),
shows it grouped by backend, asks once "remove all of the above? [y/N]" and
removes it (as bottle-reap does). Only y or yes proceeds; anything else,
EOF included, removes nothing (exit 1). Without a terminal on stdin it
needs --yes (or --dry-run). When stdout is not a terminal, or with --json
or --jq, the results are JSON lines on stdout and the plan goes to stderr.`

// Prompt is what bottle-cleanup asks, on stderr.
const Prompt = "remove all of the above? [y/N] "

// Manual is bottle-cleanup's manual: its --help and man page.
func Manual() cli.Manual {
	return cli.Manual{Name: "bottle-cleanup", Summary: "find what is left over of bottles, show it, ask once, remove it", Usage: usage, Options: &options{}}
}

type options struct {
	cli.Common
	cli.Scope
	cli.Engines
	cleanup.Selection
	cleanup.Reaping
	Yes bool `long:"yes" short:"y" description:"remove without asking (cron, CI)"`
	cli.Output
}

// Main runs bottle-cleanup in this process.
func Main() int { return cli.MainBounded(all.Open, Run) }

// Run runs bottle-cleanup.
func Run(ctx context.Context, args []string, env cli.Env) int {
	t := &cli.Tool{Name: "bottle-cleanup", Env: env}
	return t.Exit(run(ctx, t, args))
}

func run(ctx context.Context, t *cli.Tool, args []string) error {
	var o options
	if done, err := t.ParseNoArgs(&o, args, usage, ""); done {
		return err
	}
	if err := o.Reaping.Check(); err != nil {
		return err
	}
	popt, err := o.Selection.Options(o.Scope, t.Env.Now())
	if err != nil {
		return err
	}
	// People text on a terminal; piped (or with --json/--jq) stdout is
	// JSON lines only, as for every tool, and the plan goes to stderr.
	p, err := cli.NewPrinter(t.Env, o.Output)
	if err != nil {
		return err
	}
	human := p.Table()
	if !o.Yes && !o.DryRun && !t.Env.StdinTTY {
		return exitcode.Usagef("stdin is not a terminal, so there is nobody to ask: pass --yes to remove without asking, or --dry-run to see what would go")
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
	// An engine that could not be asked: with others asked, theirs are
	// shown and reaped (no state dir is planned) and the run exits 1.
	incomplete := false
	if pl.Err != nil {
		if len(names) == 1 || len(pl.Items) == 0 {
			return fmt.Errorf("%w (the plan is incomplete; nothing was removed)", pl.Err)
		}
		t.Errorf("%v (the plan is incomplete: it lists no state dir; the other engines' items are planned)", pl.Err)
		incomplete = true
	}
	if pl.Unknown != nil {
		return pl.Unknown // a name mistyped: nothing of the others goes either
	}
	if len(pl.Items) == 0 {
		fmt.Fprintln(t.Env.Stderr, "nothing to clean up")
		return nil
	}
	out, color := t.Env.Stdout, p.Color()
	if !human {
		out = t.Env.Stderr
		color = t.Env.StderrTTY && t.Env.Getenv("NO_COLOR") == "" && t.Env.Getenv("TERM") != "dumb"
	}
	if err := plan.Render(out, pl.Items, t.Env.Now(), color, len(names) > 1); err != nil {
		return err
	}

	if !o.Yes && !o.DryRun {
		ok, err := ask(ctx, t.Env)
		if err != nil {
			return err
		}
		if !ok {
			t.Errorf("aborted; nothing was removed")
			return exitcode.Silent{Code: exitcode.Failure}
		}
	}

	// The plan goes to the reaper as the JSON lines bottle-plan-cleanup
	// would print, so the results are those of the pipe.
	var buf bytes.Buffer
	w := jsonl.NewWriter(&buf)
	for _, it := range pl.Items {
		if err := w.Write(it); err != nil {
			return err
		}
	}
	if err := cleanup.Reap(ctx, t, pool, []io.Reader{&buf}, o.Scope, o.Reaping, p); err != nil || !incomplete {
		return err
	}
	return exitcode.Silent{Code: exitcode.Failure}
}

// ask prompts on stderr and reads one answer from stdin: only y or yes
// (any case) is a yes; EOF is a no. A signal while waiting stops the tool.
func ask(ctx context.Context, env cli.Env) (bool, error) {
	fmt.Fprint(env.Stderr, Prompt)
	type answer struct {
		s   string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		s, err := bufio.NewReader(env.Stdin).ReadString('\n')
		ch <- answer{s, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(env.Stderr)
		return false, exitcode.Silent{Code: exitcode.Interrupted}
	case a := <-ch:
		if a.err != nil && !strings.HasSuffix(a.s, "\n") {
			fmt.Fprintln(env.Stderr) // EOF: end the prompt's line
		}
		switch strings.ToLower(strings.TrimSpace(a.s)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}
