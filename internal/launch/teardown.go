package launch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend/docker"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// sweep adds to what teardown removes whatever the engine holds with this
// bottle's project label that the launch did not record (a create cut off
// by an interrupt may still have been done). A listing error leaves the
// record as it is.
func (b *Bottle) sweep(ctx context.Context) {
	w, err := docker.List(ctx, b.eng)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
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
	ours := func(labels map[string]string) bool { return labels[docker.LabelProject] == b.Project.Name }
	for _, c := range w.Containers {
		if ours(c.Labels) && !known[c.ID] {
			b.containers = append(b.containers, bottle.Container{Name: c.Name, ID: c.ID, Service: c.Labels[docker.LabelService], State: c.State})
		}
	}
	for _, n := range w.Networks {
		if ours(n.Labels) && !known[n.ID] {
			b.networks = append(b.networks, bottle.Network{Name: n.Name, ID: n.ID})
		}
	}
	for _, v := range w.Volumes {
		if ours(v.Labels) && !known[v.Name] {
			b.volumes = append(b.volumes, bottle.Volume{Name: v.Name, ID: v.Name})
		}
	}
}

// teardown removes every container this launch made, and each network and
// volume as soon as the containers that use it are gone (the volume waits
// for the agent, the egress network for the sidecar, the internal network
// for both; anything else for every container). 404 counts as done.
func (b *Bottle) teardown(ctx context.Context) error {
	b.mu.Lock()
	containers, networks, volumes := slicesClone(b.containers), slicesClone(b.networks), slicesClone(b.volumes)
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
				_, _ = b.eng.Wait(ctx, c.ID)
			}
			stop()
			report(retry(ctx, engine.IsTransient, func() error {
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
		case b.Project.NetworkName(NetEgress):
			deps = after(stopped, ServiceSidecar)
		case b.Project.NetworkName(NetInternal):
			deps = after(stopped, ServiceSidecar, ServiceAgent)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait(deps)
			report(retry(ctx, func(err error) bool { return engine.IsActiveEndpoints(err) || engine.IsTransient(err) }, func() error {
				if err := b.eng.RemoveNetwork(ctx, n.ID); err != nil {
					return fmt.Errorf("removing network %s: %w", n.Name, err)
				}
				return nil
			}))
		}()
	}
	for _, v := range volumes {
		deps := gone
		if v.Name == b.Project.VolumeName(VolHome) {
			deps = after(gone, ServiceAgent)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wait(deps)
			report(retry(ctx, func(err error) bool { return engine.IsInUse(err) || engine.IsTransient(err) }, func() error {
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

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

// retry runs f again, briefly, while its error is one that passes.
func retry(ctx context.Context, again func(error) bool, f func() error) error {
	delay := 50 * time.Millisecond
	for i := 0; ; i++ {
		err := f()
		if err == nil || !again(err) || i >= 8 {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}
