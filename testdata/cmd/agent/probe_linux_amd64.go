package main

import (
	"os"
	"syscall"
	"unsafe"
)

// legacyPlants are the plants through the system calls amd64 has besides
// the *at ones: chmod, creat, open with O_CREAT, mknod of a regular file.
func legacyPlants(p, q string, mode uint32) []plant {
	ptr := func(s string) uintptr {
		b, _ := syscall.BytePtrFromString(s)
		return uintptr(unsafe.Pointer(b))
	}
	errno := func(e syscall.Errno) error {
		if e != 0 {
			return e
		}
		return nil
	}
	var out []plant
	_, _, e := syscall.Syscall(syscall.SYS_CHMOD, ptr(p), uintptr(mode), 0)
	out = append(out, plant{"chmod", p, errno(e)})
	for _, c := range []struct {
		what string
		call func(string) (uintptr, syscall.Errno)
	}{
		{"creat", func(q string) (uintptr, syscall.Errno) {
			r, _, e := syscall.Syscall(syscall.SYS_CREAT, ptr(q), uintptr(mode), 0)
			return r, e
		}},
		{"open O_CREAT", func(q string) (uintptr, syscall.Errno) {
			r, _, e := syscall.Syscall(syscall.SYS_OPEN, ptr(q), uintptr(syscall.O_CREAT|syscall.O_WRONLY), uintptr(mode))
			return r, e
		}},
		{"mknod S_IFREG", func(q string) (uintptr, syscall.Errno) {
			_, _, e := syscall.Syscall(syscall.SYS_MKNOD, ptr(q), uintptr(syscall.S_IFREG|mode), 0)
			return ^uintptr(0), e
		}},
	} {
		path := q + "-" + c.what[:4]
		os.Remove(path)
		r, e := c.call(path)
		if e == 0 && r != ^uintptr(0) {
			syscall.Close(int(r))
		}
		out = append(out, plant{c.what, path, errno(e)})
	}
	return out
}
