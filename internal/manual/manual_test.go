package manual

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/tool/cleanuptool"
	"github.com/claude-bottle/bottle/internal/tool/launchtool"
	"github.com/claude-bottle/bottle/internal/tool/lstool"
	"github.com/claude-bottle/bottle/internal/tool/plantool"
	"github.com/claude-bottle/bottle/internal/tool/reaptool"
)

var root = filepath.Join("..", "..")

// TestFilesAreCurrent fails when a checked-in man page, completion script
// or docs page's flags table is not what the tools' parsers make now.
func TestFilesAreCurrent(t *testing.T) {
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sorted(files) {
		have, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			t.Errorf("%s: %v; run make man", p, err)
			continue
		}
		if !bytes.Equal(have, files[p]) {
			t.Errorf("%s is stale: the tool's flags or help changed since it was made; run make man and commit it", p)
		}
	}
	pages, _ := filepath.Glob(filepath.Join(root, ManDir, "*.1"))
	for _, abs := range pages {
		if _, ok := files[ManDir+"/"+filepath.Base(abs)]; !ok {
			t.Errorf("%s/%s is the page of no tool; run make man", ManDir, filepath.Base(abs))
		}
	}
}

var runs = map[string]cli.RunFunc{
	"bottle-ls": lstool.Run, "bottle-plan-cleanup": plantool.Run, "bottle-reap": reaptool.Run,
	"bottle-cleanup": cleanuptool.Run, "bottle-launch": launchtool.Run,
}

// run runs a tool in this process with no engine: enough for --help and
// completion, which ask none.
func run(t *testing.T, name string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: os.Getenv, Now: time.Now,
	}
	code := runs[name](context.Background(), args, env)
	return code, out.String(), errb.String()
}

var (
	helpOption = regexp.MustCompile(`(?m)^[ \t]+(?:-(\w), )?--([a-z][a-z-]*)(?:=(\S+))?`)
	manOption  = regexp.MustCompile(`(?m)^\\fB(?:\\fB\\-(\w)\\fR, )?\\fB((?:\\-){2}[a-z\\-]+)\\fR(?: \\fI(\S+)\\fR)?`)
)

// TestHelpAndManAgree: every option --help lists is in the man page, with
// the same short name and value name, and nothing else is; the
// description is the same text.
func TestHelpAndManAgree(t *testing.T) {
	if len(runs) != len(Manuals()) {
		t.Fatalf("%d tools here, %d manuals", len(runs), len(Manuals()))
	}
	for _, m := range Manuals() {
		code, help, stderr := run(t, m.Name, "--help")
		if code != 0 || stderr != "" {
			t.Fatalf("%s --help: exit %d, stderr %q", m.Name, code, stderr)
		}
		var page bytes.Buffer
		if err := m.WriteManPage(&page); err != nil {
			t.Fatal(err)
		}
		var fromHelp, fromMan []string
		for _, g := range helpOption.FindAllStringSubmatch(help, -1) {
			fromHelp = append(fromHelp, g[1]+" --"+g[2]+" "+g[3])
		}
		for _, g := range manOption.FindAllStringSubmatch(page.String(), -1) {
			fromMan = append(fromMan, g[1]+" "+strings.ReplaceAll(g[2], `\-`, "-")+" "+strings.ReplaceAll(g[3], `\-`, "-"))
		}
		slices.Sort(fromHelp)
		slices.Sort(fromMan)
		if len(fromHelp) < 4 || !slices.Equal(fromHelp, fromMan) {
			t.Errorf("%s: --help lists\n%s\nthe man page\n%s", m.Name, strings.Join(fromHelp, "\n"), strings.Join(fromMan, "\n"))
		}
		// The description: every word of --help's text before Options is
		// in the page, in order.
		desc, _, _ := strings.Cut(help, "\nOptions:\n")
		words := strings.Fields(desc)[2:] // after "Usage: <name>"
		text := strings.Fields(strings.ReplaceAll(page.String(), `\-`, "-"))
		i := 0
		for _, w := range text {
			if i < len(words) && strings.Contains(w, words[i]) {
				i++
			}
		}
		if i < len(words) {
			t.Errorf("%s: the man page lacks --help's description from %q on", m.Name, words[i])
		}
	}
}

// TestCompletion runs each tool as the completion scripts do
// (GO_FLAGS_COMPLETION set), in this process.
func TestCompletion(t *testing.T) {
	t.Setenv("GO_FLAGS_COMPLETION", "1")
	for _, c := range []struct {
		tool string
		args []string
		want []string
	}{
		{"bottle-ls", []string{"--st"}, []string{"--state", "--state-dir"}},
		{"bottle-plan-cleanup", []string{"--kind", "vo"}, []string{"volume"}},
		{"bottle-plan-cleanup", []string{"--kind", ""}, []string{"compose-project", "container", "machine", "network", "state-dir", "volume"}},
		{"bottle-cleanup", []string{"--kind=co"}, []string{"--kind=compose-project", "--kind=container"}},
		{"bottle-cleanup", []string{"--not-running", "--y"}, []string{"--yes"}},
		{"bottle-reap", []string{"--dr"}, []string{"--dry-run"}},
		{"bottle-launch", []string{"--de"}, []string{"--detach"}},
		// the hidden flag is not offered
		{"bottle-launch", []string{"--gu"}, nil},
		// a value completion has nothing for: the scripts fall back to files
		{"bottle-launch", []string{"--spec", ""}, nil},
	} {
		code, out, stderr := run(t, c.tool, c.args...)
		got := strings.Fields(out)
		if code != 0 || stderr != "" || !slices.Equal(got, c.want) {
			t.Errorf("GO_FLAGS_COMPLETION=1 %s %q: exit %d, stdout %q, stderr %q; want %q", c.tool, c.args, code, out, stderr, c.want)
		}
	}
	t.Setenv("GO_FLAGS_COMPLETION", "verbose")
	_, out, _ := run(t, "bottle-reap", "--j")
	want := "--jobs  # engine calls and state dir removals in flight at once\n--jq    # filter each record through a jq expression (gojq); strings print raw, other values as compact JSON\n--json  # print JSON lines even when stdout is a terminal\n"
	if out != want {
		t.Errorf("GO_FLAGS_COMPLETION=verbose bottle-reap --j printed\n%s\nwant\n%s", out, want)
	}
}
