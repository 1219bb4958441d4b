package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// End saves the transcript, marks a crash with .preserve, removes every
// resource and releases the state dir (which stays). The home volume goes
// only once its transcript is in the state dir, or it provably holds none:
// a snapshot that fails, or cannot be made, keeps it (and the error names
// it and the ways out). bottle.json records the ending and what became of
// the transcript. It reports whether a transcript was saved.
func (b *Launched) End(ctx context.Context, code int, crashed bool) (bool, error) {
	defer b.guard.release() // after the lock's release below: the guardian holds a copy
	defer b.lock.Release()
	var errs []error
	saved, err := b.snapshot(ctx)
	state := statedir.TranscriptNone
	if saved {
		state = statedir.TranscriptSaved
	}
	var keep []string
	if err != nil {
		state = statedir.TranscriptInVolume
		what, home := b.transcriptHolder()
		keep = append(keep, home)
		errs = append(errs, fmt.Errorf("saving the transcript: %v: %s %s is kept with the transcript in it; retry with bottle-cleanup --name %s, or let it go with bottle-cleanup --name %s --discard-transcript",
			err, what, home, b.Project.Slug, b.Project.Slug))
	}
	if crashed {
		note := fmt.Sprintf("agent exited with code %d at %s; kept so cleanup never removes the evidence (remove this file to let it go)\n", code, b.opt.Now().UTC().Format(time.RFC3339))
		if err := os.WriteFile(filepath.Join(b.Project.StateDir, bottle.PreserveFile), []byte(note), 0o600); err != nil {
			errs = append(errs, fmt.Errorf("writing .preserve: %w", err))
		}
	}
	if err := b.removeAll(ctx, keep...); err != nil {
		errs = append(errs, fmt.Errorf("%w (run bottle-cleanup to remove what is left)", err))
	}
	now := b.opt.Now().UTC().Truncate(time.Second)
	if err := b.writeMeta(func(m *statedir.Meta) { m.Ended, m.ExitCode, m.Transcript = &now, &code, state }); err != nil {
		errs = append(errs, fmt.Errorf("writing bottle.json: %w", err))
	}
	return saved, errors.Join(errs...)
}

// transcriptHolder is what holds the agent's transcript until it is saved:
// the home volume of a docker bottle, the machine of a smolmachines one
// (its own disk). An ending that cannot save the transcript keeps it.
func (b *Launched) transcriptHolder() (what, name string) {
	if b.smol != nil {
		return "machine", b.Project.Name
	}
	return "volume", b.Project.VolumeName(bottle.VolHome)
}

// snapshot saves the agent's transcript tree into <state dir>/transcript/
// (see transcript.Save): from the agent container, or, when it is gone, a
// container of the bottle's image that reads the home volume. An agent
// that wrote nothing leaves no transcript.
func (b *Launched) snapshot(ctx context.Context) (bool, error) {
	if b.smol != nil {
		return b.smolSnapshot(ctx)
	}
	h := transcript.Home{Project: b.Project.Name, Agent: b.AgentID(), Volume: b.Project.VolumeName(bottle.VolHome), Image: b.spec.Image}
	s, err := transcript.Save(ctx, b.eng, h, b.Project.StateDir, transcript.DefaultLimits)
	return err == nil && !s.None, err
}
