// Package cleanup is what the cleanup tools (bottle-plan-cleanup,
// bottle-reap, bottle-cleanup) share: the flags that select what a plan
// holds (Selection), the flags that say how to reap it (Reaping), and
// reaping plan lines with a tool's printer (Reap). It sits below the tool
// packages so that no tool imports another.
package cleanup

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jessevdk/go-flags"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/engines"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/plan"
	"github.com/claude-bottle/bottle/internal/transcript"
)

// Selection are the flags that choose what a plan holds:
// bottle-plan-cleanup and bottle-cleanup take them.
type Selection struct {
	OlderThan  cli.Duration `long:"older-than" unquote:"false" value-name:"DURATION" description:"only what was created (state dirs: modified) more than DURATION ago: 90m, 36h, 7d, 2w"`
	NotRunning bool         `long:"not-running" description:"leave out projects, containers and machines that have something running"`
	Kinds      []Kind       `long:"kind" unquote:"false" value-name:"KIND" description:"only items of KIND (repeatable): compose-project, container, network, volume, machine, state-dir"`
	Names      []string     `long:"name" complete:"state-dir" unquote:"false" value-name:"NAME" description:"only the bottle NAME (repeatable): its name (prefix + slug) or its slug; a named bottle is taken even when it was launched with --detach and runs"`
	// IncludeDetached takes running bottles launched with --detach too.
	IncludeDetached bool `long:"include-detached" description:"also take bottles launched with --detach that are still running (left out otherwise)"`
	// AllRoots takes bottles other state roots' launchers made too.
	AllRoots bool `long:"all-roots" description:"also take bottles that bottle-launch made with another state root (their labels name a state dir there that still exists; left out otherwise), while that root's lock and detached flag let them go"`
	// IncludeTranscripts takes conversations too.
	IncludeTranscripts bool `long:"include-transcripts" description:"also take conversations: state dirs that hold an agent's transcript (kept otherwise; bottle-ls --state lists them)"`
	// DiscardTranscript ends the named bottles without saving their
	// transcripts.
	DiscardTranscript bool `long:"discard-transcript" description:"with --name: end the bottle without saving its transcript (for one whose transcript cannot be saved); its home volume (a smolmachines bottle's machine) goes with it"`
}

// Options checks the selection and returns the plan options.
func (s Selection) Options(scope cli.Scope, now time.Time) (plan.Options, error) {
	var kinds []string
	for _, k := range s.Kinds {
		if !slices.Contains(bottle.Kinds, string(k)) {
			return plan.Options{}, exitcode.Usagef("unknown --kind %q: use one of %s", k, strings.Join(bottle.Kinds, ", "))
		}
		kinds = append(kinds, string(k))
	}
	if s.DiscardTranscript && len(s.Names) == 0 {
		return plan.Options{}, exitcode.Usagef("--discard-transcript needs --name: it ends the bottles named without saving their transcripts")
	}
	var names []string
	for _, n := range s.Names {
		slug := plan.NameSlug(n, scope.Prefix)
		if !bottle.ValidSlug(slug) {
			return plan.Options{}, exitcode.Usagef("bad --name %q: give a bottle's name (%s<slug>) or its slug, as bottle-ls prints them", n, scope.Prefix)
		}
		if !slices.Contains(names, slug) {
			names = append(names, slug)
		}
	}
	return plan.Options{StateRoot: scope.StateDir, DefaultRoot: scope.DefaultRoot, Prefix: scope.Prefix, OlderThan: time.Duration(s.OlderThan), NotRunning: s.NotRunning,
		Kinds: kinds, Names: names, IncludeDetached: s.IncludeDetached, AllRoots: s.AllRoots, IncludeTranscripts: s.IncludeTranscripts,
		DiscardTranscript: s.DiscardTranscript, Now: now}, nil
}

// Kind is a --kind value; completion offers the kinds a plan item has.
type Kind string

// Complete implements go-flags' Completer.
func (Kind) Complete(match string) []flags.Completion {
	return cli.Completions(bottle.Kinds, match)
}

// Reaping are the flags bottle-reap and bottle-cleanup share: how to reap.
type Reaping struct {
	DryRun bool `long:"dry-run" description:"check everything, remove nothing (status would-remove)"`
	Jobs   Jobs `long:"jobs" value-name:"N" default:"4" description:"engine calls and state dir removals in flight at once"`
}

// Jobs is the --jobs value: 1 to 64.
type Jobs int

// UnmarshalFlag implements go-flags' Unmarshaler.
func (j *Jobs) UnmarshalFlag(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a number: use a number from 1 to 64", s)
	}
	*j = Jobs(n)
	return nil
}

// Check refuses a bad --jobs.
func (r Reaping) Check() error {
	if r.Jobs < 1 || r.Jobs > 64 {
		return exitcode.Usagef("--jobs %d: use a number from 1 to 64", r.Jobs)
	}
	return nil
}

// Probe is the plan's Transcript question, asked in the item's engine in
// pool: a compose project's agent container's answer, a running machine's
// tree read in place (its backend's TranscriptHolder); never a container
// made to ask.
func Probe(pool *engines.Pool) func(ctx context.Context, it bottle.Item) (bool, bool, error) {
	return func(ctx context.Context, it bottle.Item) (bool, bool, error) {
		set, err := pool.Open(it.Engine)
		if err != nil {
			return false, false, err
		}
		if h, ok := transcript.HomeOf(it); ok {
			return transcript.Probe(ctx, set.Engine, h)
		}
		if holder := backend.HolderOf(set.Backends, it); holder != nil {
			return holder.ProbeTranscript(ctx, it)
		}
		return false, false, nil
	}
}
