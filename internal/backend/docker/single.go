package docker

import (
	"context"
	"fmt"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// CheckSingle applies the docker backend's rules for a lone container or
// network item (full engine ID, no members) to another backend's item —
// the smolmachines bundle parts — and says why it is not acceptable, or "".
// The caller checks the name.
func CheckSingle(item bottle.Item) string {
	if item.Kind != bottle.KindContainer && item.Kind != bottle.KindNetwork {
		return fmt.Sprintf("%q is not a container or network", item.Kind)
	}
	if len(item.Containers)+len(item.Networks)+len(item.Volumes) > 0 {
		return "only a compose project lists containers, networks or volumes"
	}
	if !fullID.MatchString(item.ID) {
		return fmt.Sprintf("%s %q: id %q is not a full engine ID (64 hex digits)", item.Kind, item.Name, item.ID)
	}
	return ""
}

// RemoveSingle removes a lone container (by force) or network exactly as
// the docker backend removes a stray one: re-inspected by its planned ID,
// skipped when that ID now has another name or the name another ID
// ("changed since plan"), gone when neither exists, retried while the
// engine says transient or (networks) "active endpoints". Containers and
// networks cannot change their labels, so an unchanged ID is the resource
// the plan saw. Call CheckSingle first.
func RemoveSingle(ctx context.Context, api engine.API, item bottle.Item, opt backend.RemoveOptions) bottle.Result {
	r := &removal{api: api, opt: opt, notRunning: item.NotRunning, mine: map[string]bool{item.ID: true}}
	if item.Kind == bottle.KindNetwork {
		return single(r.network(ctx, bottle.Network{Name: item.Name, ID: item.ID}, ""))
	}
	return single(r.container(ctx, bottle.Container{Name: item.Name, ID: item.ID}, ""))
}

// Lone is CheckSingle and RemoveSingle on one engine: what the
// smolmachines backend removes its bundle containers and networks with.
type Lone struct{ API engine.API }

// Check is CheckSingle.
func (l Lone) Check(item bottle.Item) string { return CheckSingle(item) }

// Remove is RemoveSingle on l.API.
func (l Lone) Remove(ctx context.Context, item bottle.Item, opt backend.RemoveOptions) bottle.Result {
	return RemoveSingle(ctx, l.API, item, opt)
}
