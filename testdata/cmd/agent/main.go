// Command agent stands in for an AI agent in tests. Every mode first appends
// a transcript line to project/session.jsonl under $BOTTLE_TRANSCRIPT_DIR
// (a resumed bottle's restored transcript is kept). Modes (the first
// argument):
//
//	check  reads the prompt, skills, git config, credential and CA it was
//	       given, tries a direct connection out (must fail), resolving the
//	       names in $RESOLVE_DENIED (must fail) and requests
//	       through $HTTP_PROXY to $ALLOWED_URL (must pass) and $DENIED_URL
//	       (must be refused); prints one line per finding and exits 0 only
//	       when everything is as a bottle promises, 1 otherwise
//	net    the network part of check only, plus: connects to $REACH_ADDRS
//	       (must connect) and to port $GATEWAY_PORT of its default gateway
//	       and of the first address of each of its networks (the host's
//	       side of a bridge; must fail)
//	home   checks that it owns its home and what it was given there:
//	       prints its uid:gid, writes ~/.claude/projects/x, reads its
//	       prompt and credential and prints each file's owner; exits 1
//	       when anything is not its own or cannot be read or written
//	probe-net  the red team's ways to the host over IPv6 (probe_linux.go):
//	       a packet socket and an ICMPv6 echo to ff02::1 through it, raw
//	       sockets, its own IPv6 addresses and routes, TCP to
//	       $DIRECT6_ADDRS, re-enabling IPv6; a FAIL line for each that works
//	probe-setuid DIR  plants a setuid or setgid file and device nodes in
//	       DIR, every way there is; a FAIL line for each that works
//	read F prints file F (exit 1 when it cannot be read)
//	exit N exits with code N
//	sleep  waits for SIGTERM or SIGINT, then exits 0
//	cat    copies stdin to stdout, then exits 0
//	deaf   ignores SIGTERM and SIGINT and sleeps until killed
//
// Called as sleep, tar or kill, it is that command (tools.go).
//
// A hostile agent's transcript, for the tests of its rescue: with
// AGENT_TRANSCRIPT_SPARSE=N the transcript also holds project/zz-sparse.bin,
// a sparse file N bytes long that takes no blocks in the volume; with
// AGENT_TRANSCRIPT_DENSE=N, project/zz-dense.bin, N bytes written out
// (made once: a later start keeps it).
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	tool()
	mode := "check"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	transcript(mode)
	switch mode {
	case "exit":
		code := 0
		if len(os.Args) > 2 {
			code, _ = strconv.Atoi(os.Args[2])
		}
		fmt.Printf("agent: exiting with %d\n", code)
		os.Exit(code)
	case "sleep":
		fmt.Println("agent: sleeping")
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		fmt.Println("agent: stopped")
	case "cat":
		io.Copy(os.Stdout, os.Stdin)
	case "deaf":
		fmt.Println("agent: sleeping, deaf to SIGTERM and SIGINT")
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		for {
			time.Sleep(time.Hour)
		}
	case "check":
		if !check() {
			os.Exit(1)
		}
	case "home":
		if !homeCheck() {
			os.Exit(1)
		}
	case "read":
		b, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, "agent:", err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
	case "net":
		if !netCheck() {
			os.Exit(1)
		}
	case "probe-net":
		if !probeNet() {
			os.Exit(1)
		}
	case "probe-setuid":
		if len(os.Args) < 3 || !probeSetuid(os.Args[2]) {
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "agent: unknown mode", mode)
		os.Exit(2)
	}
}

func transcript(mode string) {
	dir := os.Getenv("BOTTLE_TRANSCRIPT_DIR")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(filepath.Join(dir, "project"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "agent: transcript:", err)
		return
	}
	line := fmt.Sprintf("{\"role\":\"agent\",\"mode\":%q}\n", mode)
	f, err := os.OpenFile(filepath.Join(dir, "project", "session.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err == nil {
		_, err = f.WriteString(line)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent: transcript:", err)
	}
	if n, _ := strconv.ParseInt(os.Getenv("AGENT_TRANSCRIPT_SPARSE"), 10, 64); n > 0 {
		f, err := os.Create(filepath.Join(dir, "project", "zz-sparse.bin"))
		if err == nil {
			err = f.Truncate(n)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "agent: sparse transcript file:", err)
		}
	}
	if n, _ := strconv.ParseInt(os.Getenv("AGENT_TRANSCRIPT_DENSE"), 10, 64); n > 0 {
		p := filepath.Join(dir, "project", "zz-dense.bin")
		if _, err := os.Stat(p); err != nil {
			if err := writeDense(p, n); err != nil {
				fmt.Fprintln(os.Stderr, "agent: dense transcript file:", err)
			}
		}
	}
}

// writeDense writes n bytes of a line pattern to p.
func writeDense(p string, n int64) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	line := []byte(strings.Repeat("{\"role\":\"agent\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n", 64))
	for n > 0 {
		b := line
		if int64(len(b)) > n {
			b = b[:n]
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
		n -= int64(len(b))
	}
	return f.Close()
}

func homeCheck() bool {
	ok := true
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		ok = false
	}
	me := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	fmt.Printf("user %s\n", me)
	home := os.Getenv("HOME")
	owner := func(p string) string {
		fi, err := os.Stat(p)
		if err != nil {
			fail("%s: %v", p, err)
			return ""
		}
		st := fi.Sys().(*syscall.Stat_t)
		o := fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		if o != me {
			fail("%s is owned by %s, not %s", p, o, me)
		}
		return o
	}
	for _, p := range []string{home, filepath.Join(home, ".claude"), filepath.Join(home, ".claude", "projects"),
		filepath.Join(home, ".claude", "skills"), filepath.Join(home, ".claude", "skills", "a.md"), filepath.Join(home, ".gitconfig")} {
		owner(p)
	}
	x := filepath.Join(home, ".claude", "projects", "x")
	if err := os.WriteFile(x, []byte("x\n"), 0o644); err != nil {
		fail("write %s: %v", x, err)
	} else {
		fmt.Printf("wrote %s\n", x)
	}
	if err := os.WriteFile(filepath.Join(home, "new-file"), []byte("x\n"), 0o644); err != nil {
		fail("write in home: %v", err)
	}
	if b, err := os.ReadFile(os.Getenv("BOTTLE_PROMPT")); err != nil {
		fail("prompt: %v", err)
	} else {
		fmt.Printf("prompt: %s %s\n", owner(os.Getenv("BOTTLE_PROMPT")), strings.TrimSpace(string(b)))
	}
	cred := filepath.Join(home, ".git-credentials")
	if b, err := os.ReadFile(cred); err != nil {
		fail("credential: %v", err)
	} else if fi, err := os.Stat(cred); err == nil {
		fmt.Printf("credential: %04o %s %s\n", fi.Mode().Perm(), owner(cred), strings.TrimSpace(string(b)))
	}
	if fi, err := os.Stat(os.Getenv("SSL_CERT_FILE")); err != nil {
		fail("ca: %v", err)
	} else {
		fmt.Printf("ca: %04o\n", fi.Mode().Perm())
	}
	return ok
}

func check() bool {
	ok := true
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		ok = false
	}

	if b, err := os.ReadFile(os.Getenv("BOTTLE_PROMPT")); err != nil {
		fail("prompt: %v", err)
	} else {
		fmt.Printf("prompt: %s\n", strings.TrimSpace(string(b)))
	}

	home := os.Getenv("HOME")
	var skills []string
	root := filepath.Join(home, ".claude", "skills")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			skills = append(skills, rel)
		}
		return nil
	})
	sort.Strings(skills)
	fmt.Printf("skills: %s\n", strings.Join(skills, ","))

	if b, err := os.ReadFile(filepath.Join(home, ".gitconfig")); err != nil {
		fail("gitconfig: %v", err)
	} else {
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "name =") || strings.HasPrefix(l, "email =") {
				fmt.Printf("git %s\n", l)
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(home, ".git-credentials")); err != nil {
		fail("credential: %v", err)
	} else {
		fmt.Printf("credential: %04o\n", fi.Mode().Perm())
	}

	caFile := os.Getenv("SSL_CERT_FILE")
	if os.Getenv("NODE_EXTRA_CA_CERTS") != caFile || caFile == "" {
		fail("NODE_EXTRA_CA_CERTS=%q SSL_CERT_FILE=%q", os.Getenv("NODE_EXTRA_CA_CERTS"), caFile)
	}
	if b, err := os.ReadFile(caFile); err != nil {
		fail("ca: %v", err)
	} else if blk, _ := pem.Decode(b); blk == nil {
		fail("ca: no PEM")
	} else if cert, err := x509.ParseCertificate(blk.Bytes); err != nil || !cert.IsCA {
		fail("ca: not a CA certificate (%v)", err)
	} else {
		fmt.Printf("ca: %s\n", cert.Subject.CommonName)
	}

	return netFindings(fail) && ok
}

func netCheck() bool {
	ok := true
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		ok = false
	}
	for _, addr := range strings.Fields(os.Getenv("REACH_ADDRS")) {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			fail("reach %s: %v", addr, err)
		} else {
			c.Close()
			fmt.Printf("reach %s: connected\n", addr)
		}
	}
	if port := os.Getenv("GATEWAY_PORT"); port != "" {
		gws := gateways()
		if len(gws) == 0 {
			fail("gateway: no network address found")
		}
		for _, gw := range gws {
			addr := net.JoinHostPort(gw, port)
			c, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err == nil {
				c.Close()
				fail("gateway %s: connected", addr)
			} else {
				fmt.Printf("gateway %s: blocked\n", addr)
			}
		}
	}
	return netFindings(fail) && ok
}

// gateways are the addresses the host's side of the agent's networks
// would have: the default route's gateway and the first address of each
// IPv4 network the agent is on.
func gateways() []string {
	seen := map[string]bool{}
	var out []string
	add := func(ip net.IP) {
		if s := ip.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if b, err := os.ReadFile("/proc/net/route"); err == nil {
		for _, l := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(l)
			if len(f) > 2 && f[1] == "00000000" {
				if v, err := strconv.ParseUint(f[2], 16, 32); err == nil && v != 0 {
					add(net.IPv4(byte(v), byte(v>>8), byte(v>>16), byte(v>>24)))
				}
			}
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || n.IP.To4() == nil {
			continue
		}
		first := n.IP.Mask(n.Mask).To4()
		first[3]++
		add(first)
	}
	return out
}

// netFindings checks the direct connections and the proxied requests.
func netFindings(fail func(string, ...any)) bool {
	ok := true
	fail0 := fail
	fail = func(format string, args ...any) { ok = false; fail0(format, args...) }
	// Direct connections must fail: the agent's network has no way out.
	for _, addr := range strings.Fields(os.Getenv("DIRECT_ADDRS")) {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err == nil {
			c.Close()
			fail("direct %s: connected", addr)
		} else {
			fmt.Printf("direct %s: blocked\n", addr)
		}
	}

	// Names must not resolve: DNS would be a way out.
	for _, name := range strings.Fields(os.Getenv("RESOLVE_DENIED")) {
		if addrs, err := net.LookupHost(name); err == nil {
			fail("resolve %s: %s", name, strings.Join(addrs, ","))
		} else {
			fmt.Printf("resolve %s: refused\n", name)
		}
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}}
	get := func(u string) int {
		resp, err := client.Get(u)
		if err != nil {
			fmt.Printf("get %s: %v\n", u, err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if u := os.Getenv("ALLOWED_URL"); u != "" {
		if code := get(u); code != 200 {
			fail("allowed %s: %d", u, code)
		} else {
			fmt.Printf("allowed %s: %d\n", u, code)
		}
	}
	if u := os.Getenv("DENIED_URL"); u != "" {
		if code := get(u); code != 403 {
			fail("denied %s: %d", u, code)
		} else {
			fmt.Printf("denied %s: %d\n", u, code)
		}
	}
	return ok
}
