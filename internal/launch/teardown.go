package launch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/retry"
)

// sweep adds to what teardown removes whatever the engine holds with this
// bottle's project label that the launch did not record (a create cut off
// by an interrupt or a dead launcher may still have been done). It reports
// how many it added; a listing error leaves the record as it is.
func (b *Launched) sweep(ctx context.Context) (int, error) {
	w, err := engine.ListAll(ctx, b.eng)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	known := b.recorded()
	added := 0
	for _, c := range w.Containers {
		if b.ours(c.Labels) && !known[c.ID] {
			svc := c.Labels[compose.LabelService]
			b.containers = append(b.containers, bottle.Container{Name: c.Name, ID: c.ID, Service: svc, State: c.State})
			if _, ok := b.ids[svc]; !ok && svc != "" {
				b.ids[svc] = c.ID
			}
			added++
		}
	}
	for _, n := range w.Networks {
		if b.ours(n.Labels) && !known[n.ID] {
			b.networks = append(b.networks, bottle.Network{Name: n.Name, ID: n.ID})
			added++
		}
	}
	for _, v := range w.Volumes {
		if b.ours(v.Labels) && !known[v.Name] {
			b.volumes = append(b.volumes, bottle.Volume{Name: v.Name, ID: v.Name})
			added++
		}
	}
	return added, nil
}

// recorded is the set of what the launch recorded: container and network
// IDs, volume names. The caller holds b.mu.
func (b *Launched) recorded() map[string]bool {
	known := map[string]bool{}
	for _, c := range b.containers {
		known[c.ID] = true
	}
	for _, n := range b.networks {
		known[n.ID] = true
	}
	for _, v := range b.volumes {
		known[v.Name] = true
	}
	return known
}

// ours reports whether a resource's labels put it in this bottle's project.
func (b *Launched) ours(labels map[string]string) bool {
	return labels[compose.LabelProject] == b.Project.Name
}

// remains lists what the engine still holds of this bottle (by its project
// label), as "kind name" strings, but the volumes kept.
func (b *Launched) remains(ctx context.Context, keep []string) ([]string, error) {
	w, err := engine.ListAll(ctx, b.eng)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, c := range w.Containers {
		if b.ours(c.Labels) {
			left = append(left, "container "+c.Name)
		}
	}
	for _, n := range w.Networks {
		if b.ours(n.Labels) {
			left = append(left, "network "+n.Name)
		}
	}
	for _, v := range w.Volumes {
		if b.ours(v.Labels) && !slices.Contains(keep, v.Name) {
			left = append(left, "volume "+v.Name)
		}
	}
	sort.Strings(left)
	return left, nil
}

// removeAll removes everything of the bottle but what keep names (a home
// volume; a smolmachines bottle's machine, by the project's name): what
// the launch recorded and whatever the engine holds with its project label
// (sweep), again until a listing shows nothing of it (a create the engine
// finishes late shows up in a later round). It returns nil only once a
// listing proved the engine holds nothing else of the bottle.
func (b *Launched) removeAll(ctx context.Context, keep ...string) error {
	if b.smol != nil {
		return b.smolRemoveAll(ctx, slices.Contains(keep, b.Project.Name))
	}
	return untilGone(ctx, func() []error {
		var errs []error
		if _, serr := b.sweep(ctx); serr != nil {
			errs = append(errs, fmt.Errorf("listing the bottle's resources: %w", serr))
		}
		if terr := b.teardown(ctx, keep); terr != nil {
			errs = append(errs, terr)
		}
		left, lerr := b.remains(ctx, keep)
		switch {
		case lerr != nil:
			errs = append(errs, fmt.Errorf("checking that nothing is left: %w", lerr))
		case len(left) > 0:
			errs = append(errs, fmt.Errorf("still on the engine: %s", strings.Join(left, ", ")))
		}
		return errs
	})
}

// removalRounds are the waits before each next removal round: a little
// longer each time, so what a late create made shows up in a later round.
var removalRounds = retry.Policy{Delays: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond}}

// untilGone runs round (removals, then a look at what is left) until one
// reports no error, removalRounds.Tries() times at most. A round cut short
// by ctx's end says so beside the last round's errors.
func untilGone(ctx context.Context, round func() []error) error {
	tries := 0
	err := retry.Do(ctx, removalRounds, func(error) bool { return true }, func() error {
		tries++
		return errors.Join(round()...)
	})
	if err != nil && tries < removalRounds.Tries() && ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return err
}

// teardown removes every container this launch made, and each network and
// volume (but those kept) as soon as the containers that use it are gone
// (the volume waits for the agent, the egress network for the sidecar, the
// internal network for both; anything else for every container). 404
// counts as done. A container's wait for its kill is bounded.
func (b *Launched) teardown(ctx context.Context, keep []string) error {
	b.mu.Lock()
	containers, networks, volumes := slices.Clone(b.containers), slices.Clone(b.networks), slices.Clone(b.volumes)
	b.mu.Unlock()
	var mu sync.Mutex
	var errs []error
	report := func(err error) {
		if err != nil && !engine.IsNotFound(err) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
	}
	// Each container is killed first: a network lets go of a stopped
	// container at once, so the networks are removed while the engine is
	// still deleting the containers' file systems. A volume stays in use
	// until its container is gone.
	index := map[string]int{} // service (or ID) -> container index
	stopped := make([]chan struct{}, len(containers))
	gone := make([]chan struct{}, len(containers))
	for i, c := range containers {
		stopped[i], gone[i] = make(chan struct{}), make(chan struct{})
		key := c.Service
		if _, dup := index[key]; dup || key == "" {
			key = c.ID
		}
		index[key] = i
	}
	after := func(chs []chan struct{}, services ...string) []chan struct{} {
		var out []chan struct{}
		for _, s := range services {
			if i, ok := index[s]; ok {
				out = append(out, chs[i])
			}
		}
		if len(index) > 2 || len(out) == 0 && len(services) > 0 {
			return chs // containers this launch did not make itself: wait for all
		}
		return out
	}
	var wg sync.WaitGroup
	for i, c := range containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(gone[i])
			stop := sync.OnceFunc(func() { close(stopped[i]) })
			defer stop()
			// Best effort: a container that is not running (or not there)
			// needs no kill; removal below reports what matters.
			if err := b.eng.Kill(ctx, c.ID, "KILL"); err == nil {
				wctx, cancel := context.WithTimeout(ctx, killWait)
				_, _ = b.eng.Wait(wctx, c.ID)
				cancel()
			}
			stop()
			report(retry.Do(ctx, briefly, engine.IsTransient, func() error {
				if err := b.eng.RemoveContainer(ctx, c.ID); err != nil {
					return fmt.Errorf("removing container %s: %w", c.Name, err)
				}
				return nil
			}))
		}()
	}
	wait := func(chs []chan struct{}) {
		for _, ch := range chs {
			<-ch
		}
	}
	for _, n := range networks {
		deps := gone
		switch n.Name {
		case b.Project.NetworkName(bottle.NetEgress):
			deps = after(stopped, bottle.ServiceSidecar)
			if i, ok := index[bottle.ServiceSidecar]; ok && len(deps) == 1 {
				deps = []chan struct{}{b.disconnect(ctx, n.ID, containers[i].ID, stopped[i])}
			}
		case b.Project.NetworkName(bottle.NetInternal):
			deps = after(stopped, bottle.ServiceSidecar, bottle.ServiceAgent)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait(deps)
			report(retry.Do(ctx, briefly, func(err error) bool { return engine.IsActiveEndpoints(err) || engine.IsTransient(err) }, func() error {
				if err := b.eng.RemoveNetwork(ctx, n.ID); err != nil {
					return fmt.Errorf("removing network %s: %w", n.Name, err)
				}
				return nil
			}))
		}()
	}
	for _, v := range volumes {
		if slices.Contains(keep, v.Name) {
			continue
		}
		deps := gone
		if v.Name == b.Project.VolumeName(bottle.VolHome) {
			deps = after(gone, bottle.ServiceAgent)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait(deps)
			report(retry.Do(ctx, briefly, func(err error) bool { return engine.IsInUse(err) || engine.IsTransient(err) }, func() error {
				if err := b.eng.RemoveVolume(ctx, v.Name); err != nil {
					return fmt.Errorf("removing volume %s: %w", v.Name, err)
				}
				return nil
			}))
		}()
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// disconnect takes the container off the network (forced, beside its
// kill) and closes the returned channel once it is off: the sidecar's
// stop, which lets go of two endpoints, then need not hold up the egress
// network's removal (docs/CONTRIBUTING.md, Speed). When the disconnect
// fails, the channel closes once the container stopped, as if there were
// none.
func (b *Launched) disconnect(ctx context.Context, network, id string, stopped chan struct{}) chan struct{} {
	off := make(chan struct{})
	go func() {
		defer close(off)
		if err := b.eng.Disconnect(ctx, network, id); err != nil && !engine.IsNotFound(err) {
			<-stopped
		}
	}()
	return off
}

// briefly is how a removal is tried again while its error is one that
// passes (a network's endpoints, a volume in use, a transient error): nine
// tries within about four seconds.
var briefly = retry.Backoff(50*time.Millisecond, time.Second, 8)

// killWait bounds the wait for a killed container to stop: the removal
// that follows forces it anyway.
const killWait = 10 * time.Second
