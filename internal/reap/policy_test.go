package reap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// The policy on its own: no runner, no engine.

func policy(t *testing.T, sv *saver) (*Bottles, string) {
	root := stateRoot(t)
	return &Bottles{Prefix: prefix, StateRoot: root, Save: sv.save}, root
}

func composeItem(slug string) bottle.Item {
	name := prefix + slug
	made := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return bottle.Item{Backend: bottle.Docker, Kind: bottle.KindComposeProject, Name: name, Slug: slug,
		Containers: []bottle.Container{{Name: name + "-agent-1", ID: newID(), Service: bottle.ServiceAgent}},
		Volumes:    []bottle.Volume{{Name: name + "_home", ID: name + "_home", Created: &made}}}
}

func writeMeta(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bottle.MetaFile), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Prepare: a bottle whose launcher holds the lock waits; an item of a
// running detached bottle the plan did not take is acted on with
// --not-running, its result worded for it; --name (include_detached) and
// state dirs pass as they are.
func TestPolicyPrepare(t *testing.T) {
	b, root := policy(t, &saver{})
	writeMeta(t, filepath.Join(root, "det-aaaa1"), `{"detached":true}`)
	it := composeItem("det-aaaa1")
	act, skip, word := b.Prepare(it)
	if skip != "" || !act.NotRunning {
		t.Fatalf("detached: %+v, %q", act, skip)
	}
	res := word(bottle.Result{Status: bottle.Skipped, Reason: "running again (the plan was made with --not-running)"})
	if res.Reason != ReasonDetached {
		t.Errorf("worded %q", res.Reason)
	}
	it.IncludeDetached = true
	if act, _, _ := b.Prepare(it); act.NotRunning {
		t.Error("a named detached bottle is guarded")
	}
	lock, err := statedir.Acquire(filepath.Join(root, "det-aaaa1"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if _, skip, _ := b.Prepare(it); skip != ReasonLaunching {
		t.Errorf("launching: skip %q", skip)
	}
	dir := bottle.Item{Backend: bottle.Docker, Kind: bottle.KindStateDir, Name: "x-bbbb2", Slug: "x-bbbb2"}
	if act, skip, word := b.Prepare(dir); skip != "" || act.NotRunning || word(bottle.Result{Reason: "r"}).Reason != "r" {
		t.Errorf("state dir: %+v %q", act, skip)
	}
}

// The rescue saves into the bottle's own state dir only (bottle.json of
// this bottle), with the image bottle.json names; it records its write for
// the dir's removal; its failure names the volume's way out; an interrupt
// is ErrInterrupted; a dry run, a discarded transcript, a dir that is not
// the bottle's save nothing.
func TestPolicyRescue(t *testing.T) {
	sv := &saver{fail: map[string]error{"bad-cccc3": errors.New("disk on fire")}}
	b, root := policy(t, sv)
	good := func(slug string) {
		writeMeta(t, filepath.Join(root, slug), `{"backend":"docker","name":"`+prefix+slug+`","slug":"`+slug+`","image":"img:1","spec":{"image":"img:1"}}`)
	}
	good("ok-aaaa1")
	good("bad-cccc3")
	writeMeta(t, filepath.Join(root, "foreign-dddd4"), `{"backend":"docker","name":"other-foreign-dddd4"}`)
	os.MkdirAll(filepath.Join(root, "nometa-eeee5"), 0o700)
	os.Symlink(filepath.Join(root, "ok-aaaa1"), filepath.Join(root, "link-ffff6"))

	if err := b.Rescue(context.Background(), composeItem("ok-aaaa1")); err != nil {
		t.Fatal(err)
	}
	if h := sv.saved["ok-aaaa1"]; h.Image != "img:1" || h.Volume != prefix+"ok-aaaa1_home" || h.Created == nil {
		t.Errorf("saved with %+v", h)
	}
	if w := b.wroteInto("ok-aaaa1"); w == nil || !w.After.Changed.After(w.Before.Changed) || w.After.ID != w.Before.ID {
		t.Errorf("write not recorded: %+v", w)
	}
	err := b.Rescue(context.Background(), composeItem("bad-cccc3"))
	if err == nil || errors.Is(err, backend.ErrInterrupted) || !strings.Contains(err.Error(), "its transcript could not be saved into "+filepath.Join(root, "bad-cccc3")+": disk on fire; the volume is kept") {
		t.Errorf("failed save: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Rescue(ctx, composeItem("ok-aaaa1")); !errors.Is(err, backend.ErrInterrupted) {
		t.Errorf("interrupted: %v", err)
	}

	sv.saved = nil
	for _, slug := range []string{"foreign-dddd4", "nometa-eeee5", "link-ffff6", "none-gggg7"} {
		if err := b.Rescue(context.Background(), composeItem(slug)); err != nil {
			t.Errorf("%s: %v", slug, err)
		}
	}
	discard := composeItem("ok-aaaa1")
	discard.DiscardTranscript = true
	b.Rescue(context.Background(), discard)
	noHome := composeItem("ok-aaaa1")
	noHome.Volumes = nil
	b.Rescue(context.Background(), noHome)
	b.DryRun = true
	b.Rescue(context.Background(), composeItem("ok-aaaa1"))
	if len(sv.saved) != 0 {
		t.Errorf("saved %v", sv.saved)
	}
}

// The state dir remover refuses a state root that is not one, and takes
// the rescue's own write as no change.
func TestPolicyStateDirs(t *testing.T) {
	sv := &saver{}
	b, root := policy(t, sv)
	for _, n := range []string{"a", "b", "c"} {
		os.MkdirAll(filepath.Join(root, "not-a-state-dir-"+n), 0o700)
	}
	if _, err := b.StateDirs(context.Background(), nil, Asked{}); err == nil {
		t.Error("a root that is not a state root was taken")
	}

	b, root = policy(t, sv)
	slug := "own-aaaa1"
	writeMeta(t, filepath.Join(root, slug), `{"backend":"docker","name":"`+prefix+slug+`","slug":"`+slug+`","image":"i","spec":{"image":"i"}}`)
	e := &env{t: t, root: root}
	planned := e.statedir(slug, false)
	planned.IncludeTranscripts = true
	time.Sleep(10 * time.Millisecond)
	if err := b.Rescue(context.Background(), composeItem(slug)); err != nil {
		t.Fatal(err)
	}
	dr, err := b.StateDirs(context.Background(), nil, Asked{})
	if err != nil {
		t.Fatal(err)
	}
	if res := dr.Remove(planned); res.Status != bottle.Removed {
		t.Errorf("after the rescue's own write: %+v", res)
	}
}

// The rescue is a step of the removal it protects: after the detached and
// --not-running re-checks (a running detached bottle, or a project running
// again, is never read), holding a --jobs slot (nothing else runs while
// it does, with --jobs 1), and counted as started: an interrupt during it
// keeps the whole bottle, and the run waits for its clean-up.
func TestRescueInsideTheRemoval(t *testing.T) {
	t.Run("after the re-checks", func(t *testing.T) {
		e := newEnv(t)
		sv := &saver{}
		e.opt.Save = sv.save
		e.launched("det-aaaa1")
		os.WriteFile(filepath.Join(e.root, "det-aaaa1", bottle.MetaFile), []byte(`{"backend":"docker","name":"`+prefix+`det-aaaa1","slug":"det-aaaa1","detached":true}`), 0o600)
		e.launched("again-bbbb2")
		again := e.w.bottle("again-bbbb2", "running")
		again.NotRunning = true
		e.add(e.w.bottle("det-aaaa1", "running"), again)
		res, _ := e.run(context.Background())
		status(t, res[0], bottle.Skipped, ReasonDetached)
		status(t, res[1], bottle.Skipped, "--not-running")
		if len(sv.saved) != 0 {
			t.Errorf("read the transcripts of running bottles: %v", sv.saved)
		}
	})
	t.Run("holding a slot", func(t *testing.T) {
		e := newEnv(t)
		e.opt.Jobs = 1
		e.launched("one-aaaa1")
		e.launched("two-bbbb2")
		inRescue, release := make(chan struct{}), make(chan struct{})
		var mu sync.Mutex
		rescues := 0
		e.opt.Save = func(context.Context, transcript.Home, string) (transcript.Saved, error) {
			mu.Lock()
			rescues++
			first := rescues == 1
			mu.Unlock()
			if first {
				close(inRescue)
				<-release
			}
			return transcript.Saved{None: true}, nil
		}
		e.add(e.w.bottle("one-aaaa1", "exited"), e.w.bottle("two-bbbb2", "exited"))
		done := make(chan struct{})
		var res []bottle.Result
		go func() { res, _ = e.run(context.Background()); close(done) }()
		<-inRescue
		calls := len(e.f.Log())
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		if n := len(e.f.Log()); n != calls || rescues != 1 {
			t.Errorf("while the rescue held the only slot: %d more engine calls, %d rescues", n-calls, rescues)
		}
		mu.Unlock()
		close(release)
		<-done
		status(t, res[0], bottle.Removed, "")
		status(t, res[1], bottle.Removed, "")
	})
	t.Run("interrupted", func(t *testing.T) {
		e := newEnv(t)
		e.launched("int-aaaa1")
		var mu sync.Mutex
		cleaned := false
		inRescue := make(chan struct{})
		e.opt.Save = func(ctx context.Context, _ transcript.Home, _ string) (transcript.Saved, error) {
			close(inRescue)
			<-ctx.Done()
			time.Sleep(DefaultGrace + 200*time.Millisecond) // a clean-up slower than the grace
			mu.Lock()
			cleaned = true
			mu.Unlock()
			return transcript.Saved{}, ctx.Err()
		}
		proj := e.w.bottle("int-aaaa1", "exited")
		e.add(proj, e.w.strayContainer("s-bbbb2"))
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-inRescue; cancel() }()
		res, sum := e.run(ctx)
		mu.Lock()
		defer mu.Unlock()
		if !cleaned {
			t.Error("the run returned before the rescue cleaned up")
		}
		status(t, res[0], bottle.Failed, ErrInFlight)
		if !sum.Interrupted {
			t.Error("not interrupted")
		}
		for _, c := range proj.Containers {
			if _, ok := e.w.Containers[c.ID]; !ok {
				t.Errorf("%s was removed after an interrupted rescue", c.Name)
			}
		}
	})
}

// holder is a smolmachines-like backend whose machines hold their
// transcript: it records what it was asked to save, and where.
type holder struct {
	backend.Remover
	saved map[string]string // machine -> state dir
	fail  error
}

func (h *holder) Handles(it bottle.Item) bool { return it.Kind == bottle.KindMachine }
func (h *holder) ProbeTranscript(context.Context, bottle.Item) (bool, bool, error) {
	return false, false, nil
}
func (h *holder) SaveTranscript(_ context.Context, it bottle.Item, dir string) (transcript.Saved, error) {
	if h.fail != nil {
		return transcript.Saved{}, h.fail
	}
	if h.saved == nil {
		h.saved = map[string]string{}
	}
	h.saved[it.Name] = dir
	return transcript.Saved{Files: 1}, os.MkdirAll(filepath.Join(dir, bottle.TranscriptDir), 0o700)
}

// A machine's transcript is saved by the backend that holds it, into the
// bottle's own state dir, under the same rules as a home volume's; its
// failure keeps the machine, and names the way out.
func TestPolicyRescueMachine(t *testing.T) {
	h := &holder{}
	b, root := policy(t, &saver{})
	b.Backends = []backend.Backend{h}
	slug := "vm-aaaa1"
	writeMeta(t, filepath.Join(root, slug), `{"backend":"smolmachines","name":"`+prefix+slug+`","slug":"`+slug+`"}`)
	machine := bottle.Item{Backend: bottle.Smolmachines, Kind: bottle.KindMachine, Name: prefix + slug, Slug: slug}
	if err := b.Rescue(context.Background(), machine); err != nil {
		t.Fatal(err)
	}
	if h.saved[prefix+slug] != filepath.Join(root, slug) {
		t.Errorf("saved %v", h.saved)
	}
	if w := b.wroteInto(slug); w == nil {
		t.Error("write not recorded")
	}
	h.fail = errors.New("machine exec failed")
	err := b.Rescue(context.Background(), machine)
	if err == nil || !strings.Contains(err.Error(), "machine exec failed; the machine is kept (it holds the only copy): retry with bottle-cleanup --name "+slug+", or let it go with bottle-cleanup --name "+slug+" --discard-transcript") {
		t.Errorf("failed save: %v", err)
	}
	h.saved, h.fail = nil, nil
	discard := machine
	discard.DiscardTranscript = true
	b.Rescue(context.Background(), discard)
	other := machine
	other.Name, other.Slug = prefix+"none-bbbb2", "none-bbbb2"
	b.Rescue(context.Background(), other) // no state dir
	if len(h.saved) != 0 {
		t.Errorf("saved %v", h.saved)
	}
}

// stateRoot is a temporary state root as bottle-launch makes one: marked.
func stateRoot(t testing.TB) string {
	root := t.TempDir()
	if err := statedir.Mark(root); err != nil {
		t.Fatal(err)
	}
	return root
}

// elsewhere is a backend whose only news is a bottle of another prefix.
type elsewhere map[string]string

func (elsewhere) Name() string { return bottle.Docker }
func (e elsewhere) Inventory(context.Context) (backend.Inventory, error) {
	return backend.Inventory{Elsewhere: e}, nil
}

// Issue 15, finding 5: at the moment it acts, the reaper keeps a dir a
// bottle of another prefix may own (the state root is shared), in a dry
// run too.
func TestPolicyStateDirLiveElsewhere(t *testing.T) {
	for _, dry := range []bool{false, true} {
		b, root := policy(t, &saver{})
		b.DryRun = dry
		b.Backends = []backend.Backend{elsewhere{"orig-aaaa1": "A-orig-aaaa1"}}
		for _, slug := range []string{"orig-aaaa1", "gone-bbbb2"} {
			if err := os.MkdirAll(filepath.Join(root, slug), 0o700); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(root, slug, "transcript.jsonl"), []byte("{}\n"), 0o600)
		}
		e := &env{t: t, root: root}
		live, gone := e.statedir("orig-aaaa1", false), e.statedir("gone-bbbb2", false)
		live.IncludeTranscripts, gone.IncludeTranscripts = true, true
		dr, err := b.StateDirs(context.Background(), nil, Asked{})
		if err != nil {
			t.Fatal(err)
		}
		if res := dr.Remove(live); res.Status != bottle.Skipped || res.Reason != "its bottle exists" {
			t.Errorf("dry %v: %+v", dry, res)
		}
		want := bottle.Removed
		if dry {
			want = bottle.WouldRemove
		}
		if res := dr.Remove(gone); res.Status != want {
			t.Errorf("dry %v: the orphan: %+v", dry, res)
		}
		if _, err := os.Stat(filepath.Join(root, "orig-aaaa1", "transcript.jsonl")); err != nil {
			t.Error(err)
		}
	}
}

// partial is a backend that answered with a listing it could read only in
// part (a field the engine gave that could not be read).
type partial struct{}

func (partial) Name() string { return bottle.Docker }
func (partial) Inventory(context.Context) (backend.Inventory, error) {
	return backend.Inventory{Partial: true, Warnings: []string{"container x: the engine gave fields that could not be read: Labels (y)"}}, nil
}

// At the moment it acts, the reaper removes no state dir on a listing read
// only in part: a bottle could hide in what was not read.
func TestPolicyStateDirPartialListing(t *testing.T) {
	b, root := policy(t, &saver{})
	b.Backends = []backend.Backend{partial{}}
	if err := os.MkdirAll(filepath.Join(root, "gone-bbbb2"), 0o700); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, root: root}
	dr, err := b.StateDirs(context.Background(), nil, Asked{})
	if err != nil {
		t.Fatal(err)
	}
	if res := dr.Remove(e.statedir("gone-bbbb2", false)); res.Status == bottle.Removed || !strings.Contains(res.Error+res.Reason, "could not be read") {
		t.Errorf("%+v: want the dir kept, the reason said", res)
	}
	if _, err := os.Stat(filepath.Join(root, "gone-bbbb2")); err != nil {
		t.Error(err)
	}
}
