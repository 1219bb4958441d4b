package statedir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	Engine  string    `json:"engine,omitempty"`
	Created time.Time `json:"created"`
	// Spec is the launch spec, redacted, as package launch writes it (the
	// format of a spec is launch's): see Image.
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

// NamesDocker reports whether m names a docker bottle of slug: what
// bottle-launch --resume needs of a bottle.json (besides its prefix).
func (m Meta) NamesDocker(slug string) bool {
	return m.Slug == slug && m.Backend == bottle.Docker && bottle.ValidAgent(m.Agent) && m.Name != ""
}

// Image is the agent's image the spec names (reading a home volume needs
// an image to make a container of), or "".
func (m Meta) Image() string {
	var s struct {
		Image string `json:"image"`
	}
	if len(m.Spec) > 0 {
		_ = json.Unmarshal(m.Spec, &s)
	}
	return s.Image
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
	f, err := os.OpenFile(filepath.Join(dir, bottle.MetaFile), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Meta{}, false, nil
	case errors.Is(err, syscall.ELOOP):
		return Meta{}, false, errors.New("bottle.json is a symlink")
	case err != nil:
		return Meta{}, false, fmt.Errorf("bottle.json: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Meta{}, false, fmt.Errorf("bottle.json: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Meta{}, false, fmt.Errorf("bottle.json is not a regular file (%s)", fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxMeta+1))
	if err != nil {
		return Meta{}, false, fmt.Errorf("bottle.json: %w", err)
	}
	if len(b) > MaxMeta {
		return Meta{}, false, fmt.Errorf("bottle.json is larger than %d bytes", MaxMeta)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, false, fmt.Errorf("bottle.json is not a JSON object: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	return m, true, nil
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

// OtherEngine says why a dir whose bottle.json names the engine its bottle
// was made on belongs to an engine this run did not ask (engines), or "".
// Such a dir is never planned or removed: whether its bottle lives is
// unknown here. A dir that names no engine keeps the other rules.
func OtherEngine(m Meta, engines []string) string {
	if m.Engine == "" {
		return ""
	}
	want := SameEngine(m.Engine)
	for _, e := range engines {
		if SameEngine(e) == want {
			return ""
		}
	}
	asked := "none"
	if len(engines) > 0 {
		asked = strings.Join(engines, ", ")
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
	case m.Engine == "":
		return "its bottle.json names no engine, so its bottle was made on the default engine (the one DOCKER_HOST or the current context names), and this run did not ask that engine"
	}
	return ""
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
