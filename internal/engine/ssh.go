package engine

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/cli/cli/connhelper/ssh"
	"github.com/moby/moby/client"
)

// sshConns is how an ssh:// engine is talked to, as the docker CLI does it
// (cli/context/docker.Endpoint.ClientOpts): every connection is
// `ssh [-l user] [-p port] -- host docker system dial-stdio`, the ssh on
// PATH run with the user's own configuration and agent, through the CLI's
// own connection helper. ssh gives up connecting when a call would
// (ConnectTimeout, the endpoint's timeout; the CLI's is 30 s); a call's
// bound closes the connection, which ends its ssh.
//
// Each connection is a login (a key exchange, an authentication and a
// docker process on the far host: ~0.4 s on the test VM), so a run logs in
// as few times as it can: every call that is answered within the engine
// timeout — the version ping, lists, inspects, removals, creates — goes
// over one connection, kept alive between calls, one call at a time (over
// dial-stdio the engine speaks HTTP/1.1 only: Docker 20.10 answers neither
// HTTP/2 with prior knowledge nor an h2c upgrade, so nothing multiplexes).
// What holds a connection for as long as a container runs or a stream
// flows (a wait, an attach or an exec's attach, a copy, an image save)
// goes through a client of its own (Client.streams) with connections of
// its own, so it never holds the shared one up: a call waiting behind it
// would spend its bound waiting.
type sshConns struct {
	helper *connhelper.ConnectionHelper
	host   string // the helper's host, as a URL's
	// one is the shared connection's transport (MaxConnsPerHost 1): the
	// moby client's calls and getJSON's both go through it.
	one *http.Transport

	mu      sync.Mutex
	streams *client.Client
}

// sshIdle is how long the shared connection stays open unused (moby's
// own client keeps idle connections 30 s).
const sshIdle = 30 * time.Second

func newSSHConns(ep Endpoint) (*sshConns, error) {
	timeout := strconv.Itoa(int(math.Ceil(ep.Timeout.Seconds())))
	helper, err := connhelper.GetConnectionHelperWithSSHOpts(ep.Host, []string{"-o", "ConnectTimeout=" + timeout})
	if err != nil {
		return nil, fmt.Errorf("engine %s: %v", ep, err)
	}
	u, err := url.Parse(helper.Host)
	if err != nil {
		return nil, fmt.Errorf("engine %s: %v", ep, err)
	}
	return &sshConns{helper: helper, host: u.Host, one: &http.Transport{
		DialContext:         helper.Dialer,
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     sshIdle,
	}}, nil
}

// RoundTrip sends a request over the shared connection. The moby client
// is given sshConns itself, not an *http.Transport, which it would copy
// (and a copy has a pool of connections of its own). An *http.Transport
// pools connections by the URL's host, so every request is sent to the
// helper's one ("docker.example.com"; getJSON's say "docker").
func (s *sshConns) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != s.host {
		r = r.Clone(r.Context())
		r.URL.Host = s.host
	}
	return s.one.RoundTrip(r)
}

// opts are the client options of the shared connection's client. The
// host comes first: the moby client applies it to an *http.Transport only
// (here the default one, then replaced). The client can dial no
// connection of its own (client.Dialer): what hijacks one (an attach)
// goes through streamClient.
func (s *sshConns) opts() []client.Opt {
	return []client.Opt{client.WithHost(s.helper.Host), client.WithHTTPClient(&http.Client{Transport: s})}
}

// streamClient is the client of the calls that stream, at the API version
// the shared connection agreed on (so it never pings): each call of it
// dials, or reuses one of its own idle connections.
func (s *sshConns) streamClient(version string) (*client.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams == nil {
		c, err := client.New(client.WithUserAgent("bottle"),
			client.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: s.helper.Dialer, IdleConnTimeout: sshIdle}}),
			client.WithHost(s.helper.Host), client.WithDialContext(s.helper.Dialer), client.WithAPIVersion(version))
		if err != nil {
			return nil, err
		}
		s.streams = c
	}
	return s.streams, nil
}

// close ends the idle connections' ssh processes.
func (s *sshConns) close() {
	s.one.CloseIdleConnections()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams != nil {
		s.streams.Close()
	}
}

// exited matches the connection helper's words for an ssh that ended
// (commandconn: "command [ssh …] has exited with exit status 255, make sure
// the URL is valid, …: stderr=…").
var exited = regexp.MustCompile(`(?s)command \[[^\]]*\] has exited with (exit status \d+|signal: [a-z]+)[^:]*(?::[^:]*)?: stderr=(.*)$`)

// sshUnreachable is the one line for an ssh:// engine that could not be
// asked: what ssh said (its last line on stderr: a refused key, a host
// that does not answer, no docker on the far side) and the command to try
// by hand.
func sshUnreachable(ep Endpoint, err error) string {
	msg := err.Error()
	why := msg
	switch m := exited.FindStringSubmatch(msg); {
	case m != nil:
		why = "ssh: " + m[1]
		if line := lastLine(m[2]); line != "" {
			why += ": " + line
		}
	case strings.Contains(msg, `exec: "ssh": executable file not found`):
		why = "no ssh on PATH (an ssh:// engine is reached by running ssh, as the docker CLI does)"
	default:
		why = cause(err)
	}
	try := "ssh"
	if sp, err := ssh.ParseURL(ep.Host); err == nil {
		if sp.User != "" {
			try += " -l " + sp.User
		}
		if sp.Port != "" {
			try += " -p " + sp.Port
		}
		try += " " + sp.Host
	}
	return fmt.Sprintf("cannot reach the Docker engine at %s: %s; check that `%s docker version` works (your ssh keys, agent and ~/.ssh/config; docker on the far host's PATH), or point DOCKER_HOST/DOCKER_CONTEXT at another engine", ep, why, try)
}

// lastLine is the last non-empty line of s, trimmed.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
