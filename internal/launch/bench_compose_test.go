package launch

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/claude-bottle/bottle/internal/bottle"
)

// composePeer is the compose file docker compose brings the same bottle up
// with, made from the compose.json bottle-launch wrote for it (doc):
// renamed to project, without the documentation label that makes compose
// refuse the file, with the files bottle-launch copies into each container
// (files: service -> tar, as AgentFiles and SidecarFiles make them) as
// compose configs with inline content (compose copies those into the
// container before starting it, as bottle-launch does), and the sidecar's
// healthcheck probing every interval. Directories in the archives are left
// out: compose configs are files.
func composePeer(doc []byte, project string, files map[string][]byte, interval time.Duration) ([]byte, error) {
	var head struct{ Name string }
	if err := json.Unmarshal(doc, &head); err != nil || head.Name == "" {
		return nil, fmt.Errorf("compose.json: no project name (%v)", err)
	}
	var d map[string]any
	if err := json.Unmarshal(bytes.ReplaceAll(doc, []byte(head.Name), []byte(project)), &d); err != nil {
		return nil, err
	}
	services, _ := d["services"].(map[string]any)
	configs := map[string]any{}
	for name, s := range services {
		svc, _ := s.(map[string]any)
		if svc == nil {
			return nil, fmt.Errorf("compose.json: service %s is not an object", name)
		}
		if labels, _ := svc["labels"].(map[string]any); labels != nil {
			delete(labels, labelGuard)
			if len(labels) == 0 {
				delete(svc, "labels")
			}
		}
		if hc, _ := svc["healthcheck"].(map[string]any); hc != nil {
			hc["interval"] = interval.String()
		}
		var refs []any
		tr := tar.NewReader(bytes.NewReader(files[name]))
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s's files: %w", name, err)
			}
			if h.Typeflag != tar.TypeReg {
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			key := name + "-" + strconv.Itoa(len(refs))
			// compose interpolates content: $ is written $$
			configs[key] = map[string]any{"content": strings.ReplaceAll(string(data), "$", "$$")}
			// No uid/gid: compose would copy with CopyUIDGID, which Docker
			// 20.10 resolves in the host's passwd (bottle-launch does not
			// use it); the files are root's either way here.
			refs = append(refs, map[string]any{
				"source": key, "target": "/" + strings.TrimPrefix(h.Name, "/"), "mode": fmt.Sprintf("0%o", h.Mode&0o7777),
			})
		}
		if len(refs) > 0 {
			svc["configs"] = refs
		}
	}
	if len(configs) > 0 {
		d["configs"] = configs
	}
	return json.MarshalIndent(d, "", "  ")
}

func TestComposePeer(t *testing.T) {
	spec := Spec{Agent: "peer", Image: "bottle-test/agent", Command: []string{"sleep"}, Sidecar: Sidecar{Image: "bottle-test/pipelock", Allow: []string{"example.test"}}}
	spec.Defaults()
	b := &Launched{spec: spec, Project: Project{Name: "bt-x-peer-aaaaa", Slug: "peer-aaaaa", Agent: "peer", StateDir: "/state/peer-aaaaa"}}
	agent, sidecar, _ := b.services()
	doc, err := json.Marshal(b.Project.Compose(agent, sidecar, nil))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	ca, err := NewCA("x", now)
	if err != nil {
		t.Fatal(err)
	}
	agentTar, err := AgentFiles(spec, ca, now)
	if err != nil {
		t.Fatal(err)
	}
	sidecarTar, err := SidecarFiles(spec, ca, now)
	if err != nil {
		t.Fatal(err)
	}
	out, err := composePeer(doc, "bt-x-cmp0", map[string][]byte{bottle.ServiceAgent: agentTar, bottle.ServiceSidecar: sidecarTar}, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, bad := range []string{"bt-x-peer-aaaaa", ComposeGuardVar, labelGuard} {
		if strings.Contains(s, bad) {
			t.Errorf("the peer's compose file still has %q:\n%s", bad, s)
		}
	}
	var d ComposeDoc
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "bt-x-cmp0" || d.Services[bottle.ServiceAgent].ContainerName != "bt-x-cmp0-agent-1" || d.Networks[bottle.NetInternal]["name"] != "bt-x-cmp0_internal" || d.Volumes[bottle.VolHome]["name"] != "bt-x-cmp0_home" {
		t.Errorf("not renamed: %s", s)
	}
	if hc := d.Services[bottle.ServiceSidecar].Healthcheck; hc == nil || hc.Interval != "500ms" || hc.Retries != 3 {
		t.Errorf("sidecar healthcheck %+v; want bottle's, probing every 500ms", hc)
	}
	var c struct {
		Services map[string]struct {
			Configs []struct{ Source, Target, Mode string }
		}
		Configs map[string]struct{ Content string }
	}
	if err := json.Unmarshal(out, &c); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for name, svc := range c.Services {
		for _, r := range svc.Configs {
			got[name+" "+r.Target+" "+r.Mode] = c.Configs[r.Source].Content
		}
	}
	for _, want := range []struct{ key, has string }{
		{bottle.ServiceAgent + " " + bottle.AgentCAPath + " 0644", "BEGIN CERTIFICATE"},
		{bottle.ServiceSidecar + " " + bottle.SidecarConfig + " 0644", "example.test"},
		{bottle.ServiceSidecar + " " + bottle.SidecarCACert + " 0644", "BEGIN CERTIFICATE"},
		{bottle.ServiceSidecar + " " + bottle.SidecarCAKey + " 0600", "PRIVATE KEY"},
	} {
		if !strings.Contains(got[want.key], want.has) {
			t.Errorf("config %s: %q lacks %q (configs: %v)", want.key, got[want.key], want.has, c.Services)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d configs; want 4: %v", len(got), got)
	}
}

// composeRound brings the same bottle up and down with docker compose:
// `up -d`, with --wait when wait is set (compose then also polls until both
// containers run and the sidecar is healthy; without it, it returns once
// it started the agent, which it does once the sidecar is healthy), and
// `down --volumes`, of the compose file composePeer makes.
func composeRound(dir, project string, doc []byte, spec Spec, wait bool) (up, down time.Duration, err error) {
	ca, err := NewCA(project, time.Now())
	if err != nil {
		return 0, 0, err
	}
	agentTar, err := AgentFiles(spec, ca, time.Now())
	if err != nil {
		return 0, 0, err
	}
	sidecarTar, err := SidecarFiles(spec, ca, time.Now())
	if err != nil {
		return 0, 0, err
	}
	// The sidecar's healthcheck probes as often as bottle-launch probes it
	// while it waits (compose waits on the engine's health status; the
	// healthcheck as written probes every 10 s, and Docker 20.10 has no
	// start_interval, so compose would wait 10 s for it).
	data, err := composePeer(doc, project, map[string][]byte{bottle.ServiceAgent: agentTar, bottle.ServiceSidecar: sidecarTar}, sidecarProbeEvery)
	if err != nil {
		return 0, 0, err
	}
	file := filepath.Join(dir, "compose.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return 0, 0, err
	}
	compose := func(args ...string) error {
		cmd := exec.Command("docker", append([]string{"compose", "-f", file}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("docker compose %v: %v: %s", args, err, out)
		}
		return nil
	}
	args := []string{"up", "-d"}
	if wait {
		args = append(args, "--wait")
	}
	t0 := time.Now()
	if err := compose(args...); err != nil {
		return 0, 0, err
	}
	up = time.Since(t0)
	t1 := time.Now()
	if err := compose("down", "--volumes"); err != nil {
		return 0, 0, err
	}
	return up, time.Since(t1), nil
}

// composeStart is what starting `docker compose` costs before it does
// anything: the docker CLI, its plugin discovery and compose's own start
// (`docker compose version`).
func composeStart() (time.Duration, error) {
	t0 := time.Now()
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		return 0, fmt.Errorf("docker compose version: %v: %s", err, out)
	}
	return time.Since(t0), nil
}
