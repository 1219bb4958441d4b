package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/claude-bottle/bottle/internal/engine"
)

// proxy is a script's engine stand-in: a reverse proxy to the real engine
// that logs every request, optionally behind TLS, or a socket that hangs
// up on every connection.
type proxy struct {
	mu   sync.Mutex
	reqs []string
}

var proxies sync.Map // *testscript.TestScript → *proxy

// engine-proxy [-tls [-anyclient]] [-hangup | -silent] [-stall-archive | -stall-archive-after N] [-no-ipv6] [-upstream unix://SOCKET]
//
// Starts a proxy to the real engine (with -upstream, to the engine at that
// socket: a second engine a script then stops by starting another proxy
// with -hangup in its place) and points DOCKER_HOST at it:
// a unix socket $WORK/engine.sock, or with -tls a TCP listener on
// 127.0.0.1 with a fresh CA that demands a client certificate
// (DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH=$WORK/certs hold ca.pem, cert.pem,
// key.pem); with -anyclient as well it asks for no client certificate.
// With -hangup nothing is proxied: every connection is closed at once. With
// -silent nothing is proxied either: every connection is taken and read,
// and never answered (a hung engine). engine-requests prints what the proxy
// saw (requests that arrived over plain HTTP at a TLS listener never get
// that far). With -stall-archive every other request is proxied, but a
// GET of a container's archive (a copy out of it) is never answered; with
// -stall-archive-after N its answer starts and stops after N bytes of the
// body, the connection kept open (a hung archive read, first byte or
// midway). With -no-ipv6 the engine stands in for one whose kernel was
// booted with ipv6.disable=1, which no script can reboot into: every
// container create gets an empty tmpfs over /proc/sys/net/ipv6, so the
// real runtime finds there what it finds on such a kernel, nothing, and
// answers a container that sets a net.ipv6 sysctl as it does there (runc
// 1.1: "open /proc/sys/net/ipv6/conf/all/disable_ipv6: no such file or
// directory").
func cmdEngineProxy(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("engine-proxy", flag.ContinueOnError)
	useTLS := fs.Bool("tls", false, "")
	anyClient := fs.Bool("anyclient", false, "")
	hangup := fs.Bool("hangup", false, "")
	silent := fs.Bool("silent", false, "")
	stall := fs.Bool("stall-archive", false, "")
	stallAfter := fs.Int64("stall-archive-after", -1, "")
	noIPv6 := fs.Bool("no-ipv6", false, "")
	upstream := fs.String("upstream", "", "")
	if neg || fs.Parse(args) != nil || fs.NArg() != 0 || (*anyClient && !*useTLS) || (*hangup && *silent) || (*stall && *stallAfter >= 0) {
		ts.Fatalf("usage: engine-proxy [-tls [-anyclient]] [-hangup | -silent] [-stall-archive | -stall-archive-after N] [-no-ipv6] [-upstream unix://SOCKET]")
	}
	p := &proxy{}
	proxies.Store(ts, p)

	var ln net.Listener
	var err error
	if *useTLS {
		cfg := makeCerts(ts, ts.MkAbs("certs"))
		if *anyClient {
			cfg.ClientAuth = tls.NoClientCert
		}
		ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
		ts.Check(err)
		ts.Setenv("DOCKER_HOST", "tcp://"+ln.Addr().String())
		ts.Setenv("DOCKER_TLS_VERIFY", "1")
		ts.Setenv("DOCKER_CERT_PATH", ts.MkAbs("certs"))
	} else {
		sock := ts.MkAbs("engine.sock")
		_ = os.Remove(sock) // an earlier proxy's: it goes on, unreachable
		ln, err = net.Listen("unix", sock)
		ts.Check(err)
		ts.Setenv("DOCKER_HOST", "unix://"+sock)
	}
	ts.Defer(func() { ln.Close() })

	if *silent {
		var mu sync.Mutex
		var conns []net.Conn
		ts.Defer(func() {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				go func() { _, _ = io.Copy(io.Discard, c) }()
			}
		}()
		return
	}
	if *hangup {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return
	}

	up, err := engine.Resolve(os.Getenv)
	ts.Check(err)
	if *upstream != "" {
		up.Host = *upstream
	}
	sock, ok := strings.CutPrefix(up.Host, "unix://")
	if !ok {
		ts.Fatalf("engine-proxy needs the test engine on a unix socket, not %s", up)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "docker"})
		},
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}},
	}
	closed := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.reqs = append(p.reqs, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		if *noIPv6 && r.Method == http.MethodPost && createPath.MatchString(r.URL.Path) {
			if err := withoutIPv6(r); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		if r.Method == http.MethodGet && archivePath.MatchString(r.URL.Path) {
			switch {
			case *stall:
				select {
				case <-r.Context().Done():
				case <-closed:
				}
				return
			case *stallAfter >= 0:
				rp.ServeHTTP(&stallWriter{ResponseWriter: w, left: *stallAfter, done: r.Context().Done(), closed: closed}, r)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	if *stallAfter >= 0 {
		rp.FlushInterval = -1 // each write reaches the client at once
	}
	go func() { _ = srv.Serve(ln) }()
	ts.Defer(func() { close(closed); srv.Close() })
}

// createPath is the path of a container create (any API version).
var createPath = regexp.MustCompile(`^(/v[0-9.]+)?/containers/create$`)

// withoutIPv6 rewrites a container create's body to mount an empty tmpfs
// over /proc/sys/net/ipv6 (engine-proxy -no-ipv6).
func withoutIPv6(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	var create map[string]any
	if err := json.Unmarshal(body, &create); err != nil {
		return err
	}
	hc, _ := create["HostConfig"].(map[string]any)
	if hc == nil {
		hc = map[string]any{}
		create["HostConfig"] = hc
	}
	tmpfs, _ := hc["Tmpfs"].(map[string]any)
	if tmpfs == nil {
		tmpfs = map[string]any{}
		hc["Tmpfs"] = tmpfs
	}
	tmpfs["/proc/sys/net/ipv6"] = ""
	if body, err = json.Marshal(create); err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// archivePath is the path of a container archive request (any API version).
var archivePath = regexp.MustCompile(`^(/v[0-9.]+)?/containers/[^/]+/archive$`)

// stallWriter passes the first left bytes of a body, then blocks every
// write until the client goes away or the proxy closes.
type stallWriter struct {
	http.ResponseWriter
	left   int64
	done   <-chan struct{}
	closed <-chan struct{}
}

func (s *stallWriter) Write(b []byte) (int, error) {
	pass := b
	if int64(len(pass)) > s.left {
		pass = pass[:s.left]
	}
	if len(pass) > 0 {
		n, err := s.ResponseWriter.Write(pass)
		s.left -= int64(n)
		s.Flush()
		if err != nil {
			return n, err
		}
	}
	if len(pass) == len(b) {
		return len(b), nil
	}
	select {
	case <-s.done:
	case <-s.closed:
	}
	return len(pass), io.ErrClosedPipe
}

func (s *stallWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// engine-requests: prints the requests the proxy saw since the last
// engine-requests, one "METHOD /path" per line, sorted (the tools ask
// concurrently), and a last line "total N".
func cmdEngineRequests(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := proxies.Load(ts)
	if neg || len(args) != 0 || !ok {
		ts.Fatalf("usage: engine-requests (after engine-proxy)")
	}
	p := v.(*proxy)
	p.mu.Lock()
	reqs := slices.Clone(p.reqs)
	p.reqs = nil
	p.mu.Unlock()
	slices.Sort(reqs)
	for _, r := range reqs {
		fmt.Fprintln(ts.Stdout(), r)
	}
	fmt.Fprintf(ts.Stdout(), "total %d\n", len(reqs))
}

// makeCerts writes a CA, a client certificate and key into dir (as
// DOCKER_CERT_PATH holds them) and returns the server's TLS config: a
// certificate for 127.0.0.1 signed by the CA, client certificates required.
func makeCerts(ts *testscript.TestScript, dir string) *tls.Config {
	ts.Check(os.MkdirAll(dir, 0o700))
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ts.Check(err)
		return k
	}
	serial := int64(1)
	tmpl := func(cn string) *x509.Certificate {
		serial++
		return &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		}
	}
	caKey := key()
	caT := tmpl("bottle test CA")
	caT.IsCA, caT.BasicConstraintsValid, caT.KeyUsage = true, true, x509.KeyUsageCertSign
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
	ts.Check(err)
	ca, err := x509.ParseCertificate(caDER)
	ts.Check(err)

	leaf := func(cn string, usage x509.ExtKeyUsage, ip net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		t := tmpl(cn)
		t.KeyUsage, t.ExtKeyUsage = x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{usage}
		if ip != nil {
			t.IPAddresses = []net.IP{ip}
		}
		der, err := x509.CreateCertificate(rand.Reader, t, ca, &k.PublicKey, caKey)
		ts.Check(err)
		return der, k
	}
	writePEM := func(name, typ string, der []byte) {
		ts.Check(os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		ts.Check(err)
		return b
	}
	writePEM("ca.pem", "CERTIFICATE", caDER)
	cDER, cKey := leaf("client", x509.ExtKeyUsageClientAuth, nil)
	writePEM("cert.pem", "CERTIFICATE", cDER)
	writePEM("key.pem", "EC PRIVATE KEY", keyDER(cKey))

	sDER, sKey := leaf("127.0.0.1", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{sDER}, PrivateKey: sKey}},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}
