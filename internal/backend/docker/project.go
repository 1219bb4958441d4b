package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// project removes a compose project's listed members: every container is
// checked first (with --not-running, one running container keeps the whole
// project), then the containers are force-removed concurrently, then its
// networks and volumes concurrently. If a container stays, so do the
// networks and volumes.
func (r *removal) project(ctx context.Context, item bottle.Item) bottle.Result {
	name := item.Name
	cs := make([]bottle.ResourceResult, len(item.Containers))
	got := make([]engine.Container, len(item.Containers))
	parallel(len(cs), func(i int) { cs[i], got[i] = r.inspectContainer(ctx, item.Containers[i], name) })
	inspected := map[string]engine.Container{}
	for i, c := range item.Containers {
		if cs[i].Status == "" {
			inspected[c.Name] = got[i]
		}
	}

	var running string
	r.mu.Lock()
	owned := r.ownerKept
	r.mu.Unlock()
	if owned != "" {
		// Whose bottle it is keeps every container of it, not only those
		// that were asked about while running.
		for i := range cs {
			if cs[i].Status == "" {
				cs[i].Status, cs[i].Reason = bottle.Skipped, owned
			}
		}
	}
	checked := true // every container may go: the project's volumes will
	for _, rr := range cs {
		if rr.Status == bottle.Skipped && strings.Contains(rr.Reason, "--not-running") {
			running = rr.Name
		}
		if rr.Status != "" && rr.Status != bottle.Gone {
			checked = false
		}
	}
	// The rescue, once the checks passed and before anything goes: what it
	// could not save keeps the home volume.
	home := bottle.VolumeName(name, bottle.VolHome)
	rescued := ""
	if r.opt.Rescue != nil && !r.opt.DryRun && checked && running == "" {
		err := r.rescue(ctx, item)
		if errors.Is(err, backend.ErrInterrupted) {
			why := "interrupted while its transcript was being saved: nothing of it was removed"
			return bottle.Result{Status: bottle.Skipped, Reason: why, Resources: skipAll(item, why)}
		}
		if err != nil {
			rescued = err.Error()
		}
	}
	parallel(len(cs), func(i int) {
		switch {
		case cs[i].Status != "":
		case running != "":
			cs[i].Status, cs[i].Reason = bottle.Skipped, "container "+running+" of the project runs again (the plan was made with --not-running)"
		default:
			cs[i] = r.removeContainer(ctx, cs[i])
		}
	})

	var kept string
	for _, rr := range cs {
		if rr.Status != bottle.Removed && rr.Status != bottle.Gone && rr.Status != bottle.WouldRemove {
			kept = rr.Name
			break
		}
	}
	ns := make([]bottle.ResourceResult, len(item.Networks))
	vs := make([]bottle.ResourceResult, len(item.Volumes))
	parallel(len(ns)+len(vs), func(i int) {
		if i < len(ns) {
			if kept != "" {
				ns[i] = bottle.ResourceResult{Kind: bottle.KindNetwork, Name: item.Networks[i].Name, ID: item.Networks[i].ID,
					Status: bottle.Skipped, Reason: "container " + kept + " of the project was not removed"}
				return
			}
			ns[i] = r.network(ctx, item.Networks[i], name)
			return
		}
		i -= len(ns)
		if item.Volumes[i].Container != "" {
			vs[i] = r.anonymous(ctx, item.Volumes[i], kept, inspected)
			return
		}
		if kept != "" {
			vs[i] = bottle.ResourceResult{Kind: bottle.KindVolume, Name: item.Volumes[i].Name, ID: item.Volumes[i].Name,
				Status: bottle.Skipped, Reason: "container " + kept + " of the project was not removed"}
			return
		}
		if rescued != "" && item.Volumes[i].Name == home {
			vs[i] = bottle.ResourceResult{Kind: bottle.KindVolume, Name: home, ID: home, Status: bottle.Failed, Error: rescued}
			return
		}
		vs[i] = r.volume(ctx, item.Volumes[i], name)
	})
	all := append(append(cs, ns...), vs...)
	return Rollup(all)
}

// rescue runs the removal's Rescue step in a slot of its own.
func (r *removal) rescue(ctx context.Context, item bottle.Item) error {
	if r.opt.Acquire != nil {
		release, err := r.opt.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("%w", backend.ErrInterrupted)
		}
		defer release()
	}
	return r.opt.Rescue(ctx, item)
}

// skipAll answers every member of a project skipped, for reason: nothing
// of it was touched.
func skipAll(item bottle.Item, reason string) []bottle.ResourceResult {
	var all []bottle.ResourceResult
	for _, c := range item.Containers {
		all = append(all, bottle.ResourceResult{Kind: bottle.KindContainer, Name: c.Name, ID: c.ID, Status: bottle.Skipped, Reason: reason})
	}
	for _, n := range item.Networks {
		all = append(all, bottle.ResourceResult{Kind: bottle.KindNetwork, Name: n.Name, ID: n.ID, Status: bottle.Skipped, Reason: reason})
	}
	for _, v := range item.Volumes {
		all = append(all, bottle.ResourceResult{Kind: bottle.KindVolume, Name: v.Name, ID: v.Name, Status: bottle.Skipped, Reason: reason})
	}
	return all
}

// Rollup sums up a project's members: failed over skipped over
// would-remove over removed over gone; the reason or error names the first
// member that decided it.
func Rollup(members []bottle.ResourceResult) bottle.Result {
	rank := map[string]int{bottle.Gone: 0, bottle.Removed: 1, bottle.WouldRemove: 2, bottle.Skipped: 3, bottle.Failed: 4}
	res := bottle.Result{Status: bottle.Gone, Resources: members}
	var first *bottle.ResourceResult
	n := 0
	for i := range members {
		m := &members[i]
		switch {
		case rank[m.Status] > rank[res.Status]:
			res.Status, first, n = m.Status, m, 1
		case m.Status == res.Status:
			n++
		}
	}
	if first == nil || (res.Status != bottle.Failed && res.Status != bottle.Skipped) {
		return res
	}
	text := first.Kind + " " + first.Name + ": " + first.Reason + first.Error
	if n > 1 {
		text += fmt.Sprintf(" (and %d more)", n-1)
	}
	if res.Status == bottle.Failed {
		res.Error = text
	} else {
		res.Reason = text
	}
	return res
}

func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}
