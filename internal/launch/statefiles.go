package launch

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// makeStateDir creates <root>/<slug>/ (a new one: the slug is fresh), takes
// its lock and writes bottle.json.
func (b *Launched) makeStateDir() error {
	if err := statedir.PrepareRoot(b.opt.StateRoot, b.opt.DefaultRoot); err != nil {
		if exitcode.Of(err) == exitcode.Usage {
			return err // not a state root: said as it is
		}
		return &StepError{"creating the state root", err}
	}
	for try := 0; ; try++ {
		slug := NewSlug(b.spec.Agent)
		dir := filepath.Join(b.opt.StateRoot, slug)
		err := os.Mkdir(dir, 0o700)
		if errors.Is(err, os.ErrExist) && try < 5 {
			continue
		}
		if err != nil {
			return &StepError{"creating the state dir", err}
		}
		b.Project = Project{Name: bottle.ProjectName(b.opt.Prefix, slug), Slug: slug, Agent: b.spec.Agent, StateDir: dir, Version: b.opt.Version, EngineID: b.engineID}
		break
	}
	lock, err := statedir.Acquire(b.Project.StateDir)
	if err != nil {
		os.RemoveAll(b.Project.StateDir)
		return &StepError{"locking the state dir", err}
	}
	b.lock = lock
	if err := b.writeMeta(nil); err != nil {
		lock.Release()
		os.RemoveAll(b.Project.StateDir)
		return &StepError{"writing bottle.json", err}
	}
	return nil
}

// MaxSpecMeta bounds the bottle.json a launch starts with (the spec is
// most of it): a spec that would make it larger is refused before anything
// is made. A bottle.json the cleanup tools cannot read whole
// (statedir.MaxMeta, four times this) would keep its dir forever.
const MaxSpecMeta = statedir.MaxMeta / 4

func (b *Launched) writeMeta(update func(*statedir.Meta)) error {
	b.mu.Lock()
	spec, err := json.Marshal(b.spec.Redacted())
	m := statedir.Meta{
		Backend: b.backend(), Name: b.Project.Name, Slug: b.Project.Slug, Agent: b.spec.Agent, Prefix: b.opt.Prefix,
		Created: b.Created.Truncate(time.Second), Image: b.spec.Image, Spec: spec,
		Containers: nonNil(b.containers), Networks: nonNil(b.networks), Volumes: nonNil(b.volumes),
	}
	b.mu.Unlock()
	if err != nil {
		return err
	}
	// The engine the bottle is made on: the cleanup tools leave the dir
	// alone when they ask another engine (they cannot tell if it lives).
	if e, ok := b.eng.(interface{ Endpoint() engine.Endpoint }); ok {
		m.Engine = e.Endpoint().Host
	}
	m.EngineID = b.Project.EngineID
	limit := statedir.MaxMeta
	if update != nil {
		update(&m)
	} else {
		limit = MaxSpecMeta
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if len(data) > limit {
		return exitcode.BadInputf("the spec is too large: bottle.json would be %d bytes, more than %d; shorten its command, env or other lists", len(data), limit)
	}
	return writeFileAtomic(filepath.Join(b.Project.StateDir, bottle.MetaFile), append(data, '\n'), 0o600)
}

func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	tmp := p + bottle.TempSuffix
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
