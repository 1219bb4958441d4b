package reap

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/claude-bottle/bottle/internal/backend"
	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/jsonl"
)

var itemType = reflect.TypeFor[bottle.Item]()

// parse decodes and checks one line and routes it to its engine; it returns
// why the line is invalid, or "".
func (r *runner) parse(t *task) string {
	opt := r.opt
	if t.line.Err != nil {
		t.fields = map[string]json.RawMessage{"input": t.line.Raw}
		t.notPlan = true
		return t.line.Err.Error()
	}
	if err := json.Unmarshal(t.line.Raw, &t.fields); err != nil {
		t.fields = map[string]json.RawMessage{"input": t.line.Raw}
		t.notPlan = true
		return "not a JSON object: " + err.Error()
	}
	delete(t.fields, "result") // a result line fed back in is its item again
	// A line must read the same to a person (jq is case-sensitive and
	// would show the first of duplicate keys) as to the reaper (Go's
	// encoding/json ignores case and keeps the last): the fields echoed
	// are then exactly the fields acted on.
	if err := jsonl.CheckKeys(t.line.Raw, itemType); err != nil {
		t.notPlan = true
		return "not a plan item: " + err.Error()
	}
	if err := json.Unmarshal(t.line.Raw, &t.item); err != nil {
		t.notPlan = true
		return "not a plan item: " + strings.TrimPrefix(err.Error(), "json: ")
	}
	it := &t.item
	switch {
	case it.Kind == "":
		t.notPlan = true
		return "missing field kind"
	case !slices.Contains(bottle.Kinds, it.Kind):
		return fmt.Sprintf("unknown kind %q: a plan item is one of %s", it.Kind, strings.Join(bottle.Kinds, ", "))
	case it.Backend == "":
		return "missing field backend"
	case !slices.Contains(bottle.BackendOrder, it.Backend):
		return fmt.Sprintf("unknown backend %q: use one of %s", it.Backend, strings.Join(bottle.BackendOrder, ", "))
	case it.Name == "":
		return "missing field name"
	}
	if it.Kind == bottle.KindStateDir {
		switch {
		case it.Slug != "" && it.Slug != it.Name:
			return fmt.Sprintf("slug %q and name %q differ: a state dir's name is its slug", it.Slug, it.Name)
		case it.Path == "":
			return "missing field path"
		case !filepath.IsAbs(it.Path):
			return fmt.Sprintf("path %q is not absolute", it.Path)
		case !bottle.ValidSlug(slugOf(*it, opt.Prefix)):
			return fmt.Sprintf("%q is not a slug", slugOf(*it, opt.Prefix))
		case filepath.Clean(it.Path) != it.Path:
			return fmt.Sprintf("path %q is not clean (no .., //, or trailing /)", it.Path)
		}
		if it.OlderThan != "" {
			if d, err := time.ParseDuration(it.OlderThan); err != nil || d <= 0 {
				return fmt.Sprintf("older_than %q is not a positive duration such as 168h0m0s", it.OlderThan)
			}
		}
		// statedir.Reclaimer checks, at the moment it acts, that the path is
		// the slug's dir directly under the state root.
		return r.route(t)
	}
	if !bottle.HasPrefix(it.Name, opt.Prefix) {
		return fmt.Sprintf("name %q does not start with the prefix %q", it.Name, opt.Prefix)
	}
	if why := r.route(t); why != "" {
		return why
	}
	for _, b := range t.backends {
		if rm, ok := b.(backend.Remover); ok && rm.Handles(*it) {
			t.rm = rm
			if c, ok := rm.(interface{ Check(bottle.Item) string }); ok {
				return c.Check(*it)
			}
			return ""
		}
	}
	return fmt.Sprintf("no backend here removes %s items of the %s backend", it.Kind, it.Backend)
}
