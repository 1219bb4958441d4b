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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/jsonl"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// DefaultJobs is how many engine calls run at once unless told otherwise:
// on a 2-core machine the engine is the bound, and 4 keeps it busy.
const DefaultJobs = 4

// Reasons the reaper itself gives.
const (
	ReasonInterrupted = "interrupted"
	ReasonLaunching   = "bottle-launch is running"
)

// Options configure a run.
type Options struct {
	Prefix    string
	StateRoot string
	DryRun    bool
	// Jobs bounds the engine calls (and state dir removals) in flight; 0
	// means DefaultJobs.
	Jobs int
	// Backends are every backend: those that are a backend.Remover remove
	// their items, and all are asked once, after the engine work, which
	// bottles exist before any state dir goes.
	Backends []backend.Backend
	// Engines are the engine endpoints this run asks: a state dir whose
	// bottle.json names another engine is skipped.
	Engines []string
	// Progress, if set, is called after each answered line.
	Progress func(done, total int)
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

// Read reads every input's lines, numbered across the inputs in order (as if
// they were one stream). A read error stops the reading; the lines read so
// far are returned with it.
func Read(inputs ...io.Reader) ([]jsonl.Line, error) {
	var lines []jsonl.Line
	n := 0
	for _, in := range inputs {
		r := jsonl.NewReader(in)
		for {
			l, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return lines, err
			}
			n++
			l.N = n
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// Summary counts a run's results.
type Summary struct {
	Counts map[string]int
	// Interrupted is set when the run was told to stop before it was done.
	Interrupted bool
	DryRun      bool
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
	res    bottle.Result
	done   chan struct{}
}

// Run answers every line: invalid ones at once, the others by removing
// them through their backend (state dirs last, through statedir.Reclaimer).
// emit gets the records in input order, each as soon as it and every line
// before it are answered. When ctx is cancelled nothing new starts, what is
// in flight finishes, and the rest is skipped as interrupted. An emit error
// stops the emitting (not the reaping) and is returned.
func Run(ctx context.Context, lines []jsonl.Line, opt Options, emit func(Record) error) (Summary, error) {
	if opt.Jobs <= 0 {
		opt.Jobs = DefaultJobs
	}
	sum := Summary{Counts: map[string]int{}, DryRun: opt.DryRun}
	if len(lines) == 0 {
		return sum, nil
	}
	// Engine calls in flight must finish even when ctx is cancelled: they
	// get a context that is never cancelled, and the cancellation is seen
	// where new work would start (Acquire).
	work := context.WithoutCancel(ctx)
	sem := make(chan struct{}, opt.Jobs)
	acquire := func(context.Context) (func(), error) {
		if ctx.Err() != nil {
			return nil, errors.New(ReasonInterrupted)
		}
		select {
		case sem <- struct{}{}:
			if ctx.Err() != nil {
				<-sem
				return nil, errors.New(ReasonInterrupted)
			}
			return func() { <-sem }, nil
		case <-ctx.Done():
			return nil, errors.New(ReasonInterrupted)
		}
	}

	tasks := make([]*task, len(lines))
	var mu sync.Mutex
	answered := 0
	finish := func(t *task, res bottle.Result, start time.Time) {
		res.Line = t.line.N
		res.ElapsedMS = time.Since(start).Milliseconds()
		res.Time = time.Now().UTC().Format(time.RFC3339)
		t.res = res
		close(t.done)
		if opt.Progress != nil {
			mu.Lock()
			answered++
			opt.Progress(answered, len(tasks))
			mu.Unlock()
		}
	}

	var first, second, dirs []*task // engine work without deps, engine work after containers, state dirs
	for i, l := range lines {
		t := &task{line: l, done: make(chan struct{})}
		tasks[i] = t
		why := parse(t, opt)
		if why != "" {
			finish(t, bottle.Result{Status: bottle.Invalid, Reason: why}, time.Now())
			continue
		}
		switch t.item.Kind {
		case bottle.KindStateDir:
			dirs = append(dirs, t)
		case bottle.KindNetwork, bottle.KindVolume:
			second = append(second, t)
		default:
			first = append(first, t)
		}
	}

	// The containers the plan removes: under --dry-run, where they stay,
	// their use of a network or volume of the plan does not keep it.
	planned := map[string]bool{}
	for _, t := range first {
		if t.item.Kind == bottle.KindContainer {
			planned[t.item.ID] = true
		}
		for _, c := range t.item.Containers {
			planned[c.ID] = true
		}
	}
	removing := func(id string) bool { return planned[id] }

	goingDirs := map[string]bool{} // slugs whose state dir this run removes
	for _, t := range dirs {
		goingDirs[stateSlug(t.item)] = true
	}
	run := func(t *task, deps []*task) {
		for _, d := range deps {
			<-d.done
		}
		start := time.Now()
		if ctx.Err() != nil {
			finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonInterrupted}, start)
			return
		}
		if launching(t.item, opt) {
			finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonLaunching}, start)
			return
		}
		if why := saveTranscript(work, t.item, opt, goingDirs); why != "" {
			finish(t, bottle.Result{Status: bottle.Failed, Error: why}, start)
			return
		}
		it, guard := guardDetached(t.item, opt)
		res := t.rm.Remove(work, it, backend.RemoveOptions{DryRun: opt.DryRun, Acquire: acquire, Removing: removing})
		if guard {
			res = detachedResult(res, opt)
		}
		finish(t, res, start)
	}
	// A stray network or volume waits for the compose projects, stray
	// containers and machines (a container of any of them may still use
	// it); a compose project orders its own members. Everything else starts
	// at once.
	for _, t := range first {
		go run(t, nil)
	}
	for _, t := range second {
		go run(t, first)
	}
	if len(dirs) > 0 {
		go stateDirs(ctx, work, dirs, append(first, second...), opt, acquire, finish)
	}

	var emitErr error
	for _, t := range tasks {
		<-t.done
		sum.Counts[t.res.Status]++
		if emitErr == nil {
			emitErr = emit(Record{Fields: t.fields, Result: t.res})
		}
	}
	sum.Interrupted = ctx.Err() != nil
	return sum, emitErr
}

// stateDirs removes the state dirs once every engine item is answered,
// asking every backend once which bottles exist now.
func stateDirs(ctx, work context.Context, dirs, engineTasks []*task, opt Options,
	acquire func(context.Context) (func(), error), finish func(*task, bottle.Result, time.Time)) {
	for _, t := range engineTasks {
		<-t.done
	}
	if ctx.Err() != nil {
		for _, t := range dirs {
			finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonInterrupted}, time.Now())
		}
		return
	}
	// A state root that does not look like one (most of it is not bottle
	// state: the wrong directory) is refused at the moment of acting too.
	if err := statedir.CheckRoot(opt.StateRoot); err != nil {
		for _, t := range dirs {
			finish(t, bottle.Result{Status: bottle.Skipped, Reason: err.Error()}, time.Now())
		}
		return
	}
	survey := backend.Ask(work, opt.Backends)
	live := liveSlugs(survey, engineTasks, opt)
	askErr := survey.Err()
	sr := &statedir.Reclaimer{
		Root:    opt.StateRoot,
		DryRun:  opt.DryRun,
		Prefix:  opt.Prefix,
		Engines: opt.Engines,
		Live: func(slug string) (bool, error) {
			if askErr != nil {
				return false, askErr
			}
			return live[slug], nil
		},
	}
	var wg sync.WaitGroup
	for _, t := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if launching(t.item, opt) {
				finish(t, bottle.Result{Status: bottle.Skipped, Reason: ReasonLaunching}, start)
				return
			}
			release, err := acquire(ctx)
			if err != nil {
				finish(t, bottle.Result{Status: bottle.Skipped, Reason: err.Error()}, start)
				return
			}
			olderThan, _ := time.ParseDuration(t.item.OlderThan) // parse checked it
			o := sr.Remove(statedir.FromItem(t.item, stateSlug(t.item), olderThan))
			release()
			res := bottle.Result{Status: o.Status, Reason: o.Reason}
			if o.Err != nil {
				res.Error = o.Err.Error()
			}
			finish(t, res, start)
		}()
	}
	wg.Wait()
}

// liveSlugs is the survey's live slugs. Under --dry-run nothing was removed,
// so a bottle this run would have removed does not keep its state dir: the
// dry run answers what the real run would.
func liveSlugs(survey *backend.Survey, engineTasks []*task, opt Options) map[string]bool {
	if !opt.DryRun {
		return survey.Live()
	}
	would := map[string]bool{}
	for _, t := range engineTasks {
		if t.res.Status == bottle.WouldRemove {
			would[t.item.Backend+"/"+t.item.Name] = true
		}
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

// saveTranscript copies a compose project's transcript from its home
// volume into its state dir before the project goes, unless this run
// removes that dir too, there is none, or it is a dry run. It returns why
// the item must not be removed ("" when it may).
func saveTranscript(ctx context.Context, it bottle.Item, opt Options, goingDirs map[string]bool) string {
	slug := it.Slug
	if slug == "" {
		slug = bottle.Slug(it.Name, opt.Prefix)
	}
	if opt.SaveTranscript == nil || opt.DryRun || it.Kind != bottle.KindComposeProject || goingDirs[slug] || !bottle.ValidSlug(slug) {
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
