package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// repoRoot is the repository the scripts run in.
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// readmePath is the README whose examples testdata/script/readme_*.txtar
// run, so the README cannot drift from what the tools do.
var readmePath, _ = filepath.Abs(filepath.Join("..", "..", "README.md"))

// readme NAME writes the fenced block that follows the README's
// `<!-- readme-test: NAME ... -->` marker into $WORK, one file per command:
// readme-NAME-<n>.sh for the n-th command line (comments and blank lines
// left out). In a cron block, environment lines (MAILTO=..., PATH=...) go
// to readme-NAME-env.sh instead (as sh assignments, exported; the scripts
// source it to run a line with cron's environment), and each job line
// loses its five schedule fields: what is left is what cron hands to
// /bin/sh.
func cmdReadme(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: readme NAME")
	}
	block, err := readmeBlock(readmePath, args[0])
	ts.Check(err)
	n := 0
	var env strings.Builder
	for _, line := range block.lines {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if block.lang == "cron" {
			if m := cronEnv.FindStringSubmatch(t); m != nil {
				// cron takes the value as written, no expansion
				fmt.Fprintf(&env, "%s='%s'; export %s\n", m[1], strings.ReplaceAll(m[2], "'", `'\''`), m[1])
				continue
			}
			m := cronJob.FindStringSubmatch(t)
			if m == nil {
				ts.Fatalf("README cron line %q is not five schedule fields and a command", t)
			}
			t = m[1]
		}
		n++
		ts.Check(os.WriteFile(ts.MkAbs(fmt.Sprintf("readme-%s-%d.sh", args[0], n)), []byte(t+"\n"), 0o644))
	}
	if n == 0 {
		ts.Fatalf("README block %q holds no command", args[0])
	}
	if block.lang == "cron" {
		ts.Check(os.WriteFile(ts.MkAbs(fmt.Sprintf("readme-%s-env.sh", args[0])), []byte(env.String()), 0o644))
	}
}

var (
	cronEnv = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	cronJob = regexp.MustCompile(`^(?:\S+\s+){5}(\S.*)$`)
)

type fenced struct {
	lang  string
	lines []string
}

func readmeBlock(path, name string) (fenced, error) {
	f, err := os.Open(path)
	if err != nil {
		return fenced{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	marker := "<!-- readme-test: " + name
	state := 0 // 0 looking for the marker, 1 for the fence, 2 inside
	var b fenced
	for sc.Scan() {
		line := sc.Text()
		switch state {
		case 0:
			if line == marker+" -->" || strings.HasPrefix(line, marker+" ") {
				state = 1
			}
		case 1:
			if strings.HasPrefix(line, "```") {
				b.lang = strings.TrimPrefix(line, "```")
				state = 2
			}
		case 2:
			if strings.HasPrefix(line, "```") {
				return b, nil
			}
			b.lines = append(b.lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return fenced{}, err
	}
	return fenced{}, fmt.Errorf("%s: no fenced block after %q", path, marker+" -->")
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

// TestReadmeIsShort: the README is what a newcomer reads in five minutes
// (issue 16): at most 250 lines, in the order install, first bottle,
// examples, cron; the reference is in docs/.
func TestReadmeIsShort(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > 250 {
		t.Errorf("README.md is %d lines, more than 250: move reference to docs/", n)
	}
	at := -1
	for _, h := range []string{"## Install", "## Your first bottle", "## Examples", "## From cron"} {
		i := strings.Index(string(b), "\n"+h+"\n")
		if i < 0 {
			t.Errorf("README.md has no %q section", h)
			continue
		}
		if i < at {
			t.Errorf("README.md: %q comes before the section it should follow", h)
		}
		at = i
	}
}
