package plan

import (
	"fmt"
	"slices"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// The engine gives a volume's creation time in whole seconds (Docker
// 20.10), and smolvm a machine's: that time, with the name, is all that
// tells the volume or machine the plan saw from one made again under the
// same name since. A plan therefore never takes one made in its own second
// (or later): one made again after the plan is then made in a later second
// than the planned one, so the reaper always tells them apart, whatever
// the clock's resolution. The next run takes it.

// The plan's second is the engine's: a volume's creation time is read
// from the engine's clock, which may be behind this host's (a remote
// engine's, a VM's) or ahead of it. Options.Skew says how far each
// engine's clock is from this host's, never more: first from what its
// answers said in passing (the Date of the list calls' answers, whole
// seconds), and, only for an item that leaves something out by that, from
// its clock read (GET /info, once per engine), which may leave less out.
// An engine that cannot say is taken to keep this host's time; a machine's
// time is smolvm's, on this host.

// clock is the plan's time on the clock of the engine an item is in, and
// how far that clock is from this host's.
type clock struct {
	now  time.Time
	skew time.Duration
}

// clockOf is the plan's time on the clock that made it (exact: as the
// engine's clock was read).
func (o Options) clockOf(it bottle.Item, exact bool) clock {
	if it.Kind == bottle.KindMachine || o.Skew == nil {
		return clock{now: o.Now}
	}
	skew, ok := o.Skew(it.Engine, exact)
	if !ok {
		return clock{now: o.Now}
	}
	return clock{now: o.Now.Add(skew), skew: skew}
}

// next is the first time on this host's clock at which the clock's plan
// second is over.
func (c clock) next() time.Time { return c.now.Truncate(time.Second).Add(time.Second).Add(-c.skew) }

// leaveFreshOn is leaveFresh on the item's engine's clock (clockOf): as its
// answers said, and when that leaves something out, as its clock reads.
func (o Options) leaveFreshOn(it bottle.Item) (_ bottle.Item, ok bool, notes []string, c clock) {
	c = o.clockOf(it, false)
	out, ok, notes := leaveFresh(it, c.now)
	if len(notes) == 0 || it.Kind == bottle.KindMachine || o.Skew == nil {
		return out, ok, notes, c
	}
	skew, read := o.Skew(it.Engine, true)
	if !read {
		return out, ok, notes, c
	}
	c = clock{now: o.Now.Add(skew), skew: skew}
	out, ok, notes = leaveFresh(it, c.now)
	return out, ok, notes, c
}

// sameSecond reports whether t (a whole-second identity) is not strictly
// earlier than the second of now, the plan's time. An unknown t is not.
func sameSecond(t *time.Time, now time.Time) bool {
	return t != nil && !t.Truncate(time.Second).Before(now.Truncate(time.Second))
}

// leaveFresh returns it without the named volumes made in the plan's
// second, or ok false when nothing of it is left to plan (a volume or a
// machine made in that second), with a note for each left out.
func leaveFresh(it bottle.Item, now time.Time) (_ bottle.Item, ok bool, notes []string) {
	note := func(kind, name string, t *time.Time) {
		notes = append(notes, fmt.Sprintf("left out %s %s: it was made at %s, in the second this plan was made in, so a %s made again under its name could not be told from it; the next run takes it",
			kind, name, t.UTC().Format(time.RFC3339), kind))
	}
	switch it.Kind {
	case bottle.KindVolume, bottle.KindMachine:
		if sameSecond(it.Created, now) {
			note(it.Kind, it.Name, it.Created)
			return it, false, notes
		}
		return it, true, nil
	case bottle.KindComposeProject:
		if !slices.ContainsFunc(it.Volumes, func(v bottle.Volume) bool { return v.Container == "" && sameSecond(v.Created, now) }) {
			return it, true, nil
		}
		// Anonymous volumes are named by the engine (64 random hex
		// digits), never made again under one name: they go with their
		// container.
		var keep []bottle.Volume
		for _, v := range it.Volumes {
			if v.Container == "" && sameSecond(v.Created, now) {
				note(bottle.KindVolume, v.Name, v.Created)
				continue
			}
			keep = append(keep, v)
		}
		it.Volumes = keep
		if it.Volumes == nil {
			it.Volumes = []bottle.Volume{}
		}
		return it, len(it.Containers)+len(it.Networks)+len(it.Volumes) > 0, notes
	}
	return it, true, nil
}
