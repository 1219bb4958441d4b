package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
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

// TestReadmeNamesEveryDependency: the README's Dependencies table, which
// ends "Nothing else", names every module go.mod requires directly.
func TestReadmeNamesEveryDependency(t *testing.T) {
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n## Dependencies\n")
	if !ok {
		t.Fatal("README.md has no Dependencies section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	var direct []string
	block := false
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "require" && len(f) > 1 && f[1] == "(":
			block = true
		case f[0] == ")":
			block = false
		case f[0] == "require" && len(f) >= 3 && !strings.Contains(line, "// indirect"):
			direct = append(direct, f[1])
		case block && !strings.Contains(line, "// indirect"):
			direct = append(direct, f[0])
		}
	}
	if len(direct) == 0 {
		t.Fatal("go.mod requires nothing directly, so this test checks nothing")
	}
	for _, m := range direct {
		if !strings.Contains(table, "`"+m) {
			t.Errorf("go.mod requires %s, which README.md's Dependencies table does not name", m)
		}
	}
}
