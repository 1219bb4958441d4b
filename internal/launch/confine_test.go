package launch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/claude-bottle/bottle/internal/bottle"
	"github.com/claude-bottle/bottle/internal/engine"
)

// Who the agent runs as: never root unless the spec says root; an image
// that runs as root (or names nobody) gets DefaultUser, or the
// workspace's owner when that is not root; an image's own non-root USER is
// kept; the spec's user wins over both.
func TestAgentUser(t *testing.T) {
	owned := t.TempDir()
	if err := os.Chown(owned, 1234, 2345); err != nil {
		t.Logf("cannot chown (not root): %v; the workspace-owner case is left out", err)
		owned = ""
	}
	for _, c := range []struct {
		name, image, user, workspace string
		want                         string // the create's User
		root                         bool   // the spec asks for root
	}{
		{name: "no USER", want: "1000:1000"},
		{name: "USER root", image: "root", want: "1000:1000"},
		{name: "USER 0:0", image: "0:0", want: "1000:1000"},
		{name: "USER root:staff", image: "root:staff", want: "1000:1000"},
		{name: "USER node", image: "node", want: ""},
		{name: "USER 1234:1234", image: "1234:1234", want: ""},
		{name: "spec user", image: "node", user: "4321:4321", want: "4321:4321"},
		{name: "spec root", user: "root", want: "0:0", root: true},
		{name: "spec 0", image: "node", user: "0", want: "0:0", root: true},
		{name: "workspace of root", workspace: t.TempDir(), want: "1000:1000"},
		{name: "workspace of 1234", workspace: owned, want: "1234:2345"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "workspace of 1234" && owned == "" {
				t.Skip("needs root to chown")
			}
			f, w, s, opt := setup(t)
			w.ImageUser = c.image
			f.OnCopyFrom = func(id, p string) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(tarOf(t, "passwd", testPasswd))), nil
			}
			s.User, s.Workspace = c.user, c.workspace
			if s.ExplicitRoot() != c.root {
				t.Errorf("ExplicitRoot = %v", !c.root)
			}
			b, err := Start(context.Background(), f, s, opt)
			if err != nil {
				t.Fatal(err)
			}
			specs := f.Specs()
			agent := specs[slices.IndexFunc(specs, func(sp engine.ContainerSpec) bool { return strings.HasSuffix(sp.Name, "-agent-1") })]
			if agent.User != c.want {
				t.Errorf("agent created with User %q, want %q", agent.User, c.want)
			}
			var doc ComposeDoc
			data, err := os.ReadFile(b.Project.ComposeFile())
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			if u := doc.Services[bottle.ServiceAgent].User; u != c.want {
				t.Errorf("compose.json's agent user %q, want %q", u, c.want)
			}
		})
	}
}

// An image whose named user is uid 0 in its own passwd is refused unless
// the spec says root; nothing is left.
func TestAgentUserNamedRoot(t *testing.T) {
	f, w, s, opt := setup(t)
	w.ImageUser = "admin"
	f.OnCopyFrom = func(id, p string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarOf(t, "passwd", "admin:x:0:0::/root:/bin/sh\n"))), nil
	}
	_, err := Start(context.Background(), f, s, opt)
	if err == nil || !strings.Contains(err.Error(), `the agent would run as root (its user is uid 0 in the image's /etc/passwd): set "user" in the spec`) {
		t.Fatalf("Start = %v", err)
	}
	if held := w.Held(); len(held) != 0 {
		t.Errorf("left %v", held)
	}
}

// Both containers lose every capability and cannot gain privileges; the
// compose file says the same.
func TestContainersConfined(t *testing.T) {
	f, _, s, opt := setup(t)
	b, err := Start(context.Background(), f, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	specs := f.Specs()
	data, err := os.ReadFile(b.Project.ComposeFile())
	if err != nil {
		t.Fatal(err)
	}
	var doc ComposeDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 { // the agent, the sidecar, the isolation probe
		t.Fatalf("%d containers", len(specs))
	}
	for _, sp := range specs {
		if !slices.Equal(sp.CapDrop, []string{"ALL"}) || len(sp.CapAdd) != 0 {
			t.Errorf("%s: cap_drop %v, cap_add %v", sp.Name, sp.CapDrop, sp.CapAdd)
		}
		if !slices.Contains(sp.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: security options %v", sp.Name, sp.SecurityOpt)
		}
		if agent := strings.HasSuffix(sp.Name, "-agent-1"); agent && (sp.Sysctls["net.ipv6.conf.all.disable_ipv6"] != "1" || sp.Sysctls["net.ipv6.conf.default.disable_ipv6"] != "1") {
			t.Errorf("%s: sysctls %v", sp.Name, sp.Sysctls)
		}
	}
	// the agent's seccomp profile: whole in the create, a file of the
	// state dir in compose.json
	for _, sp := range specs {
		if strings.HasSuffix(sp.Name, "-agent-1") && !slices.Contains(sp.SecurityOpt, "seccomp="+string(SeccompProfile())) {
			t.Errorf("agent: no seccomp profile in %.80q", sp.SecurityOpt)
		}
		if strings.HasSuffix(sp.Name, "-sidecar-1") && len(sp.SecurityOpt) != 1 {
			t.Errorf("sidecar: security options %v", sp.SecurityOpt)
		}
	}
	if file, err := os.ReadFile(b.Project.SeccompFile()); err != nil || !bytes.Equal(file, SeccompProfile()) {
		t.Errorf("seccomp.json: %v", err)
	}
	if !slices.Contains(doc.Services[bottle.ServiceAgent].SecurityOpt, "seccomp="+b.Project.SeccompFile()) {
		t.Errorf("compose.json: agent security_opt %v", doc.Services[bottle.ServiceAgent].SecurityOpt)
	}
	if doc.Services[bottle.ServiceAgent].Sysctls["net.ipv6.conf.all.disable_ipv6"] != "1" {
		t.Errorf("compose.json: agent sysctls %v", doc.Services[bottle.ServiceAgent].Sysctls)
	}
	for name, svc := range doc.Services {
		if !slices.Equal(svc.CapDrop, []string{"ALL"}) || !slices.Contains(svc.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("compose.json %s: cap_drop %v, security_opt %v", name, svc.CapDrop, svc.SecurityOpt)
		}
	}
}

func TestSpecUser(t *testing.T) {
	for _, u := range []string{"root", "0", "node", "1000:1000", "node:staff", "a.b_c-d"} {
		s := Spec{Agent: "a", Image: "i", User: u}
		s.Defaults()
		if err := s.Check(nil); err != nil {
			t.Errorf("%q: %v", u, err)
		}
	}
	for _, u := range []string{" root", "a b", ":1", "1:", "-x", "a:b:c", "x\n"} {
		s := Spec{Agent: "a", Image: "i", User: u}
		s.Defaults()
		if err := s.Check(nil); err == nil || !strings.HasPrefix(err.Error(), "bad user ") {
			t.Errorf("%q: %v", u, err)
		}
	}
}
