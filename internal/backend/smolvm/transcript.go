package smolvm

import (
	"context"
	"os"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
	"github.com/claude-bottle/bottle/internal/transcript"
)

var _ backend.TranscriptHolder = (*Backend)(nil)

// StartTimeout bounds the start of a stopped machine whose transcript is
// to be saved before it goes.
const StartTimeout = 5 * time.Minute

func (b *Backend) machine(it bottle.Item) transcript.Machine {
	// smolvm gets no proxy variables (as for a launch): none may reach
	// the machine by accident.
	return transcript.Machine{CLI: b.CLI, Env: smolvmcli.LaunchEnv(os.Environ()), Name: it.Name}
}

// ProbeTranscript reads a running machine's transcript tree (machine exec
// tar: nothing is written); a stopped machine cannot tell.
func (b *Backend) ProbeTranscript(ctx context.Context, it bottle.Item) (bool, bool, error) {
	if it.Kind != bottle.KindMachine || b.CLIErr != nil || !b.CLI.Present() {
		return false, false, b.CLIErr
	}
	return transcript.ProbeMachine(ctx, b.machine(it))
}

// SaveTranscript saves a machine's transcript into stateDir. A stopped
// machine is started first (its workload only idles): its disk is the
// only copy, and it is read while it runs.
func (b *Backend) SaveTranscript(ctx context.Context, it bottle.Item, stateDir string) (transcript.Saved, error) {
	switch {
	case b.CLIErr != nil:
		return transcript.Saved{}, b.CLIErr
	case !b.CLI.Present():
		return transcript.Saved{}, smolvmcli.ErrMissing
	}
	m := b.machine(it)
	vm, err := b.CLI.Machine(ctx, it.Name)
	switch {
	case err != nil:
		return transcript.Saved{}, err
	case vm == nil:
		return transcript.Saved{None: true}, nil
	case !bottle.Active(vm.State):
		if err := b.CLI.Start(ctx, m.Env, it.Name, StartTimeout); err != nil {
			if smolvmcli.IsNotFound(err) {
				return transcript.Saved{None: true}, nil
			}
			return transcript.Saved{}, err
		}
	}
	return transcript.SaveMachine(ctx, m, stateDir, transcript.DefaultLimits)
}
