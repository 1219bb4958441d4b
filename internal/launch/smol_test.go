package launch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/exitcode"
	"github.com/claude-bottle/bottle/internal/smolvmcli"
)

// smolLaunched is a smolmachines bottle as smolCreate has it once the
// sidecar's port is known.
func smolLaunched(spec Spec, sm *Smol) *Launched {
	spec.Defaults()
	b := &Launched{spec: spec, opt: Options{Prefix: "cb-", Smol: sm}, ids: map[string]string{},
		Project: Project{Name: "cb-a-xyz12", Slug: "a-xyz12", Agent: "a", Version: "v1"}}
	b.smol = &smolBottle{Smol: sm, machine: "cb-a-xyz12", port: 32768}
	return b
}

func TestSmolCreateArgs(t *testing.T) {
	ws := t.TempDir()
	b := smolLaunched(Spec{Backend: bottle.Smolmachines, Agent: "a", Image: "img", Workspace: ws,
		Env: map[string]string{"ANTHROPIC_API_KEY": "sk-secret", "HTTPS_PROXY": "http://evil:1"}}, &Smol{Environ: []string{"PATH=/bin"}})
	args := b.smolCreateArgs()
	line := strings.Join(args, " ")
	for _, want := range []string{
		"machine create --name cb-a-xyz12 --image - --label dev.bottle.slug=a-xyz12 --label dev.bottle.agent=a --label dev.bottle.version=v1 --allow-host 100.96.0.1 ",
		" -e HTTPS_PROXY=http://host.smolvm.internal:32768 ", " -e http_proxy=http://host.smolvm.internal:32768 ",
		" -e NO_PROXY=localhost,127.0.0.1,::1 ", " -e HOME=/home/agent ", " -e SSL_CERT_FILE=/usr/local/share/ca-certificates/bottle-proxy-ca.crt ",
		" -v " + ws + ":/workspace -w /workspace ",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("create args lack %q:\n%s", want, line)
		}
	}
	if !slices.Equal(args[len(args)-3:], []string{"--", "sleep", "infinity"}) {
		t.Errorf("the workload: %v", args[len(args)-3:])
	}
	// the spec's values never reach smolvm's record: not even the one the
	// launcher overrides (it is the launcher's proxy that goes)
	if strings.Contains(line, "sk-secret") || strings.Contains(line, "evil") || strings.Contains(line, "ANTHROPIC") {
		t.Errorf("a spec value in create's args: %s", line)
	}
	// the only way out is the gateway: no --net (TSI enforces nothing), no
	// port, no other allow entry
	for _, a := range args {
		if a == "--net" || a == "-p" || a == "--allow-cidr" || a == "--net-backend" {
			t.Errorf("create asks for %s", a)
		}
	}
	if strings.Count(line, "--allow-host") != 1 {
		t.Errorf("more than one allow entry: %s", line)
	}
}

func TestSmolAgentExec(t *testing.T) {
	sm := &Smol{Environ: []string{"PATH=/bin", "HTTPS_PROXY=http://host-proxy", "SECRET_OF_HOST=x"}, Entrypoint: []string{"/agent"}, Cmd: []string{"check"}}
	spec := Spec{Backend: bottle.Smolmachines, Agent: "a", Image: "img", Command: []string{"claude", "-p"},
		Env: map[string]string{"ANTHROPIC_API_KEY": "sk-secret", "B": "two", "HOME": "/elsewhere"}}
	b := smolLaunched(spec, sm)
	args, env := b.smolAgentExec("-i", "-t")
	want := []string{"machine", "exec", "-i", "-t", "--name", "cb-a-xyz12",
		"--secret-env", "ANTHROPIC_API_KEY=BOTTLE_SECRET_ENV_0", "--secret-env", "B=BOTTLE_SECRET_ENV_1",
		"--", "/agent", "claude", "-p"}
	if !slices.Equal(args, want) {
		t.Errorf("args\n%v\nwant\n%v", args, want)
	}
	for _, kv := range []string{"BOTTLE_SECRET_ENV_0=sk-secret", "BOTTLE_SECRET_ENV_1=two", "PATH=/bin", "SECRET_OF_HOST=x"} {
		if !slices.Contains(env, kv) {
			t.Errorf("smolvm's env lacks %s: %v", kv, env)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "HTTPS_PROXY=") || strings.Contains(kv, "/elsewhere") {
			t.Errorf("smolvm's env holds %s", kv)
		}
	}
	// no spec command: the image's CMD after its ENTRYPOINT; a resume
	// appends continue to the spec's command
	b = smolLaunched(Spec{Agent: "a", Image: "img"}, sm)
	if args, _ := b.smolAgentExec("-d"); !slices.Equal(args[len(args)-3:], []string{"--", "/agent", "check"}) {
		t.Errorf("the image's command: %v", args)
	}
	b = smolLaunched(Spec{Agent: "a", Image: "img", Command: []string{"claude"}}, sm)
	b.resumed = &earlierLife{transcript: "/saved/transcript"}
	if args, _ := b.smolAgentExec(); !slices.Equal(args[len(args)-4:], []string{"--", "/agent", "claude", ClaudeContinue}) {
		t.Errorf("a resume's command: %v", args)
	}
}

func TestSmolHome(t *testing.T) {
	b := smolLaunched(Spec{Agent: "a", Image: "img"}, &Smol{User: User{1000, 1001}})
	var paths []string
	for _, e := range b.smolHome() {
		if !e.Dir || e.UID != 1000 || e.GID != 1001 || e.Mode != 0o755 {
			t.Errorf("entry %+v", e)
		}
		paths = append(paths, e.Path)
	}
	if want := []string{bottle.AgentHome, bottle.AgentHome + "/.claude", bottle.AgentTranscript}; !slices.Equal(paths, want) {
		t.Errorf("home %v, want %v", paths, want)
	}
	b.spec.Skills = "skills"
	if es := b.smolHome(); es[len(es)-1].Path != bottle.AgentSkills {
		t.Errorf("with skills: %+v", es)
	}
}

// smolvmScript is a smolvm that answers --version with out.
func smolvmScript(t *testing.T, out string) *smolvmcli.CLI {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smolvm")
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho '"+out+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &smolvmcli.CLI{Path: p, Timeout: 10 * time.Second}
}

// TestPrepareSmolRefuses: what is refused before the engine is asked
// anything (the image's refusals are launch_smol_failure's).
func TestPrepareSmolRefuses(t *testing.T) {
	ctx := context.Background()
	spec := Spec{Backend: bottle.Smolmachines, Agent: "a", Image: "img"}
	if _, err := PrepareSmol(ctx, nil, &smolvmcli.CLI{}, nil, spec, "cb-", nil); err == nil || err.Error() != "the smolmachines backend needs smolvm 1.9.0 or later: put smolvm on PATH or name it in BOTTLE_SMOLVM" {
		t.Errorf("no smolvm: %v", err)
	}
	why := errors.New("BOTTLE_SMOLVM=x: no executable file there")
	if _, err := PrepareSmol(ctx, nil, nil, why, spec, "cb-", nil); err != why {
		t.Errorf("smolvm not found: %v", err)
	}
	old := smolvmScript(t, "smolvm 1.8.3")
	if _, err := PrepareSmol(ctx, nil, old, nil, spec, "cb-", nil); err == nil || !strings.Contains(err.Error(), "smolvm 1.8.3 ("+old.Path+") is too old: the smolmachines backend needs smolvm 1.9.0 or later") {
		t.Errorf("an old smolvm: %v", err)
	}
	if _, err := PrepareSmol(ctx, nil, smolvmScript(t, "what?"), nil, spec, "cb-", nil); err == nil || !strings.Contains(err.Error(), `not "smolvm X.Y.Z"`) {
		t.Errorf("a smolvm that says no version: %v", err)
	}
	ws := Spec{Backend: bottle.Smolmachines, Agent: "a", Image: "img", Workspace: "/src/a:b"}
	if _, err := PrepareSmol(ctx, nil, smolvmScript(t, "smolvm 1.9.3"), nil, ws, "cb-", nil); exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "workspace /src/a:b holds ':'") {
		t.Errorf("a workspace with ':': %v", err)
	}
	for _, c := range []struct{ prefix, agent string }{{"cb.", "a"}, {"cb-", "a--b"}, {"-cb", "a"}} {
		spec.Agent = c.agent
		_, err := PrepareSmol(ctx, nil, smolvmScript(t, "smolvm 1.9.3"), nil, spec, c.prefix, nil)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "smolvm cannot name a machine") {
			t.Errorf("prefix %q agent %q: %v", c.prefix, c.agent, err)
		}
	}
}

func TestSpecBackend(t *testing.T) {
	for _, b := range []string{"", bottle.Docker, bottle.Smolmachines} {
		s := Spec{Backend: b, Agent: "a", Image: "img"}
		s.Defaults()
		if err := s.Check(nil); err != nil {
			t.Errorf("backend %q: %v", b, err)
		}
	}
	s := Spec{Backend: "podman", Agent: "a", Image: "img"}
	s.Defaults()
	var se *SpecError
	if err := s.Check(map[string]string{"backend": "--backend"}); !errors.As(err, &se) || se.Flag != "--backend" || se.Msg != `bad backend "podman": use docker or smolmachines` {
		t.Errorf("podman: %v", err)
	}
	if _, err := Decode(strings.NewReader(`{"backend": "smolmachines", "agent": "a", "image": "i", "machine": 1}`), "x"); err == nil || !strings.Contains(err.Error(), ", backend)") {
		t.Errorf("unknown field: %v", err)
	}
}
