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
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/jsonl"
	"github.com/claude-bottle/bottle/internal/statedir"
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
	DryRun    bool
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
	// Engines are the engine endpoints this run asks: a state dir whose
	// bottle.json names another engine is skipped.
	Engines []string
	// Progress, if set, is called after each answered line with the
	// lines answered and the lines read so far.
	Progress func(done, read int)
	// SaveTranscript, if set, copies a compose project's transcript out of
	// its home volume into its state dir before the project goes (unless
	// that state dir is itself removed in this run).
	SaveTranscript func(ctx context.Context, it bottle.Item, stateDir string) (bool, error)
}

// Record is one output line: the input line's fields as given, plus result.
type Record struct {
	Fields map[string]json.RawMessage
	Result bottle.Result
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

// Source reads plan lines from inputs in turn, numbered across them as if
// they were one stream.
type Source struct {
	inputs []io.Reader
	r      *jsonl.Reader
	n      int
	peeked *jsonl.Line
}

// NewSource returns a Source on inputs.
func NewSource(inputs ...io.Reader) *Source { return &Source{inputs: inputs} }

// Next returns the next line, io.EOF when every input is done, or the error
// that stopped the reading.
func (s *Source) Next() (jsonl.Line, error) {
	if l := s.peeked; l != nil {
		s.peeked = nil
		return *l, nil
	}
	for {
		if s.r == nil {
			if len(s.inputs) == 0 {
				return jsonl.Line{}, io.EOF
			}
			s.r, s.inputs = jsonl.NewReader(s.inputs[0]), s.inputs[1:]
		}
		l, err := s.r.Next()
		if errors.Is(err, io.EOF) {
			s.r = nil
			continue
		}
		if err != nil {
			return jsonl.Line{}, err
		}
		s.n++
		l.N = s.n
		return l, nil
	}
}

// Empty reports whether the inputs hold no line at all; it reads ahead one
// line, which Next then returns.
func (s *Source) Empty() (bool, error) {
	if s.peeked != nil {
		return false, nil
	}
	l, err := s.Next()
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	s.peeked = &l
	return false, nil
}

// Read reads every input's lines, numbered across the inputs in order (as if
// they were one stream). A read error stops the reading; the lines read so
// far are returned with it.
func Read(inputs ...io.Reader) ([]jsonl.Line, error) {
	var lines []jsonl.Line
	src := NewSource(inputs...)
	for {
		l, err := src.Next()
		if errors.Is(err, io.EOF) {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
		lines = append(lines, l)
	}
}

// Summary counts a run's results.
type Summary struct {
	Counts map[string]int
	// Interrupted is set when the run was told to stop before it was done.
	Interrupted bool
	DryRun      bool
	// ReadErr is why the reading of the plan stopped early (the lines read
	// before it were answered).
	ReadErr error
	// Unread is set when an interrupted run stopped before it had read the
	// whole plan: the lines after the last answered one have no result.
	Unread bool
}

// String is the one-line summary: "removed 12, gone 1, skipped 2, failed 0, invalid 0".
func (s Summary) String() string {
	first := bottle.Removed
	if s.DryRun {
		first = bottle.WouldRemove
	}
	var parts []string
	for _, st := range []string{first, bottle.Gone, bottle.Skipped, bottle.Failed, bottle.Invalid} {
		parts = append(parts, fmt.Sprintf("%s %d", st, s.Counts[st]))
	}
	out := strings.Join(parts, ", ")
	if s.Interrupted {
		out += " (interrupted)"
	}
	return out
}

// Total is how many lines were answered.
func (s Summary) Total() int {
	n := 0
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Ok reports whether every line ended removed, gone, skipped or would-remove.
func (s Summary) Ok() bool { return s.Counts[bottle.Failed] == 0 && s.Counts[bottle.Invalid] == 0 }

type task struct {
	line   jsonl.Line
	fields map[string]json.RawMessage
	item   bottle.Item
	rm     backend.Remover // nil for state dirs and invalid lines
	// deps are the tasks that must be answered before this one starts.
	deps []*task
	// engineBefore counts, for a state dir, the engine items read before it.
	engineBefore int
	// settled, for a compose project, is closed once the reader has read
	// all it can for now (the end of the plan, or a full window): whether
	// the project's state dir is in this run is known by then.
	settled chan struct{}
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
	opt Options
	// ctx is the caller's (a signal cancels it); stop is cancelled by ctx
	// or when the output broke: nothing new starts once it is. work is
	// never cancelled: the engine calls in flight finish.
	ctx, stop, work context.Context
	stopNow         context.CancelFunc
	sem             chan struct{}

	mu       sync.Mutex
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
	// wantDir are the slugs of compose projects waiting to know whether
	// their state dir is removed in this run (goingDir); both hold at most
	// a window's worth.
	wantDir, goingDir map[string]bool
	settle            chan struct{}
}

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
	r := &runner{opt: opt, ctx: ctx, work: context.WithoutCancel(ctx), sem: make(chan struct{}, opt.Jobs), would: map[string]bool{},
		planned: map[string]bool{}, wantDir: map[string]bool{}, goingDir: map[string]bool{}, settle: make(chan struct{})}
	r.stop, r.stopNow = context.WithCancel(ctx)
	defer r.stopNow()

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
			if emitErr = emit(Record{Fields: t.fields, Result: t.res}); emitErr != nil {
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
	defer r.settleNow(true)
	// Tasks read so far that may not be answered yet: the stray containers
	// and machines (stray networks and volumes wait for them) and every
	// engine item (state dirs wait for them). Pruned as they are answered,
	// so they hold at most a window's worth.
	var containers, engine openTasks
	engineRead := 0
	for {
		select {
		case window <- struct{}{}:
		default:
			// a full window: what waits for the lines ahead gets its
			// answer now, or the window would never drain
			r.settleNow(false)
			select {
			case window <- struct{}{}:
			case <-quit:
				return
			}
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
		t := &task{line: l, done: make(chan struct{})}
		r.mu.Lock()
		r.read++
		r.mu.Unlock()
		switch why := parse(t, r.opt); {
		case why != "":
			r.finish(t, bottle.Result{Status: bottle.Invalid, Reason: why}, time.Now())
		case r.stop.Err() != nil:
			r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonInterrupted}, time.Now())
		case t.item.Kind == bottle.KindStateDir:
			r.mu.Lock()
			if slug := stateSlug(t.item); r.wantDir[slug] {
				r.goingDir[slug] = true
			}
			r.mu.Unlock()
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
			if t.item.Kind == bottle.KindComposeProject && r.opt.SaveTranscript != nil && !r.opt.DryRun {
				r.wantDir[itemSlug(t.item, r.opt)] = true
				t.settled = r.settle
			}
			r.mu.Unlock()
			engine.add(t)
			engineRead++
			go r.engineItem(t)
		}
		pending <- t
	}
}

// settleNow tells the compose projects read so far that every line the
// reader could read before them now is read; at the end of the plan it
// stays so.
func (r *runner) settleNow(final bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.settle:
		return // already final
	default:
	}
	close(r.settle)
	if !final {
		r.settle = make(chan struct{})
	}
}

// removesDir waits until the reader has settled and reports whether the
// state dir of t's bottle is removed in this run too.
func (r *runner) removesDir(t *task) bool {
	if t.settled == nil {
		return false
	}
	<-t.settled
	slug := itemSlug(t.item, r.opt)
	r.mu.Lock()
	defer r.mu.Unlock()
	going := r.goingDir[slug]
	delete(r.wantDir, slug)
	delete(r.goingDir, slug)
	return going
}

func itemSlug(it bottle.Item, opt Options) string {
	if it.Slug != "" {
		return it.Slug
	}
	return bottle.Slug(it.Name, opt.Prefix)
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
		res.Line = t.line.N
		res.ElapsedMS = time.Since(start).Milliseconds()
		res.Time = time.Now().UTC().Format(time.RFC3339)
		t.res = res
		r.mu.Lock()
		if r.opt.DryRun && res.Status == bottle.WouldRemove && t.item.Kind != bottle.KindStateDir {
			r.would[t.item.Backend+"/"+t.item.Name] = true
		}
		r.answered++
		if r.opt.Progress != nil {
			r.opt.Progress(r.answered, r.read)
		}
		r.mu.Unlock()
		close(t.done)
	})
}

// acquire is t's --jobs slot: none once the run is stopping.
func (r *runner) acquire(t *task) func(context.Context) (func(), error) {
	return func(context.Context) (func(), error) {
		if r.stop.Err() != nil {
			return nil, errors.New(ReasonInterrupted)
		}
		select {
		case r.sem <- struct{}{}:
			if r.stop.Err() != nil {
				<-r.sem
				return nil, errors.New(ReasonInterrupted)
			}
			t.started.Store(true)
			return func() { <-r.sem }, nil
		case <-r.stop.Done():
			return nil, errors.New(ReasonInterrupted)
		}
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
	if launching(t.item, r.opt) {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonLaunching}, start)
		return
	}
	going := r.removesDir(t)
	if why := saveTranscript(r.work, t.item, r.opt, going); why != "" {
		r.finish(t, bottle.Result{Status: bottle.Failed, Error: why}, start)
		return
	}
	it, guard := guardDetached(t.item, r.opt)
	res := t.rm.Remove(r.work, it, backend.RemoveOptions{DryRun: r.opt.DryRun, Acquire: r.acquire(t), Removing: r.removing})
	if guard {
		res = detachedResult(res, r.opt)
	}
	r.finish(t, res, start)
}

// removing reports whether the plan (so far read) removes the container:
// under --dry-run its use of a network or volume of the plan does not keep
// that.
func (r *runner) removing(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.planned[id]
}

// dirSurvey is one survey of every backend and the state dir remover built
// on it; it is good for the state dirs whose engine items before them were
// all answered when it was taken.
type dirSurvey struct {
	covers int
	sr     *statedir.Reclaimer
	// rootErr: the state root does not look like one (most of it is not
	// bottle state: the wrong directory), refused at the moment of acting.
	rootErr error
}

// stateRemover returns a remover whose survey was taken after the first n
// engine items were answered: one survey per run for a plan whose state
// dirs come last, as bottle-plan-cleanup writes it.
func (r *runner) stateRemover(n int) (*statedir.Reclaimer, error) {
	r.surveyMu.Lock()
	defer r.surveyMu.Unlock()
	if r.dirs != nil && r.dirs.covers >= n {
		return r.dirs.sr, r.dirs.rootErr
	}
	if err := statedir.CheckRoot(r.opt.StateRoot); err != nil {
		r.dirs = &dirSurvey{covers: n, rootErr: err}
		return nil, err
	}
	survey := backend.Ask(r.work, r.opt.Backends)
	r.mu.Lock()
	live := liveSlugs(survey, r.would, r.opt)
	r.mu.Unlock()
	askErr := survey.Err()
	sr := &statedir.Reclaimer{
		Root:    r.opt.StateRoot,
		DryRun:  r.opt.DryRun,
		Prefix:  r.opt.Prefix,
		Engines: r.opt.Engines,
		Live: func(slug string) (bool, error) {
			if askErr != nil {
				return false, askErr
			}
			return live[slug], nil
		},
	}
	r.dirs = &dirSurvey{covers: n, sr: sr}
	return sr, nil
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
	sr, rootErr := r.stateRemover(t.engineBefore)
	if rootErr != nil {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: rootErr.Error()}, start)
		return
	}
	if launching(t.item, r.opt) {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonLaunching}, start)
		return
	}
	release, err := r.acquire(t)(r.stop)
	if err != nil {
		r.finish(t, bottle.Result{Status: bottle.Skipped, Reason: err.Error()}, start)
		return
	}
	olderThan, _ := time.ParseDuration(t.item.OlderThan) // parse checked it
	o := sr.Remove(statedir.FromItem(t.item, stateSlug(t.item), olderThan))
	release()
	res := bottle.Result{Status: o.Status, Reason: o.Reason}
	if o.Err != nil {
		res.Error = o.Err.Error()
	}
	r.finish(t, res, start)
}

// liveSlugs is the survey's live slugs. Under --dry-run nothing was removed,
// so a bottle this run would have removed (would: "backend/name" of the
// engine items answered would-remove) does not keep its state dir: the dry
// run answers what the real run would.
func liveSlugs(survey *backend.Survey, would map[string]bool, opt Options) map[string]bool {
	if !opt.DryRun {
		return survey.Live()
	}
	live := map[string]bool{}
	for name, inv := range survey.ByBackend {
		for _, b := range inv.Bottles {
			if !would[name+"/"+b.Name] {
				live[b.Slug] = true
			}
		}
		for _, slug := range inv.Claimed {
			if !would[name+"/"+opt.Prefix+slug] {
				live[slug] = true
			}
		}
	}
	return live
}

// launching reports whether a bottle-launch holds the lock of the state dir
// of any slug the item names: a bottle still starting is never reaped.
func launching(it bottle.Item, opt Options) bool {
	slugs := []string{it.Slug, bottle.Slug(it.Name, opt.Prefix)}
	if s, ok := bottle.BundleSlug(it.Name, opt.Prefix); ok {
		slugs = append(slugs, s)
	}
	if it.Kind == bottle.KindStateDir {
		slugs = append(slugs, it.Name)
	}
	for _, s := range slugs {
		if bottle.ValidSlug(s) && statedir.Locked(filepath.Join(opt.StateRoot, s)) {
			return true
		}
	}
	return false
}

func stateSlug(it bottle.Item) string {
	if it.Slug != "" {
		return it.Slug
	}
	return it.Name
}

var itemType = reflect.TypeFor[bottle.Item]()

// parse decodes and checks one line; it returns why the line is invalid, or "".
func parse(t *task, opt Options) string {
	if t.line.Err != nil {
		t.fields = map[string]json.RawMessage{"input": t.line.Raw}
		return t.line.Err.Error()
	}
	if err := json.Unmarshal(t.line.Raw, &t.fields); err != nil {
		t.fields = map[string]json.RawMessage{"input": t.line.Raw}
		return "not a JSON object: " + err.Error()
	}
	delete(t.fields, "result") // a result line fed back in is its item again
	// A line must read the same to a person (jq is case-sensitive and
	// would show the first of duplicate keys) as to the reaper (Go's
	// encoding/json ignores case and keeps the last): the fields echoed
	// are then exactly the fields acted on.
	if err := jsonl.CheckKeys(t.line.Raw, itemType); err != nil {
		return "not a plan item: " + err.Error()
	}
	if err := json.Unmarshal(t.line.Raw, &t.item); err != nil {
		return "not a plan item: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	it := &t.item
	switch {
	case it.Kind == "":
		return "missing field kind"
	case !slices.Contains(bottle.Kinds, it.Kind):
		return fmt.Sprintf("unknown kind %q: a plan item is one of %s", it.Kind, strings.Join(bottle.Kinds, ", "))
	case it.Backend == "":
		return "missing field backend"
	case !slices.Contains(bottle.BackendOrder, it.Backend):
		return fmt.Sprintf("unknown backend %q: use one of %s", it.Backend, strings.Join(bottle.BackendOrder, ", "))
	case it.Name == "":
		return "missing field name"
	}
	if it.Kind == bottle.KindStateDir {
		switch {
		case it.Slug != "" && it.Slug != it.Name:
			return fmt.Sprintf("slug %q and name %q differ: a state dir's name is its slug", it.Slug, it.Name)
		case it.Path == "":
			return "missing field path"
		case !filepath.IsAbs(it.Path):
			return fmt.Sprintf("path %q is not absolute", it.Path)
		case !bottle.ValidSlug(stateSlug(*it)):
			return fmt.Sprintf("%q is not a slug", stateSlug(*it))
		case filepath.Clean(it.Path) != it.Path:
			return fmt.Sprintf("path %q is not clean (no .., //, or trailing /)", it.Path)
		}
		if it.OlderThan != "" {
			if d, err := time.ParseDuration(it.OlderThan); err != nil || d <= 0 {
				return fmt.Sprintf("older_than %q is not a positive duration such as 168h0m0s", it.OlderThan)
			}
		}
		// statedir.Reclaimer checks, at the moment it acts, that the path is
		// the slug's dir directly under the state root.
		return ""
	}
	if !bottle.HasPrefix(it.Name, opt.Prefix) {
		return fmt.Sprintf("name %q does not start with the prefix %q", it.Name, opt.Prefix)
	}
	for _, b := range opt.Backends {
		if rm, ok := b.(backend.Remover); ok && rm.Handles(*it) {
			t.rm = rm
			if c, ok := rm.(interface{ Check(bottle.Item) string }); ok {
				return c.Check(*it)
			}
			return ""
		}
	}
	return fmt.Sprintf("no backend here removes %s items of the %s backend", it.Kind, it.Backend)
}

// saveTranscript copies a compose project's transcript from its home
// volume into its state dir before the project goes, unless this run
// removes that dir too, there is none, or it is a dry run. It returns why
// the item must not be removed ("" when it may).
func saveTranscript(ctx context.Context, it bottle.Item, opt Options, dirGoes bool) string {
	slug := it.Slug
	if slug == "" {
		slug = bottle.Slug(it.Name, opt.Prefix)
	}
	if opt.SaveTranscript == nil || opt.DryRun || it.Kind != bottle.KindComposeProject || dirGoes || !bottle.ValidSlug(slug) {
		return ""
	}
	// Only a bottle bottle-launch made (its state dir holds bottle.json)
	// keeps its transcript in a home volume this knows how to read.
	dir := filepath.Join(opt.StateRoot, slug)
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	if _, ok, _ := statedir.ReadMeta(dir); !ok {
		return ""
	}
	if _, err := opt.SaveTranscript(ctx, it, dir); err != nil {
		return fmt.Sprintf("saving its transcript into %s first: %v; nothing of it was removed (to let it go with its state dir: bottle-cleanup --name %s)", dir, err, slug)
	}
	return ""
}

// ReasonDetached is why an item of a running bottle launched with --detach
// is kept when the plan did not take detached bottles.
const ReasonDetached = "its bottle was launched with --detach and is running (plan it with --name or --include-detached to end it)"

// guardDetached returns the item to act on: an item of a bottle launched
// with --detach (and not ended), planned without --include-detached or
// --name, is acted on as if planned with --not-running, so its remover
// skips it when anything of it runs at this moment. guard reports whether
// that was done.
func guardDetached(it bottle.Item, opt Options) (bottle.Item, bool) {
	if it.IncludeDetached || it.NotRunning {
		return it, false
	}
	for _, s := range itemSlugs(it, opt) {
		if bottle.ValidSlug(s) && statedir.LiveDetached(filepath.Join(opt.StateRoot, s)) {
			it.NotRunning = true
			return it, true
		}
	}
	return it, false
}

// detachedResult says why a guarded item was skipped: its bottle runs, not
// a --not-running the plan never had.
func detachedResult(res bottle.Result, opt Options) bottle.Result {
	mention := func(s string) bool { return strings.Contains(s, "not-running") }
	if res.Status == bottle.Skipped && mention(res.Reason) {
		res.Reason = ReasonDetached
	}
	for i := range res.Resources {
		if r := &res.Resources[i]; r.Status == bottle.Skipped && mention(r.Reason) {
			r.Reason = ReasonDetached
		}
	}
	return res
}

// itemSlugs are the slugs an item may belong to: its own, its name's, a
// bundle part's bottle's.
func itemSlugs(it bottle.Item, opt Options) []string {
	slugs := []string{it.Slug, bottle.Slug(it.Name, opt.Prefix)}
	if s, ok := bottle.BundleSlug(it.Name, opt.Prefix); ok {
		slugs = append(slugs, s)
	}
	return slugs
}
