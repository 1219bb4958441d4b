//go:build linux

package e2e

import (
	"errors"
	"os"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

// mount-tmpfs SIZE DIR mounts a tmpfs of SIZE (as mount -o size= takes it:
// 64m) on DIR, made if missing: a small disk the script can fill. It is
// unmounted when the script ends, even when it fails. Only root may:
// scripts guard it with `[!root] skip '...'` (an error under CI=true).
func cmdMountTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mount-tmpfs SIZE DIR")
	}
	if os.Geteuid() != 0 {
		ts.Fatalf("mount-tmpfs: not root; guard the script with [!root] skip")
	}
	dir := ts.MkAbs(args[1])
	ts.Check(os.MkdirAll(dir, 0o700))
	ts.Check(syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+args[0]+",mode=0700"))
	ts.Defer(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			ts.Logf("unmounting %s: %v", dir, err)
		}
	})
}
