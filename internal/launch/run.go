package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// Stdio is the launcher's side of a foreground agent.
type Stdio struct {
	Stdin          io.Reader // nil: stdin not attached
	Stdout, Stderr io.Writer
}

// Outcome is how a foreground run ended.
type Outcome struct {
	ExitCode    int
	Interrupted bool // the launcher was told to stop and stopped the agent
	Crashed     bool // the agent ended badly on its own: .preserve was written
	Transcript  bool // a transcript was snapshotted into the state dir
}

// Run relays the agent's stdio until it exits or ctx is done (then the
// agent is stopped: SIGTERM, SIGKILL after StopGrace), and ends the bottle:
// transcript snapshot, everything removed, state dir kept, .preserve when
// the agent crashed.
func (b *Launched) Run(ctx context.Context, st Stdio) (Outcome, error) {
	if b.smol != nil {
		return b.smolRun(ctx, st)
	}
	agent := b.ids[bottle.ServiceAgent]
	bg := context.WithoutCancel(ctx)
	outDone := make(chan error, 1)
	go func() {
		if b.attach == nil {
			outDone <- nil
			return
		}
		outDone <- b.attach.Copy(st.Stdout, st.Stderr)
	}()
	if b.attach != nil && st.Stdin != nil {
		go func() {
			_, _ = io.Copy(b.attach, st.Stdin)
			_ = b.attach.CloseWrite()
		}()
	}
	exited := make(chan exitResult, 1)
	go func() {
		code, err := b.eng.Wait(bg, agent)
		exited <- exitResult{code, err}
	}()

	var out Outcome
	var res exitResult
	select {
	case res = <-exited:
	case <-ctx.Done():
		out.Interrupted = true
		res = b.stop(bg, agent, exited)
	}
	// The output stream ends when the agent does; do not hang on it.
	select {
	case <-outDone:
	case <-time.After(2 * time.Second):
	}
	if b.attach != nil {
		b.attach.Close()
	}
	return b.finish(bg, out, res, "waiting for the agent")
}

// finish ends the bottle once its agent ended (res; what says what failed
// when the end is not known): a non-zero exit that was not asked for is a
// crash.
func (b *Launched) finish(ctx context.Context, out Outcome, res exitResult, what string) (Outcome, error) {
	out.ExitCode = res.code
	var errs []error
	if res.err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", what, res.err))
		out.ExitCode = -1
	}
	out.Crashed = !out.Interrupted && out.ExitCode != 0
	saved, err := b.End(ctx, out.ExitCode, out.Crashed)
	out.Transcript = saved
	if err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

type exitResult struct {
	code int
	err  error
}

// stop asks the agent to stop, then kills it.
func (b *Launched) stop(ctx context.Context, id string, exited chan exitResult) exitResult {
	grace := b.opt.StopGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	if err := b.eng.Kill(ctx, id, "SIGTERM"); err != nil && !engine.IsNotRunning(err) && !engine.IsNotFound(err) {
		_ = b.eng.Kill(ctx, id, "SIGKILL")
	}
	select {
	case r := <-exited:
		return r
	case <-time.After(grace):
	}
	_ = b.eng.Kill(ctx, id, "SIGKILL")
	select {
	case r := <-exited:
		return r
	case <-time.After(10 * time.Second):
		return exitResult{code: 137}
	}
}
