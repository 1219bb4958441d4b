package launch

import (
	"context"
	"fmt"
	"strings"

	"github.com/claude-bottle/bottle/internal/engine"
)

// MissingImagesError names every image of a bottle the engine does not
// have: bottle-launch never pulls, and it says so before anything is made.
type MissingImagesError struct {
	Images []string // "the agent image my/agent:latest", ...
}

func (e *MissingImagesError) Error() string {
	it, are := "it", "is"
	if len(e.Images) > 1 {
		it, are = "them", "are"
	}
	return fmt.Sprintf("%s %s not on this engine, and bottle-launch does not pull: docker pull %s, or build %s (docs/images.md says how); nothing was made",
		strings.Join(e.Images, " and "), are, it, it)
}

// checkImages looks up the agent's and the sidecar's images before
// anything is made, naming every one the engine lacks in one error; an
// image it has is remembered with its ID, which compose's image label
// takes.
func (b *Launched) checkImages(ctx context.Context) error {
	type role struct{ ref, what string }
	var roles []role
	for _, r := range []role{{b.spec.Image, "agent"}, {b.spec.Sidecar.Image, "sidecar"}} {
		if len(roles) > 0 && roles[0].ref == r.ref {
			roles[0].what += " and " + r.what
			continue
		}
		roles = append(roles, r)
	}
	if b.images == nil {
		b.images = map[string]string{}
	}
	var missing []string
	for _, r := range roles {
		id, err := b.eng.ImageID(ctx, r.ref)
		switch {
		case err == nil:
			b.images[r.ref] = id
		case engine.IsNotFound(err):
			missing = append(missing, fmt.Sprintf("the %s image %s", r.what, r.ref))
		default:
			return err
		}
	}
	if len(missing) > 0 {
		return &MissingImagesError{Images: missing}
	}
	return nil
}
