package e2e

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/claude-bottle/bottle/"

// deps is every package of this module that pkg links (go list -deps).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", module+pkg)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v %s", pkg, err, stderr)
	}
	var own []string
	for _, p := range strings.Fields(string(out)) {
		if name, ok := strings.CutPrefix(p, module); ok {
			own = append(own, name)
		}
	}
	return own
}

// The tools that only look and reap never link the launcher (3,000 lines
// they do not run), and package cli names no backend: the opener type is
// backend's, and only a tool's Main picks all.Open. The fake engine links
// no backend either, so every backend's tests can use it.
func TestPackageGraph(t *testing.T) {
	for _, tool := range []string{"bottle-ls", "bottle-plan-cleanup", "bottle-reap", "bottle-cleanup"} {
		if d := deps(t, "cmd/"+tool); slices.Contains(d, "internal/launch") {
			t.Errorf("%s links internal/launch: %s", tool, strings.Join(d, " "))
		}
	}
	if d := deps(t, "cmd/bottle-launch"); !slices.Contains(d, "internal/launch") {
		t.Errorf("bottle-launch does not link internal/launch, so the check above proves nothing: %s", strings.Join(d, " "))
	}
	for _, pkg := range []string{"internal/cli", "internal/transcript", "internal/enginefake", "internal/plan", "internal/reap", "internal/cleanup"} {
		d := deps(t, pkg)
		for _, bad := range []string{"internal/backend/all", "internal/launch"} {
			if slices.Contains(d, bad) {
				t.Errorf("%s links %s", pkg, bad)
			}
		}
	}
}
