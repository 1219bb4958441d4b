package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVersionScriptIsGos: scripts/version.sh (what make build links in)
// prints the version go build stamps from a git clone, for every shape of
// history: no tag, a tagged HEAD, changes, commits after a release and
// after a pre-release, a release beside its pre-release, a v2 tag the
// module path cannot have, a tag that is no version.
func TestVersionScriptIsGos(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with go build several times")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "version.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := t.TempDir()
	n := 0
	sh := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		date := fmt.Sprintf("2026-03-%02dT12:00:00+02:00", 1+n) // +02:00: the stamp is UTC
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=a", "GIT_AUTHOR_EMAIL=a@example.com", "GIT_COMMITTER_NAME=a",
			"GIT_COMMITTER_EMAIL=a@example.com", "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date, "GOFLAGS=")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, b)
		}
		return strings.TrimSpace(string(b))
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	check := func(want string) {
		t.Helper()
		got := sh(script)
		sh("go", "build", "-buildvcs=true", "-o", filepath.Join(out, "x"), ".")
		gos := regexp.MustCompile(`(?m)^\s+mod\s+\S+\s+(\S+)`).FindStringSubmatch(sh("go", "version", "-m", filepath.Join(out, "x")))
		if gos == nil || got != gos[1] {
			t.Fatalf("scripts/version.sh says %q; go build stamps %q", got, gos)
		}
		if !regexp.MustCompile(want).MatchString(got) {
			t.Fatalf("version %q, want the form %s", got, want)
		}
	}
	commit := func() { sh("git", "add", "-A"); sh("git", "commit", "-q", "-m", "c"); n++ }

	sh("git", "init", "-q")
	write("go.mod", "module example.com/vt\n\ngo 1.21\n")
	write("main.go", "package main\n\nfunc main() {}\n")
	commit()
	check(`^v0\.0\.0-\d{14}-[0-9a-f]{12}$`)
	write("main.go", "package main\n\nfunc main() { println() }\n")
	check(`^v0\.0\.0-\d{14}-[0-9a-f]{12}\+dirty$`)
	commit()
	sh("git", "tag", "v1.2.0")
	check(`^v1\.2\.0$`)
	write("new.txt", "x")
	check(`^v1\.2\.0\+dirty$`)
	commit()
	check(`^v1\.2\.1-0\.\d{14}-[0-9a-f]{12}$`)
	sh("git", "tag", "v1.3.0-rc.1")
	write("new.txt", "y")
	commit()
	check(`^v1\.3\.0-rc\.1\.0\.\d{14}-[0-9a-f]{12}$`)
	sh("git", "tag", "v1.3.0-rc.2")
	sh("git", "tag", "v1.3.0")
	check(`^v1\.3\.0$`)
	sh("git", "tag", "v2.0.0")
	sh("git", "tag", "release-9")
	write("new.txt", "z")
	commit()
	check(`^v1\.3\.1-0\.\d{14}-[0-9a-f]{12}$`)
}
