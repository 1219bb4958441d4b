// Package bottle holds the toolkit's model: the names a bottle's resources
// carry, the bottles that exist, the items of a cleanup plan and the result a
// reaper gives for each. Every tool speaks these types as JSON lines;
// docs/formats.md (plan items, results) and docs/bottle-ls.md (bottles)
// are their contract.
package bottle

import (
	"encoding/json"
	"strings"
	"time"
)

// DefaultPrefix starts the name of every resource a bottle makes.
const DefaultPrefix = "claude-bottle-"

// Backends.
const (
	Docker       = "docker"
	Smolmachines = "smolmachines"
)

// Plan item kinds, in plan order.
const (
	KindComposeProject = "compose-project"
	KindContainer      = "container"
	KindNetwork        = "network"
	KindVolume         = "volume"
	KindMachine        = "machine"
	KindStateDir       = "state-dir"
)

// Kinds lists every plan item kind in the order a plan lists them.
var Kinds = []string{KindComposeProject, KindContainer, KindNetwork, KindVolume, KindMachine, KindStateDir}

// BackendOrder lists the backends in the order a plan lists them.
var BackendOrder = []string{Docker, Smolmachines}

// Bottle statuses (bottle-ls).
const (
	StatusRunning  = "running"
	StatusStopped  = "stopped"
	StatusPartial  = "partial"
	StatusOrphaned = "orphaned"
)

// HasPrefix reports whether name is one of ours: a plain string comparison,
// never a pattern, so look-alikes such as "claude-bottlex" never match. An
// empty prefix matches nothing.
func HasPrefix(name, prefix string) bool {
	return prefix != "" && len(name) > len(prefix) && strings.HasPrefix(name, prefix)
}

// Slug returns the slug of a name that carries the prefix, or "" when it does not.
func Slug(name, prefix string) string {
	if !HasPrefix(name, prefix) {
		return ""
	}
	return name[len(prefix):]
}

// ProjectName is the compose project (and smolvm machine) name of a slug.
func ProjectName(prefix, slug string) string { return prefix + slug }

// BundleContainerName is the smolmachines sidecar bundle container of a slug.
func BundleContainerName(prefix, slug string) string { return prefix + "sidecars-" + slug }

// BundleNetworkName is the smolmachines bundle network of a slug.
func BundleNetworkName(prefix, slug string) string { return prefix + "bundle-" + slug }

// BundleSlug returns the slug of a smolmachines bundle container or network
// name ("<prefix>sidecars-<slug>", "<prefix>bundle-<slug>") and whether name
// is one.
func BundleSlug(name, prefix string) (string, bool) {
	rest := Slug(name, prefix)
	for _, p := range []string{"sidecars-", "bundle-"} {
		if s, ok := strings.CutPrefix(rest, p); ok && s != "" {
			return s, true
		}
	}
	return "", false
}

// ValidAgent reports whether name can be an agent's name: 1 to 40 of
// [a-z0-9_-], starting with a letter or digit, so that it makes valid
// container, network and compose project names. A slug bottle-launch (and
// the original tool) makes is such a name, "-" and 5 of [a-z0-9].
func ValidAgent(name string) bool {
	if name == "" || len(name) > 40 {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// SlugShape reports whether name has the shape of the slugs bottle-launch
// and the original tool make: an agent's name (ValidAgent), "-", and 5 of
// [a-z0-9].
func SlugShape(name string) bool {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || !suffixShape(name[i+1:]) {
		return false
	}
	return ValidAgent(name[:i])
}

func suffixShape(s string) bool {
	if len(s) != 5 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// SlugsEnding returns every slug (SlugShape) that name ends with, shortest
// first: the slugs a resource so named may be of, under whatever prefix
// (the name minus the slug). "claude-bottle-researcher-m3hxd" ends with
// "researcher-m3hxd", "bottle-researcher-m3hxd" and longer ones.
func SlugsEnding(name string) []string {
	i := strings.LastIndexByte(name, '-')
	if i < 1 || !suffixShape(name[i+1:]) {
		return nil
	}
	var out []string
	for j := i - 1; j >= 0 && i-j <= 40; j-- {
		r := name[j]
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			break // no agent's name holds it: none longer either
		}
		if r != '-' && r != '_' {
			out = append(out, name[j:])
		}
	}
	return out
}

// ValidSlug reports whether s can be a slug: the agent's name and suffix, made
// of the characters a container name allows, and never a path component that
// leaves a directory.
func ValidSlug(s string) bool {
	if s == "" || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case (r == '-' || r == '_' || r == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Container is one container of a bottle or a plan item.
type Container struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Service string `json:"service,omitempty"`
	State   string `json:"state"`
}

// Network is one network of a bottle or a plan item.
type Network struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// Volume is one volume of a bottle or a plan item; its ID is its name.
type Volume struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// Created is when the engine made it. A volume's ID is its name, so
	// this is what tells the planned volume from one made again since.
	Created *time.Time `json:"created,omitempty"`
	// Container is set for an anonymous volume (unprefixed, named by the
	// engine): the container of the item it was made for.
	Container string `json:"container,omitempty"`
}

// Machine is a smolvm microVM.
type Machine struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Bottle is one bottle that exists, as bottle-ls prints it.
type Bottle struct {
	Backend string `json:"backend"`
	// Engine names the Docker engine it is on: the docker context's name
	// ("default" for DOCKER_HOST or the default socket).
	Engine     string      `json:"engine,omitempty"`
	Name       string      `json:"name"`
	Slug       string      `json:"slug"`
	Status     string      `json:"status"`
	Created    *time.Time  `json:"created"`
	Containers []Container `json:"containers"`
	Networks   []Network   `json:"networks"`
	Volumes    []Volume    `json:"volumes"`
	Machine    *Machine    `json:"machine,omitempty"`
	StateDir   *string     `json:"state_dir"`
	// Launcher is true while a bottle-launch process holds the state dir's lock.
	Launcher bool `json:"launcher,omitempty"`
	// Detached is true when its bottle.json says it was launched with
	// --detach and has not ended: no launcher ends it, and plans leave it
	// out unless asked.
	Detached bool `json:"detached,omitempty"`
}

// Item is one thing a cleanup plan would remove. Which fields are set
// depends on Kind; docs/formats.md lists them.
type Item struct {
	Backend string `json:"backend"`
	// Engine names the Docker engine the item is in (a state dir: the one
	// its bottle was made on): the docker context's name, "default" for
	// DOCKER_HOST or the default socket. A plan always writes it; the
	// reaper acts on the item in that engine, and an item without it in the
	// engine the environment names.
	Engine  string     `json:"engine,omitempty"`
	Kind    string     `json:"kind"`
	Name    string     `json:"name"`
	ID      string     `json:"id,omitempty"`
	Slug    string     `json:"slug,omitempty"`
	Created *time.Time `json:"created,omitempty"`
	// State is a container's or machine's state.
	State string `json:"state,omitempty"`

	// compose-project
	Containers []Container `json:"containers,omitempty"`
	Networks   []Network   `json:"networks,omitempty"`
	Volumes    []Volume    `json:"volumes,omitempty"`

	// state-dir
	Path      string     `json:"path,omitempty"`
	SizeBytes *int64     `json:"size_bytes,omitempty"`
	Modified  *time.Time `json:"modified,omitempty"`
	// Transcript: a state dir holds a transcript (a conversation); a
	// compose project's home volume holds one (null: it cannot be told
	// without creating anything).
	Transcript *bool `json:"transcript,omitempty"`
	Dockerfile *bool `json:"dockerfile,omitempty"`
	Resumable  *bool `json:"resumable,omitempty"`
	// Device and Inode are the dir's identity, Changed the newest
	// modification or status change in its tree (nanoseconds): the reaper
	// skips a dir that is another one now, or was changed since the plan.
	Device  *uint64    `json:"device,omitempty"`
	Inode   *uint64    `json:"inode,omitempty"`
	Changed *time.Time `json:"changed,omitempty"`
	// OlderThan records that the plan was made with --older-than (a Go
	// duration, "168h0m0s"): the reaper skips the dir if it was modified
	// more recently than that by then.
	OlderThan string `json:"older_than,omitempty"`
	// Bottle names the plan item this state dir goes with: the dir's bottle
	// still exists and is itself in the plan, so the dir may go once the
	// bottle is gone (the reaper checks that at the moment it acts).
	Bottle string `json:"bottle,omitempty"`

	// NotRunning records that the plan was made with --not-running: the
	// reaper skips the item if one of its containers runs again.
	NotRunning bool `json:"not_running,omitempty"`

	// Users (never written) are the containers attached to a stray network
	// or mounting a stray volume when planned: the item is planned only if
	// every one of them is too.
	Users []Container `json:"-"`
	// OwnerDir (never written) is the state dir the item's resources'
	// labels name (compose.StateDir): whose bottle it is. The reaper reads
	// the labels again; it never takes this from a plan.
	OwnerDir string `json:"-"`
	// AllRoots records that the plan was made with --all-roots: the
	// reaper may remove a bottle another state root's launcher made (its
	// labels name a state dir there that still exists), as long as that
	// root's lock and detached flag let it. Without it such a bottle is
	// skipped.
	AllRoots bool `json:"all_roots,omitempty"`
	// IncludeDetached records that the plan was made with
	// --include-detached or named this item's bottle with --name: the
	// reaper may remove it although its bottle was launched with --detach
	// and runs. Without it, such an item is skipped.
	IncludeDetached bool `json:"include_detached,omitempty"`
	// IncludeTranscripts records that the plan was made with
	// --include-transcripts: a state dir that holds a transcript (a
	// conversation) may go. Without it such a dir is kept.
	IncludeTranscripts bool `json:"include_transcripts,omitempty"`
	// DiscardTranscript records that the plan named this bottle with
	// --discard-transcript: its home volume goes without its transcript
	// being saved (a person's choice for one that cannot be).
	DiscardTranscript bool `json:"discard_transcript,omitempty"`
}

// MarshalJSON writes a compose project's containers, networks and volumes
// always, as arrays (empty ones too), and its transcript (null: unknown);
// other kinds leave them out.
func (it Item) MarshalJSON() ([]byte, error) {
	type plain Item
	if it.Kind != KindComposeProject {
		return json.Marshal(plain(it))
	}
	return json.Marshal(struct {
		plain
		Containers []Container `json:"containers"`
		Networks   []Network   `json:"networks"`
		Volumes    []Volume    `json:"volumes"`
		Transcript *bool       `json:"transcript"`
	}{plain(it), orEmpty(it.Containers), orEmpty(it.Networks), orEmpty(it.Volumes), it.Transcript})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Active reports whether a container or machine state counts as running:
// running, restarting or paused (a paused agent is still a live bottle).
func Active(state string) bool {
	switch state {
	case "running", "restarting", "paused":
		return true
	}
	return false
}

// Running reports whether anything the item covers was running when planned.
func (it *Item) Running() bool {
	if (it.Kind == KindContainer || it.Kind == KindMachine) && Active(it.State) {
		return true
	}
	for _, c := range it.Containers {
		if Active(c.State) {
			return true
		}
	}
	return false
}

// Result statuses (bottle-reap).
const (
	Removed     = "removed"
	Gone        = "gone"
	Skipped     = "skipped"
	Failed      = "failed"
	Invalid     = "invalid"
	WouldRemove = "would-remove"
)

// Result is what a reaper did with one item.
type Result struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	// File and Line are where the item was read: the plan file, as named
	// (absent for stdin alone), and the line's number in it.
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms"`
	// Resources details a compose project's members, one entry each.
	Resources []ResourceResult `json:"resources,omitempty"`
	// Time is when the item was answered: RFC 3339 UTC, whole seconds (a
	// log of results says when each thing went).
	Time string `json:"time,omitempty"`
}

// ResourceResult is the outcome for one member of a compose project item.
type ResourceResult struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Ok reports whether the status is one a run may end with and still succeed.
func (r Result) Ok() bool {
	switch r.Status {
	case Removed, Gone, Skipped, WouldRemove:
		return true
	}
	return false
}
