package launchtool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/cli"
	"github.com/claude-bottle/bottle/internal/engine"
	"github.com/claude-bottle/bottle/internal/enginefake"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/launch"
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

// The sidecar's image: --sidecar-image beats the spec, which beats
// $BOTTLE_SIDECAR_IMAGE, which beats pipelock's published image; a bad
// one is refused naming where it came from.
func TestSidecarImage(t *testing.T) {
	for _, c := range []struct {
		name, flag, spec, env, want string
	}{
		{"default", "", "", "", launch.DefaultSidecarImage},
		{"env", "", "", "pl:env", "pl:env"},
		{"spec over env", "", "pl:spec", "pl:env", "pl:spec"},
		{"flag over all", "pl:flag", "pl:spec", "pl:env", "pl:flag"},
	} {
		spec := launch.Spec{Agent: "a", Image: "img", Sidecar: launch.Sidecar{Image: c.spec}}
		err := applyFlags(&spec, envOf(map[string]string{EnvSidecarImage: c.env}), options{SidecarImage: c.flag}, t.TempDir())
		if err != nil || spec.Sidecar.Image != c.want {
			t.Errorf("%s: sidecar image %q, %v; want %q", c.name, spec.Sidecar.Image, err, c.want)
		}
	}
	spec := launch.Spec{Agent: "a", Image: "img"}
	err := applyFlags(&spec, envOf(map[string]string{EnvSidecarImage: "bad image"}), options{}, t.TempDir())
	if exitcode.Of(err) != exitcode.Usage || err.Error() != `$BOTTLE_SIDECAR_IMAGE: bad sidecar image "bad image": an image reference has no spaces (see bottle-launch --help)` {
		t.Errorf("bad env: %v", err)
	}
	err = applyFlags(&spec, envOf(nil), options{SidecarImage: "x y"}, t.TempDir())
	if exitcode.Of(err) != exitcode.Usage || !strings.HasPrefix(err.Error(), `--sidecar-image: bad sidecar image "x y"`) {
		t.Errorf("bad flag: %v", err)
	}
}

// An engine that cannot be reached: one line, the cause first (no step
// with a random name in front of it), exit 1, nothing made. --resume takes
// the bottle's name as well as its slug: with either it gets as far as the
// engine.
func TestLaunchEngineDown(t *testing.T) {
	for _, args := range [][]string{
		{"--agent", "a", "--image", "img"},
		{"--resume", "res-abcde"},
		{"--resume", tooltest.Prefix + "res-abcde"},
	} {
		x := tooltest.New(t, Run)
		enginefake.NewWorld().Wire(x.Engine) // no bottle of the slug exists
		x.Vars["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
		x.Env.StdinTTY = true
		dir := filepath.Join(x.StateDir, "res-abcde")
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "bottle.json"), []byte(`{"backend":"docker","name":"`+tooltest.Prefix+`res-abcde","slug":"res-abcde","agent":"res","prefix":"`+tooltest.Prefix+`",
			"spec":{"agent":"res","image":"img","sidecar":{"image":"pl","port":8888,"allow":["api.anthropic.com"]}},"ended":"2026-03-04T00:00:00Z"}`), 0o600)
		code := x.Exec(args...)
		if code != exitcode.Failure || !strings.HasPrefix(x.Stderr.String(), "bottle-launch: cannot reach the Docker engine at unix:///nonexistent/docker.sock (from DOCKER_HOST): ") ||
			strings.Count(x.Stderr.String(), "\n") != 1 || x.Stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, x.Stderr)
		}
		entries, _ := os.ReadDir(x.StateDir)
		if len(entries) != 2 || entries[0].Name() != bottle.RootMarker || entries[1].Name() != "res-abcde" {
			t.Errorf("%q: state root holds %v, want its marker and res-abcde", args, entries)
		}
	}
}

// The command a foreground ending prints to resume: --prefix, --state-dir
// and --context only when they were given as flags.
func TestResumeCommand(t *testing.T) {
	home := t.TempDir()
	env := envOf(map[string]string{"HOME": home, "BOTTLE_PREFIX": "bt-env-"})
	o := options{Scope: cli.Scope{Prefix: "bt-env-", StateDir: filepath.Join(home, ".claude-bottle", "state")}}
	if got := resumeCommand(env, o, "a-abcde"); got != "bottle-launch --resume a-abcde" {
		t.Errorf("from the environment: %q", got)
	}
	o.Prefix, o.StateDir = "bt-flag-", "/tmp/my state"
	if got := resumeCommand(env, o, "a-abcde"); got != "bottle-launch --resume a-abcde --prefix bt-flag- --state-dir '/tmp/my state'" {
		t.Errorf("from flags: %q", got)
	}
	// launched on another engine by --context: resumed there too
	o = options{Scope: cli.Scope{Prefix: "bt-env-", StateDir: filepath.Join(home, ".claude-bottle", "state")}, Context: "build box"}
	if got := resumeCommand(env, o, "a-abcde"); got != "bottle-launch --resume a-abcde --context 'build box'" {
		t.Errorf("with --context: %q", got)
	}
}

// On an ssh:// engine (another host) a workspace and the smolmachines
// backend are refused with one line, exit 3; the rest, and any local
// engine, pass. (launch_ssh.txtar checks it end to end, nothing made.)
func TestRemoteEngine(t *testing.T) {
	ssh := engine.Endpoint{Host: "ssh://me@box", Source: "DOCKER_HOST"}
	local := engine.Endpoint{Host: "unix:///var/run/docker.sock", Source: "default"}
	ws := launch.Spec{Agent: "a", Image: "img", Workspace: "/home/me/proj"}
	smol := launch.Spec{Agent: "a", Image: "img", Backend: bottle.Smolmachines}
	plain := launch.Spec{Agent: "a", Image: "img"}
	for _, c := range []struct {
		name string
		spec launch.Spec
		ep   engine.Endpoint
		want string
	}{
		{"workspace over ssh", ws, ssh, "workspace /home/me/proj: the engine ssh://me@box (from DOCKER_HOST) is reached over ssh, on another host, which would mount its own /home/me/proj, not this directory; launch without a workspace there, or on a local engine"},
		{"smolmachines over ssh", smol, ssh, "backend smolmachines: the engine ssh://me@box (from DOCKER_HOST) is reached over ssh, on another host, and a smolmachines bottle needs its sidecars on this one; use the docker backend there, or a local engine"},
		{"no workspace over ssh", plain, ssh, ""},
		{"workspace on the socket", ws, local, ""},
		{"workspace over tcp", ws, engine.Endpoint{Host: "tcp://10.0.0.1:2375"}, ""},
	} {
		err := remoteEngine(c.spec, c.ep)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil || err.Error() != c.want || exitcode.Of(err) != exitcode.BadInput {
			t.Errorf("%s: %v (code %d), want %q", c.name, err, exitcode.Of(err), c.want)
		}
	}
}
