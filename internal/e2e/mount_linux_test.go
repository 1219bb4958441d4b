//go:build linux

package e2e

import (
	"errors"
	"os"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

// bind-mount SRC DST bind-mounts SRC on DST (a real mount: the red team's
// hole 5) and unmounts it when the script ends, even when it fails. Only
// root may: scripts guard it with `[!root] skip '...'`.
func cmdBindMount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: bind-mount SRC DST")
	}
	if os.Geteuid() != 0 {
		ts.Fatalf("bind-mount: not root; guard the script with [!root] skip")
	}
	src, dst := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	ts.Check(syscall.Mount(src, dst, "", syscall.MS_BIND, ""))
	ts.Defer(func() {
		if err := syscall.Unmount(dst, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			ts.Logf("unmounting %s: %v", dst, err)
		}
	})
}
