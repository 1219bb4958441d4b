package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/engines"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/reap"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// Reap reads plan lines from inputs, reaps them, each in the engine it
// names, and prints the results with p (a table at a terminal, JSON lines
// otherwise) and the summary on stderr. pool opens the engines (nil: a
// pool of this run's own). Its error carries the exit code: 1 when a line
// failed or was invalid, 130 when interrupted.
func Reap(ctx context.Context, t *cli.Tool, pool *engines.Pool, inputs []io.Reader, scope cli.Scope, r Reaping, p *cli.Printer) error {
	src := reap.NewSource(inputs...)
	if empty, err := src.Empty(); empty && err == nil {
		return nil
	}
	if err := statedir.CheckRoot(scope.StateDir, scope.DefaultRoot); err != nil {
		return err
	}
	if pool == nil {
		var err error
		if pool, err = t.Env.EnginePool(scope.Prefix); err != nil {
			return err
		}
		defer pool.Close()
	}

	prog := newProgress(t.Env)
	opt := reap.Options{Prefix: scope.Prefix, StateRoot: scope.StateDir, DefaultRoot: scope.DefaultRoot, DryRun: r.DryRun, Jobs: int(r.Jobs),
		Router: pool, Progress: prog.update,
		Save: func(ctx context.Context, h transcript.Home, dir string) (transcript.Saved, error) {
			set, err := pool.Open(h.Engine)
			if err != nil {
				return transcript.Saved{}, err
			}
			return transcript.Save(ctx, set.Engine, h, dir, transcript.DefaultLimits)
		}}
	var records []reap.Record
	var notPlan *reap.Record // the first line that is no plan item at all
	emit := func(rec reap.Record) error {
		if rec.NotPlan && notPlan == nil {
			notPlan = &rec
		}
		if p.Table() {
			records = append(records, rec)
			return nil
		}
		return p.Emit(rec)
	}
	sum, emitErr := reap.Run(ctx, src, opt, emit)
	prog.stop()
	if p.Table() {
		if err := table(p, records); err != nil && emitErr == nil {
			emitErr = err
		}
	}
	if notPlan != nil {
		// Something else than a plan was given: say what a plan is.
		where := "stdin"
		if f := notPlan.Result.File; f != "" && f != "-" {
			where = f
		}
		t.Errorf("%s line %d is no plan item (%s): a plan is the JSON lines bottle-plan-cleanup prints, one item a line; make one with bottle-plan-cleanup > plan.jsonl",
			where, notPlan.Result.Line, notPlan.Result.Reason)
	}
	if sum.Total() > 0 {
		fmt.Fprintln(t.Env.Stderr, sum.String())
	}
	switch {
	case sum.ReadErr != nil:
		return fmt.Errorf("reading the plan: %v (the lines before were answered)", sum.ReadErr)
	case emitErr != nil:
		if errors.Is(emitErr, syscall.EPIPE) {
			return fmt.Errorf("writing the results: %v: the reader went away; nothing was started after that and the removals in flight finished; run the plan again for the rest", emitErr)
		}
		return emitErr
	case sum.Interrupted:
		if sum.Unread {
			t.Errorf("interrupted before the whole plan was read: the lines after the last result were not answered")
		}
		return exitcode.Silent{Code: exitcode.Interrupted}
	case !sum.Ok():
		return exitcode.Silent{Code: exitcode.Failure}
	}
	return nil
}

// table shows the results for a person; an ENGINE column says which
// engine each item was in when the plan names more than one.
func table(p *cli.Printer, records []reap.Record) error {
	seen := map[string]bool{}
	for _, rec := range records {
		seen[unquote(rec.Fields["engine"])] = true
	}
	engines := len(seen) > 1
	headers := []string{"STATUS", "KIND", "NAME", "DETAIL"}
	if engines {
		headers = []string{"STATUS", "ENGINE", "KIND", "NAME", "DETAIL"}
	}
	tb := p.NewTable(headers...)
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
			if f := rec.Result.File; f != "" {
				name = fmt.Sprintf("%s line %d", f, rec.Result.Line)
			}
		}
		if engines {
			tb.Row(rec.Result.Status, unquote(rec.Fields["engine"]), kind, name, rec.Result.Reason+rec.Result.Error)
			continue
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
