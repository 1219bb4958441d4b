// Package reaptool is bottle-reap: remove exactly what a plan lists, safely.
package reaptool

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"

	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/cleanup"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/reap"
)

const usage = `[OPTIONS] [PLAN-FILE...]

Removes the plan items bottle-plan-cleanup wrote, read from stdin or from
the files named (- is stdin), re-checking each at the moment it acts. One
result line per input line, in input order: the item plus
"result": {status, reason|error, file, line, elapsed_ms, time} (file: the
plan file the line is in, when files are named; line: its number there). Status is removed, gone,
skipped, failed, invalid or (with --dry-run) would-remove. A summary goes to
stderr. Exit 0 when nothing failed and no line was invalid, 1 otherwise,
130 when interrupted.`

// Manual is bottle-reap's manual: its --help and man page.
func Manual() cli.Manual {
	return cli.Manual{Name: "bottle-reap", Summary: "remove exactly the items of a plan, re-checking each as it acts", Usage: usage, Options: &options{}}
}

type options struct {
	cli.Common
	cli.Scope
	cleanup.Reaping
	cli.Output
}

// Main runs bottle-reap in this process.
func Main() int { return cli.MainBounded(all.Open, Run) }

// Run runs bottle-reap.
func Run(ctx context.Context, args []string, env cli.Env) int {
	t := &cli.Tool{Name: "bottle-reap", Env: env}
	return t.Exit(run(ctx, t, args))
}

func run(ctx context.Context, t *cli.Tool, args []string) error {
	var o options
	files, done, err := t.Parse(&o, args, usage)
	if done {
		return err
	}
	if err := o.Scope.Resolve(t.Env); err != nil {
		return err
	}
	if err := o.Reaping.Check(); err != nil {
		return err
	}
	p, err := cli.NewPrinter(t.Env, o.Output)
	if err != nil {
		return err
	}
	// A plan is read from stdin only when something is piped in: on a
	// terminal nobody types plan lines, and waiting silently helps no one.
	if t.Env.StdinTTY && (len(files) == 0 || slices.Contains(files, "-")) {
		return exitcode.Usagef("stdin is a terminal: bottle-reap reads a plan from stdin or from the files named; pipe one in (bottle-plan-cleanup | bottle-reap) or name a file (bottle-reap plan.jsonl)")
	}
	inputs := []io.Reader{t.Env.Stdin}
	if len(files) > 0 {
		inputs = nil
		for _, f := range files {
			if f == "-" {
				inputs = append(inputs, reap.File("-", t.Env.Stdin))
				continue
			}
			fh, err := os.Open(f)
			if err == nil {
				defer fh.Close()
				var fi os.FileInfo
				if fi, err = fh.Stat(); err == nil && fi.IsDir() {
					err = errors.New("is a directory")
				}
			}
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return exitcode.Usagef("cannot read plan file %s: %v; name a file of plan lines (bottle-plan-cleanup > plan.jsonl), or - for stdin", f, err)
			}
			inputs = append(inputs, reap.File(f, fh))
		}
	}
	return cleanup.Reap(ctx, t, nil, inputs, o.Scope, o.Reaping, p)
}
