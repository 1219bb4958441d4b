package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/cli/cli/connhelper/ssh"
	"github.com/moby/moby/client"

	"github.com/claude-bottle/bottle/internal/exitcode"
)

// DefaultHost is the engine a docker CLI talks to when nothing says otherwise.
const DefaultHost = "unix:///var/run/docker.sock"

// DefaultContext is the name the docker CLI gives the engine that DOCKER_HOST
// names, or the default socket when it is unset.
const DefaultContext = "default"

// Endpoint is where the engine is and how to talk to it, resolved the way
// the docker CLI does it.
type Endpoint struct {
	// Host is unix:///path, tcp://host:port, or ssh://[user@]host[:port][/socket]
	// (reached through `ssh ... -- host docker system dial-stdio`, as the
	// docker CLI does).
	Host string
	// Context is the docker context this is: DefaultContext for DOCKER_HOST
	// or the default socket.
	Context string
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

// IsSSH reports whether the engine is reached over ssh (on another host,
// as far as the toolkit can tell: its paths are not this machine's).
func (e Endpoint) IsSSH() bool { return strings.HasPrefix(e.Host, "ssh://") }

var apiVersion = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}$`)

// Resolve finds the engine the docker CLI would use: DOCKER_HOST (with
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), else the current context
// (DOCKER_CONTEXT, else currentContext in $DOCKER_CONFIG/config.json) and
// its endpoint in the context store, else the default socket. The
// endpoint's APIVersion and Timeout come from DOCKER_API_VERSION and
// $BOTTLE_ENGINE_TIMEOUT.
func Resolve(getenv func(string) string) (Endpoint, error) {
	if getenv("DOCKER_HOST") != "" {
		return ResolveContext(getenv, DefaultContext)
	}
	name, source, err := currentContext(getenv)
	if err != nil {
		return Endpoint{}, err
	}
	return resolveContext(getenv, name, source)
}

// ResolveContext resolves the docker context name as the docker CLI does
// for `docker --context name`: DefaultContext is DOCKER_HOST (with its TLS
// variables) or the default socket; any other name is read from the
// context store in $DOCKER_CONFIG/contexts (~/.docker/contexts).
func ResolveContext(getenv func(string) string, name string) (Endpoint, error) {
	return resolveContext(getenv, name, "--context")
}

func resolveContext(getenv func(string) string, name, source string) (Endpoint, error) {
	ep, err := fromEnv(getenv)
	if err != nil {
		return ep, err
	}
	if name != DefaultContext {
		return contextEndpoint(ep, configDir(getenv), name, source)
	}
	ep.Context = DefaultContext
	host := getenv("DOCKER_HOST")
	if host == "" {
		ep.Host, ep.Source = DefaultHost, "default"
		return ep, nil
	}
	ep.Host, ep.Source = host, "DOCKER_HOST"
	certPath := getenv("DOCKER_CERT_PATH")
	verify := getenv("DOCKER_TLS_VERIFY") != ""
	if (verify || certPath != "" || getenv("DOCKER_TLS") != "") && !plainHTTP(host) {
		if certPath == "" {
			certPath = configDir(getenv)
		}
		ep.TLS, ep.Verify = true, verify
		ep.CA, ep.Cert, ep.Key = existing(certPath, "ca.pem"), existing(certPath, "cert.pem"), existing(certPath, "key.pem")
	}
	return ep, checkHost(ep)
}

// fromEnv is an endpoint with what the environment says of every engine:
// DOCKER_API_VERSION and $BOTTLE_ENGINE_TIMEOUT.
func fromEnv(getenv func(string) string) (Endpoint, error) {
	ep := Endpoint{APIVersion: strings.TrimPrefix(strings.TrimSpace(getenv("DOCKER_API_VERSION")), "v")}
	if v := ep.APIVersion; v != "" && !apiVersion.MatchString(v) {
		return ep, fmt.Errorf("bad DOCKER_API_VERSION %q: use <major>.<minor>, e.g. 1.41, or unset it to negotiate", getenv("DOCKER_API_VERSION"))
	}
	if s := strings.TrimSpace(getenv(EnvTimeout)); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return ep, exitcode.Usagef("%s=%q: not a positive duration; use e.g. 30s or 2m", EnvTimeout, s)
		}
		ep.Timeout = d
	}
	return ep, nil
}

// configDir is the docker CLI's configuration directory: $DOCKER_CONFIG,
// else ~/.docker.
func configDir(getenv func(string) string) string {
	if dir := getenv("DOCKER_CONFIG"); dir != "" {
		return dir
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

func existing(dir, name string) string {
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// plainHTTP reports whether host is reached without TLS whatever the TLS
// settings say, as the docker CLI does: a socket (unix://), or ssh, whose
// connection helper carries plain HTTP.
func plainHTTP(host string) bool {
	return strings.HasPrefix(host, "unix://") || strings.HasPrefix(host, "ssh://")
}

func checkHost(ep Endpoint) error {
	switch {
	case strings.HasPrefix(ep.Host, "unix://"), strings.HasPrefix(ep.Host, "tcp://"),
		strings.HasPrefix(ep.Host, "http://"), strings.HasPrefix(ep.Host, "https://"):
		return nil
	case strings.HasPrefix(ep.Host, "ssh://"):
		if _, err := ssh.ParseURL(ep.Host); err != nil {
			return fmt.Errorf("engine %s: %v; use ssh://[user@]host[:port]", ep, err)
		}
		return nil
	default:
		return fmt.Errorf("engine %s: unsupported address; use unix:///path/to/docker.sock, tcp://host:port or ssh://[user@]host[:port]", ep)
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
