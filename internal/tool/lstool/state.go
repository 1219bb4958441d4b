package lstool

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/plan"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// StateDir is one state dir as bottle-ls --state prints it.
type StateDir struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	SizeBytes  int64     `json:"size_bytes"`
	Modified   time.Time `json:"modified"`
	Preserved  bool      `json:"preserved"`
	Resumable  bool      `json:"resumable"`
	Transcript bool      `json:"transcript"`
	Dockerfile bool      `json:"dockerfile"`
	// Bottle names the bottle of this slug that exists (in any backend),
	// or is null: no bottle owns the dir.
	Bottle *string `json:"bottle"`
	// Launcher is true while a bottle-launch holds the dir's lock.
	Launcher bool `json:"launcher,omitempty"`
	// Detached is true when bottle.json says the bottle was launched with
	// --detach and has not ended.
	Detached bool `json:"detached,omitempty"`
}

// states lists the state dirs under the root with the bottle that owns
// each: a survey of every backend and a scan of the root, at once.
func states(ctx context.Context, t *cli.Tool, p *cli.Printer, backends []backend.Backend, engines statedir.Engines, scope cli.Scope) error {
	var survey *backend.Survey
	var entries []statedir.Entry
	var scanErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); survey = backend.Ask(ctx, backends) }()
	go func() { defer wg.Done(); entries, scanErr = statedir.Scan(scope.StateDir) }()
	wg.Wait()
	if scanErr != nil {
		return scanErr
	}
	owner := map[string]string{}
	for _, b := range survey.Bottles() {
		if _, ok := owner[b.Slug]; !ok {
			owner[b.Slug] = b.Name
		}
	}
	live := survey.Live()
	// a bottle of another prefix sharing the root: its resource's name
	for slug, name := range survey.Elsewhere() {
		if _, ok := owner[slug]; !ok {
			owner[slug] = name
		}
	}
	for slug := range live {
		if _, ok := owner[slug]; !ok {
			owner[slug] = bottle.ProjectName(scope.Prefix, slug)
		}
	}
	complete := survey.Complete()
	var dirs []StateDir
	for _, e := range entries {
		if e.Type != statedir.Dir {
			continue
		}
		d := StateDir{Name: e.Slug, Path: e.Path, SizeBytes: e.SizeBytes, Modified: e.Modified.UTC().Truncate(time.Second),
			Preserved: e.Preserved, Resumable: complete && e.Resumable(scope.Prefix, engines, live[e.Slug]), Transcript: e.Transcript, Dockerfile: e.Dockerfile,
			Launcher: e.Locked, Detached: e.Meta && statedir.LiveDetached(e.Path)}
		if n, ok := owner[e.Slug]; ok {
			d.Bottle = &n
		}
		dirs = append(dirs, d)
	}
	for _, w := range survey.Warnings() {
		t.Errorf("warning: %s", w)
	}
	if p.Table() {
		if err := stateTable(p, dirs, t.Env); err != nil {
			return err
		}
	} else {
		for _, d := range dirs {
			if err := p.Emit(d); err != nil {
				return err
			}
		}
	}
	if err := survey.Err(); err != nil {
		return fmt.Errorf("%w (so a state dir's bottle may exist although it shows none)", err)
	}
	return nil
}

func stateTable(p *cli.Printer, dirs []StateDir, env cli.Env) error {
	if len(dirs) == 0 {
		fmt.Fprintln(env.Stderr, "no state dirs")
		return nil
	}
	tb := p.NewTable("NAME", "SIZE", "AGE", "FLAGS", "BOTTLE")
	tb.ColorColumn(4, func(s string) string {
		if s == "-" {
			return "dim"
		}
		return ""
	})
	now := env.Now()
	for _, d := range dirs {
		var flags []string
		if d.Preserved {
			flags = append(flags, "preserved")
		}
		if d.Transcript {
			flags = append(flags, "transcript")
		}
		if d.Dockerfile {
			flags = append(flags, "Dockerfile")
		}
		if d.Resumable {
			flags = append(flags, "resumable")
		}
		if d.Launcher {
			flags = append(flags, "launcher running")
		}
		if d.Detached {
			flags = append(flags, "detached")
		}
		f := strings.Join(flags, ",")
		if f == "" {
			f = "-"
		}
		owner := "-"
		if d.Bottle != nil {
			owner = *d.Bottle
		}
		tb.Row(d.Name, plan.Size(d.SizeBytes), plan.Age(now, d.Modified), f, owner)
	}
	return tb.Flush()
}
