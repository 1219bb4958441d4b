package e2e

import (
	"net"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// host-listen
//
// Starts a TCP server of the host's own on 0.0.0.0 (a random port), as a
// user's local service would run: it answers every connection with
// "host\n". Sets $HOST_PORT and $HOST_ADDRS (every non-loopback IPv4
// address of the host with that port, space-separated). It stops when the
// script ends.
func cmdHostListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: host-listen")
	}
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	ts.Check(err)
	ts.Defer(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("host\n"))
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	addrs, err := net.InterfaceAddrs()
	ts.Check(err)
	var hostAddrs []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			hostAddrs = append(hostAddrs, net.JoinHostPort(n.IP.String(), port))
		}
	}
	ts.Setenv("HOST_PORT", port)
	ts.Setenv("HOST_ADDRS", strings.Join(hostAddrs, " "))
}
