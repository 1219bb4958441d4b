package lstool

import (
	"context"
	"fmt"
	"path/filepath"
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
	// Engine is the engine its bottle was made on, as its bottle.json
	// records it: the name of the engine asked when it is one (matched by
	// engine ID, else by endpoint), else the endpoint it records; without
	// one, the engine its bottle is on; null when nothing says.
	Engine *string `json:"engine"`
	// EngineID is the engine ID its bottle.json records, if any.
	EngineID string `json:"engine_id,omitempty"`
	// StateRoot is the state root its bottle belongs to: the one its
	// resources' labels name (the root of their dev.bottle.state-dir),
	// else the root listed.
	StateRoot string `json:"state_root"`
	// Launcher is true while a bottle-launch holds the dir's lock.
	Launcher bool `json:"launcher,omitempty"`
	// Detached is true when bottle.json says the bottle was launched with
	// --detach and has not ended.
	Detached bool `json:"detached,omitempty"`
}

// states lists the state dirs under the root with the bottle that owns
// each: a survey of every backend and a scan of the root, at once.
func states(ctx context.Context, t *cli.Tool, p *cli.Printer, backends []backend.Backend, engines statedir.Engines, names []string, scope cli.Scope) error {
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
	owner, ownerEngine, ownerRoot := map[string]string{}, map[string]string{}, map[string]string{}
	for _, b := range survey.Bottles() {
		if _, ok := owner[b.Slug]; !ok {
			owner[b.Slug] = b.Name
			ownerEngine[b.Slug] = b.Engine
		}
	}
	for _, it := range survey.Items() {
		if _, ok := ownerRoot[it.Slug]; !ok && it.OwnerDir != "" && owner[it.Slug] == bottle.ProjectName(scope.Prefix, it.Slug) {
			ownerRoot[it.Slug] = filepath.Dir(it.OwnerDir)
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
		d.Engine, d.EngineID = dirEngine(e, engines, names, ownerEngine[e.Slug]), e.Bottle.EngineID
		d.StateRoot = scope.StateDir
		if r, ok := ownerRoot[e.Slug]; ok {
			d.StateRoot = r
		}
		dirs = append(dirs, d)
	}
	for _, w := range survey.Warnings() {
		t.Errorf("warning: %s", w)
	}
	if p.Table() {
		if err := stateTable(p, dirs, scope.StateDir, t.Env); err != nil {
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

// dirEngine is the engine a state dir's bottle was made on (StateDir's
// Engine); onEngine is the engine its bottle is on, if one exists.
func dirEngine(e statedir.Entry, engines statedir.Engines, names []string, onEngine string) *string {
	m := e.Bottle
	n := ""
	switch {
	case e.Meta && (m.Engine != "" || m.EngineID != ""):
		if n = engines.Named(m, names); n == "" {
			n = m.Engine // an engine not asked (or no longer at its endpoint)
		}
	default:
		n = onEngine
	}
	if n == "" {
		return nil
	}
	return &n
}

// stateTable shows the state dirs for a person: an ENGINE column when
// their engines differ, a ROOT column when a bottle belongs to a state
// root other than the one listed (root).
func stateTable(p *cli.Printer, dirs []StateDir, root string, env cli.Env) error {
	if len(dirs) == 0 {
		fmt.Fprintln(env.Stderr, "no state dirs")
		return nil
	}
	engine := func(d StateDir) string {
		if d.Engine == nil {
			return "-"
		}
		return *d.Engine
	}
	engines, roots := false, false
	for _, d := range dirs {
		engines = engines || engine(d) != engine(dirs[0])
		roots = roots || d.StateRoot != root
	}
	headers := []string{"NAME", "SIZE", "AGE", "FLAGS", "BOTTLE"}
	if engines {
		headers = append(headers, "ENGINE")
	}
	if roots {
		headers = append(headers, "ROOT")
	}
	tb := p.NewTable(headers...)
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
		row := []string{d.Name, plan.Size(d.SizeBytes), plan.Age(now, d.Modified), f, owner}
		if engines {
			row = append(row, engine(d))
		}
		if roots {
			row = append(row, d.StateRoot)
		}
		tb.Row(row...)
	}
	return tb.Flush()
}
