package main

// The red team's probes, run from inside a bottle (modes probe-net and
// probe-setuid). Each prints one line per finding; a line starting with
// FAIL is a way out of the bottle that worked.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

const ethPIPv6 = 0x86dd

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// probeNet tries what a root agent did to reach the host over IPv6: a
// packet socket (then an ICMPv6 echo to ff02::1 on each interface,
// answering the host's neighbour solicitations itself), raw sockets, the
// container's own IPv6 addresses and routes, and TCP to $DIRECT6_ADDRS.
func probeNet() bool {
	ok := true
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		ok = false
	}
	try := func(what string, domain, typ, proto int) int {
		fd, err := syscall.Socket(domain, typ, proto)
		if err != nil {
			fmt.Printf("%s: %v\n", what, err)
			return -1
		}
		fail("%s: opened", what)
		return fd
	}
	if fd := try("packet socket", syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(ethPIPv6))); fd >= 0 {
		echoAll(fd, fail)
		syscall.Close(fd)
	}
	if fd := try("raw ipv6 socket", syscall.AF_INET6, syscall.SOCK_RAW, syscall.IPPROTO_ICMPV6); fd >= 0 {
		syscall.Close(fd)
	}
	if fd := try("raw ipv4 socket", syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP); fd >= 0 {
		syscall.Close(fd)
	}
	// vsock, the hypervisor's sockets; then with the family's upper 32
	// bits set, which the kernel ignores (it reads an int) and a filter
	// comparing the whole register does not
	const afVsock = 40
	if fd := try("vsock socket", afVsock, syscall.SOCK_STREAM, 0); fd >= 0 {
		syscall.Close(fd)
	}
	high := uint64(1)<<32 | afVsock
	if fd, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(high), syscall.SOCK_STREAM, 0); e != 0 {
		fmt.Printf("vsock socket, the family's upper bits set: %v\n", e)
	} else {
		fail("vsock socket, the family's upper bits set: opened")
		syscall.Close(int(fd))
	}
	if b, err := os.ReadFile("/proc/net/if_inet6"); err == nil && strings.TrimSpace(string(b)) != "" {
		fail("ipv6 addresses: %s", strings.Join(strings.Fields(string(b)), " "))
	} else {
		fmt.Println("ipv6 addresses: none")
	}
	var routes []string
	if b, err := os.ReadFile("/proc/net/ipv6_route"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 10 && f[9] != "lo" {
				routes = append(routes, f[0]+"/"+f[1]+" "+f[9])
			}
		}
	}
	if len(routes) > 0 {
		fail("ipv6 routes: %s", strings.Join(routes, ", "))
	} else {
		fmt.Println("ipv6 routes: none")
	}
	for _, a := range strings.Fields(os.Getenv("DIRECT6_ADDRS")) {
		if c, err := net.DialTimeout("tcp6", a, 3*time.Second); err == nil {
			c.Close()
			fail("direct6 %s: connected", a)
		} else {
			fmt.Printf("direct6 %s: blocked\n", a)
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv6/conf/all/disable_ipv6"); err == nil {
		fmt.Printf("disable_ipv6: %s\n", strings.TrimSpace(string(b)))
	}
	if err := os.WriteFile("/proc/sys/net/ipv6/conf/all/disable_ipv6", []byte("0\n"), 0o644); err == nil {
		fail("enable ipv6: done")
	} else {
		fmt.Printf("enable ipv6: %v\n", errors.Unwrap(err))
	}
	return ok
}

// echoAll sends an ICMPv6 echo request to ff02::1 (every node on the link:
// the host's bridge among them) on each interface but lo, from the
// interface's own EUI-64 link-local address, and waits up to 3 s for a
// reply, answering neighbour solicitations for that address as the
// container's disabled IPv6 stack would not.
func echoAll(fd int, fail func(string, ...any)) {
	ifs, _ := net.Interfaces()
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 || len(ifc.HardwareAddr) != 6 {
			continue
		}
		from, ok := echo(fd, ifc)
		if ok {
			fail("host reached over IPv6 on %s: echo reply from %s", ifc.Name, from)
		} else {
			fmt.Printf("echo ff02::1 on %s: %s\n", ifc.Name, from)
		}
	}
}

func linkLocal(mac net.HardwareAddr) net.IP {
	ip := make(net.IP, 16)
	ip[0], ip[1] = 0xfe, 0x80
	copy(ip[8:], []byte{mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]})
	return ip
}

// frame builds an Ethernet frame with an IPv6 packet carrying icmp (its
// checksum filled in).
func frame(dstMAC, srcMAC net.HardwareAddr, src, dst net.IP, icmp []byte) []byte {
	sum := uint32(0)
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	icmp[2], icmp[3] = 0, 0
	add(src)
	add(dst)
	add([]byte{0, 0, byte(len(icmp) >> 8), byte(len(icmp)), 0, 0, 0, 58})
	add(icmp)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(icmp[2:], ^uint16(sum))
	f := append(append(append([]byte{}, dstMAC...), srcMAC...), 0x86, 0xdd)
	ip6 := []byte{0x60, 0, 0, 0, byte(len(icmp) >> 8), byte(len(icmp)), 58, 255}
	f = append(append(append(append(f, ip6...), src...), dst...), icmp...)
	return f
}

type sockaddrLL struct {
	Family   uint16
	Protocol uint16
	Ifindex  int32
	Hatype   uint16
	Pkttype  uint8
	Halen    uint8
	Addr     [8]byte
}

func sendFrame(fd, ifindex int, f []byte) error {
	sa := sockaddrLL{Family: syscall.AF_PACKET, Protocol: htons(ethPIPv6), Ifindex: int32(ifindex), Halen: 6}
	copy(sa.Addr[:], f[:6])
	_, _, e := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&f[0])), uintptr(len(f)), 0, uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if e != 0 {
		return e
	}
	return nil
}

func echo(fd int, ifc net.Interface) (string, bool) {
	me := linkLocal(ifc.HardwareAddr)
	all := net.ParseIP("ff02::1")
	req := []byte{128, 0, 0, 0, 0xb0, 0x77, 0, 1, 'b', 'o', 't', 't', 'l', 'e'}
	if err := sendFrame(fd, ifc.Index, frame(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, ifc.HardwareAddr, me, all, req)); err != nil {
		return "send: " + err.Error(), false
	}
	tv := syscall.NsecToTimeval(int64(200 * time.Millisecond))
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	buf := make([]byte, 2048)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil || n < 14+40+8 || binary.BigEndian.Uint16(buf[12:]) != ethPIPv6 || buf[14+6] != 58 {
			continue
		}
		srcMAC := net.HardwareAddr(append([]byte{}, buf[6:12]...))
		src, dst := net.IP(append([]byte{}, buf[22:38]...)), net.IP(buf[38:54])
		icmp := buf[54:n]
		switch {
		case icmp[0] == 129 && dst.Equal(me) && binary.BigEndian.Uint16(icmp[4:]) == 0xb077:
			return src.String(), true
		case icmp[0] == 135 && len(icmp) >= 24 && net.IP(icmp[8:24]).Equal(me):
			// a neighbour solicitation for our address: advertise it
			na := append([]byte{136, 0, 0, 0, 0x60, 0, 0, 0}, me...)
			na = append(na, 2, 1)
			na = append(na, ifc.HardwareAddr...)
			sendFrame(fd, ifc.Index, frame(srcMAC, ifc.HardwareAddr, me, src, na))
		}
	}
	return "no answer", false
}

// probeSetuid tries to plant a setuid or setgid file, and device nodes, in
// dir: every way a file gets its mode bits. A file whose mode ends with
// either bit, or a device node made, is a FAIL.
func probeSetuid(dir string) bool {
	ok := true
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		ok = false
	}
	p := filepath.Join(dir, "plant")
	os.Remove(p)
	if err := os.WriteFile(p, []byte("#!/bin/sh\nid\n"), 0o755); err != nil {
		fail("write %s: %v", p, err)
		return false
	}
	check := func(what, path string, err error) {
		fi, serr := os.Lstat(path)
		switch {
		case serr == nil && fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0:
			fail("%s: %s is %v", what, path, fi.Mode())
		case err != nil:
			fmt.Printf("%s: %v\n", what, err)
		default:
			fmt.Printf("%s: no setuid or setgid bit\n", what)
		}
	}
	errno := func(e syscall.Errno) error {
		if e != 0 {
			return e
		}
		return nil
	}
	at := func(path string) uintptr {
		b, _ := syscall.BytePtrFromString(path)
		return uintptr(unsafe.Pointer(b))
	}
	const fdcwd = ^uintptr(99) // AT_FDCWD
	for _, mode := range []uint32{0o4755, 0o2755} {
		m := fmt.Sprintf("%o", mode)
		_, _, e := syscall.Syscall6(syscall.SYS_FCHMODAT, fdcwd, at(p), uintptr(mode), 0, 0, 0)
		check("fchmodat "+m, p, errno(e))
		f, err := os.Open(p)
		if err == nil {
			_, _, e = syscall.Syscall(syscall.SYS_FCHMOD, f.Fd(), uintptr(mode), 0)
			f.Close()
			check("fchmod "+m, p, errno(e))
		}
		q := filepath.Join(dir, "created-"+m)
		os.Remove(q)
		r, _, e := syscall.Syscall6(syscall.SYS_OPENAT, fdcwd, at(q), uintptr(syscall.O_CREAT|syscall.O_WRONLY), uintptr(mode), 0, 0)
		if e == 0 {
			syscall.Close(int(r))
		}
		check("openat O_CREAT "+m, q, errno(e))
		q = filepath.Join(dir, "mknod-"+m)
		os.Remove(q)
		_, _, e = syscall.Syscall6(syscall.SYS_MKNODAT, fdcwd, at(q), uintptr(syscall.S_IFREG|mode), 0, 0, 0)
		check("mknodat S_IFREG "+m, q, errno(e))
		for _, l := range legacyPlants(p, filepath.Join(dir, "legacy-"+m), mode) {
			check(l.what+" "+m, l.path, l.err)
		}
	}
	// an ordinary mode still changes
	if err := os.Chmod(p, 0o700); err != nil {
		fail("chmod 700 %s: %v", p, err)
	} else {
		fmt.Println("chmod 700: done")
	}
	// device nodes: the host's disk (8,0) and /dev/mem (1,1)
	for _, d := range []struct {
		name string
		mode uint32
		dev  int
	}{{"block device", syscall.S_IFBLK | 0o666, 8 << 8}, {"char device", syscall.S_IFCHR | 0o666, 1<<8 | 1}} {
		q := filepath.Join(dir, strings.ReplaceAll(d.name, " ", "-"))
		os.Remove(q)
		if err := syscall.Mknod(q, d.mode, d.dev); err == nil {
			fail("mknod %s %s: made", d.name, q)
		} else {
			fmt.Printf("mknod %s: %v\n", d.name, err)
		}
	}
	if _, _, e := syscall.Syscall(425 /* io_uring_setup */, 1, uintptr(unsafe.Pointer(&[120]byte{})), 0); e == 0 {
		fail("io_uring: available")
	} else {
		fmt.Printf("io_uring: %v\n", e)
	}
	return ok
}

type plant struct {
	what, path string
	err        error
}
