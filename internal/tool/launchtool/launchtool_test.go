package launchtool

import (
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/tool/tooltest"
)

// Bad input is refused with one line saying what to do, before any
// engine is dialled (DOCKER_HOST names none that exists, so a dial would
// fail with another message).
func TestLaunchUsage(t *testing.T) {
	for _, c := range []struct {
		name  string
		tty   bool
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"argument", true, "", []string{"sh"}, exitcode.Usage, "the command goes in the spec"},
		{"unknown flag", true, "", []string{"--frobnicate"}, exitcode.Usage, "frobnicate"},
		{"no spec at a terminal", true, "", nil, exitcode.Usage, "no spec: pass --spec FILE"},
		{"missing spec file", true, "", []string{"--spec", "/nonexistent/spec.json"}, exitcode.Usage, "--spec:"},
		{"spec not JSON", false, "not json", nil, exitcode.BadInput, "on stdin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := tooltest.New(t, Run)
			x.Vars["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
			x.Env.StdinTTY = c.tty
			x.Env.Stdin = strings.NewReader(c.stdin)
			code := x.Exec(c.args...)
			if code != c.code || !strings.Contains(x.Stderr.String(), c.want) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", code, c.code, x.Stderr, c.want)
			}
			if n := strings.Count(x.Stderr.String(), "\n"); n != 1 {
				t.Errorf("%d lines on stderr: %q", n, x.Stderr)
			}
			if x.Stdout.Len() != 0 || strings.Contains(x.Stderr.String(), "nonexistent/docker.sock") {
				t.Errorf("stdout %q, stderr %q", x.Stdout, x.Stderr)
			}
		})
	}
}
