package smolvm

import (
	"context"
	"os"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
	"github.com/claude-bottle/bottle/internal/transcript"
)

var _ backend.TranscriptHolder = (*Backend)(nil)

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

// SaveTranscript saves a machine's transcript into stateDir
// (transcript.SaveMachine: a stopped machine is started to be read; its
// workload only idles).
func (b *Backend) SaveTranscript(ctx context.Context, it bottle.Item, stateDir string) (transcript.Saved, error) {
	switch {
	case b.CLIErr != nil:
		return transcript.Saved{}, b.CLIErr
	case !b.CLI.Present():
		return transcript.Saved{}, smolvmcli.ErrMissing
	}
	return transcript.SaveMachine(ctx, b.machine(it), stateDir, transcript.DefaultLimits)
}
