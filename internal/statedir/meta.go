package statedir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// MaxMeta bounds a bottle.json: a bigger one cannot be read whole, and its
// dir is never an orphan. bottle-launch refuses to write one half as big.
const MaxMeta = 1 << 20

// Meta is a state dir's bottle.json: bottle-launch writes it, the cleanup
// tools and bottle-ls read it. Package statedir owns the format.
type Meta struct {
	Backend string `json:"backend"`
	Name    string `json:"name"`
	Slug    string `json:"slug"`
	Agent   string `json:"agent"`
	Prefix  string `json:"prefix"`
	// Engine is the engine endpoint bottle-launch made the bottle on
	// ("unix:///var/run/docker.sock"); "" for bottles made before it was
	// recorded.
	Engine string `json:"engine,omitempty"`
	// EngineID is the ID of that engine (GET /info's "ID"), which stays
	// when the endpoint is re-pointed at another engine; "" for bottles
	// made before it was recorded (then Engine alone decides).
	EngineID string    `json:"engine_id,omitempty"`
	Created  time.Time `json:"created"`
	// Image is the agent's image as launched: what a container that reads
	// its home volume is made of (the reaper's transcript rescue). ""
	// for bottles made before it was recorded (their rescue then keeps
	// the volume, naming it).
	Image string `json:"image,omitempty"`
	// Spec is the launch spec, redacted, as package launch writes it: the
	// format of a spec is launch's, and nothing here reads into it.
	Spec       json.RawMessage    `json:"spec"`
	Containers []bottle.Container `json:"containers"`
	Networks   []bottle.Network   `json:"networks"`
	Volumes    []bottle.Volume    `json:"volumes"`
	// Detached is set by bottle-launch --detach; Ended when the launcher
	// saw the bottle end. Detached and not ended: nobody ends this bottle
	// but a person, so while it runs it is live, not a leftover.
	Detached bool       `json:"detached,omitempty"`
	Ended    *time.Time `json:"ended,omitempty"`
	ExitCode *int       `json:"exit_code,omitempty"`
	// Transcript is what the ending did with the agent's transcript:
	// TranscriptSaved, TranscriptNone or TranscriptInVolume; "" before an
	// ending recorded it.
	Transcript string `json:"transcript,omitempty"`
}

// What an ending did with the transcript (Meta.Transcript).
const (
	// TranscriptSaved: the snapshot is in the dir; the volume went after.
	TranscriptSaved = "saved"
	// TranscriptNone: the home volume held none.
	TranscriptNone = "none"
	// TranscriptInVolume: it could not be saved whole, so the home volume
	// was kept with it: the only copy is there.
	TranscriptInVolume = "in-volume"
)

// NamesBottle reports whether m names a bottle of slug that
// bottle-launch --resume can start again (docker or smolmachines, a valid
// agent, a name): what --resume needs of a bottle.json besides its prefix.
func (m Meta) NamesBottle(slug string) bool {
	return m.Slug == slug && (m.Backend == bottle.Docker || m.Backend == bottle.Smolmachines) && bottle.ValidAgent(m.Agent) && m.Name != ""
}

// LiveDetached reports whether dir's bottle.json says its bottle was
// launched with --detach and has not ended.
func LiveDetached(dir string) bool {
	m, ok, _ := ReadMeta(dir)
	return ok && m.Detached && m.Ended == nil
}

// ReadMeta reads dir's bottle.json whole. ok is false and err nil when
// there is none. err says why one that is there cannot be read whole: a
// symlink, not a regular file (a FIFO or device is never opened in a way
// that can block), unreadable, larger than MaxMeta, or not a JSON object.
func ReadMeta(dir string) (m Meta, ok bool, err error) {
	m, _, ok, err = ReadMetaBytes(dir)
	return m, ok, err
}

// ReadMetaBytes is ReadMeta that also returns the file's bytes as read:
// what bottle-launch --resume puts back when its start fails.
func ReadMetaBytes(dir string) (m Meta, data []byte, ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(dir, bottle.MetaFile), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Meta{}, nil, false, nil
	case errors.Is(err, syscall.ELOOP):
		return Meta{}, nil, false, errors.New("bottle.json is a symlink")
	case err != nil:
		return Meta{}, nil, false, fmt.Errorf("bottle.json: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Meta{}, nil, false, fmt.Errorf("bottle.json: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Meta{}, nil, false, fmt.Errorf("bottle.json is not a regular file (%s)", fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxMeta+1))
	if err != nil {
		return Meta{}, nil, false, fmt.Errorf("bottle.json: %w", err)
	}
	if len(b) > MaxMeta {
		return Meta{}, nil, false, fmt.Errorf("bottle.json is larger than %d bytes", MaxMeta)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, nil, false, fmt.Errorf("bottle.json is not a JSON object: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	return m, b, true, nil
}

// Foreign says why the state dir of slug belongs to a bottle of another
// prefix (its bottle.json names a bottle that is not <prefix><slug>), or
// "". The state root does not depend on the prefix, so bottles of several
// prefixes may share it; a dir without bottle.json (the original tool's)
// cannot tell and is not foreign.
func Foreign(m Meta, prefix, slug string) string {
	if m.Name == "" || prefix == "" || m.Name == prefix+slug {
		return ""
	}
	return fmt.Sprintf("its bottle.json names %s, not %s%s: a bottle of another prefix", m.Name, prefix, slug)
}

// Engines are the engines a run asks: their endpoints, and their IDs,
// asked at most once, and only when a bottle.json names an engine ID.
type Engines struct {
	// Endpoints are the engines' endpoints ("unix:///var/run/docker.sock").
	Endpoints []string
	// IDs returns the ID of the engine at each endpoint, in Endpoints'
	// order, "" for one that could not be asked; nil knows none. The one
	// who makes Engines makes it ask once (sync.OnceValue).
	IDs func() []string
}

// EnginesAt are engines with these endpoints and no known ID.
func EnginesAt(endpoints ...string) Engines { return Engines{Endpoints: endpoints} }

func (e Engines) ids() []string {
	if e.IDs == nil {
		return nil
	}
	return e.IDs()
}

// Named is the name of the engine asked that m says its bottle was made
// on, names being the engines' names in Endpoints' order: the one with
// the engine ID m records (when the IDs are known), else the one at the
// endpoint m records; "" when it is none of them, or m names no engine.
func (e Engines) Named(m Meta, names []string) string {
	if m.EngineID != "" && e.IDs != nil {
		if i := slices.Index(e.IDs(), m.EngineID); i >= 0 && i < len(names) {
			return names[i]
		}
		return ""
	}
	if m.Engine == "" {
		return ""
	}
	want := SameEngine(m.Engine)
	for i, ep := range e.Endpoints {
		if SameEngine(ep) == want && i < len(names) {
			return names[i]
		}
	}
	return ""
}

// OtherEngine says why a dir whose bottle.json names the engine its bottle
// was made on belongs to an engine this run did not ask, or "". Such a dir
// is never planned or removed: whether its bottle lives is unknown here.
// A bottle.json with an engine ID is of the engine with that ID, wherever
// it answers now; an older one that names only an endpoint is of the
// engine at that endpoint; one that names neither keeps the other rules.
func OtherEngine(m Meta, engines Engines) string {
	if m.EngineID != "" {
		ids := engines.ids()
		if slices.Contains(ids, m.EngineID) {
			return ""
		}
		at := ""
		for i, ep := range engines.Endpoints {
			if i < len(ids) && ids[i] != "" && m.Engine != "" && SameEngine(ep) == SameEngine(m.Engine) {
				at = fmt.Sprintf(", and the engine answering at %s now is %s", ep, ids[i])
			}
		}
		return fmt.Sprintf("its bottle.json names engine %s (made at %s)%s; no engine this run asked has that ID: whether its bottle exists is unknown here", m.EngineID, orNone(m.Engine), at)
	}
	if m.Engine == "" {
		return ""
	}
	want := SameEngine(m.Engine)
	for _, e := range engines.Endpoints {
		if SameEngine(e) == want {
			return ""
		}
	}
	asked := "none"
	if len(engines.Endpoints) > 0 {
		asked = strings.Join(engines.Endpoints, ", ")
	}
	return fmt.Sprintf("its bottle.json names engine %s, and this run asked %s: whether its bottle exists is unknown here", m.Engine, asked)
}

// DefaultUnasked says why a dir whose bottle was made on the engine the
// environment names — its bottle.json (m; nil when it has none) names no
// engine — is kept when the run did not ask that engine (unasked), or "".
// Asking only another engine says nothing of whether its bottle exists.
func DefaultUnasked(m *Meta, unasked bool) string {
	switch {
	case !unasked:
		return ""
	case m == nil:
		return "it has no bottle.json naming the engine its bottle was made on, so it is the default engine's (the one DOCKER_HOST or the current context names), and this run did not ask that engine"
	case m.Engine == "" && m.EngineID == "":
		return "its bottle.json names no engine, so its bottle was made on the default engine (the one DOCKER_HOST or the current context names), and this run did not ask that engine"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "an endpoint it does not name"
	}
	return s
}

// SameEngine is an endpoint in a form that compares: a unix socket's path
// with its symlinks resolved (/var/run is /run on most systems).
func SameEngine(host string) string {
	if p, ok := strings.CutPrefix(host, "unix://"); ok {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return "unix://" + r
		}
		return "unix://" + filepath.Clean(p)
	}
	return host
}
