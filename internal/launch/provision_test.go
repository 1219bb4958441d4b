package launch

import (
	"archive/tar"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCA(t *testing.T) {
	ca, err := NewCA("p-x", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(ca.CertPEM, ca.KeyPEM); err != nil {
		t.Fatalf("cert and key do not match: %v", err)
	}
	blk, _ := pem.Decode(ca.CertPEM)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !cert.IsCA || cert.Subject.CommonName != "bottle egress CA p-x" || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("cert = %+v, %v", cert, err)
	}
	// pipelock's certgen.LoadCA reads the key with x509.ParseECPrivateKey:
	// SEC1 ("EC PRIVATE KEY"); a PKCS#8 key is fatal to it.
	kblk, _ := pem.Decode(ca.KeyPEM)
	if kblk == nil || kblk.Type != "EC PRIVATE KEY" {
		t.Fatalf("key PEM type = %v, want EC PRIVATE KEY", kblk)
	}
	if _, err := x509.ParseECPrivateKey(kblk.Bytes); err != nil {
		t.Fatalf("key is not SEC1: %v", err)
	}
}

func TestPipelockConfig(t *testing.T) {
	s := Spec{Sidecar: Sidecar{Port: 8888, Allow: []string{"api.anthropic.com", "*.github.com"}, Trusted: []string{"registry.internal"}}}
	s.Defaults()
	got := string(PipelockConfig(s))
	for _, want := range []string{
		"mode: strict\n",
		"api_allowlist:\n  - \"api.anthropic.com\"\n  - \"*.github.com\"\n  - \"registry.internal\"\n",
		"trusted_domains:\n  - \"registry.internal\"\n",
		"fetch_proxy:\n  listen: \"0.0.0.0:8888\"\n", "forward_proxy:\n  enabled: true\n",
		"tls_interception:\n  enabled: true\n  ca_cert: \"/etc/pipelock/ca.pem\"\n  ca_key: \"/etc/pipelock/ca-key.pem\"\n  passthrough_domains:\n    - \"api.anthropic.com\"\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	// absent lists get the defaults; an explicit empty passthrough stays empty
	d := Spec{}
	d.Defaults()
	d.Sidecar.Passthrough = []string{}
	got = string(PipelockConfig(d))
	if !strings.Contains(got, "api_allowlist:\n  - \"api.anthropic.com\"\n") || !strings.Contains(got, "  passthrough_domains: []\n") || strings.Contains(got, "trusted_domains") {
		t.Errorf("defaults:\n%s", got)
	}
}

func entries(t *testing.T, data []byte) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[h.Name]; dup {
			t.Errorf("entry %s twice", h.Name)
		}
		out[h.Name] = h
	}
}

func TestAgentFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.md"), []byte("prompt"), 0o644)
	os.MkdirAll(filepath.Join(dir, "skills", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "skills", "sub", "s.md"), []byte("s"), 0o644)
	os.Symlink("/etc/passwd", filepath.Join(dir, "skills", "escape"))
	os.WriteFile(filepath.Join(dir, "cred"), []byte("https://u:t@h\n"), 0o644)
	s := Spec{Prompt: filepath.Join(dir, "p.md"), Skills: filepath.Join(dir, "skills"), Git: &Git{User: "Ada", Email: "a@b", Credential: filepath.Join(dir, "cred")}}
	data, err := AgentFiles(s, CA{CertPEM: []byte("CERT")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	es := entries(t, data)
	for name, mode := range map[string]int64{
		"usr/local/share/ca-certificates/bottle-proxy-ca.crt": 0o644,
		"home/agent/prompt.md":                                0o644,
		"home/agent/.claude/skills/sub/s.md":                  0o644,
		"home/agent/.git-credentials":                         0o600,
		"home/agent/.gitconfig":                               0o644,
		"home/agent/.claude/projects/":                        0o755,
		"home/agent/.claude/skills/sub/":                      0o755,
	} {
		h, ok := es[name]
		if !ok {
			t.Errorf("no %s in %v", name, es)
			continue
		}
		if h.Mode != mode {
			t.Errorf("%s: mode %o, want %o", name, h.Mode, mode)
		}
	}
	if _, ok := es["home/agent/.claude/skills/escape"]; ok {
		t.Error("a symlink in skills was copied")
	}

	// skills given as a symlink to a dir: followed once, not copied empty
	os.Symlink(filepath.Join(dir, "skills"), filepath.Join(dir, "skills-link"))
	s.Skills = filepath.Join(dir, "skills-link")
	data, err = AgentFiles(s, CA{CertPEM: []byte("CERT")}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := entries(t, data)["home/agent/.claude/skills/sub/s.md"]; !ok {
		t.Error("skills given as a symlink were copied empty")
	}
}

func TestSkillsOfSymlinksOnly(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "skills"), 0o755)
	os.WriteFile(filepath.Join(dir, "real.md"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(dir, "real.md"), filepath.Join(dir, "skills", "link.md"))
	_, err := AgentFiles(Spec{Skills: filepath.Join(dir, "skills")}, CA{}, time.Now())
	var se *SpecError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "holds no regular file, only 1 symlinks") {
		t.Fatalf("AgentFiles = %v, want a refusal", err)
	}
	// an empty dir is the user's choice: copied as an empty dir
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	if _, err := AgentFiles(Spec{Skills: filepath.Join(dir, "empty")}, CA{}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func TestAgentFilesRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	environ := filepath.Join(dir, "environ")
	os.Symlink("/proc/self/environ", environ)
	for name, s := range map[string]Spec{
		"fifo prompt":     {Prompt: fifo},
		"environ prompt":  {Prompt: environ},
		"fifo credential": {Git: &Git{Credential: fifo}},
	} {
		done := make(chan error, 1)
		go func() { _, err := AgentFiles(s, CA{}, time.Now()); done <- err }()
		select {
		case err := <-done:
			var se *SpecError
			if !errors.As(err, &se) {
				t.Errorf("%s: AgentFiles = %v, want a refusal", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: AgentFiles hangs", name)
		}
	}
}
