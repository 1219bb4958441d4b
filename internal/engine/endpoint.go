package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/client"
)

// DefaultHost is the engine a docker CLI talks to when nothing says otherwise.
const DefaultHost = "unix:///var/run/docker.sock"

// Endpoint is where the engine is and how to talk to it, resolved the way
// the docker CLI does it.
type Endpoint struct {
	Host string // unix:///path or tcp://host:port
	// Source says where Host came from, for messages: "DOCKER_HOST",
	// `context "remote"`, "default".
	Source string
	TLS    bool
	// CA, Cert and Key are PEM file paths; any may be empty.
	CA, Cert, Key string
	// Verify checks the server's certificate against CA.
	Verify bool
	// APIVersion pins the API version (DOCKER_API_VERSION); empty negotiates.
	APIVersion string
	// Timeout bounds each call's connection and wait for an answer
	// ($BOTTLE_ENGINE_TIMEOUT); zero means DefaultTimeout.
	Timeout time.Duration
}

func (e Endpoint) String() string {
	if e.Source == "" || e.Source == "default" {
		return e.Host
	}
	return e.Host + " (from " + e.Source + ")"
}

var apiVersion = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}$`)

// Resolve finds the engine the docker CLI would use: DOCKER_HOST (with
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), else the current context
// (DOCKER_CONTEXT, else currentContext in $DOCKER_CONFIG/config.json) and
// its endpoint in the context store, else the default socket.
func Resolve(getenv func(string) string) (Endpoint, error) {
	ep := Endpoint{APIVersion: strings.TrimPrefix(strings.TrimSpace(getenv("DOCKER_API_VERSION")), "v")}
	if v := ep.APIVersion; v != "" && !apiVersion.MatchString(v) {
		return ep, fmt.Errorf("bad DOCKER_API_VERSION %q: use <major>.<minor>, e.g. 1.41, or unset it to negotiate", getenv("DOCKER_API_VERSION"))
	}
	configDir := getenv("DOCKER_CONFIG")
	if configDir == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		configDir = filepath.Join(home, ".docker")
	}

	if host := getenv("DOCKER_HOST"); host != "" {
		ep.Host, ep.Source = host, "DOCKER_HOST"
		certPath := getenv("DOCKER_CERT_PATH")
		verify := getenv("DOCKER_TLS_VERIFY") != ""
		if verify || certPath != "" || getenv("DOCKER_TLS") != "" {
			if certPath == "" {
				certPath = configDir
			}
			ep.TLS, ep.Verify = true, verify
			ep.CA, ep.Cert, ep.Key = existing(certPath, "ca.pem"), existing(certPath, "cert.pem"), existing(certPath, "key.pem")
		}
		return ep, checkHost(ep)
	}

	name := getenv("DOCKER_CONTEXT")
	source := "DOCKER_CONTEXT"
	if name == "" {
		var cfg struct {
			CurrentContext string `json:"currentContext"`
		}
		b, err := os.ReadFile(filepath.Join(configDir, "config.json"))
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &cfg); err != nil {
				return ep, fmt.Errorf("docker config %s is not valid JSON: %v; fix it or set DOCKER_HOST", filepath.Join(configDir, "config.json"), err)
			}
			name, source = cfg.CurrentContext, "currentContext in "+filepath.Join(configDir, "config.json")
		case !errors.Is(err, os.ErrNotExist):
			return ep, fmt.Errorf("reading docker config: %v; fix it or set DOCKER_HOST", err)
		}
	}
	if name == "" || name == "default" {
		ep.Host, ep.Source = DefaultHost, "default"
		return ep, nil
	}

	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(configDir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(metaPath)
	if err != nil {
		return ep, fmt.Errorf("docker context %q (from %s) not found: %v; run `docker context ls`, or set DOCKER_HOST", name, source, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return ep, fmt.Errorf("docker context %q: %s is not valid JSON: %v", name, metaPath, err)
	}
	d, ok := meta.Endpoints["docker"]
	if !ok || d.Host == "" {
		return ep, fmt.Errorf("docker context %q has no docker endpoint; run `docker context inspect %s`", name, name)
	}
	ep.Host, ep.Source = d.Host, fmt.Sprintf("context %q", name)
	// TLS when the context holds TLS material or says SkipTLSVerify (TLS
	// without verifying, no files needed), as the docker CLI does.
	tlsDir := filepath.Join(configDir, "contexts", "tls", id, "docker")
	if ca, cert, key := existing(tlsDir, "ca.pem"), existing(tlsDir, "cert.pem"), existing(tlsDir, "key.pem"); ca != "" || cert != "" || key != "" || d.SkipTLSVerify {
		ep.TLS, ep.Verify = true, !d.SkipTLSVerify
		ep.CA, ep.Cert, ep.Key = ca, cert, key
	}
	return ep, checkHost(ep)
}

func existing(dir, name string) string {
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func checkHost(ep Endpoint) error {
	switch {
	case strings.HasPrefix(ep.Host, "unix://"), strings.HasPrefix(ep.Host, "tcp://"),
		strings.HasPrefix(ep.Host, "http://"), strings.HasPrefix(ep.Host, "https://"):
		return nil
	case strings.HasPrefix(ep.Host, "ssh://"):
		return fmt.Errorf("engine %s: ssh:// endpoints are not supported; forward the socket (ssh -L) and use a unix:// or tcp:// DOCKER_HOST", ep)
	default:
		return fmt.Errorf("engine %s: unsupported address; use unix:///path/to/docker.sock or tcp://host:port", ep)
	}
}

// negotiation makes the client agree on an API version with the engine
// once, before the first list call. Left to itself the moby client
// negotiates lazily in every request that finds no version yet, so the
// three concurrent list calls of an inventory would each send a ping.
type negotiation struct {
	mu       sync.Mutex
	done     bool
	attempts atomic.Int64
	err      error // the last attempt's
}

// negotiate pings the engine unless a version is agreed or pinned
// (DOCKER_API_VERSION). Callers that waited while another's ping was in
// flight share its answer, so an engine that is down is asked once per
// round of concurrent calls, not once per call.
func (e *Client) negotiate(ctx context.Context) error {
	if e.ep.APIVersion != "" {
		return nil
	}
	seen := e.neg.attempts.Load()
	e.neg.mu.Lock()
	defer e.neg.mu.Unlock()
	if e.neg.done {
		return nil
	}
	if e.neg.attempts.Load() != seen {
		return e.neg.err
	}
	pctx, cancel := e.bound(ctx, "HEAD /_ping")
	defer cancel()
	_, err := e.c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	e.neg.err = e.answer(pctx, err)
	e.neg.done = err == nil
	e.neg.attempts.Add(1)
	return e.neg.err
}
