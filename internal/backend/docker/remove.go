package docker

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/compose"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/retry"
)

var _ backend.Remover = (*Backend)(nil)

// Retry is how the docker backend tries an engine call again.
type Retry struct {
	// Transient is for a call that failed transiently (connection reset,
	// removal already in progress).
	Transient retry.Policy
	// Endpoints is for a network removal the engine refused because
	// containers are still attached: right after those containers went, the
	// engine may not have let go of them yet.
	Endpoints retry.Policy
}

// DefaultRetry is the retry of a Backend whose Retry is nil: five retries,
// 50 ms to 0.8 s apart for transient errors and 0.1 s to 1 s apart for
// attached endpoints.
func DefaultRetry() Retry {
	return Retry{
		Transient: retry.Backoff(50*time.Millisecond, 800*time.Millisecond, 5),
		Endpoints: retry.Backoff(100*time.Millisecond, time.Second, 5),
	}
}

// retries is the removal's Retry: its backend's, or DefaultRetry.
func (r *removal) retries() Retry {
	if r.retry != nil {
		return *r.retry
	}
	return DefaultRetry()
}

// Handles reports whether item is a docker compose project, container,
// network or volume.
func (b *Backend) Handles(item bottle.Item) bool {
	if item.Backend != bottle.Docker {
		return false
	}
	switch item.Kind {
	case bottle.KindComposeProject, bottle.KindContainer, bottle.KindNetwork, bottle.KindVolume:
		return true
	}
	return false
}

var fullID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Check says why an item is not one the backend will act on ("" when it
// is): names must carry the prefix, containers and networks need their full
// engine ID, volumes their name.
func (b *Backend) Check(item bottle.Item) string {
	if !bottle.HasPrefix(item.Name, b.Prefix) {
		return fmt.Sprintf("name %q does not start with the prefix %q", item.Name, b.Prefix)
	}
	member := func(kind, name, id string) string {
		if !bottle.HasPrefix(name, b.Prefix) {
			return fmt.Sprintf("%s name %q does not start with the prefix %q", kind, name, b.Prefix)
		}
		switch kind {
		case bottle.KindVolume:
			if id != "" && id != name {
				return fmt.Sprintf("volume %q: its id must be its name", name)
			}
		default:
			if !fullID.MatchString(id) {
				return fmt.Sprintf("%s %q: id %q is not a full engine ID (64 hex digits)", kind, name, id)
			}
		}
		return ""
	}
	// volume checks a volume member: one of ours by name, or the anonymous
	// volume (named by the engine) of one of the item's containers.
	volume := func(v bottle.Volume, containers []string) string {
		if v.Container == "" {
			return member(bottle.KindVolume, v.Name, v.ID)
		}
		switch {
		case !anonymousName(v.Name):
			return fmt.Sprintf("volume %q of container %q: only an anonymous volume (64 hex digits) names its container", v.Name, v.Container)
		case v.ID != "" && v.ID != v.Name:
			return fmt.Sprintf("volume %q: its id must be its name", v.Name)
		case !slices.Contains(containers, v.Container):
			return fmt.Sprintf("volume %q: container %q is not one this item removes", v.Name, v.Container)
		}
		return ""
	}
	switch item.Kind {
	case bottle.KindComposeProject:
		if item.ID != "" && item.ID != item.Name {
			return "a compose project has no id of its own"
		}
		if len(item.Containers)+len(item.Networks)+len(item.Volumes) == 0 {
			return "the compose project lists no containers, networks or volumes"
		}
		for _, c := range item.Containers {
			if why := member(bottle.KindContainer, c.Name, c.ID); why != "" {
				return why
			}
		}
		for _, n := range item.Networks {
			if why := member(bottle.KindNetwork, n.Name, n.ID); why != "" {
				return why
			}
		}
		var names []string
		for _, c := range item.Containers {
			names = append(names, c.Name)
		}
		for _, v := range item.Volumes {
			if why := volume(v, names); why != "" {
				return why
			}
		}
		return ""
	case bottle.KindContainer:
		if len(item.Containers)+len(item.Networks) > 0 {
			return "only a compose project lists containers or networks"
		}
		for _, v := range item.Volumes {
			if v.Container == "" {
				return fmt.Sprintf("volume %q: a container item lists only its anonymous volumes (with \"container\")", v.Name)
			}
			if why := volume(v, []string{item.Name}); why != "" {
				return why
			}
		}
		return member(item.Kind, item.Name, item.ID)
	case bottle.KindNetwork, bottle.KindVolume:
		if len(item.Containers)+len(item.Networks)+len(item.Volumes) > 0 {
			return "only a compose project lists containers, networks or volumes"
		}
		return member(item.Kind, item.Name, item.ID)
	}
	return fmt.Sprintf("the docker backend does not remove %q items", item.Kind)
}

// Remove re-validates item against the engine and removes it: a compose
// project the way `docker compose down --volumes` does (its containers
// force-removed, then its networks and volumes), a container by force, a
// network or a volume. Only the resources the item lists are touched, each
// by its ID, and only while its name and compose label still say it is the
// planned one.
func (b *Backend) Remove(ctx context.Context, item bottle.Item, opt backend.RemoveOptions) bottle.Result {
	if why := b.Check(item); why != "" {
		return bottle.Result{Status: bottle.Invalid, Reason: why}
	}
	r := &removal{item: item, api: b.API, opt: opt, notRunning: item.NotRunning, lone: item.Kind != bottle.KindComposeProject, mine: map[string]bool{}, retry: b.Retry}
	for _, c := range item.Containers {
		r.mine[c.ID] = true
	}
	switch item.Kind {
	case bottle.KindContainer:
		r.mine[item.ID] = true
		if len(item.Volumes) > 0 {
			return r.withVolumes(ctx, item)
		}
		return single(r.container(ctx, bottle.Container{Name: item.Name, ID: item.ID}, ""))
	case bottle.KindNetwork:
		return single(r.network(ctx, bottle.Network{Name: item.Name, ID: item.ID}, ""))
	case bottle.KindVolume:
		return single(r.volume(ctx, bottle.Volume{Name: item.Name, ID: item.Name, Created: item.Created}, ""))
	}
	return r.project(ctx, item)
}

// withVolumes removes a lone container, then the anonymous volumes the item
// lists for it.
func (r *removal) withVolumes(ctx context.Context, item bottle.Item) bottle.Result {
	rr, c := r.inspectContainer(ctx, bottle.Container{Name: item.Name, ID: item.ID}, "")
	if rr.Status == "" {
		rr = r.removeContainer(ctx, rr)
	}
	all := []bottle.ResourceResult{rr}
	kept := ""
	if rr.Status != bottle.Removed && rr.Status != bottle.WouldRemove {
		kept = item.Name
	}
	for _, v := range item.Volumes {
		all = append(all, r.anonymous(ctx, v, kept, map[string]engine.Container{item.Name: c}))
	}
	res := Rollup(all)
	res.Resources = all
	return res
}

// anonymous removes an anonymous volume of one of the item's containers,
// once that container is gone: only if the container's inspection (before it
// was removed) showed the volume as one the engine made for it. A container
// that was gone already shows nothing, so its volume stays.
func (r *removal) anonymous(ctx context.Context, v bottle.Volume, kept string, inspected map[string]engine.Container) bottle.ResourceResult {
	rr := bottle.ResourceResult{Kind: bottle.KindVolume, Name: v.Name, ID: v.Name}
	if kept != "" {
		rr.Status, rr.Reason = bottle.Skipped, "container "+kept+" was not removed"
		return rr
	}
	c := inspected[v.Container]
	if !slices.ContainsFunc(c.Mounts, func(m engine.Mount) bool { return m.Anonymous && m.Name == v.Name }) {
		rr.Status, rr.Reason = bottle.Skipped, fmt.Sprintf("not an anonymous volume of container %s (or that container was gone already, so nothing shows it was); never removed", v.Container)
		return rr
	}
	return r.volume(ctx, v, "")
}

func single(rr bottle.ResourceResult) bottle.Result {
	return bottle.Result{Status: rr.Status, Reason: rr.Reason, Error: rr.Error}
}

type removal struct {
	item       bottle.Item // as planned
	api        engine.API
	opt        backend.RemoveOptions
	notRunning bool
	retry      *Retry // how calls are tried again; nil is DefaultRetry()
	// lone is set for a lone container, network or volume item: a stray,
	// which carries no compose project label. A member of a compose project
	// is removed only through its project's item, never one by one (that
	// would pass by the project's checks, such as its launcher's lock).
	lone bool
	// ownerKept names the first container Owner kept: whose bottle it is
	// keeps all of the project.
	mu        sync.Mutex
	ownerKept string
	// mine holds the IDs of the containers the item removes: under
	// --dry-run they still exist, and their use of a network or volume the
	// item removes too does not keep it.
	mine map[string]bool
}

// interrupted is an Acquire failure: the run is stopping, nothing new starts.
type interrupted struct{ err error }

func (i interrupted) Error() string { return i.err.Error() }

// call runs one engine call that acts (a removal) in a concurrency slot,
// retrying transient errors with backoff a bounded number of times; each
// try takes a slot of its own, so a run that is stopping starts no new try.
func (r *removal) call(ctx context.Context, f func() error) error {
	return r.try(ctx, r.opt.Acquire, f)
}

// read is call for a re-check (an inspect, a listing): its slot is
// AcquireCheck's.
func (r *removal) read(ctx context.Context, f func() error) error {
	if r.opt.AcquireCheck != nil {
		return r.try(ctx, r.opt.AcquireCheck, f)
	}
	return r.call(ctx, f)
}

func (r *removal) try(ctx context.Context, acquire func(context.Context) (func(), error), f func() error) error {
	return retry.Do(ctx, r.retries().Transient, engine.IsTransient, func() error {
		if acquire == nil {
			return f()
		}
		release, err := acquire(ctx)
		if err != nil {
			return interrupted{err}
		}
		defer release()
		return f()
	})
}

// outcome turns an error of a step into a member's result.
func outcome(rr bottle.ResourceResult, err error) bottle.ResourceResult {
	var in interrupted
	switch {
	case err == nil:
		return rr
	case asInterrupted(err, &in):
		rr.Status, rr.Reason = bottle.Skipped, in.Error()
	default:
		rr.Status, rr.Error = bottle.Failed, err.Error()
	}
	return rr
}

func asInterrupted(err error, in *interrupted) bool {
	i, ok := err.(interrupted)
	if ok {
		*in = i
	}
	return ok
}

func (r *removal) done(rr bottle.ResourceResult, remove func() error) bottle.ResourceResult {
	if r.opt.DryRun {
		rr.Status = bottle.WouldRemove
		return rr
	}
	err := remove()
	switch {
	case err == nil:
		rr.Status = bottle.Removed
	case engine.IsNotFound(err):
		rr.Status = bottle.Gone
	default:
		return outcome(rr, err)
	}
	return rr
}

// changed checks a resource the engine returned for the planned ID against
// the plan: the same ID and name, and for a project's member its label.
func changed(kind string, gotID, gotName string, labels map[string]string, want bottle.Network, project string) string {
	switch {
	case gotID != want.ID:
		return fmt.Sprintf("changed since plan: %s %s now has id %s", kind, want.Name, short(gotID))
	case gotName != want.Name:
		return fmt.Sprintf("changed since plan: %s %s is now named %s", kind, short(want.ID), gotName)
	case project != "" && labels[compose.LabelProject] != project:
		return fmt.Sprintf("not labelled as part of compose project %s (%s=%q); never removed", project, compose.LabelProject, labels[compose.LabelProject])
	}
	return ""
}

// changed is the package's changed, and for a lone item also refuses a
// member of a compose project (labelled): only that project's item removes
// it.
func (r *removal) changed(kind string, gotID, gotName string, labels map[string]string, want bottle.Network, project string) string {
	if why := changed(kind, gotID, gotName, labels, want, project); why != "" {
		return why
	}
	if p, ok := labels[compose.LabelProject]; ok && r.lone {
		return fmt.Sprintf("%s %s is in compose project %s (%s=%q): only that project's item removes it", kind, want.Name, p, compose.LabelProject, p)
	}
	return ""
}

// owner is the removal's Owner answer for a resource's labels, or "".
func (r *removal) owner(labels map[string]string, state string) string {
	if r.opt.Owner == nil {
		return ""
	}
	return r.opt.Owner(r.item, labels, state)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// byName answers a resource whose planned ID is gone: if its name now
// belongs to another resource, that one was made since the plan and stays.
func byName(rr bottle.ResourceResult, kind string, find func() (string, error)) bottle.ResourceResult {
	id, err := find()
	if err == nil && id != rr.ID {
		rr.Status, rr.Reason = bottle.Skipped, fmt.Sprintf("changed since plan: %s %s now has id %s", kind, rr.Name, short(id))
		return rr
	}
	rr.Status = bottle.Gone
	return rr
}

// inspectContainer looks the planned container up and says whether it may
// be removed: a nil error and rr.Status "" mean yes.
func (r *removal) inspectContainer(ctx context.Context, want bottle.Container, project string) (bottle.ResourceResult, engine.Container) {
	rr := bottle.ResourceResult{Kind: bottle.KindContainer, Name: want.Name, ID: want.ID}
	var c engine.Container
	err := r.read(ctx, func() (err error) { c, err = r.api.InspectContainer(ctx, want.ID); return err })
	if engine.IsNotFound(err) {
		return byName(rr, "container", func() (string, error) {
			var other engine.Container
			err := r.read(ctx, func() (err error) { other, err = r.api.InspectContainer(ctx, want.Name); return err })
			if err == nil && other.Name != want.Name {
				return rr.ID, nil // an ID-prefix match of the name, not a container of that name
			}
			return other.ID, err
		}), c
	}
	if err != nil {
		return outcome(rr, err), c
	}
	if len(c.Unread) > 0 {
		rr.Status, rr.Reason = bottle.Skipped, "the engine gave fields of it that could not be read: "+engine.UnreadText(c.Unread)
		return rr, c
	}
	if why := r.changed("container", c.ID, c.Name, c.Labels, bottle.Network{Name: want.Name, ID: want.ID}, project); why != "" {
		rr.Status, rr.Reason = bottle.Skipped, why
		return rr, c
	}
	if why := r.owner(c.Labels, c.State); why != "" {
		rr.Status, rr.Reason = bottle.Skipped, why
		r.mu.Lock()
		if r.ownerKept == "" {
			r.ownerKept = "container " + want.Name + " of the project: " + why
		}
		r.mu.Unlock()
		return rr, c
	}
	if r.notRunning && bottle.Active(c.State) {
		rr.Status, rr.Reason = bottle.Skipped, fmt.Sprintf("%s again (the plan was made with --not-running)", c.State)
	}
	return rr, c
}

// removeContainer force-removes a container and none of its volumes (an
// anonymous one is removed by name, when the item lists it).
func (r *removal) removeContainer(ctx context.Context, rr bottle.ResourceResult) bottle.ResourceResult {
	return r.done(rr, func() error {
		return r.call(ctx, func() error { return r.api.RemoveContainerOnly(ctx, rr.ID) })
	})
}

// user names a container that still uses a network or volume, or "": any
// container, running or stopped, in the plan or not, except (under
// --dry-run, where nothing went) those this item or the plan removes.
func (r *removal) user(ctx context.Context, kind string, used func(engine.Container) bool, names ...string) (string, error) {
	var cs []engine.Container
	err := r.read(ctx, func() (err error) { cs, err = r.api.ContainersUsing(ctx, kind, names...); return err })
	if err != nil {
		return "", err
	}
	for _, c := range cs {
		if !used(c) { // the engine's filter is loose
			continue
		}
		if r.opt.DryRun && (r.mine[c.ID] || r.opt.Removing != nil && r.opt.Removing(c.ID)) {
			continue
		}
		return c.Name, nil
	}
	return "", nil
}

func (r *removal) container(ctx context.Context, want bottle.Container, project string) bottle.ResourceResult {
	rr, _ := r.inspectContainer(ctx, want, project)
	if rr.Status != "" {
		return rr
	}
	return r.removeContainer(ctx, rr)
}

func (r *removal) network(ctx context.Context, want bottle.Network, project string) bottle.ResourceResult {
	rr := bottle.ResourceResult{Kind: bottle.KindNetwork, Name: want.Name, ID: want.ID}
	var n engine.Network
	err := r.read(ctx, func() (err error) { n, err = r.api.InspectNetwork(ctx, want.ID); return err })
	if engine.IsNotFound(err) {
		return byName(rr, "network", func() (string, error) {
			var other engine.Network
			err := r.read(ctx, func() (err error) { other, err = r.api.InspectNetwork(ctx, want.Name); return err })
			if err == nil && other.Name != want.Name {
				return rr.ID, nil
			}
			return other.ID, err
		})
	}
	if err != nil {
		return outcome(rr, err)
	}
	if unreadIdentity(n) {
		rr.Status, rr.Reason = bottle.Skipped, "the engine gave fields of it that could not be read: "+engine.UnreadText(n.Unread)
		return rr
	}
	if why := r.changed("network", n.ID, n.Name, n.Labels, want, project); why != "" {
		rr.Status, rr.Reason = bottle.Skipped, why
		return rr
	}
	if why := r.owner(n.Labels, ""); why != "" {
		rr.Status, rr.Reason = bottle.Skipped, why
		return rr
	}
	// A container that stays loses the network for good (a stopped one
	// could not start again): never removed while one is attached.
	other, err := r.user(ctx, "network", func(c engine.Container) bool { return attached(c, n) }, n.ID, n.Name)
	if err != nil {
		return outcome(rr, err)
	}
	if other != "" {
		rr.Status, rr.Reason = bottle.Skipped, fmt.Sprintf("in use: container %s is attached to it; never removed while a container uses it", other)
		return rr
	}
	return r.done(rr, func() error {
		return retry.Do(ctx, r.retries().Endpoints, engine.IsActiveEndpoints, func() error {
			return r.call(ctx, func() error { return r.api.RemoveNetwork(ctx, want.ID) })
		})
	})
}

func (r *removal) volume(ctx context.Context, want bottle.Volume, project string) bottle.ResourceResult {
	rr := bottle.ResourceResult{Kind: bottle.KindVolume, Name: want.Name, ID: want.Name}
	var v engine.Volume
	err := r.read(ctx, func() (err error) { v, err = r.api.InspectVolume(ctx, want.Name); return err })
	if engine.IsNotFound(err) {
		rr.Status = bottle.Gone
		return rr
	}
	if err != nil {
		return outcome(rr, err)
	}
	if why := r.changed("volume", v.Name, v.Name, v.Labels, bottle.Network{Name: want.Name, ID: want.Name}, project); why != "" {
		rr.Status, rr.Reason = bottle.Skipped, why
		return rr
	}
	if why := r.owner(v.Labels, ""); why != "" {
		rr.Status, rr.Reason = bottle.Skipped, why
		return rr
	}
	// A volume's ID is its name: its creation time tells the planned one
	// from one made again since.
	switch {
	case want.Created == nil:
		rr.Status, rr.Reason = bottle.Skipped, "the plan does not say when the volume was made (a plan from an older bottle-plan-cleanup): make a new plan"
		return rr
	case !v.Created.Truncate(time.Second).Equal(want.Created.Truncate(time.Second)):
		rr.Status, rr.Reason = bottle.Skipped, fmt.Sprintf("changed since plan: volume %s was made again (created %s; the plan says %s)",
			want.Name, stamp(v.Created), stamp(*want.Created))
		return rr
	}
	other, err := r.user(ctx, "volume", func(c engine.Container) bool { return mounts(c, want.Name) }, want.Name)
	if err != nil {
		return outcome(rr, err)
	}
	if other != "" {
		rr.Status, rr.Reason = bottle.Skipped, fmt.Sprintf("in use: container %s mounts it; never removed while a container uses it", other)
		return rr
	}
	return r.done(rr, func() error {
		return r.call(ctx, func() error { return r.api.RemoveVolume(ctx, want.Name) })
	})
}
