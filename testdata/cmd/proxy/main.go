// Command proxy stands in for pipelock in tests: an allowlisting forward
// proxy (plain HTTP and CONNECT) configured by the pipelock config
// bottle-launch writes. It reads `api_allowlist` and `fetch_proxy.listen`,
// and refuses to start unless `tls_interception`'s ca_cert and ca_key are a
// matching pair, so a test sees the CA reached the sidecar.
//
// Usage: proxy run --config FILE
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

type config struct {
	allow          []string
	listen         string
	caCert, caKey  string
	forwardEnabled bool
}

func main() {
	path := ""
	for i, a := range os.Args {
		if a == "--config" && i+1 < len(os.Args) {
			path = os.Args[i+1]
		}
	}
	if len(os.Args) < 2 || os.Args[1] != "run" || path == "" {
		fatal("usage: proxy run --config FILE")
	}
	cfg, err := load(path)
	if err != nil {
		fatal(err.Error())
	}
	if !cfg.forwardEnabled {
		fatal("forward_proxy.enabled is not true")
	}
	if _, err := tls.LoadX509KeyPair(cfg.caCert, cfg.caKey); err != nil {
		fatal("tls_interception CA: " + err.Error())
	}
	fmt.Fprintf(os.Stderr, "proxy: listening on %s, allowing %v\n", cfg.listen, cfg.allow)
	srv := &http.Server{Addr: cfg.listen, Handler: handler(cfg), ReadHeaderTimeout: 10 * time.Second}
	fatal(srv.ListenAndServe().Error())
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "proxy:", msg)
	os.Exit(2)
}

// load reads the few keys it needs from pipelock's YAML, line by line.
func load(path string) (config, error) {
	f, err := os.Open(path)
	if err != nil {
		return config{}, err
	}
	defer f.Close()
	var c config
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.HasPrefix(line, " ") {
			section = strings.TrimSuffix(strings.Fields(line)[0], ":")
			continue
		}
		t := strings.TrimSpace(line)
		key, val, _ := strings.Cut(t, ":")
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch {
		case section == "api_allowlist" && strings.HasPrefix(t, "- "):
			c.allow = append(c.allow, strings.Trim(strings.TrimSpace(t[2:]), `"`))
		case section == "fetch_proxy" && key == "listen":
			c.listen = val
		case section == "forward_proxy" && key == "enabled":
			c.forwardEnabled = val == "true"
		case section == "tls_interception" && key == "ca_cert":
			c.caCert = val
		case section == "tls_interception" && key == "ca_key":
			c.caKey = val
		}
	}
	if c.listen == "" {
		return c, fmt.Errorf("%s: no fetch_proxy.listen", path)
	}
	return c, sc.Err()
}

func allowed(allow []string, host string) bool {
	host = strings.ToLower(host)
	for _, a := range allow {
		a = strings.ToLower(a)
		if s, ok := strings.CutPrefix(a, "*."); ok {
			if strings.HasSuffix(host, "."+s) {
				return true
			}
		} else if host == a {
			return true
		}
	}
	return false
}

func handler(cfg config) http.Handler {
	transport := &http.Transport{Proxy: nil}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.URL.Hostname()
		if r.Method == http.MethodConnect {
			host, _, _ = net.SplitHostPort(r.Host)
		}
		if !allowed(cfg.allow, host) {
			fmt.Fprintf(os.Stderr, "proxy: refused %s %s\n", r.Method, host)
			http.Error(w, "blocked by the bottle test proxy: "+host+" is not allowed", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodConnect {
			up, err := net.DialTimeout("tcp", r.Host, 5*time.Second)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			hj, ok := w.(http.Hijacker)
			if !ok {
				up.Close()
				return
			}
			w.WriteHeader(http.StatusOK)
			conn, buf, err := hj.Hijack()
			if err != nil {
				up.Close()
				return
			}
			go func() { io.Copy(up, buf); up.Close() }()
			io.Copy(conn, up)
			conn.Close()
			return
		}
		r.RequestURI = ""
		resp, err := transport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}
