// Command pipelock stands in for pipelock in tests (its image is
// bottle-test/pipelock, the binary at /pipelock as in pipelock's image): an
// allowlisting forward proxy (plain HTTP and CONNECT) configured by the
// pipelock config bottle-launch writes. It refuses what the real pipelock
// (luckyPipewrench/pipelock, v2.3.0) refuses, each rule noted with the
// pipelock file and function it copies, so a launch that works with the
// stand-in works with pipelock:
//
//   - a key it does not know, at any level (internal/config/load.go Load:
//     yaml.v3 with KnownFields(true)); it knows only the keys bottle
//     writes, a subset of pipelock's;
//   - mode strict with an empty api_allowlist (internal/config/validate.go
//     validateMode: "strict mode requires at least one domain in
//     api_allowlist");
//   - a bad trusted_domains entry (validate.go ValidateTrustedDomains);
//   - a CA cert or key that is not there, a key file readable by others or
//     writable or executable by anyone but its owner (internal/config/
//     validate.go validateTLSInterception: "CA key ... is too permissive");
//   - a CA key that is not SEC1 (internal/certgen/certgen.go LoadCA:
//     x509.ParseECPrivateKey), a cert that is not a CA with cert-signing
//     usage, a key that does not match the cert;
//   - a host not on the allow list: 403 "blocked: domain not in allowlist:
//     HOST" (internal/scanner/scanner.go, the allowlist check; matching as
//     MatchDomain: "*.x.y" also matches "x.y");
//   - a host resolving to an internal address unless it is in
//     trusted_domains; an IP literal always (internal/proxy/proxy.go
//     ssrfSafeDialContext, scanner.go IsInternalIP/IsTrustedDomain; the
//     CIDRs of internal/config/defaults.go): 403 "blocked: SSRF blocked:
//     HOST resolves to internal IP ADDR".
//
// It does not intercept TLS (passthrough_domains is read and checked only)
// and scans nothing. GET /health answers 200 as pipelock's handleHealth
// does, and `healthcheck --addr HOST:PORT` checks it as pipelock's
// internal/cli/runtime/healthcheck.go does (default 127.0.0.1:8888).
//
// Usage: pipelock run --config FILE | pipelock healthcheck [--addr HOST:PORT]
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

type config struct {
	mode                 string
	allow, trusted, pass []string
	listen               string
	caCert, caKey        string
	forwardEnabled       bool
	tlsEnabled           bool
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:]))
	}
	path := ""
	for i, a := range os.Args {
		if a == "--config" && i+1 < len(os.Args) {
			path = os.Args[i+1]
		}
	}
	if len(os.Args) < 2 || os.Args[1] != "run" || path == "" {
		fatal("usage: pipelock run --config FILE | pipelock healthcheck [--addr HOST:PORT]")
	}
	cfg, err := load(path)
	if err != nil {
		fatal(err.Error())
	}
	if !cfg.forwardEnabled {
		fatal("forward_proxy.enabled is not true")
	}
	if cfg.tlsEnabled {
		if err := loadCA(cfg.caCert, cfg.caKey); err != nil {
			fatal("load TLS CA: " + err.Error())
		}
	}
	fmt.Fprintf(os.Stderr, "proxy: listening on %s, allowing %v, trusting %v\n", cfg.listen, cfg.allow, cfg.trusted)
	srv := &http.Server{Addr: cfg.listen, Handler: handler(cfg), ReadHeaderTimeout: 10 * time.Second}
	fatal(srv.ListenAndServe().Error())
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "proxy:", msg)
	os.Exit(2)
}

// healthcheck: internal/cli/runtime/healthcheck.go HealthcheckCmd.
func healthcheck(args []string) int {
	addr := "127.0.0.1:8888"
	for i, a := range args {
		switch {
		case a == "--addr" && i+1 < len(args):
			addr = args[i+1]
		case strings.HasPrefix(a, "--addr="):
			addr = strings.TrimPrefix(a, "--addr=")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/health", nil)
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error: health check failed:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "Error: unhealthy: status", resp.StatusCode)
		return 1
	}
	return 0
}

// known is every key the stand-in reads, by section ("" is top level).
var known = map[string][]string{
	"":                 {"version", "mode", "enforce", "api_allowlist", "trusted_domains", "fetch_proxy", "forward_proxy", "tls_interception"},
	"fetch_proxy":      {"listen"},
	"forward_proxy":    {"enabled"},
	"tls_interception": {"enabled", "ca_cert", "ca_key", "passthrough_domains"},
}

// load reads the subset of pipelock's YAML that bottle writes, line by
// line: top-level keys, one level of mappings, block lists of scalars
// and `[]`.
func load(path string) (config, error) {
	f, err := os.Open(path)
	if err != nil {
		return config{}, err
	}
	defer f.Close()
	var c config
	section, list := "", ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "#") || t == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if strings.HasPrefix(t, "- ") {
			v := unquote(t[2:])
			switch list {
			case "api_allowlist":
				c.allow = append(c.allow, v)
			case "trusted_domains":
				c.trusted = append(c.trusted, v)
			case "tls_interception.passthrough_domains":
				c.pass = append(c.pass, v)
			default:
				return c, fmt.Errorf("parsing config %s: line %d: a list item outside a list", path, n)
			}
			continue
		}
		key, val, ok := strings.Cut(t, ":")
		if !ok {
			return c, fmt.Errorf("parsing config %s: line %d: not a key", path, n)
		}
		val = strings.TrimSpace(val)
		parent := ""
		if indent > 0 {
			parent = section
		} else {
			section = key
		}
		if !slices.Contains(known[parent], key) {
			// the message yaml.v3 gives with KnownFields(true)
			return c, fmt.Errorf("parsing config %s: yaml: unmarshal errors:\n  line %d: field %s not found in type config.Config", path, n, key)
		}
		full := key
		if parent != "" {
			full = parent + "." + key
		}
		list = ""
		switch {
		case val == "" && (full == "api_allowlist" || full == "trusted_domains" || full == "tls_interception.passthrough_domains"):
			list = full
		case full == "mode":
			c.mode = unquote(val)
		case full == "fetch_proxy.listen":
			c.listen = unquote(val)
		case full == "forward_proxy.enabled":
			c.forwardEnabled = val == "true"
		case full == "tls_interception.enabled":
			c.tlsEnabled = val == "true"
		case full == "tls_interception.ca_cert":
			c.caCert = unquote(val)
		case full == "tls_interception.ca_key":
			c.caKey = unquote(val)
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	// validate.go validateMode
	switch c.mode {
	case "strict", "balanced", "audit":
	default:
		return c, fmt.Errorf("invalid mode %q: must be strict, balanced, or audit", c.mode)
	}
	if c.mode == "strict" && len(c.allow) == 0 {
		return c, errors.New("strict mode requires at least one domain in api_allowlist")
	}
	if err := validateTrusted(c.trusted); err != nil {
		return c, err
	}
	if c.listen == "" {
		return c, fmt.Errorf("%s: no fetch_proxy.listen", path)
	}
	if c.tlsEnabled {
		// validate.go validateTLSInterception
		if _, err := os.Stat(c.caCert); err != nil {
			return c, fmt.Errorf("CA cert not found at %s (run 'pipelock tls init'): %w", c.caCert, err)
		}
		fi, err := os.Stat(c.caKey)
		if err != nil {
			return c, fmt.Errorf("CA key not found at %s (run 'pipelock tls init'): %w", c.caKey, err)
		}
		if fi.Mode().Perm()&0o137 != 0 {
			return c, fmt.Errorf("CA key %s is too permissive (mode %04o): restrict to 0600 or 0640", c.caKey, fi.Mode().Perm())
		}
	}
	return c, nil
}

func unquote(s string) string { return strings.Trim(strings.TrimSpace(s), `"`) }

// validateTrusted: validate.go ValidateTrustedDomains.
func validateTrusted(domains []string) error {
	for i, raw := range domains {
		d := strings.TrimSuffix(strings.TrimSpace(strings.ToLower(raw)), ".")
		switch {
		case d == "":
			return fmt.Errorf("trusted_domains[%d] is empty", i)
		case strings.ContainsAny(d, "/:"):
			return fmt.Errorf("trusted_domains[%d] %q: use a hostname pattern, not a URL or host:port", i, raw)
		case d == "*":
			return fmt.Errorf("trusted_domains[%d]: bare wildcard disables all SSRF protection", i)
		case strings.HasPrefix(d, "*.") && !strings.Contains(d[2:], "."):
			return fmt.Errorf("trusted_domains[%d] %q: wildcard must target a concrete domain like *.example.com", i, raw)
		case !strings.HasPrefix(d, "*.") && strings.ContainsAny(d, "*?[]"):
			return fmt.Errorf("trusted_domains[%d] %q: only exact hosts and *.example.com wildcards are supported", i, raw)
		}
	}
	return nil
}

// loadCA: certgen.go LoadCA.
func loadCA(certPath, keyPath string) error {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return fmt.Errorf("read CA cert: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("no PEM block in CA cert file")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("parse CA cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("read CA key: %w", err)
	}
	keyBlock, _ := pem.Decode(keyPEM)
	if keyBlock == nil {
		return errors.New("no PEM block in CA key file")
	}
	key, err := x509.ParseECPrivateKey(keyBlock.Bytes)
	if err != nil {
		return fmt.Errorf("parse CA key: %w", err)
	}
	if !cert.IsCA {
		return errors.New("certificate is not a CA")
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("CA certificate missing KeyUsageCertSign")
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return errors.New("CA certificate and key do not match")
	}
	return nil
}

// matchDomain: scanner.go MatchDomain.
func matchDomain(host, pattern string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	if net.ParseIP(host) != nil {
		return host == pattern
	}
	if base, ok := strings.CutPrefix(pattern, "*."); ok {
		return host == base || strings.HasSuffix(host, "."+base)
	}
	return host == pattern
}

func matchAny(host string, patterns []string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matchDomain(host, p) })
}

// internal are pipelock's default internal CIDRs (config/defaults.go).
var internal = func() []*net.IPNet {
	var out []*net.IPNet
	for _, c := range []string{"0.0.0.0/8", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "224.0.0.0/4", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8"} {
		_, n, _ := net.ParseCIDR(c)
		out = append(out, n)
	}
	return out
}()

func isInternal(ip net.IP) bool {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return slices.ContainsFunc(internal, func(n *net.IPNet) bool { return n.Contains(ip) })
}

// dial: proxy.go ssrfSafeDialContext. IP literals are never trusted.
func dial(cfg config, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip != nil {
		if isInternal(ip) {
			return nil, fmt.Errorf("SSRF blocked: connection to internal IP %s", host)
		}
		return net.DialTimeout("tcp", hostport, 5*time.Second)
	}
	ips, err := net.LookupHost(host)
	if err != nil {
		return nil, fmt.Errorf("DNS lookup %q: %w", host, err)
	}
	trusted := matchAny(host, cfg.trusted)
	for _, s := range ips {
		if ip := net.ParseIP(s); ip != nil && isInternal(ip) && !trusted {
			return nil, fmt.Errorf("SSRF blocked: %s resolves to internal IP %s", host, s)
		}
	}
	return net.DialTimeout("tcp", net.JoinHostPort(ips[0], port), 5*time.Second)
}

func blocked(w http.ResponseWriter, r *http.Request, reason string) {
	fmt.Fprintf(os.Stderr, "proxy: refused %s %s: %s\n", r.Method, r.Host, reason)
	http.Error(w, "blocked: "+reason, http.StatusForbidden)
}

func handler(cfg config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect && r.URL.Host == "" {
			if r.URL.Path == "/health" {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"status":"healthy","mode":"`+cfg.mode+`"}`+"\n")
				return
			}
			http.NotFound(w, r)
			return
		}
		host, target := r.URL.Hostname(), r.URL.Host
		if r.Method == http.MethodConnect {
			host, _, _ = net.SplitHostPort(r.Host)
			target = r.Host
		} else if r.URL.Port() == "" {
			target = net.JoinHostPort(host, "80")
		}
		if !matchAny(host, cfg.allow) {
			blocked(w, r, "domain not in allowlist: "+host)
			return
		}
		up, err := dial(cfg, target)
		if err != nil {
			if strings.HasPrefix(err.Error(), "SSRF blocked") {
				blocked(w, r, err.Error())
			} else {
				http.Error(w, err.Error(), http.StatusBadGateway)
			}
			return
		}
		if r.Method == http.MethodConnect {
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
		transport := &http.Transport{Proxy: nil, DialContext: func(context.Context, string, string) (net.Conn, error) { return up, nil }}
		defer transport.CloseIdleConnections()
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
