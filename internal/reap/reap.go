// Package reap removes exactly what a plan lists, safely: every input line
// gets exactly one result, nothing is trusted (each backend re-validates its
// items against the engine at the moment it acts, state dirs are re-checked
// on disk and against one fresh survey of every backend), and independent
// work runs concurrently in dependency order. bottle-reap and bottle-cleanup
// both run it, so their results are the same.
package reap

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/jsonl"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// DefaultJobs is how many engine calls run at once unless told otherwise:
// on a 2-core machine the engine is the bound, and 4 keeps it busy.
const DefaultJobs = 4

// DefaultWindow is how many lines are read ahead of the last result
// written: the reaper's memory is bounded by it, not by the plan's length.
const DefaultWindow = 256

// DefaultGrace is how long, once ctx is cancelled (a signal), the removals
// in flight are waited for; one that takes longer is answered as unknown, so
// the tool ends within a second whatever the engine does.
const DefaultGrace = 600 * time.Millisecond

// Reasons the reaper itself gives.
const (
	ReasonInterrupted = "interrupted"
	ReasonLaunching   = "bottle-launch is running"
	// ErrInFlight is the error of a removal that was under way when the run
	// was interrupted and had no answer within the grace period.
	ErrInFlight = "interrupted while its removal was in flight: whether it happened is unknown; run the plan again"
)

// Options configure a run.
type Options struct {
	Prefix    string
	StateRoot string
	// DefaultRoot: StateRoot is the default root, taken without the
	// marker (statedir.CheckRoot).
	DefaultRoot bool
	DryRun      bool
	// Jobs bounds the engine calls (and state dir removals) in flight; 0
	// means DefaultJobs.
	Jobs int
	// Window bounds the lines read but not yet written; 0 means
	// DefaultWindow.
	Window int
	// Grace is how long removals in flight are waited for after ctx is
	// cancelled; 0 means DefaultGrace.
	Grace time.Duration
	// Backends are every backend: those that are a backend.Remover remove
	// their items, and all are asked, after the engine items read before
	// the first state dir are answered, which bottles exist before any
	// state dir goes.
	Backends []backend.Backend
	// Engines are the engines this run asks: a state dir whose
	// bottle.json names another engine is skipped. With Backends, they are
	// the default engine's when Router is nil.
	Engines statedir.Engines
	// Router, if set, opens the engines items name (see Router); nil
	// routes every item to Backends, and one naming an engine is invalid.
	Router Router
	// Progress, if set, is called after each answered line with the
	// lines answered and the lines read so far.
	Progress func(done, read int)
	// Save, if set, saves a bottle's transcript out of its home volume
	// into its state dir: the rescue each compose project's removal takes
	// before its home volume goes (see Bottles.Rescue).
	Save func(ctx context.Context, h transcript.Home, stateDir string) (transcript.Saved, error)
	// Policy, if set, is the bottle policy the run calls instead of
	// NewBottles(opt)'s.
	Policy Policy
}

// Record is one output line: the input line's fields as given, plus result.
type Record struct {
	Fields map[string]json.RawMessage
	Result bottle.Result
	// NotPlan: the line is no plan item at all (not JSON, or JSON of
	// another shape), as when something else than a plan was given.
	NotPlan bool
}

// MarshalJSON writes the fields and "result" as one object.
func (r Record) MarshalJSON() ([]byte, error) {
	res, err := json.Marshal(r.Result)
	if err != nil {
		return nil, err
	}
	m := make(map[string]json.RawMessage, len(r.Fields)+1)
	for k, v := range r.Fields {
		m[k] = v
	}
	m["result"] = res
	return json.Marshal(m)
}

type task struct {
	line    jsonl.Line
	seq     int  // its place among the lines read: the first read get slots first
	notPlan bool // parse found no plan item at all
	fields  map[string]json.RawMessage
	item    bottle.Item
	rm      backend.Remover // nil for state dirs and invalid lines
	// engine is the name of the engine the item is acted on in, and
	// backends are that engine's (set by route).
	engine   string
	backends []backend.Backend
	// deps are the tasks that must be answered before this one starts.
	deps []*task
	// engineBefore counts, for a state dir, the engine items read before it.
	engineBefore int
	// started is set once the task holds a --jobs slot: its removal may
	// have begun.
	started atomic.Bool
	once    sync.Once
	res     bottle.Result
	done    chan struct{}
}

func (t *task) isDone() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// runner is one run's shared state.
type runner struct {
	opt    Options
	pol    Policy
	route1 Router
	// ctx is the caller's (a signal cancels it); stop is cancelled by ctx
	// or when the output broke: nothing new starts once it is. work is
	// never cancelled: the engine calls in flight finish.
	ctx, stop, work context.Context
	stopNow         context.CancelFunc
	slots           *slots
	// rescues are the rescues in flight: an interrupt ends them (ctx), and
	// the run waits for their clean-up before it returns.
	rescues sync.WaitGroup

	mu       sync.Mutex
	opened   []string // the engines opened so far, by name
	answered int
	read     int
	readErr  error
	would    map[string]bool // --dry-run: engine items answered would-remove

	surveyMu sync.Mutex
	dirs     *dirSurvey

	// planned are the container IDs of the engine items read (under
	// --dry-run only, where they stay: their use of a network or volume of
	// the plan does not keep it).
	planned map[string]bool
}

// dirSurvey is a state dir remover on one survey of every backend; it is
// good for the state dirs whose engine items before them were all answered
// when it was taken.
type dirSurvey struct {
	covers  int
	engines []string // the engines it asked
	dr      DirRemover
	// err: the state root does not look like one (most of it is not
	// bottle state: the wrong directory), refused at the moment of acting.
	err error
}

// RescueWait bounds how long a run that ends waits for the rescues in
// flight to clean up (a helper container to remove, a temp dir).
const RescueWait = 10 * time.Second

// Run answers every line src yields: invalid ones at once, the others by
// removing them through their backend (state dirs through
// statedir.Reclaimer, after the engine items read before them). It streams:
// at most opt.Window lines are read ahead of the last one written, so its
// memory does not grow with the plan. emit gets the records in input
// order, each as soon as it and every line before it are answered.
//
// When ctx is cancelled nothing new starts, the rest is skipped as
// interrupted, and what is in flight gets opt.Grace to finish; after that
// it is answered failed (ErrInFlight) and the run returns, so it ends
// promptly whatever the engine does. An emit error (the reader of the
// results went away) stops the emitting and the starting of new work, but
// what is in flight finishes; it is returned.
func Run(ctx context.Context, src *Source, opt Options, emit func(Record) error) (Summary, error) {
	if opt.Jobs <= 0 {
		opt.Jobs = DefaultJobs
	}
	if opt.Window <= 0 {
		opt.Window = DefaultWindow
	}
	if opt.Grace <= 0 {
		opt.Grace = DefaultGrace
	}
	sum := Summary{Counts: map[string]int{}, DryRun: opt.DryRun}
	r := &runner{opt: opt, pol: opt.Policy, ctx: ctx, work: context.WithoutCancel(ctx), slots: newSlots(opt.Jobs), would: map[string]bool{},
		planned: map[string]bool{}}
	r.route1 = opt.router()
	if r.pol == nil {
		r.pol = NewBottles(opt)
	}
	r.stop, r.stopNow = context.WithCancel(ctx)
	defer r.stopNow()
	defer r.waitRescues()

	// After a signal: removals in flight get the grace period (expired),
	// the reading of lines still to be answered as interrupted a little
	// more (hardStop).
	expired, hardStop, quit := make(chan struct{}), make(chan struct{}), make(chan struct{})
	defer close(quit)
	go func() {
		select {
		case <-ctx.Done():
		case <-quit:
			return
		}
		grace := time.NewTimer(opt.Grace)
		defer grace.Stop()
		select {
		case <-grace.C:
		case <-quit:
			return
		}
		close(expired)
		more := time.NewTimer(opt.Grace / 3)
		defer more.Stop()
		select {
		case <-more.C:
			close(hardStop)
		case <-quit:
		}
	}()

	pending := make(chan *task, opt.Window)
	window := make(chan struct{}, opt.Window)
	go r.readLines(src, pending, window, quit)

	var emitErr error
	for {
		var t *task
		var ok bool
		select {
		case t, ok = <-pending:
		case <-hardStop:
			select {
			case t, ok = <-pending:
			default:
				sum.Unread = true
			}
		}
		if !ok {
			break
		}
		select {
		case <-t.done:
		case <-expired:
			if t.started.Load() {
				r.finish(t, bottle.Result{Status: bottle.Failed, Error: ErrInFlight}, time.Now())
			} else {
				r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonInterrupted}, time.Now())
			}
		}
		<-t.done
		sum.Counts[t.res.Status]++
		if emitErr == nil {
			if emitErr = emit(Record{Fields: t.fields, Result: t.res, NotPlan: t.notPlan}); emitErr != nil {
				r.stopNow() // start nothing more; what is in flight finishes
			}
		}
		<-window
	}
	r.mu.Lock()
	sum.ReadErr = r.readErr
	r.mu.Unlock()
	sum.Interrupted = ctx.Err() != nil
	return sum, emitErr
}

// readLines reads, parses and starts each line, handing it to the emitter
// in input order; it holds a window slot per line until the line is
// written.
func (r *runner) readLines(src *Source, pending chan<- *task, window chan struct{}, quit <-chan struct{}) {
	defer close(pending)
	// Tasks read so far that may not be answered yet: the stray containers
	// and machines (stray networks and volumes wait for them) and every
	// engine item (state dirs wait for them). Pruned as they are answered,
	// so they hold at most a window's worth.
	var containers, engine openTasks
	engineRead := 0
	for {
		select {
		case window <- struct{}{}:
		case <-quit:
			return
		}
		if r.stop.Err() != nil && r.ctx.Err() == nil {
			return // the output broke: nothing more is answered
		}
		l, err := src.Next()
		if err != nil {
			<-window
			if !errors.Is(err, io.EOF) {
				r.mu.Lock()
				r.readErr = err
				r.mu.Unlock()
			}
			return
		}
		r.mu.Lock()
		t := &task{line: l, seq: r.read, done: make(chan struct{})}
		r.read++
		r.mu.Unlock()
		switch why := r.parse(t); {
		case why != "":
			r.finish(t, bottle.Result{Status: bottle.Invalid, Reason: why}, time.Now())
		case r.stop.Err() != nil:
			r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonInterrupted}, time.Now())
		case t.item.Kind == bottle.KindStateDir:
			t.deps = engine.open()
			t.engineBefore = engineRead
			go r.stateDir(t)
		default:
			// A stray network or volume waits for the compose projects,
			// stray containers and machines read before it (a container
			// of any of them may still use it); a compose project orders
			// its own members.
			switch t.item.Kind {
			case bottle.KindNetwork, bottle.KindVolume:
				t.deps = containers.open()
			default:
				containers.add(t)
			}
			r.mu.Lock()
			if r.opt.DryRun {
				if t.item.Kind == bottle.KindContainer {
					r.planned[t.item.ID] = true
				}
				for _, c := range t.item.Containers {
					r.planned[c.ID] = true
				}
			}
			r.mu.Unlock()
			engine.add(t)
			engineRead++
			go r.engineItem(t)
		}
		pending <- t
	}
}

// openTasks is a list of tasks that drops the answered ones now and then.
type openTasks struct {
	ts     []*task
	pruned int
}

func (o *openTasks) add(t *task) {
	o.ts = append(o.ts, t)
	if len(o.ts) >= 2*max(o.pruned, 16) {
		o.prune()
	}
}

func (o *openTasks) prune() {
	o.ts = slices.DeleteFunc(o.ts, (*task).isDone)
	o.pruned = len(o.ts)
}

// open returns the tasks not yet answered.
func (o *openTasks) open() []*task {
	o.prune()
	return slices.Clone(o.ts)
}

// finish answers t; only its first answer counts (a removal that outlived
// the grace period was already answered).
func (r *runner) finish(t *task, res bottle.Result, start time.Time) {
	t.once.Do(func() {
		res.File, res.Line = t.line.File, t.line.N
		res.ElapsedMS = time.Since(start).Milliseconds()
		res.Time = time.Now().UTC().Format(time.RFC3339)
		t.res = res
		r.mu.Lock()
		if r.opt.DryRun && res.Status == bottle.WouldRemove && t.item.Kind != bottle.KindStateDir {
			r.would[t.engine+"/"+t.item.Backend+"/"+t.item.Name] = true
		}
		r.answered++
		if r.opt.Progress != nil {
			r.opt.Progress(r.answered, r.read)
		}
		r.mu.Unlock()
		close(t.done)
	})
}

// acquire is t's --jobs slot for a step that acts: none once the run is
// stopping.
func (r *runner) acquire(t *task) func(context.Context) (func(), error) {
	return r.slot(t, false)
}

// acquireCheck is t's --jobs slot for a re-check: none once the run is
// stopping.
func (r *runner) acquireCheck(t *task) func(context.Context) (func(), error) {
	return r.slot(t, true)
}

func (r *runner) slot(t *task, check bool) func(context.Context) (func(), error) {
	return func(context.Context) (func(), error) {
		if r.stop.Err() != nil || !r.slots.acquire(check, t.seq, r.stop.Done()) {
			return nil, errors.New(ReasonInterrupted)
		}
		if r.stop.Err() != nil {
			r.slots.release()
			return nil, errors.New(ReasonInterrupted)
		}
		t.started.Store(true)
		return r.slots.release, nil
	}
}

func (r *runner) wait(t *task) {
	for _, d := range t.deps {
		<-d.done
	}
	t.deps = nil
}

func (r *runner) engineItem(t *task) {
	r.wait(t)
	start := time.Now()
	if r.stop.Err() != nil {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonInterrupted}, start)
		return
	}
	act, skip, word := r.pol.Prepare(t.item)
	if skip != "" {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: skip}, start)
		return
	}
	res := t.rm.Remove(r.work, act, backend.RemoveOptions{DryRun: r.opt.DryRun, Acquire: r.acquire(t), AcquireCheck: r.acquireCheck(t), Removing: r.removing, Rescue: r.rescue, Owner: r.pol.Owner})
	r.finish(t, word(res), start)
}

// rescue is the policy's rescue, ended by an interrupt (not by a broken
// output: what is in flight then finishes), and waited for at the end.
func (r *runner) rescue(_ context.Context, it bottle.Item) error {
	r.rescues.Add(1)
	defer r.rescues.Done()
	return r.pol.Rescue(r.ctx, it)
}

// waitRescues waits, for RescueWait at most, until the rescues in flight
// have cleaned up: an interrupted one removes its helper container and
// what it half wrote.
func (r *runner) waitRescues() {
	done := make(chan struct{})
	go func() {
		r.rescues.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(RescueWait):
	}
}

// removing reports whether the plan (so far read) removes the container:
// under --dry-run its use of a network or volume of the plan does not keep
// that.
func (r *runner) removing(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.planned[id]
}

// stateDir removes a state dir once every engine item read before it is
// answered, asking every backend which bottles exist now.
func (r *runner) stateDir(t *task) {
	r.wait(t)
	start := time.Now()
	if r.stop.Err() != nil {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonInterrupted}, start)
		return
	}
	dr, rootErr := r.stateDirs(t.engineBefore, t.engine)
	if rootErr != nil {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: rootErr.Error()}, start)
		return
	}
	act, skip, word := r.pol.Prepare(t.item)
	if skip != "" {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: skip}, start)
		return
	}
	release, err := r.acquire(t)(r.stop)
	if err != nil {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: err.Error()}, start)
		return
	}
	res := dr.Remove(act)
	release()
	r.finish(t, word(res), start)
}

// stateDirs returns a state dir remover whose survey was taken after the
// first n engine items were answered and asked the engine named engine: one
// survey per run for a plan whose state dirs come last, as
// bottle-plan-cleanup writes it. A survey asks every engine opened so far.
func (r *runner) stateDirs(n int, engine string) (DirRemover, error) {
	r.surveyMu.Lock()
	defer r.surveyMu.Unlock()
	if r.dirs != nil && r.dirs.covers >= n && slices.Contains(r.dirs.engines, engine) {
		return r.dirs.dr, r.dirs.err
	}
	r.mu.Lock()
	would := maps.Clone(r.would)
	r.mu.Unlock()
	names := r.openedEngines()
	dr, err := r.pol.StateDirs(r.work, would, Asked{Names: names, Default: r.route1.Name("")})
	r.dirs = &dirSurvey{covers: n, engines: names, dr: dr, err: err}
	return dr, err
}
