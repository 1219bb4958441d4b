package engine

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/cli/cli/connhelper/ssh"
	"github.com/moby/moby/client"
)

// sshOpts are the client options for an ssh:// engine, as the docker CLI
// makes them (cli/context/docker.Endpoint.ClientOpts): every connection is
// `ssh [-l user] [-p port] -- host docker system dial-stdio`, the ssh on
// PATH run with the user's own configuration and agent, through the CLI's
// own connection helper. ssh gives up connecting when a call would
// (ConnectTimeout, the endpoint's timeout; the CLI's is 30 s); a call's
// bound closes the connection, which ends its ssh.
func sshOpts(ep Endpoint) ([]client.Opt, error) {
	timeout := strconv.Itoa(int(math.Ceil(ep.Timeout.Seconds())))
	helper, err := connhelper.GetConnectionHelperWithSSHOpts(ep.Host, []string{"-o", "ConnectTimeout=" + timeout})
	if err != nil {
		return nil, fmt.Errorf("engine %s: %v", ep, err)
	}
	return []client.Opt{
		client.WithHTTPClient(&http.Client{Transport: &http.Transport{DialContext: helper.Dialer}}),
		client.WithHost(helper.Host), client.WithDialContext(helper.Dialer),
	}, nil
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
