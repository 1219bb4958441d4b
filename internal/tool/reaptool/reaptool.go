// Package reaptool is bottle-reap: remove exactly what a plan lists, safely.
package reaptool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend/all"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/reap"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

const usage = `[OPTIONS] [PLAN-FILE...]

Removes the plan items bottle-plan-cleanup wrote, read from stdin or from
the files named (- is stdin), re-checking each at the moment it acts. One
result line per input line, in input order: the item plus
"result": {status, reason|error, line, elapsed_ms, time}. Status is removed, gone,
skipped, failed, invalid or (with --dry-run) would-remove. A summary goes to
stderr. Exit 0 when nothing failed and no line was invalid, 1 otherwise,
130 when interrupted.`

// Reaping are the flags bottle-reap and bottle-cleanup share.
type Reaping struct {
	DryRun bool `long:"dry-run" description:"check everything, remove nothing (status would-remove)"`
	Jobs   Jobs `long:"jobs" value-name:"N" default:"4" description:"engine calls and state dir removals in flight at once"`
}

// Jobs is the --jobs value: 1 to 64.
type Jobs int

// UnmarshalFlag implements go-flags' Unmarshaler.
func (j *Jobs) UnmarshalFlag(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a number: use a number from 1 to 64", s)
	}
	*j = Jobs(n)
	return nil
}

// Check refuses a bad --jobs.
func (r Reaping) Check() error {
	if r.Jobs < 1 || r.Jobs > 64 {
		return exitcode.Usagef("--jobs %d: use a number from 1 to 64", r.Jobs)
	}
	return nil
}

type options struct {
	cli.Common
	cli.Scope
	Reaping
	cli.Output
}

// Main runs bottle-reap in this process.
func Main() int { return cli.Main(Run) }

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
				inputs = append(inputs, t.Env.Stdin)
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
			inputs = append(inputs, fh)
		}
	}
	return Reap(ctx, t, inputs, o.Scope, o.Reaping, p)
}

// Reap reads plan lines from inputs, reaps them and prints the results with
// p (a table at a terminal, JSON lines otherwise) and the summary on
// stderr. Its error carries the exit code: 1 when a line failed or was
// invalid, 130 when interrupted.
func Reap(ctx context.Context, t *cli.Tool, inputs []io.Reader, scope cli.Scope, r Reaping, p *cli.Printer) error {
	lines, readErr := reap.Read(inputs...)
	if len(lines) == 0 && readErr == nil {
		return nil
	}
	if err := statedir.CheckRoot(scope.StateDir); err != nil {
		return err
	}
	set, err := all.Open(t.Env.Getenv, scope.Prefix)
	if err != nil {
		return err
	}
	defer set.Close()

	prog := newProgress(t.Env)
	opt := reap.Options{Prefix: scope.Prefix, StateRoot: scope.StateDir, DryRun: r.DryRun, Jobs: int(r.Jobs),
		Backends: set.Backends, Engines: set.Engines(), Progress: prog.update,
		SaveTranscript: func(ctx context.Context, it bottle.Item, dir string) (bool, error) {
			return transcript.Save(ctx, set.Engine, it, dir)
		}}
	var records []reap.Record
	emit := func(rec reap.Record) error {
		if p.Table() {
			records = append(records, rec)
			return nil
		}
		return p.Emit(rec)
	}
	sum, emitErr := reap.Run(ctx, lines, opt, emit)
	prog.stop()
	if p.Table() {
		if err := table(p, records); err != nil && emitErr == nil {
			emitErr = err
		}
	}
	if sum.Total() > 0 {
		fmt.Fprintln(t.Env.Stderr, sum.String())
	}
	switch {
	case readErr != nil:
		return fmt.Errorf("reading the plan: %v (the lines before were answered)", readErr)
	case emitErr != nil:
		return emitErr
	case sum.Interrupted:
		return exitcode.Silent{Code: exitcode.Interrupted}
	case !sum.Ok():
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return nil
}

func table(p *cli.Printer, records []reap.Record) error {
	tb := p.NewTable("STATUS", "KIND", "NAME", "DETAIL")
	tb.ColorColumn(0, func(s string) string {
		switch s {
		case bottle.Removed, bottle.WouldRemove:
			return "green"
		case bottle.Skipped, bottle.Gone:
			return "dim"
		case bottle.Failed, bottle.Invalid:
			return "red"
		}
		return ""
	})
	for _, rec := range records {
		kind, name := unquote(rec.Fields["kind"]), unquote(rec.Fields["name"])
		if rec.Result.Status == bottle.Invalid {
			name = fmt.Sprintf("line %d", rec.Result.Line)
		}
		tb.Row(rec.Result.Status, kind, name, rec.Result.Reason+rec.Result.Error)
	}
	return tb.Flush()
}

func unquote(raw []byte) string {
	var s string
	if len(raw) > 0 && raw[0] == '"' {
		_ = json.Unmarshal(raw, &s)
	}
	return s
}

// progress prints "12/40" on stderr when it is a terminal and the run takes
// longer than a moment.
type progress struct {
	mu          sync.Mutex
	done, total int
	shown       bool
	quit        chan struct{}
	wg          sync.WaitGroup
	w           io.Writer
}

func newProgress(env cli.Env) *progress {
	p := &progress{quit: make(chan struct{}), w: env.Stderr}
	if !env.StderrTTY {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		select {
		case <-time.After(time.Second):
		case <-p.quit:
			return
		}
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			p.mu.Lock()
			if p.total > 0 {
				fmt.Fprintf(p.w, "\r%d/%d", p.done, p.total)
				p.shown = true
			}
			p.mu.Unlock()
			select {
			case <-tick.C:
			case <-p.quit:
				return
			}
		}
	}()
	return p
}

func (p *progress) update(done, total int) {
	p.mu.Lock()
	p.done, p.total = done, total
	p.mu.Unlock()
}

func (p *progress) stop() {
	close(p.quit)
	p.wg.Wait()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
