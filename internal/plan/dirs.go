package plan

import (
	"fmt"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/statedir"
)

// Which state dirs a plan may take, and the engine each one's bottle was
// made on.

// keepDir reports whether the selection takes the state dir, by what it
// says of dirs (its kind, name and age).
func (o Options) keepDir(e statedir.Entry) bool {
	mod := e.Modified
	return o.keep(bottle.Item{Kind: bottle.KindStateDir, Slug: e.Slug, Modified: &mod})
}

// recorded is what bottle.json's transcript says of the home volume: it
// holds the transcript (the ending could not save it), or not (saved, or
// none), or nothing is recorded.
func recorded(s string) *bool {
	var b bool
	switch s {
	case statedir.TranscriptInVolume:
		b = true
	case statedir.TranscriptSaved, statedir.TranscriptNone:
	default:
		return nil
	}
	return &b
}

// leftAlone says why a state dir that looks like one is still never an
// orphan, or "": what is in it could not all be read, it holds a mount, its
// bottle.json cannot be read whole, or names a bottle of another prefix or
// an engine this run does not ask.
func leftAlone(e statedir.Entry, opt Options) string {
	switch {
	case e.WalkErr != nil:
		return "it cannot be read whole: " + e.WalkErr.Error()
	case e.Mount != "":
		return fmt.Sprintf("%s inside it is on another file system (a mount point)", e.Mount)
	case e.MetaErr != nil:
		return "its " + e.MetaErr.Error() + ": it may belong to any bottle"
	case !e.Meta:
		return statedir.DefaultUnasked(nil, opt.EngineNames != nil && opt.Default == "")
	}
	if why := statedir.Foreign(e.Bottle, opt.Prefix, e.Slug); why != "" {
		return why
	}
	if why := statedir.DefaultUnasked(&e.Bottle, opt.EngineNames != nil && opt.Default == ""); why != "" {
		return why
	}
	return statedir.OtherEngine(e.Bottle, opt.Engines)
}

// engineOf is the name of the engine a state dir's bottle was made on:
// the asked engine its bottle.json names (by ID, else by endpoint), else
// the default one.
func (o Options) engineOf(e statedir.Entry) string {
	m := e.Bottle
	if !e.Meta || m.Engine == "" && m.EngineID == "" {
		return o.Default
	}
	return o.Engines.Named(m, o.EngineNames)
}
