package launch

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Options are how a launch runs.
type Options struct {
	Prefix    string
	StateRoot string
	// DefaultRoot: StateRoot is the default root, which a launch takes
	// (and marks) whatever it holds (statedir.PrepareRoot).
	DefaultRoot bool
	Version     string // the toolkit's, for labels
	// Attach attaches the agent's stdio before it starts (the foreground);
	// Stdin also attaches its stdin, TTY gives it a terminal.
	Attach, Stdin, TTY bool
	Now                func() time.Time
	// StopGrace is how long a stopped agent gets between SIGTERM and SIGKILL.
	StopGrace time.Duration
	// Guardian, when set, is started once the state dir is made: it ends
	// the bottle if the launcher dies without ending it (foreground only).
	Guardian *GuardianCmd
	// Smol is a smolmachines launch's smolvm and image (PrepareSmol); a
	// guardian's has the smolvm only.
	Smol *Smol
}

// Launched is a bottle this launcher made (Start), started again from its
// state dir (Saved.Start), or took back from its state dir to end it
// (fromStateDir, the guardian's): what was made, and the state dir's lock.
type Launched struct {
	eng engine.Launcher
	opt Options
	// engineID is the engine's ID (identify), for bottle.json and labels.
	engineID string
	spec     Spec
	Project  Project
	Created  time.Time

	mu         sync.Mutex
	networks   []bottle.Network // in creation order
	volumes    []bottle.Volume
	containers []bottle.Container
	ids        map[string]string // service -> container ID
	images     map[string]string // image reference -> ID (checkImages)
	runAs      string            // the agent container's User ("": the image's)
	noIPv6     bool              // the engine's kernel has no IPv6 (ipv6.go)
	created    bool              // a create may have made something

	lock   *statedir.Lock
	attach *engine.Attachment
	guard  *guardian // nil: not guarded

	// ended is what bottle.json recorded of an ending, for a bottle taken
	// back from its state dir (fromStateDir: the guardian's); nil when it
	// recorded none, and for a bottle this process launched.
	ended *recordedEnd
	// resumed is the earlier life of a bottle started again from its state
	// dir (bottle-launch --resume: Saved.Start); nil for a new bottle.
	resumed *earlierLife

	// smol is a smolmachines bottle's machine (nil: a docker bottle).
	smol *smolBottle
}

// recordedEnd is how a bottle's ending went, as its bottle.json says.
type recordedEnd struct {
	// transcript is what the ending did with the agent's transcript
	// (statedir.Transcript*).
	transcript string
}

// earlierLife is what a resumed bottle takes from the life it continues.
type earlierLife struct {
	// transcript is the saved transcript tree to copy into the new home;
	// "" when there is none (the command then gets no continue args).
	transcript string
	// files are the state dir's files as they were, put back when the
	// start fails.
	files map[string][]byte
}

// restore is the saved transcript tree to copy into the new home, or "".
func (b *Launched) restore() string {
	if b.resumed == nil {
		return ""
	}
	return b.resumed.transcript
}

// StepError says which step of a launch failed.
type StepError struct {
	Step string
	Err  error
}

// Error puts the cause first and the step after it, as every tool's
// messages do: "cannot reach the Docker engine at ...; check ... (while
// creating the egress network)".
func (e *StepError) Error() string { return e.Err.Error() + " (while " + e.Step + ")" }
func (e *StepError) Unwrap() error { return e.Err }

// UndoError is a failed launch that could not remove all it made.
type UndoError struct {
	Err  error // why the launch failed
	Undo error // what the cleanup could not do
}

func (e *UndoError) Error() string {
	return fmt.Sprintf("%v; removing what it made failed too: %v; run bottle-cleanup", e.Err, e.Undo)
}
func (e *UndoError) Unwrap() error { return e.Err }

// Start makes the bottle: state dir (locked), networks, volume, sidecar and
// agent, provisioned, sidecar started, agent started. Any failure (an
// interrupt of ctx too) removes everything it made, the state dir too, and
// says which step failed; an error that is not an *UndoError means a
// listing of the engine showed nothing of the bottle left.
func Start(ctx context.Context, eng engine.Launcher, spec Spec, opt Options) (*Launched, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	b := &Launched{eng: eng, opt: opt, spec: spec, ids: map[string]string{}, Created: opt.Now().UTC()}
	if err := b.setBackend(); err != nil {
		return nil, err
	}
	if err := b.checkImages(ctx); err != nil {
		return nil, err
	}
	if err := b.identify(ctx); err != nil {
		return nil, err
	}
	if err := b.makeStateDir(); err != nil {
		return nil, err
	}
	return b.start(ctx)
}

// start starts the bottle whose state dir is made and locked.
func (b *Launched) start(ctx context.Context) (*Launched, error) {
	opt := b.opt
	if opt.Guardian != nil {
		if err := b.startGuardian(opt.Guardian); err != nil {
			b.lock.Release()
			b.dropStateDir()
			return nil, &StepError{"starting the guardian", err}
		}
	}
	if err := b.create(ctx); err != nil {
		defer b.guard.release()
		// Never let the interrupt that may have caused this stop the cleanup.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if b.attach != nil {
			b.attach.Close()
		}
		var uerr error
		b.mu.Lock()
		made := b.created
		b.mu.Unlock()
		if made {
			uerr = b.removeAll(cctx)
		}
		b.lock.Release()
		if uerr != nil {
			// What is left is labelled; the state dir stays so the plan
			// ties it to its bottle.
			return nil, &UndoError{Err: err, Undo: uerr}
		}
		if rerr := b.dropStateDir(); rerr != nil {
			return nil, &UndoError{Err: err, Undo: rerr}
		}
		return nil, err
	}
	return b, nil
}

// dropStateDir undoes the state dir of a failed start: a new one is
// removed, a resumed one gets its files back as they were.
func (b *Launched) dropStateDir() error {
	if b.resumed == nil {
		if err := os.RemoveAll(b.Project.StateDir); err != nil {
			return fmt.Errorf("removing the state dir: %w", err)
		}
		return nil
	}
	if err := b.putBack(); err != nil {
		return fmt.Errorf("putting back the state dir's files: %w", err)
	}
	return nil
}

// identify asks the engine's ID (an engine that cannot say one, such as a
// test's stand-in, leaves it "").
func (b *Launched) identify(ctx context.Context) error {
	e, ok := b.eng.(engine.Identifier)
	if !ok {
		return nil
	}
	id, err := e.ID(ctx)
	if err != nil {
		return &StepError{"asking the engine its ID", err}
	}
	b.engineID = id
	b.Project.EngineID = id
	return nil
}

// Info is the bottle as bottle-ls shows it.
func (b *Launched) Info() bottle.Bottle {
	if b.smol != nil {
		return b.smolInfo()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cs, ns, vs := slices.Clone(b.containers), slices.Clone(b.networks), slices.Clone(b.volumes)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	sort.Slice(ns, func(i, j int) bool { return ns[i].Name < ns[j].Name })
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	created := b.Created.Truncate(time.Second)
	dir := b.Project.StateDir
	status := bottle.StatusRunning
	for _, c := range cs {
		if !bottle.Active(c.State) {
			status = bottle.StatusPartial
		}
	}
	return bottle.Bottle{
		Backend: bottle.Docker, Name: b.Project.Name, Slug: b.Project.Slug, Status: status, Created: &created,
		Containers: nonNil(cs), Networks: nonNil(ns), Volumes: nonNil(vs), StateDir: &dir,
	}
}

// Detach leaves the bottle running: bottle.json says so and the lock goes.
func (b *Launched) Detach() error {
	err := b.writeMeta(func(m *statedir.Meta) { m.Detached = true })
	b.lock.Release()
	return err
}

// AgentID is the agent container's ID.
func (b *Launched) AgentID() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[bottle.ServiceAgent]
}
