// Command demo-agent is the agent of the demo image bottle-demo/agent that
// scripts/demo-images.sh builds: a stand-in for an AI agent, so that a first
// bottle runs on a machine with no registry. It is not Claude Code and
// calls no model. Run in a bottle, it shows what the bottle gives an agent
// and what it keeps from it, and it keeps a "conversation" that a resumed
// bottle continues:
//
//   - who it runs as, its home, the proxy and CA the launcher gave it;
//   - a direct connection out (the bottle's network has no route out: it
//     fails);
//   - a tunnel through the egress-proxy sidecar (an HTTPS client's CONNECT)
//     to a host it does not allow (refused, 403, with its reason) and to one
//     it allows (api.anthropic.com by default: let through when this machine
//     reaches it, else refused with the reason the sidecar gives);
//   - a line appended to ~/.claude/projects/demo/session.jsonl, where a
//     claude agent keeps its conversation: the launcher saves that tree into
//     the state dir when the bottle ends and restores it on --resume.
//
// Arguments, if any, are hosts to try instead of the two above. It exits 0.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	fmt.Println("demo agent: a stand-in for an AI agent (not Claude Code; it calls no model)")
	me := fmt.Sprintf("uid %d", os.Getuid())
	if u, err := user.Current(); err == nil {
		me = fmt.Sprintf("%s (uid %s)", u.Username, u.Uid)
	}
	wd, _ := os.Getwd()
	fmt.Printf("running as %s, home %s, in %s\n", me, os.Getenv("HOME"), wd)
	fmt.Printf("egress proxy: HTTPS_PROXY=%s\n", os.Getenv("HTTPS_PROXY"))

	runs := remember()
	switch {
	case runs > 1:
		fmt.Printf("conversation: continuing; this is run %d (the earlier ones are in ~/.claude/projects/demo/session.jsonl)\n", runs)
	case runs == 1:
		fmt.Println("conversation: a new one, kept in ~/.claude/projects/demo/session.jsonl")
	}

	// No route out: the bottle's only network is internal.
	conn, err := net.DialTimeout("tcp", "1.1.1.1:443", 2*time.Second)
	if err == nil {
		conn.Close()
		fmt.Println("direct connection to 1.1.1.1:443: CONNECTED (the bottle should not allow this)")
	} else {
		fmt.Printf("direct connection to 1.1.1.1:443: blocked (%v)\n", cause(err))
	}

	hosts := os.Args[1:]
	if len(hosts) == 0 {
		hosts = []string{"example.com", "api.anthropic.com"}
	}
	for _, h := range hosts {
		fmt.Printf("through the sidecar, %s:443: %s\n", h, connect(h))
	}
}

// connect asks the proxy of $HTTPS_PROXY for a tunnel to host:443, as an
// HTTPS client does (CONNECT), and says what the sidecar answered: its
// refusal carries the reason in the body.
func connect(host string) string {
	u, err := url.Parse(os.Getenv("HTTPS_PROXY"))
	if err != nil || u.Host == "" {
		return "no proxy (HTTPS_PROXY is not set)"
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return "cannot reach the sidecar: " + cause(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	target := net.JoinHostPort(host, "443")
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		return "no answer from the sidecar: " + cause(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return "let through (the tunnel to the host is open)"
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	why := strings.Join(strings.Fields(string(body)), " ")
	if why == "" {
		why = "no reason given"
	}
	return fmt.Sprintf("refused by the sidecar, %s: %s", resp.Status, why)
}

func cause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// remember appends this run to the conversation and returns how many runs
// it holds now (0 when it cannot be written).
func remember() int {
	dir := filepath.Join(os.Getenv("HOME"), ".claude", "projects", "demo")
	p := filepath.Join(dir, "session.jsonl")
	runs := 1
	if f, err := os.Open(p); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			runs++
		}
		f.Close()
	}
	line, _ := json.Marshal(map[string]any{"run": runs, "time": time.Now().UTC().Format(time.RFC3339), "text": "hello from the demo agent"})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Println("conversation: cannot keep one:", err)
		return 0
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err == nil {
		_, err = f.Write(append(line, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Println("conversation: cannot keep one:", err)
		return 0
	}
	return runs
}
