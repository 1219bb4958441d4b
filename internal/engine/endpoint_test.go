package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		{"nothing set", map[string]string{"HOME": home}, Endpoint{Host: DefaultHost, Context: "default", Source: "default"}},
		{"DOCKER_HOST unix", map[string]string{"HOME": home, "DOCKER_HOST": "unix:///tmp/d.sock"},
			Endpoint{Host: "unix:///tmp/d.sock", Context: "default", Source: "DOCKER_HOST"}},
		{"DOCKER_HOST tcp", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://127.0.0.1:2375"},
			Endpoint{Host: "tcp://127.0.0.1:2375", Context: "default", Source: "DOCKER_HOST"}},
		{"TLS verify", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs},
			Endpoint{Host: "tcp://h:2376", Context: "default", Source: "DOCKER_HOST", TLS: true, Verify: true,
				CA: filepath.Join(certs, "ca.pem"), Cert: filepath.Join(certs, "cert.pem"), Key: filepath.Join(certs, "key.pem")}},
		{"TLS verify, certs in ~/.docker", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1"},
			Endpoint{Host: "tcp://h:2376", Context: "default", Source: "DOCKER_HOST", TLS: true, Verify: true, CA: filepath.Join(cfg, "ca.pem")}},
		{"DOCKER_TLS without verify", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS": "1"},
			Endpoint{Host: "tcp://h:2376", Context: "default", Source: "DOCKER_HOST", TLS: true, Verify: false, CA: filepath.Join(cfg, "ca.pem")}},
		{"DOCKER_CERT_PATH alone", map[string]string{"HOME": home, "DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": certs},
			Endpoint{Host: "tcp://h:2376", Context: "default", Source: "DOCKER_HOST", TLS: true, Verify: false,
				CA: filepath.Join(certs, "ca.pem"), Cert: filepath.Join(certs, "cert.pem"), Key: filepath.Join(certs, "key.pem")}},
		{"API version", map[string]string{"HOME": home, "DOCKER_API_VERSION": "1.41"},
			Endpoint{Host: DefaultHost, Context: "default", Source: "default", APIVersion: "1.41"}},
		{"API version with v", map[string]string{"HOME": home, "DOCKER_API_VERSION": " v1.44 "},
			Endpoint{Host: DefaultHost, Context: "default", Source: "default", APIVersion: "1.44"}},
		{"DOCKER_CONTEXT", map[string]string{"HOME": home, "DOCKER_CONTEXT": "remote"},
			Endpoint{Host: "tcp://10.0.0.9:2376", Context: "remote", Source: `context "remote"`, TLS: true, Verify: true,
				CA:   filepath.Join(cfg, "contexts", "tls", id("remote"), "docker", "ca.pem"),
				Cert: filepath.Join(cfg, "contexts", "tls", id("remote"), "docker", "cert.pem"),
				Key:  filepath.Join(cfg, "contexts", "tls", id("remote"), "docker", "key.pem")}},
		{"context with SkipTLSVerify", map[string]string{"HOME": home, "DOCKER_CONTEXT": "insecure"},
			Endpoint{Host: "tcp://10.0.0.8:2376", Context: "insecure", Source: `context "insecure"`, TLS: true, Verify: false,
				CA: filepath.Join(cfg, "contexts", "tls", id("insecure"), "docker", "ca.pem")}},
		{"context with SkipTLSVerify and no TLS files: TLS, not verified (the docker CLI speaks TLS here)", map[string]string{"HOME": home, "DOCKER_CONTEXT": "skiponly"},
			Endpoint{Host: "tcp://10.0.0.7:2376", Context: "skiponly", Source: `context "skiponly"`, TLS: true, Verify: false}},
		{"context without TLS", map[string]string{"HOME": home, "DOCKER_CONTEXT": "local"},
			Endpoint{Host: "unix:///run/user/1000/docker.sock", Context: "local", Source: `context "local"`}},
		{"DOCKER_CONFIG moves the store", map[string]string{"HOME": "/nonexistent", "DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "local"},
			Endpoint{Host: "unix:///run/user/1000/docker.sock", Context: "local", Source: `context "local"`}},
		{"DOCKER_HOST beats DOCKER_CONTEXT", map[string]string{"HOME": home, "DOCKER_CONTEXT": "remote", "DOCKER_HOST": "unix:///x.sock"},
			Endpoint{Host: "unix:///x.sock", Context: "default", Source: "DOCKER_HOST"}},
		{"DOCKER_CONTEXT=default", map[string]string{"HOME": home, "DOCKER_CONTEXT": "default"},
			Endpoint{Host: DefaultHost, Context: "default", Source: "default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
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
	dockerContext(t, cfg, "viassh", `{"Name":"viassh","Endpoints":{"docker":{"Host":"ssh://me@box?x=1"}}}`)
	dockerContext(t, cfg, "noep", `{"Name":"noep","Endpoints":{"kubernetes":{}}}`)
	dockerContext(t, cfg, "broken", `{"Name":`)
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DOCKER_HOST": "ssh://me:secret@box"}, "engine ssh://me:secret@box (from DOCKER_HOST): invalid SSH URL: plain-text password is not supported; use ssh://[user@]host[:port]"},
		{map[string]string{"DOCKER_CONTEXT": "viassh"}, `engine ssh://me@box?x=1 (from context "viassh"): invalid SSH URL: query parameters are not allowed`},
		{map[string]string{"DOCKER_HOST": "ssh://"}, "invalid SSH URL: hostname is empty"},
		{map[string]string{"DOCKER_HOST": "npipe:////./pipe/docker_engine"}, "unsupported address; use unix:///path/to/docker.sock, tcp://host:port or ssh://[user@]host[:port]"},
		{map[string]string{"DOCKER_HOST": "/var/run/docker.sock"}, "unsupported address"},
		{map[string]string{"DOCKER_CONTEXT": "nosuch"}, `docker context "nosuch" (from DOCKER_CONTEXT) not found in `},
		{map[string]string{"DOCKER_CONTEXT": "noep"}, `docker context "noep" has no docker endpoint`},
		{map[string]string{"DOCKER_CONTEXT": "broken"}, `reading docker context (from DOCKER_CONTEXT): context "broken": parsing `},
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
	_, err := Open(Endpoint{Host: "tcp://127.0.0.1:1", Context: "default", Source: "DOCKER_HOST", TLS: true, Verify: true, CA: filepath.Join(dir, "ca.pem")})
	if err == nil || !strings.Contains(err.Error(), "failed to append certificates from PEM file") || !strings.Contains(err.Error(), "check DOCKER_CERT_PATH") {
		t.Fatalf("err %v", err)
	}
}

// ssh:// engines resolve from DOCKER_HOST and from contexts; TLS settings
// do not apply to them (nor to sockets), as in the docker CLI, whose
// connection helper carries plain HTTP over ssh.
func TestResolveSSH(t *testing.T) {
	cfg := t.TempDir()
	certs := t.TempDir()
	touch(t, certs, "ca.pem", "cert.pem", "key.pem")
	dockerContext(t, cfg, "box", `{"Name":"box","Metadata":{"Description":"the build box"},"Endpoints":{"docker":{"Host":"ssh://me@box:2222","SkipTLSVerify":true}}}`, "ca.pem")
	for _, tc := range []struct {
		name string
		env  map[string]string
		want Endpoint
	}{
		{"DOCKER_HOST ssh", map[string]string{"DOCKER_HOST": "ssh://root@127.0.0.1:2222"},
			Endpoint{Host: "ssh://root@127.0.0.1:2222", Context: "default", Source: "DOCKER_HOST"}},
		{"DOCKER_HOST ssh with a socket path and TLS variables", map[string]string{"DOCKER_HOST": "ssh://h/run/docker.sock", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs},
			Endpoint{Host: "ssh://h/run/docker.sock", Context: "default", Source: "DOCKER_HOST"}},
		{"DOCKER_HOST unix with TLS variables", map[string]string{"DOCKER_HOST": "unix:///x.sock", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs},
			Endpoint{Host: "unix:///x.sock", Context: "default", Source: "DOCKER_HOST"}},
		{"context ssh", map[string]string{"DOCKER_CONTEXT": "box"},
			Endpoint{Host: "ssh://me@box:2222", Context: "box", Source: `context "box"`}},
		{"timeout", map[string]string{"DOCKER_HOST": "ssh://box", EnvTimeout: "5s"},
			Endpoint{Host: "ssh://box", Context: "default", Source: "DOCKER_HOST", Timeout: 5 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["DOCKER_CONFIG"] = cfg
			got, err := Resolve(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %#v\nwant %#v", got, tc.want)
			}
			if !got.IsSSH() && strings.HasPrefix(got.Host, "ssh://") {
				t.Fatal("IsSSH")
			}
		})
	}
	if _, err := Resolve(env(map[string]string{"DOCKER_HOST": "ssh://box", EnvTimeout: "soon"})); err == nil || !strings.Contains(err.Error(), `BOTTLE_ENGINE_TIMEOUT="soon": not a positive duration`) {
		t.Fatalf("bad timeout: %v", err)
	}
}

// ResolveContext and ContextNames are `docker --context NAME` and
// `docker context ls`: the default context is DOCKER_HOST (or the socket)
// whatever DOCKER_CONTEXT or currentContext say.
func TestResolveContext(t *testing.T) {
	cfg := t.TempDir()
	if names, err := ContextNames(env(map[string]string{"DOCKER_CONFIG": cfg})); err != nil || strings.Join(names, " ") != "default" {
		t.Fatalf("empty store: %v %v", names, err)
	}
	dockerContext(t, cfg, "box10", `{"Name":"box10","Endpoints":{"docker":{"Host":"ssh://box10"}}}`)
	dockerContext(t, cfg, "box9", `{"Name":"box9","Endpoints":{"docker":{"Host":"ssh://box9"}}}`)
	dockerContext(t, cfg, "a-local", `{"Name":"a-local","Endpoints":{"docker":{"Host":"unix:///a.sock"}}}`)
	e := env(map[string]string{"DOCKER_CONFIG": cfg, "DOCKER_CONTEXT": "box9", "DOCKER_HOST": "tcp://127.0.0.1:2375"})
	names, err := ContextNames(e)
	if err != nil || strings.Join(names, " ") != "a-local box9 box10 default" {
		t.Fatalf("names %v %v", names, err)
	}
	for name, want := range map[string]Endpoint{
		"default": {Host: "tcp://127.0.0.1:2375", Context: "default", Source: "DOCKER_HOST"},
		"box10":   {Host: "ssh://box10", Context: "box10", Source: `context "box10"`},
		"a-local": {Host: "unix:///a.sock", Context: "a-local", Source: `context "a-local"`},
	} {
		if got, err := ResolveContext(e, name); err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", name, got, err, want)
		}
	}
	if _, err := ResolveContext(e, "nosuch"); err == nil || err.Error() != `docker context "nosuch" (from --context) not found in `+filepath.Join(cfg, "contexts")+"; run `docker context ls`, or set DOCKER_HOST" {
		t.Errorf("nosuch: %v", err)
	}
}
