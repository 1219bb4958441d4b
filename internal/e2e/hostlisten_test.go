package e2e

import (
	"net"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// host-listen
//
// Starts a TCP server of the host's own on [::] (a random port; IPv4 and
// IPv6 both, as a user's local service and docker-proxy listen): it
// answers every connection with "host\n". Sets $HOST_PORT, $HOST_ADDRS
// (every non-loopback IPv4 and global IPv6 address of the host with that
// port, space-separated) and $HOST_ADDRS6 (the IPv6 ones only). It stops
// when the script ends.
func cmdHostListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: host-listen")
	}
	ln, err := net.Listen("tcp", "[::]:0")
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
	var hostAddrs, six []string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		switch {
		case !ok || n.IP.IsLoopback() || n.IP.IsLinkLocalUnicast():
		case n.IP.To4() != nil:
			hostAddrs = append(hostAddrs, net.JoinHostPort(n.IP.String(), port))
		default:
			six = append(six, net.JoinHostPort(n.IP.String(), port))
		}
	}
	ts.Setenv("HOST_PORT", port)
	ts.Setenv("HOST_ADDRS", strings.Join(append(hostAddrs, six...), " "))
	ts.Setenv("HOST_ADDRS6", strings.Join(six, " "))
}
