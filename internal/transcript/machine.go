package transcript

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
)

// Machine is where a smolmachines bottle's transcript is: the machine's
// own disk (it has no volume), read with `smolvm machine exec -i` while
// the machine runs.
type Machine struct {
	CLI *smolvmcli.CLI
	// Env is smolvm's environment (nil: this process's).
	Env  []string
	Name string
}

// MachineReadTimeout bounds one read of a machine's transcript tree.
const MachineReadTimeout = 20 * time.Minute

// MachineStartTimeout bounds the start of a machine that is not running,
// so that its transcript can be read.
const MachineStartTimeout = 5 * time.Minute

// SaveMachine saves the machine's transcript tree into
// <stateDir>/transcript/ as SaveFrom does (bounded by lim, a temp dir
// renamed once whole). Its disk is read while it runs: one that is not
// running is started first (a bottle's machine only idles: the agent runs
// by exec); one that cannot be started is an error (its disk may hold the
// only copy). One that is not there holds nothing (None).
func SaveMachine(ctx context.Context, m Machine, stateDir string, lim Limits) (Saved, error) {
	vm, err := m.CLI.Machine(ctx, m.Name)
	switch {
	case err != nil:
		return Saved{}, err
	case vm == nil:
		return Saved{None: true}, nil
	case !bottle.Active(vm.State):
		if err := m.CLI.Start(ctx, m.Env, m.Name, MachineStartTimeout); smolvmcli.IsNotFound(err) {
			return Saved{None: true}, nil
		} else if err != nil {
			return Saved{}, fmt.Errorf("machine %s is %s, and starting it to read its transcript failed: %w", m.Name, vm.State, err)
		}
	}
	t, err := m.CLI.ReadTree(ctx, m.Env, m.Name, bottle.AgentTranscript, MachineReadTimeout)
	if err != nil {
		return Saved{}, err
	}
	s, xerr := SaveFrom(ctx, t, stateDir, lim)
	werr := t.Wait()
	switch {
	case xerr != nil:
		return s, xerr
	case smolvmcli.IsNotFound(werr):
		return Saved{None: true}, nil // deleted meanwhile: nothing written
	case werr != nil:
		return s, werr
	}
	return s, nil
}

// ProbeMachine tells whether a machine holds a transcript (a regular file
// under the agent's transcript tree), reading it without changing
// anything; known is false when it cannot tell that way (the machine is
// not running, or not there).
func ProbeMachine(ctx context.Context, m Machine) (has, known bool, err error) {
	vm, err := m.CLI.Machine(ctx, m.Name)
	if err != nil || vm == nil || !bottle.Active(vm.State) {
		return false, false, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t, err := m.CLI.ReadTree(ctx, m.Env, m.Name, bottle.AgentTranscript, MachineReadTimeout)
	if err != nil {
		return false, false, err
	}
	has, rerr := holdsFile(t)
	if has {
		cancel() // no need to read the rest
	}
	t.Close()
	werr := t.Wait()
	switch {
	case has:
		return true, true, nil
	case rerr != nil:
		return false, false, rerr
	case smolvmcli.IsNotFound(werr):
		return false, false, nil
	case werr != nil:
		return false, false, werr
	}
	return false, true, nil
}

// holdsFile reads a tar until its first regular file.
func holdsFile(r io.Reader) (bool, error) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if h.Typeflag == tar.TypeReg {
			return true, nil
		}
	}
}
