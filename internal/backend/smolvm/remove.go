package smolvm

import (
	"context"
	"fmt"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// Handles reports whether item is a smolmachines machine, bundle container
// or bundle network.
func (b *Backend) Handles(it bottle.Item) bool {
	if it.Backend != bottle.Smolmachines {
		return false
	}
	switch it.Kind {
	case bottle.KindMachine, bottle.KindContainer, bottle.KindNetwork:
		return true
	}
	return false
}

// Remove re-validates one item at the moment it acts and removes it: a
// machine with `smolvm machine stop` then `smolvm machine delete -f`, a
// bundle container by force, a bundle network. Each item stands alone, so a
// machine that cannot be deleted never keeps its bundle parts.
func (b *Backend) Remove(ctx context.Context, it bottle.Item, opt backend.RemoveOptions) bottle.Result {
	start := time.Now()
	var r bottle.Result
	switch {
	case !b.Handles(it):
		r = invalid("not a smolmachines machine, container or network")
	case !bottle.HasPrefix(it.Name, b.Prefix):
		r = invalid(fmt.Sprintf("name %q does not start with the prefix %q", it.Name, b.Prefix))
	case it.Kind == bottle.KindMachine:
		r = b.removeMachine(ctx, it, opt)
	case it.Kind == bottle.KindContainer:
		r = b.removeContainer(ctx, it, opt)
	default:
		r = b.removeNetwork(ctx, it, opt)
	}
	r.ElapsedMS = time.Since(start).Milliseconds()
	return r
}

func invalid(why string) bottle.Result { return bottle.Result{Status: bottle.Invalid, Reason: why} }
func skipped(why string) bottle.Result { return bottle.Result{Status: bottle.Skipped, Reason: why} }
func failed(err error) bottle.Result   { return bottle.Result{Status: bottle.Failed, Error: err.Error()} }

func acquire(ctx context.Context, opt backend.RemoveOptions) (func(), error) {
	if opt.Acquire == nil || opt.DryRun {
		return func() {}, nil
	}
	return opt.Acquire(ctx)
}

// removeMachine confirms, by listing, that a machine of exactly that name
// still exists (and is the one planned: same created_at), then stops and
// deletes it. "vm not found" at any step means someone else removed it.
func (b *Backend) removeMachine(ctx context.Context, it bottle.Item, opt backend.RemoveOptions) bottle.Result {
	if it.ID != "" && it.ID != it.Name {
		return invalid(fmt.Sprintf("a machine's id is its name: id %q is not %q", it.ID, it.Name))
	}
	if b.CLIErr != nil {
		return failed(b.CLIErr)
	}
	if !b.CLI.Present() {
		return failed(ErrMissing)
	}
	ms, err := b.CLI.List(ctx)
	if err != nil {
		return failed(err)
	}
	var m *Machine
	for i := range ms {
		if ms[i].Name == it.Name {
			m = &ms[i]
		}
	}
	switch {
	case m == nil:
		return bottle.Result{Status: bottle.Gone}
	case it.Created != nil && !m.Created.IsZero() && !m.Created.Truncate(time.Second).Equal(it.Created.Truncate(time.Second)):
		return skipped(fmt.Sprintf("changed since plan: machine %s was created again at %s", it.Name, m.Created.Format(time.RFC3339)))
	case it.NotRunning && bottle.Active(m.State):
		return skipped("running again (planned with --not-running)")
	case opt.DryRun:
		return bottle.Result{Status: bottle.WouldRemove}
	}
	release, err := acquire(ctx, opt)
	if err != nil {
		return failed(err)
	}
	defer release()
	// Stop first, as the issue asks; delete stops a running machine itself
	// too, so a failed stop is said but does not stop the delete.
	stopErr := b.CLI.Stop(ctx, it.Name)
	if IsNotFound(stopErr) {
		return bottle.Result{Status: bottle.Gone, Reason: "removed by someone else while reaping"}
	}
	if err := b.CLI.Delete(ctx, it.Name); err != nil {
		if IsNotFound(err) {
			return bottle.Result{Status: bottle.Gone, Reason: "removed by someone else while reaping"}
		}
		if stopErr != nil {
			err = fmt.Errorf("%v (stop failed first: %v)", err, stopErr)
		}
		return failed(err)
	}
	return bottle.Result{Status: bottle.Removed}
}

// owns reports whether a container or network is a bundle part of this
// backend's prefix right now.
func (b *Backend) owns(name string, labels map[string]string) bool {
	_, ok := Bundle(name, labels, b.Prefix)
	return ok
}

// bundleName says why name is not a bundle part's name of this prefix, or "".
func (b *Backend) bundleName(name string) string {
	if !b.owns(name, nil) {
		return fmt.Sprintf("name %q is not a smolmachines bundle name (%ssidecars-<slug> or %sbundle-<slug>)", name, b.Prefix, b.Prefix)
	}
	return ""
}

// removeContainer re-inspects the container by its planned ID: another
// container under the planned name, a renamed one or one now in a compose
// project is skipped as changed since the plan.
func (b *Backend) removeContainer(ctx context.Context, it bottle.Item, opt backend.RemoveOptions) bottle.Result {
	if why := b.bundleName(it.Name); why != "" {
		return invalid(why)
	}
	if it.ID == "" {
		return invalid("a container item needs the id the plan saw")
	}
	c, err := b.API.InspectContainer(ctx, it.ID)
	if engine.IsNotFound(err) {
		return b.goneOrReplaced(ctx, it, func(ctx context.Context) (string, error) {
			c, err := b.API.InspectContainer(ctx, it.Name)
			return c.ID, err
		})
	}
	if err != nil {
		return failed(err)
	}
	switch {
	case c.Name != it.Name:
		return skipped(fmt.Sprintf("changed since plan: container %s is now named %s", short(it.ID), c.Name))
	case !b.owns(c.Name, c.Labels):
		return skipped("changed since plan: the container now belongs to a compose project")
	case it.NotRunning && bottle.Active(c.State):
		return skipped("running again (planned with --not-running)")
	case opt.DryRun:
		return bottle.Result{Status: bottle.WouldRemove}
	}
	release, err := acquire(ctx, opt)
	if err != nil {
		return failed(err)
	}
	defer release()
	err = retry(ctx, engine.IsTransient, func() error { return b.API.RemoveContainer(ctx, c.ID) })
	switch {
	case engine.IsNotFound(err):
		return bottle.Result{Status: bottle.Gone}
	case err != nil:
		return failed(err)
	}
	return bottle.Result{Status: bottle.Removed}
}

// removeNetwork re-inspects the network by its planned ID and removes it,
// retrying briefly while containers are still attached (the bundle
// container may be being removed right now).
func (b *Backend) removeNetwork(ctx context.Context, it bottle.Item, opt backend.RemoveOptions) bottle.Result {
	if why := b.bundleName(it.Name); why != "" {
		return invalid(why)
	}
	if it.ID == "" {
		return invalid("a network item needs the id the plan saw")
	}
	n, err := b.API.InspectNetwork(ctx, it.ID)
	if engine.IsNotFound(err) {
		return b.goneOrReplaced(ctx, it, func(ctx context.Context) (string, error) {
			n, err := b.API.InspectNetwork(ctx, it.Name)
			return n.ID, err
		})
	}
	if err != nil {
		return failed(err)
	}
	switch {
	case n.Name != it.Name:
		return skipped(fmt.Sprintf("changed since plan: network %s is now named %s", short(it.ID), n.Name))
	case !b.owns(n.Name, n.Labels):
		return skipped("changed since plan: the network now belongs to a compose project")
	case opt.DryRun:
		return bottle.Result{Status: bottle.WouldRemove}
	}
	release, err := acquire(ctx, opt)
	if err != nil {
		return failed(err)
	}
	defer release()
	err = retry(ctx, func(err error) bool { return engine.IsActiveEndpoints(err) || engine.IsTransient(err) },
		func() error { return b.API.RemoveNetwork(ctx, n.ID) })
	switch {
	case engine.IsNotFound(err):
		return bottle.Result{Status: bottle.Gone}
	case engine.IsActiveEndpoints(err):
		return failed(fmt.Errorf("%v: containers are still attached", err))
	case err != nil:
		return failed(err)
	}
	return bottle.Result{Status: bottle.Removed}
}

// goneOrReplaced answers a planned ID the engine no longer has: gone, or
// skipped when something else now carries the planned name.
func (b *Backend) goneOrReplaced(ctx context.Context, it bottle.Item, byName func(context.Context) (string, error)) bottle.Result {
	id, err := byName(ctx)
	switch {
	case engine.IsNotFound(err):
		return bottle.Result{Status: bottle.Gone}
	case err != nil:
		return failed(err)
	case id != it.ID:
		return skipped(fmt.Sprintf("changed since plan: %s is now another %s (id %s, planned %s)", it.Name, it.Kind, short(id), short(it.ID)))
	}
	return bottle.Result{Status: bottle.Gone}
}

// retry calls f until it succeeds, fails with an error again does not
// match, or about 5 s have passed.
func retry(ctx context.Context, again func(error) bool, f func() error) error {
	delay := 50 * time.Millisecond
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		if err == nil || !again(err) || time.Now().After(deadline) {
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

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
