package launch

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
	"github.com/claude-bottle/bottle/internal/statedir"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// smolRun runs the agent in the foreground: `smolvm machine exec` with the
// launcher's stdio (-i when stdin is the agent's, -t when it is a
// terminal: smolvm then puts the terminal in raw mode and keeps the guest's
// window size in step). smolvm's exit code is the agent's. On ctx's end the
// agent is stopped (smolStop), since smolvm forwards no signal; then the
// bottle ends as on docker.
func (b *Launched) smolRun(ctx context.Context, st Stdio) (Outcome, error) {
	bg := context.WithoutCancel(ctx)
	var mode []string
	if st.Stdin != nil {
		mode = append(mode, "-i")
	}
	if b.opt.TTY {
		mode = append(mode, "-t")
	}
	args, env := b.smolAgentExec(mode...)
	cmd := b.smol.CLI.Cmd(bg, env, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = st.Stdin, st.Stdout, st.Stderr
	if !b.opt.TTY {
		// A process group of its own: a signal to the launcher's group (a
		// Ctrl-C of a terminal that is not the agent's) reaches the
		// launcher only, which stops the agent gracefully; smolvm, killed,
		// would make the guest SIGKILL it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	var out Outcome
	exited := make(chan exitResult, 1)
	if err := cmd.Start(); err != nil {
		exited <- exitResult{code: -1, err: err}
	} else {
		go func() { exited <- smolExit(cmd.Wait()) }()
	}
	var res exitResult
	select {
	case res = <-exited:
	case <-ctx.Done():
		out.Interrupted = true
		res = b.smolStop(bg, exited, cmd)
	}
	return b.finish(bg, out, res, "running the agent")
}

// smolExit turns a smolvm exec's end into the agent's exit code: smolvm
// exits with the guest command's code (128+N for a signal); a smolvm
// killed by a signal counts as the agent killed by it.
func smolExit(err error) exitResult {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return exitResult{}
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitResult{code: 128 + int(ws.Signal())}
		}
		return exitResult{code: ee.ExitCode()}
	}
	return exitResult{code: -1, err: err}
}

// smolStop stops the agent as a signal to the launcher asks: SIGTERM to
// every process of the agent's user in the machine's workload container
// (`kill -TERM -1` run there, which spares the container's init, the idle
// workload, and kill itself), SIGKILL the same way after StopGrace (the
// machine keeps running, so the transcript can still be read), and only
// then, when the exec still has not ended, the machine is stopped
// (smolvm's stop: the guest's agent syncs, then SIGTERM, SIGKILL). cmd,
// when given, is the foreground exec, whose end is the agent's.
func (b *Launched) smolStop(ctx context.Context, exited chan exitResult, cmd *exec.Cmd) exitResult {
	grace := b.opt.StopGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	b.smolKill(ctx, "-TERM")
	select {
	case r := <-exited:
		return r
	case <-time.After(grace):
	}
	b.smolKill(ctx, "-KILL")
	select {
	case r := <-exited:
		return r
	case <-time.After(10 * time.Second):
	}
	_ = b.smol.CLI.StopWithin(ctx, b.smol.machine, smolStopTimeout)
	select {
	case r := <-exited:
		return r
	case <-time.After(10 * time.Second):
	}
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
	select {
	case r := <-exited:
		return r
	case <-time.After(5 * time.Second):
		return exitResult{code: 137}
	}
}

// smolKill runs `kill SIG -1` in the machine, through sh's kill when the
// image has no kill command, and reports whether it signalled anything.
// A guardian does not know the image: the first of kill and sh the machine
// has is used (126 and 127 say a command is not there).
func (b *Launched) smolKill(ctx context.Context, sig string) bool {
	sm := b.smol
	kinds := []string{sm.Kill}
	if sm.Kill == "" {
		kinds = []string{"kill", "sh"}
	}
	for _, k := range kinds {
		cmd := []string{"kill", sig, "-1"}
		if k == "sh" {
			cmd = []string{"sh", "-c", "kill " + sig + " -1"}
		}
		_, err := sm.CLI.RunWith(ctx, smolCallTimeout, sm.env(), nil, append([]string{"machine", "exec", "--name", sm.machine, "--"}, cmd...)...)
		var ee *smolvmcli.ExitError
		if errors.As(err, &ee) && (ee.Code == 126 || ee.Code == 127) {
			continue
		}
		sm.Kill = k
		return err == nil
	}
	return false
}

// smolSnapshot copies the agent's transcript tree out of the machine into
// <state dir>/transcript/ (transcript.SaveMachine). An agent that wrote
// nothing leaves no transcript.
func (b *Launched) smolSnapshot(ctx context.Context) (bool, error) {
	sm := b.smol
	if !sm.made {
		return false, nil
	}
	s, err := transcript.SaveMachine(ctx, transcript.Machine{CLI: sm.CLI, Env: sm.env(), Name: sm.machine}, b.Project.StateDir, transcript.DefaultLimits)
	return err == nil && !s.None, err
}

// smolEndOrphan ends a smolmachines bottle whose launcher died at died, as
// a signal would: the agent (still running as the dead launcher's exec) is
// asked to stop; once nothing of it answers `kill -0 -1` or StopGrace is
// over (then it gets SIGKILL), the transcript is saved, the machine and
// the bundle removed. bottle.json's exit_code is 0 when the agent ended
// within the grace (its own code went with the launcher's exec), 137 when
// it had to be killed.
func (b *Launched) smolEndOrphan(ctx context.Context, died time.Time) error {
	var errs []error
	if err := b.smolSweep(ctx); err != nil {
		errs = append(errs, fmt.Errorf("listing the bottle's resources: %w", err))
	}
	if b.ended != nil {
		// The launcher ended it and died before it said so: make sure,
		// keeping the machine when its ending could not save the
		// transcript out of it.
		defer b.lock.Release()
		var keep []string
		if b.ended.transcript == statedir.TranscriptInVolume {
			keep = append(keep, b.Project.Name)
		}
		if err := b.removeAll(ctx, keep...); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	code := 0
	m, err := b.smol.CLI.Machine(ctx, b.smol.machine)
	if err != nil {
		errs = append(errs, err)
	}
	if m == nil || !bottle.Active(m.State) {
		// The launcher may have died mid-start, with a create in flight:
		// give it time to show.
		time.Sleep(time.Until(died.Add(1500 * time.Millisecond)))
	} else if b.smolKill(ctx, "-TERM") {
		grace := b.opt.StopGrace
		if grace <= 0 {
			grace = 10 * time.Second
		}
		code = 137
		for deadline := time.Now().Add(grace); time.Now().Before(deadline); {
			time.Sleep(250 * time.Millisecond)
			if !b.smolKill(ctx, "-0") {
				code = 0
				break
			}
		}
		if code != 0 {
			b.smolKill(ctx, "-KILL")
		}
	}
	if _, err := b.End(ctx, code, false); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
