package smolvm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
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
// machine that cannot be deleted never keeps its bundle parts (the reaper
// only makes the network wait until the containers and machines are
// answered, however they ended).
func (b *Backend) Remove(ctx context.Context, it bottle.Item, opt backend.RemoveOptions) bottle.Result {
	start := time.Now()
	var r bottle.Result
	switch {
	case b.Check(it) != "":
		r = invalid(b.Check(it))
	case it.Kind == bottle.KindMachine:
		r = b.removeMachine(ctx, it, opt)
	default:
		r = b.removeBundlePart(ctx, it, opt)
	}
	r.ElapsedMS = time.Since(start).Milliseconds()
	return r
}

// removeBundlePart removes a bundle container or network exactly as the
// docker backend removes its stray ones, unless the planned ID is in one of
// our compose projects: then it is the docker backend's (labels never
// change, so only a plan that was not made by this backend says otherwise).
func (b *Backend) removeBundlePart(ctx context.Context, it bottle.Item, opt backend.RemoveOptions) bottle.Result {
	var labels map[string]string
	var err error
	if it.Kind == bottle.KindContainer {
		var c engine.Container
		c, err = b.API.InspectContainer(ctx, it.ID)
		labels = c.Labels
	} else {
		var n engine.Network
		n, err = b.API.InspectNetwork(ctx, it.ID)
		labels = n.Labels
	}
	if err == nil && compose.InProject(labels, b.Prefix) {
		return skipped(fmt.Sprintf("%s %s is in compose project %s: the docker backend's, not a smolmachines bundle part", it.Kind, it.Name, labels[compose.LabelProject]))
	}
	// Any error (not found included) is the docker removal's to answer.
	return b.Lone.Remove(ctx, it, opt)
}

// Check says why an item is not one this backend will act on, or "": the
// name must carry the prefix; a machine's id, if given, is its name; a
// bundle container or network has a bundle name and a full engine ID (the
// docker backend's rule).
func (b *Backend) Check(it bottle.Item) string {
	switch {
	case !b.Handles(it):
		return fmt.Sprintf("the smolmachines backend does not remove %q items", it.Kind)
	case !bottle.HasPrefix(it.Name, b.Prefix):
		return fmt.Sprintf("name %q does not start with the prefix %q", it.Name, b.Prefix)
	case it.Kind == bottle.KindMachine:
		if it.ID != "" && it.ID != it.Name {
			return fmt.Sprintf("a machine's id is its name: id %q is not %q", it.ID, it.Name)
		}
		if len(it.Containers)+len(it.Networks)+len(it.Volumes) > 0 {
			return "a machine lists no containers, networks or volumes"
		}
		return ""
	}
	if why := b.bundleName(it.Name); why != "" {
		return why
	}
	return b.Lone.Check(it)
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
// still exists (and is the one planned: same created_at), then has its
// transcript saved (opt.Rescue), then stops and deletes it. "vm not found" at any step means someone else removed it.
func (b *Backend) removeMachine(ctx context.Context, it bottle.Item, opt backend.RemoveOptions) bottle.Result {
	if b.CLIErr != nil {
		return failed(b.CLIErr)
	}
	if !b.CLI.Present() {
		return failed(smolvmcli.ErrMissing)
	}
	ms, err := b.CLI.List(ctx)
	if err != nil {
		return failed(err)
	}
	var m *smolvmcli.Machine
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
		// The run is stopping: nothing new starts.
		return skipped(err.Error())
	}
	defer release()
	// The rescue, holding this slot, once the checks passed and before
	// anything goes: the machine's disk holds the agent's transcript, and
	// a machine whose transcript could not be saved stays.
	if opt.Rescue != nil {
		if err := opt.Rescue(ctx, it); errors.Is(err, backend.ErrInterrupted) {
			return skipped("interrupted while its transcript was being saved: nothing of it was removed")
		} else if err != nil {
			return failed(err)
		}
	}
	// Stop first, as the issue asks; delete stops a running machine itself
	// too, so a failed stop is said but does not stop the delete.
	stopErr := b.CLI.Stop(ctx, it.Name)
	if smolvmcli.IsNotFound(stopErr) {
		return bottle.Result{Status: bottle.Gone, Reason: "removed by someone else while reaping"}
	}
	if err := b.CLI.Delete(ctx, it.Name); err != nil {
		if smolvmcli.IsNotFound(err) {
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
