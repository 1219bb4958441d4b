package launch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// End snapshots the transcript, marks a crash with .preserve, removes
// every resource and releases the state dir (which stays). It reports
// whether a transcript was saved.
func (b *Launched) End(ctx context.Context, code int, crashed bool) (bool, error) {
	defer b.guard.release() // after the lock's release below: the guardian holds a copy
	defer b.lock.Release()
	var errs []error
	saved, err := b.snapshot(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("saving the transcript: %w", err))
	}
	if crashed {
		note := fmt.Sprintf("agent exited with code %d at %s; kept so cleanup never removes the evidence (remove this file to let it go)\n", code, b.opt.Now().UTC().Format(time.RFC3339))
		if err := os.WriteFile(filepath.Join(b.Project.StateDir, bottle.PreserveFile), []byte(note), 0o600); err != nil {
			errs = append(errs, fmt.Errorf("writing .preserve: %w", err))
		}
	}
	if err := b.removeAll(ctx); err != nil {
		errs = append(errs, fmt.Errorf("%w (run bottle-cleanup to remove what is left)", err))
	}
	now := b.opt.Now().UTC().Truncate(time.Second)
	if err := b.writeMeta(func(m *statedir.Meta) { m.Ended, m.ExitCode = &now, &code }); err != nil {
		errs = append(errs, fmt.Errorf("writing bottle.json: %w", err))
	}
	return saved, errors.Join(errs...)
}

// snapshot copies the agent's transcript tree into <state dir>/transcript/.
// An agent that wrote nothing leaves no transcript.
func (b *Launched) snapshot(ctx context.Context) (bool, error) {
	if b.smol != nil {
		return b.smolSnapshot(ctx)
	}
	id := b.ids[bottle.ServiceAgent]
	if id == "" {
		return false, nil
	}
	rc, err := b.eng.CopyFrom(ctx, id, bottle.AgentTranscript)
	if engine.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer rc.Close()
	return transcript.Extract(rc, filepath.Join(b.Project.StateDir, bottle.TranscriptDir))
}
