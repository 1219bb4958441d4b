package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/claude-bottle/bottle/internal/enginetest"
)

var (
	// negExec is a `! exec` or `? exec` line, conditions allowed before it.
	negExec = regexp.MustCompile(`^\s*(\[[^\]]*\]\s*)*[!?]\s*exec\b`)
	// background is the &name& that ends a background command.
	background = regexp.MustCompile(`&([A-Za-z0-9_]+)&\s*$`)
)

// TestScriptsCheckExitCodes holds every script to one way of checking a
// failure: `exits N command`, which asserts the documented exit code.
// `! exec` (any non-zero code) is allowed only for a background command
// that the script then kills with SIGKILL: such a command has no code.
func TestScriptsCheckExitCodes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "script", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range uncheckedFailures(string(a.Comment)) {
			t.Errorf("%s:%d: %s\n\tcheck the exit code: `exits N command ...` (see docs/CONTRIBUTING.md); "+
				"`! exec` is only for a background command the script kills with SIGKILL", filepath.Base(f), n, strings.TrimSpace(strings.Split(string(a.Comment), "\n")[n-1]))
		}
	}
}

// uncheckedFailures returns the line numbers of a script's `! exec` (or
// `? exec`) lines that are not a background command killed with SIGKILL.
func uncheckedFailures(script string) []int {
	var out []int
	for i, line := range strings.Split(script, "\n") {
		if !negExec.MatchString(line) {
			continue
		}
		m := background.FindStringSubmatch(line)
		if m != nil && regexp.MustCompile(`(?m)^\s*kill -(KILL|9) `+m[1]+`\s*$`).MatchString(script) {
			continue
		}
		out = append(out, i+1)
	}
	return out
}

func TestUncheckedFailures(t *testing.T) {
	script := `exec ok
! exec bottle-ls
[docker] ! exec bottle-ls
? exec bottle-ls
exits 2 bottle-ls
! exec bottle-launch &killed&
! exec bottle-launch &interrupted&
kill -KILL killed
kill -INT interrupted
! exists file
! stdout .
`
	got := fmt.Sprint(uncheckedFailures(script))
	if want := "[2 3 4 7]"; got != want {
		t.Errorf("unchecked failures at lines %s; want %s", got, want)
	}
}

// TestExitsChecksTheCode runs the exits command on scripts of its own: the
// right code passes, a wrong code, success and a missing program fail.
func TestExitsChecksTheCode(t *testing.T) {
	for _, tc := range []struct {
		script string
		pass   bool
	}{
		{"exits 3 sh -c 'echo out; echo err >&2; exit 3'\nstdout '^out$'\nstderr '^err$'", true},
		{"exits 2 sh -c 'exit 1'", false},
		{"exits 1 sh -c 'exit 0'", false},
		{"exits 1 no-such-program-anywhere", false},
		{"exits 0 sh -c 'exit 0'", false},
		{"! exits 1 sh -c 'exit 1'", false},
		{"stdin in.txt\nexits 4 sh -c 'read x; [ \"$x\" = hello ] && exit 4'\n-- in.txt --\nhello", true},
	} {
		failed := runScript(t, tc.script)
		if failed == tc.pass {
			t.Errorf("script %q: failed %v; want pass %v", tc.script, failed, tc.pass)
		}
	}
}

// runScript runs one script with the harness's commands and reports whether
// it failed.
func runScript(t *testing.T, script string) (failed bool) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s.txtar"), []byte(script+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	func() {
		defer func() {
			if v := recover(); v != nil && v != errFailNow {
				panic(v)
			}
		}()
		testscript.RunT(r, testscript.Params{Dir: dir, Cmds: map[string]func(*testscript.TestScript, bool, []string){"exits": cmdExits}})
	}()
	return r.failed
}

var errFailNow = errors.New("FailNow")

// recorder is a testscript.T that records a failure instead of failing.
type recorder struct{ failed bool }

func (r *recorder) Skip(...any)                        {}
func (r *recorder) Fatal(...any)                       { r.failed = true; panic(errFailNow) }
func (r *recorder) Parallel()                          {}
func (r *recorder) Log(...any)                         {}
func (r *recorder) FailNow()                           { r.failed = true; panic(errFailNow) }
func (r *recorder) Run(_ string, f func(testscript.T)) { f(r) }
func (r *recorder) Verbose() bool                      { return false }

// TestEngineUse: -short never runs an engine test and never asks the
// engine; CI=true turns a missing engine into an error; otherwise a missing
// engine skips.
func TestEngineUse(t *testing.T) {
	down := errors.New("connection refused")
	for _, tc := range []struct {
		short, ci bool
		ready     error
		run, err  bool
		asked     bool
	}{
		{short: true, ci: true, ready: nil, run: false, err: false, asked: false},
		{short: true, ci: false, ready: down, run: false, err: false, asked: false},
		{short: false, ci: true, ready: down, run: false, err: true, asked: true},
		{short: false, ci: false, ready: down, run: false, err: false, asked: true},
		{short: false, ci: true, ready: nil, run: true, err: false, asked: true},
	} {
		asked := false
		run, err := enginetest.Use(tc.short, tc.ci, func() error { asked = true; return tc.ready })
		if run != tc.run || (err != nil) != tc.err || asked != tc.asked {
			t.Errorf("short=%v CI=%v ready=%v: run %v, err %v, asked %v; want %v, %v, %v",
				tc.short, tc.ci, tc.ready, run, err, asked, tc.run, tc.err, tc.asked)
		}
	}
}

// TestDockerConditionUnderShort: under -short [docker] is false at once,
// never an error and never a question to the engine (make unit runs this
// with CI=true and DOCKER_HOST pointing nowhere, where asking would fail).
func TestDockerConditionUnderShort(t *testing.T) {
	if !testing.Short() {
		t.Skip("this checks what -short does")
	}
	ok, err := condition("docker")
	if ok || err != nil {
		t.Fatalf("[docker] under -short = %v, %v; want false, nil", ok, err)
	}
	if enginetest.Up() {
		t.Fatal("the engine was made ready under -short")
	}
}

// subnet is a fixed subnet a script asks the engine for.
var subnet = regexp.MustCompile(`--subnet[ =]([0-9./]+)`)

// TestScriptsOwnTheirSubnets holds every script that makes a network with a
// fixed subnet to a subnet of its own: the scripts run in parallel, and the
// engine refuses a second network whose pool overlaps the first ("Pool
// overlaps with other one on this address space"). launch_sidecar and
// launch_smol_story once shared 10.213.78.0/24 and failed CI that way.
func TestScriptsOwnTheirSubnets(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "script", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	owner := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range subnet.FindAllStringSubmatch(string(b), -1) {
			name := filepath.Base(f)
			if o, ok := owner[m[1]]; ok && o != name {
				t.Errorf("%s and %s both make a network on %s: give each script its own subnet", o, name, m[1])
			}
			owner[m[1]] = name
		}
	}
}
