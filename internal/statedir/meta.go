package statedir

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// maxMeta bounds how much of a bottle.json is read.
const maxMeta = 1 << 20

// Meta is what the tools read of a state dir's bottle.json.
type Meta struct {
	Backend string `json:"backend"`
	Name    string `json:"name"`
	// Detached is set by bottle-launch --detach; Ended when the launcher
	// saw the bottle end. Detached and not ended: nobody ends this bottle
	// but a person, so while it runs it is live, not a leftover.
	Detached bool       `json:"detached,omitempty"`
	Ended    *time.Time `json:"ended,omitempty"`
	// Spec.Image is the agent's image (reading a home volume needs an
	// image to make a container of).
	Spec struct {
		Image string `json:"image"`
	} `json:"spec"`
}

// LiveDetached reports whether dir's bottle.json says its bottle was
// launched with --detach and has not ended.
func LiveDetached(dir string) bool {
	m, ok := ReadMeta(dir)
	return ok && m.Detached && m.Ended == nil
}

// ReadMeta reads dir's bottle.json. Only a regular file is read (never
// through a symlink, never a FIFO or device that could block or never end),
// and at most 1 MiB of it; ok is false when there is none or it is not JSON.
func ReadMeta(dir string) (m Meta, ok bool) {
	f, err := os.OpenFile(filepath.Join(dir, MetaFile), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return Meta{}, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return Meta{}, false
	}
	b, err := io.ReadAll(io.LimitReader(f, maxMeta))
	if err != nil || json.Unmarshal(b, &m) != nil {
		return Meta{}, false
	}
	return m, true
}

// Foreign says why the state dir of slug belongs to a bottle of another
// prefix (its bottle.json names a bottle that is not <prefix><slug>), or
// "". The state root does not depend on the prefix, so bottles of several
// prefixes may share it; a dir without bottle.json (the original tool's)
// cannot tell and is not foreign.
func Foreign(dir, prefix, slug string) string {
	m, ok := ReadMeta(dir)
	if !ok || m.Name == "" || m.Name == prefix+slug {
		return ""
	}
	return fmt.Sprintf("its bottle.json names %s, not %s%s: a bottle of another prefix", m.Name, prefix, slug)
}
