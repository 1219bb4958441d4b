package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func touch(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// context writes a docker context store entry the way `docker context
// create` does: meta under contexts/meta/<sha256(name)>/meta.json, TLS
// material under contexts/tls/<sha256(name)>/docker/.
func dockerContext(t *testing.T, configDir, name, meta string, tlsFiles ...string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	touch(t, filepath.Join(configDir, "contexts", "meta", id))
	if err := os.WriteFile(filepath.Join(configDir, "contexts", "meta", id, "meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(tlsFiles) > 0 {
		touch(t, filepath.Join(configDir, "contexts", "tls", id, "docker"), tlsFiles...)
	}
}

func TestResolve(t *testing.T) {
	home := t.TempDir()
	cfg := filepath.Join(home, ".docker")
	certs := t.TempDir()
	touch(t, certs, "ca.pem", "cert.pem", "key.pem")
	touch(t, cfg, "ca.pem") // DOCKER_TLS without a cert path looks in the config dir
	dockerContext(t, cfg, "remote", `{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.9:2376","SkipTLSVerify":false}}}`, "ca.pem", "cert.pem", "key.pem")
	dockerContext(t, cfg, "insecure", `{"Name":"insecure","Endpoints":{"docker":{"Host":"tcp://10.0.0.8:2376","SkipTLSVerify":true}}}`, "ca.pem")
	dockerContext(t, cfg, "skiponly", `{"Name":"skiponly","Endpoints":{"docker":{"Host":"tcp://10.0.0.7:2376","SkipTLSVerify":true}}}`)
	dockerContext(t, cfg, "local", `{"Name":"local","Endpoints":{"docker":{"Host":"unix:///run/user/1000/docker.sock"}}}`)

	for _, tc := range []struct {
		name string
		env  map[string]string
		want Endpoint
	}{
		{"nothing set", map[string]string{"HOME": home}, Endpoint{Host: DefaultHost, Source: "default"}},
		{"DOCKER_HOST unix", map[string]string{"HOME": home, "DOCKER_HOST": "unix:///tmp/d.sock"},
			Endpoint{Host: "unix:///tmp/d.sock", Source: "DOCKER_HOST"}},
		{"DOCKER_HOST tcp", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://127.0.0.1:2375"},
			Endpoint{Host: "tcp://127.0.0.1:2375", Source: "DOCKER_HOST"}},
		{"TLS verify", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs},
			Endpoint{Host: "tcp://h:2376", Source: "DOCKER_HOST", TLS: true, Verify: true,
				CA: filepath.Join(certs, "ca.pem"), Cert: filepath.Join(certs, "cert.pem"), Key: filepath.Join(certs, "key.pem")}},
		{"TLS verify, certs in ~/.docker", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1"},
			Endpoint{Host: "tcp://h:2376", Source: "DOCKER_HOST", TLS: true, Verify: true, CA: filepath.Join(cfg, "ca.pem")}},
		{"DOCKER_TLS without verify", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS": "1"},
			Endpoint{Host: "tcp://h:2376", Source: "DOCKER_HOST", TLS: true, Verify: false, CA: filepath.Join(cfg, "ca.pem")}},
		{"DOCKER_CERT_PATH alone", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": certs},
			Endpoint{Host: "tcp://h:2376", Source: "DOCKER_HOST", TLS: true, Verify: false,
				CA: filepath.Join(certs, "ca.pem"), Cert: filepath.Join(certs, "cert.pem"), Key: filepath.Join(certs, "key.pem")}},
		{"API version", map[string]string{"HOME": home, "DOCKER_API_VERSION": "1.41"},
			Endpoint{Host: DefaultHost, Source: "default", APIVersion: "1.41"}},
		{"API version with v", map[string]string{"HOME": home, "DOCKER_API_VERSION": " v1.44 "},
			Endpoint{Host: DefaultHost, Source: "default", APIVersion: "1.44"}},
		{"DOCKER_CONTEXT", map[string]string{"HOME": home, "DOCKER_CONTEXT": "remote"},
			Endpoint{Host: "tcp://10.0.0.9:2376", Source: `context "remote"`, TLS: true, Verify: true,
				CA:   filepath.Join(cfg, "contexts", "tls", id("remote"), "docker", "ca.pem"),
				Cert: filepath.Join(cfg, "contexts", "tls", id("remote"), "docker", "cert.pem"),
				Key:  filepath.Join(cfg, "contexts", "tls", id("remote"), "docker", "key.pem")}},
		{"context with SkipTLSVerify", map[string]string{"HOME": home, "DOCKER_CONTEXT": "insecure"},
			Endpoint{Host: "tcp://10.0.0.8:2376", Source: `context "insecure"`, TLS: true, Verify: false,
				CA: filepath.Join(cfg, "contexts", "tls", id("insecure"), "docker", "ca.pem")}},
		{"context with SkipTLSVerify and no TLS files: TLS, not verified (the docker CLI speaks TLS here)", map[string]string{"HOME": home, "DOCKER_CONTEXT": "skiponly"},
			Endpoint{Host: "tcp://10.0.0.7:2376", Source: `context "skiponly"`, TLS: true, Verify: false}},
		{"context without TLS", map[string]string{"HOME": home, "DOCKER_CONTEXT": "local"},
			Endpoint{Host: "unix:///run/user/1000/docker.sock", Source: `context "local"`}},
		{"DOCKER_CONFIG moves the store", map[string]string{"HOME": "/nonexistent", "DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "local"},
			Endpoint{Host: "unix:///run/user/1000/docker.sock", Source: `context "local"`}},
		{"DOCKER_HOST beats DOCKER_CONTEXT", map[string]string{"HOME": home, "DOCKER_CONTEXT": "remote", "DOCKER_HOST": "unix:///x.sock"},
			Endpoint{Host: "unix:///x.sock", Source: "DOCKER_HOST"}},
		{"DOCKER_CONTEXT=default", map[string]string{"HOME": home, "DOCKER_CONTEXT": "default"},
			Endpoint{Host: DefaultHost, Source: "default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func id(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func TestResolveCurrentContext(t *testing.T) {
	cfg := t.TempDir()
	dockerContext(t, cfg, "remote", `{"Name":"remote","Endpoints":{"docker":{"Host":"tcp://10.0.0.9:2375"}}}`)
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"auths":{},"currentContext":"remote"}`)
	ep, err := Resolve(env(map[string]string{"DOCKER_CONFIG": cfg}))
	if err != nil || ep.Host != "tcp://10.0.0.9:2375" || ep.Source != `context "remote"` {
		t.Fatalf("%+v %v", ep, err)
	}
	if s := ep.String(); s != `tcp://10.0.0.9:2375 (from context "remote")` {
		t.Fatalf("String() = %q", s)
	}
	// DOCKER_CONTEXT beats currentContext.
	ep, err = Resolve(env(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "default"}))
	if err != nil || ep.Host != DefaultHost || ep.String() != DefaultHost {
		t.Fatalf("%+v %v", ep, err)
	}
	write(`{"currentContext":"default"}`)
	if ep, err = Resolve(env(map[string]string{"DOCKER_CONFIG": cfg})); err != nil || ep.Host != DefaultHost {
		t.Fatalf("%+v %v", ep, err)
	}
	write(`{}`)
	if ep, err = Resolve(env(map[string]string{"DOCKER_CONFIG": cfg})); err != nil || ep.Host != DefaultHost {
		t.Fatalf("%+v %v", ep, err)
	}
	write(`{"currentContext":"gone"}`)
	_, err = Resolve(env(map[string]string{"DOCKER_CONFIG": cfg}))
	if err == nil || !strings.Contains(err.Error(), `docker context "gone" (from currentContext in `+filepath.Join(cfg, "config.json")+`) not found`) ||
		!strings.Contains(err.Error(), "docker context ls") {
		t.Fatalf("missing context: %v", err)
	}
	write(`{"currentContext":`)
	if _, err = Resolve(env(map[string]string{"DOCKER_CONFIG": cfg})); err == nil || !strings.Contains(err.Error(), "is not valid JSON") {
		t.Fatalf("bad config: %v", err)
	}
}

func TestResolveErrors(t *testing.T) {
	cfg := t.TempDir()
	dockerContext(t, cfg, "viassh", `{"Name":"viassh","Endpoints":{"docker":{"Host":"ssh://me@box"}}}`)
	dockerContext(t, cfg, "noep", `{"Name":"noep","Endpoints":{"kubernetes":{}}}`)
	dockerContext(t, cfg, "broken", `{"Name":`)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DOCKER_HOST": "ssh://me@box"}, "engine ssh://me@box (from DOCKER_HOST): ssh:// endpoints are not supported; forward the socket"},
		{map[string]string{"DOCKER_CONTEXT": "viassh"}, `engine ssh://me@box (from context "viassh"): ssh:// endpoints are not supported`},
		{map[string]string{"DOCKER_HOST": "npipe:////./pipe/docker_engine"}, "unsupported address; use unix:///path/to/docker.sock or tcp://host:port"},
		{map[string]string{"DOCKER_HOST": "/var/run/docker.sock"}, "unsupported address"},
		{map[string]string{"DOCKER_CONTEXT": "nosuch"}, `docker context "nosuch" (from DOCKER_CONTEXT) not found`},
		{map[string]string{"DOCKER_CONTEXT": "noep"}, `docker context "noep" has no docker endpoint`},
		{map[string]string{"DOCKER_CONTEXT": "broken"}, "meta.json is not valid JSON"},
		{map[string]string{"DOCKER_API_VERSION": "bogus"}, `bad DOCKER_API_VERSION "bogus": use <major>.<minor>, e.g. 1.41, or unset it to negotiate`},
		{map[string]string{"DOCKER_API_VERSION": "1"}, `bad DOCKER_API_VERSION "1"`},
		{map[string]string{"DOCKER_API_VERSION": "1.41.0"}, `bad DOCKER_API_VERSION "1.41.0"`},
	} {
		tc.env["DOCKER_CONFIG"] = cfg
		_, err := Resolve(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.env, err, tc.want)
		}
	}
}

func TestOpenBadTLS(t *testing.T) {
	dir := t.TempDir()
	touch(t, dir, "ca.pem")
	_, err := Open(Endpoint{Host: "tcp://127.0.0.1:1", Source: "DOCKER_HOST", TLS: true, Verify: true, CA: filepath.Join(dir, "ca.pem")})
	if err == nil || !strings.Contains(err.Error(), "failed to append certificates from PEM file") || !strings.Contains(err.Error(), "check DOCKER_CERT_PATH") {
		t.Fatalf("err %v", err)
	}
}
