package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestContextsAsTheCLI makes contexts with the real docker CLI (`docker
// context create`, in a DOCKER_CONFIG of the test's own) of every kind it
// writes — a socket, plain tcp, TLS with a client certificate, a CA alone,
// skip-tls-verify with and without material, ssh with a port and with a
// socket path, a description, a copy (--from), the current one (`docker
// context use`) — and checks that each resolves to the host and TLS
// material `docker context inspect` shows, speaking TLS exactly when the
// CLI's own rule does (material or SkipTLSVerify, never to a socket or
// over ssh), and that ContextNames lists what `docker context ls` lists.
// It needs the docker CLI, not an engine; without it the test skips,
// except under CI=true.
func TestContextsAsTheCLI(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but no docker CLI: %v", err)
		}
		t.Skipf("no docker CLI (%v); under CI=true this fails", err)
	}
	cfg := t.TempDir()
	certs := t.TempDir()
	writeCert(t, certs)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(docker, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg, "DOCKER_HOST=", "DOCKER_CONTEXT=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	file := func(n string) string { return filepath.Join(certs, n) }
	for name, args := range map[string][]string{
		"sock":       {"--docker", "host=unix:///run/x/docker.sock"},
		"plain":      {"--docker", "host=tcp://10.0.0.1:2375"},
		"tls":        {"--docker", "host=tcp://10.0.0.2:2376,ca=" + file("ca.pem") + ",cert=" + file("cert.pem") + ",key=" + file("key.pem")},
		"ca-only":    {"--docker", "host=tcp://10.0.0.3:2376,ca=" + file("ca.pem")},
		"skip":       {"--docker", "host=tcp://10.0.0.4:2376,skip-tls-verify=true"},
		"skip-ca":    {"--docker", "host=tcp://10.0.0.5:2376,ca=" + file("ca.pem") + ",skip-tls-verify=true"},
		"ssh":        {"--description", "the build box", "--docker", "host=ssh://me@box:2222"},
		"ssh-socket": {"--docker", "host=ssh://box/run/user/1000/docker.sock"},
		"sock-tls":   {"--docker", "host=unix:///run/y.sock,ca=" + file("ca.pem") + ",cert=" + file("cert.pem") + ",key=" + file("key.pem")},
		"my.ctx_10":  {"--docker", "host=tcp://10.0.0.6:2375"},
		"my.ctx_9":   {"--docker", "host=tcp://10.0.0.7:2375"},
	} {
		run(append([]string{"context", "create", name}, args...)...)
	}
	run("context", "create", "copy-of-tls", "--from", "tls")

	var inspected []struct {
		Name      string
		Endpoints map[string]struct {
			Host          string
			SkipTLSVerify bool
		}
		TLSMaterial map[string][]string
		Storage     struct{ TLSPath string }
	}
	listed := strings.Fields(run("context", "ls", "--format", "{{.Name}}"))
	var names []string
	for _, n := range listed {
		if n != DefaultContext {
			names = append(names, n)
		}
	}
	if err := json.Unmarshal([]byte(run(append([]string{"context", "inspect"}, names...)...)), &inspected); err != nil {
		t.Fatal(err)
	}
	if len(inspected) != 12 {
		t.Fatalf("docker context inspect gave %d contexts, want 12", len(inspected))
	}
	getenv := env(map[string]string{"DOCKER_CONFIG": cfg})
	for _, c := range inspected {
		d := c.Endpoints["docker"]
		want := Endpoint{Host: d.Host, Context: c.Name, Source: `context "` + c.Name + `"`}
		material := c.TLSMaterial["docker"]
		dir := filepath.Join(c.Storage.TLSPath, "docker")
		// The CLI's rule (cli/context/docker.Endpoint.ClientOpts, tlsConfig):
		// no TLS for a socket or an ssh helper; else TLS when there is
		// material or SkipTLSVerify.
		if !strings.HasPrefix(d.Host, "unix://") && !strings.HasPrefix(d.Host, "ssh://") && (len(material) > 0 || d.SkipTLSVerify) {
			want.TLS, want.Verify = true, !d.SkipTLSVerify
			for _, f := range material {
				switch f {
				case "ca.pem":
					want.CA = filepath.Join(dir, f)
				case "cert.pem":
					want.Cert = filepath.Join(dir, f)
				case "key.pem":
					want.Key = filepath.Join(dir, f)
				default:
					t.Errorf("%s: TLS material %q the toolkit does not read", c.Name, f)
				}
			}
		}
		got, err := ResolveContext(getenv, c.Name)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if got != want {
			t.Errorf("%s:\n got  %#v\n want %#v (docker context inspect: %+v)", c.Name, got, want, c)
		}
		for _, f := range []string{got.CA, got.Cert, got.Key} {
			if f != "" {
				if _, err := os.Stat(f); err != nil {
					t.Errorf("%s: %v", c.Name, err)
				}
			}
		}
		// What the docker CLI would use for this context is what we use.
		if got, err := Resolve(env(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": c.Name})); err != nil || got.Host != d.Host || got.Context != c.Name {
			t.Errorf("DOCKER_CONTEXT=%s: %+v %v", c.Name, got, err)
		}
	}
	spot := map[string]string{"tls": "tcp://10.0.0.2:2376", "ssh": "ssh://me@box:2222", "ssh-socket": "ssh://box/run/user/1000/docker.sock"}
	for name, host := range spot {
		if got, _ := ResolveContext(getenv, name); got.Host != host {
			t.Errorf("%s: host %q, want %q", name, got.Host, host)
		}
	}
	if got, _ := ResolveContext(getenv, "tls"); !got.TLS || !got.Verify || got.CA == "" || got.Cert == "" || got.Key == "" {
		t.Errorf("tls: %+v", got)
	}
	if got, _ := ResolveContext(getenv, "skip"); !got.TLS || got.Verify {
		t.Errorf("skip: %+v", got)
	}

	got, err := ContextNames(getenv)
	if err != nil || !slices.Equal(got, listed) {
		t.Errorf("ContextNames = %v, %v; docker context ls: %v", got, err, listed)
	}

	// `docker context use` writes currentContext; DOCKER_HOST still wins.
	run("context", "use", "ssh")
	if got, err := Resolve(getenv); err != nil || got.Host != "ssh://me@box:2222" || got.Source != `context "ssh"` {
		t.Errorf("after docker context use ssh: %+v %v", got, err)
	}
	if got, err := Resolve(env(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_HOST": "unix:///z.sock"})); err != nil || got.Host != "unix:///z.sock" || got.Context != DefaultContext {
		t.Errorf("DOCKER_HOST with a current context: %+v %v", got, err)
	}
}

// writeCert writes a self-signed CA and a client certificate and key as
// ca.pem, cert.pem, key.pem (the CLI reads them when it creates a context).
func writeCert(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bottle test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, data := range map[string][]byte{
		"ca.pem": cert, "cert.pem": cert,
		"key.pem": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
